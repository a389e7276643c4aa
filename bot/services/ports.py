"""What services need from the outside world, as protocols the composition root fills."""

from __future__ import annotations

from typing import Protocol

from bot.domain.enums import Notice
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
