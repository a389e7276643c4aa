"""The Notifier the services use, made of Slack Web API calls and the pure view builders."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block

from bot.domain.audit import AuditExport
from bot.domain.enums import Notice
from bot.domain.home import HomeContent
from bot.domain.lifecycle import Audience, LifecycleNotice, ManagedSummary
from bot.domain.policy.reminders import EscalationNotice, ReminderNotice
from bot.domain.schemas import KibanaRetrying, RequestSnapshot
from bot.services.ports import NotificationFailedError, NotificationRetryableError
from bot.slack.views.approval_message import build_card_blocks, card_text
from bot.slack.views.audit import export_comment, export_empty_text
from bot.slack.views.break_glass import break_glass_notice
from bot.slack.views.common import to_dicts
from bot.slack.views.home import build_home_view
from bot.slack.views.lifecycle import adopted_message, digest_message, lifecycle_message
from bot.slack.views.reminders import escalation_dm, escalation_message, reminder_message
from bot.slack.views.results import (
    kibana_retrying_message,
    outcome_text,
    requester_message,
    thread_message,
)

log = logging.getLogger(__name__)

RETRYABLE_ERRORS = {
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}


class SlackNotifier:
    """Posts and updates the bot's messages; maps Slack failures to retry or give up."""

    def __init__(
        self,
        client: WebClient,
        *,
        approval_channel: str,
        notify_channel: str | None,
        slash_command: str = "/llm-connector",
    ) -> None:
        self._client = client
        self._command = slash_command
        self._approval_channel = approval_channel
        self._notify_channel = notify_channel

    def post_card(self, request: RequestSnapshot) -> tuple[str, str]:
        response = self._call(
            "chat_postMessage",
            channel=self._approval_channel,
            text=card_text(request),
            blocks=to_dicts(build_card_blocks(request)),
            unfurl_links=False,
        )
        return str(response["channel"]), str(response["ts"])

    def refresh_card(self, request: RequestSnapshot) -> None:
        self._call(
            "chat_update",
            channel=request.card_channel,
            ts=request.card_ts,
            text=card_text(request),
            blocks=to_dicts(build_card_blocks(request)),
        )

    def reply_in_thread(self, request: RequestSnapshot, notice: Notice) -> None:
        text, blocks = thread_message(request, notice)
        self._post(request.card_channel, text, blocks, thread_ts=request.card_ts)

    def dm_requester(self, request: RequestSnapshot, notice: Notice) -> None:
        text, blocks = requester_message(request, notice, command=self._command)
        self._post(request.requested_by, text, blocks)

    def kibana_retrying(
        self, request: RequestSnapshot, retrying: KibanaRetrying, *, in_thread: bool
    ) -> None:
        text, blocks = kibana_retrying_message(request, retrying, in_thread=in_thread)
        if in_thread:
            self._post(request.card_channel, text, blocks, thread_ts=request.card_ts)
        else:
            self._post(request.requested_by, text, blocks)

    def notify_channel(self, request: RequestSnapshot) -> None:
        if self._notify_channel:
            self._call("chat_postMessage", channel=self._notify_channel, text=outcome_text(request))

    def send_audit_export(self, user: str, export: AuditExport, content: bytes) -> None:
        if export.events == 0:
            self._call("chat_postMessage", channel=user, text=export_empty_text(export))
            return
        # Posting to the user id opens the DM and answers with its D… id, which
        # files.completeUploadExternal needs (it refuses user ids): no im:write needed.
        posted = self._call("chat_postMessage", channel=user, text=export_comment(export))
        self._call(
            "files_upload_v2",
            channel=str(posted["channel"]),
            content=content,
            filename=export.filename,
            title=export.filename,
            snippet_type="text",
        )

    def publish_home(self, home: HomeContent) -> None:
        view = build_home_view(home, command=self._command)
        self._call("views_publish", user_id=home.user, view=view.to_dict())

    def remind(self, request: RequestSnapshot, reminder: ReminderNotice) -> None:
        text, blocks = reminder_message(request, reminder)
        self._post(request.card_channel, text, blocks, thread_ts=request.card_ts)

    def escalate(
        self, request: RequestSnapshot, escalation: EscalationNotice, *, user: str | None
    ) -> None:
        if user is None:
            text, blocks = escalation_message(request, escalation)
            self._post(request.card_channel, text, blocks, thread_ts=request.card_ts)
        else:
            text, blocks = escalation_dm(request, escalation)
            self._post(user, text, blocks)

    def lifecycle_notice(
        self, connector: ManagedSummary, notice: LifecycleNotice, *, audience: Audience
    ) -> None:
        text, blocks = lifecycle_message(connector, notice, audience=audience)
        if audience is Audience.THREAD:
            self._post(connector.thread_channel, text, blocks, thread_ts=connector.thread_ts)
        elif audience is Audience.OWNER:
            self._post(connector.owner, text, blocks)
        elif self._notify_channel:
            self._post(self._notify_channel, text, blocks)

    def post_adopted(self, connector: ManagedSummary, *, adopted_by: str) -> tuple[str, str]:
        text, blocks = adopted_message(connector, adopted_by=adopted_by)
        response = self._call(
            "chat_postMessage",
            channel=self._approval_channel,
            text=text,
            blocks=to_dicts(blocks),
            unfurl_links=False,
        )
        return str(response["channel"]), str(response["ts"])

    def lifecycle_digest(self, failing: list[ManagedSummary]) -> None:
        if self._notify_channel:
            text, blocks = digest_message(failing)
            self._post(self._notify_channel, text, blocks)

    def dm_approver(self, request: RequestSnapshot, user: str, notice: Notice) -> None:
        if notice is not Notice.BREAK_GLASS:
            raise NotificationFailedError(f"no approver message for {notice.value}")
        text, blocks = break_glass_notice(request)
        self._post(user, text, blocks)

    def _post(
        self, channel: str | None, text: str, blocks: list[Block], *, thread_ts: str | None = None
    ) -> None:
        self._call(
            "chat_postMessage",
            channel=channel,
            text=text,
            blocks=to_dicts(blocks),
            thread_ts=thread_ts,
            unfurl_links=False,
        )

    def _call(self, method: str, **arguments: Any) -> Any:
        try:
            return getattr(self._client, method)(**arguments)
        except SlackApiError as error:
            code = str(error.response.get("error", "unknown"))
            if error.response.status_code == 429 or code in RETRYABLE_ERRORS:
                retry_after = error.response.headers.get("Retry-After")
                raise NotificationRetryableError(
                    f"Slack {method}: {code}",
                    retry_after=float(retry_after) if retry_after else None,
                ) from None
            if error.response.status_code >= 500:
                raise NotificationRetryableError(f"Slack {method}: HTTP {code}") from None
            raise NotificationFailedError(f"Slack {method}: {code}") from None
        except OSError as error:  # connection refused, reset, timeout (urllib)
            raise NotificationRetryableError(f"Slack {method}: {error}") from None
