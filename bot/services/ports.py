"""What services need from the outside world, as protocols the composition root fills."""

from __future__ import annotations

from typing import Protocol

from bot.domain.audit import AuditExport
from bot.domain.enums import Notice
from bot.domain.home import HomeContent
from bot.domain.lifecycle import Audience, LifecycleNotice, ManagedSummary
from bot.domain.policy.reminders import EscalationNotice, ReminderNotice
from bot.domain.schemas import KibanaRetrying, RequestSnapshot


class NotificationRetryableError(Exception):
    """Slack could not take the message now (rate limit, outage); try again later."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class NotificationFailedError(Exception):
    """Slack refused the message for good (channel not found, bad blocks…)."""


class Notifier(Protocol):
    """Tells people about a request: the approval card, its thread, DMs, the notify channel."""

    def post_card(self, request: RequestSnapshot) -> tuple[str, str]:
        """Post the approval card; return its channel id and ts."""
        ...

    def refresh_card(self, request: RequestSnapshot) -> None: ...

    def reply_in_thread(self, request: RequestSnapshot, notice: Notice) -> None: ...

    def dm_requester(self, request: RequestSnapshot, notice: Notice) -> None: ...

    def notify_channel(self, request: RequestSnapshot) -> None: ...

    def dm_approver(self, request: RequestSnapshot, user: str, notice: Notice) -> None:
        """Tell one approver about the request (a break-glass approval)."""
        ...

    def kibana_retrying(
        self, request: RequestSnapshot, retrying: KibanaRetrying, *, in_thread: bool
    ) -> None:
        """Tell the card's thread (or the requester) that Kibana failed and the bot retries."""
        ...

    def send_audit_export(self, user: str, export: AuditExport, content: bytes) -> None:
        """Upload an audit export (JSON Lines ``content``) to ``user``'s DM; an empty export
        is a DM saying there were no events."""

    def publish_home(self, home: HomeContent) -> None:
        """Publish the person's App Home tab."""

    def remind(self, request: RequestSnapshot, reminder: ReminderNotice) -> None:
        """Remind the approvers in the card's thread, mentioning who still has to act."""
        ...

    def escalate(
        self, request: RequestSnapshot, escalation: EscalationNotice, *, user: str | None
    ) -> None:
        """Escalate in the card's thread (``user`` None) or by a DM to ``user``."""

    def lifecycle_notice(
        self, connector: ManagedSummary, notice: LifecycleNotice, *, audience: Audience
    ) -> None:
        """Tell the connector's thread, its owner or the notify channel about an event."""
        ...

    def post_adopted(self, connector: ManagedSummary, *, adopted_by: str) -> tuple[str, str]:
        """Post the root message of an adopted connector; return its channel id and ts."""
        ...

    def lifecycle_digest(self, failing: list[ManagedSummary]) -> None:
        """Post the digest of failing connectors to the notify channel."""
        ...
