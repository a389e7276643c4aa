"""Rotating and changing a managed connector: `rotate <id>` / `change <id>`, the Rotate key,
Change and Roll back buttons, and the two modals' submissions."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from bot.deps import Deps
from bot.domain.changes import REASON_KEY, ChangeKind, ChangeResult
from bot.errors import BotError
from bot.services.changes import asking
from bot.slack import forms, replies
from bot.slack.ids import ActionId, CallbackId, field_block_id
from bot.slack.metadata import ManagedButton, RequestButton, decode
from bot.slack.views.changes import build_change_view, build_rotate_view
from bot.slack.views.common import escape
from bot.slack.views.request_modal import build_submitted_view

log = logging.getLogger(__name__)
VERBS = frozenset({"rotate", "change"})
STALE = "This button is from an old message; the connector can't be found."


def _view(kind: ChangeKind, found: asking.Changeable) -> View:
    build = build_rotate_view if kind == "rotate" else build_change_view
    return build(found.current, managed_id=found.managed_id, resource_id=found.resource_id)


def _open(client: WebClient, trigger_id: str, view: View) -> str | None:
    """Open the modal; the reason when Slack would not."""
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as error:
        code = error.response.get("error")
        log.warning("could not open the change form: %s", code)
        return f"Slack didn't let me open the form in time ({code}). Please try again."
    return None


def handle_change_command(
    deps: Deps,
    verb: str,
    words: list[str],
    *,
    ack: Ack,
    client: WebClient,
    respond: Respond,
    user: str,
    command: str,
    trigger_id: str,
) -> None:
    """`rotate|change [<target>] <id>`: checks (database only) before the ack, then the modal."""
    kind: ChangeKind = "rotate" if verb == "rotate" else "change"
    try:
        managed_id = asking.find_managed(deps, words, command=command, verb=verb)
        found = asking.open_change(deps, managed_id=managed_id, actor=user, kind=kind)
    except BotError as error:
        ack(text=escape(error.user_message), response_type="ephemeral")
        return
    ack()
    failed = _open(client, trigger_id, _view(kind, found))
    if failed:
        respond(text=failed, response_type="ephemeral")


def register(app: App, deps: Deps) -> None:
    """Wire the change flow's buttons and modals."""

    def click(kind: ChangeKind) -> Any:
        def handle(
            ack: Ack,
            body: dict[str, Any],
            action: dict[str, Any],
            client: WebClient,
            respond: Respond,
        ) -> None:
            ack()
            button = decode(ManagedButton, action.get("value"))
            if button is None:
                replies.tell(deps, body, respond, STALE)
                return
            try:
                found = asking.open_change(
                    deps, managed_id=button.managed_id, actor=str(body["user"]["id"]), kind=kind
                )
            except BotError as error:
                replies.tell(deps, body, respond, escape(error.user_message))
                return
            failed = _open(client, str(body["trigger_id"]), _view(kind, found))
            if failed:
                replies.tell(deps, body, respond, failed)

        return handle

    app.action(ActionId.ROTATE.value)(click("rotate"))
    app.action(ActionId.CHANGE.value)(click("change"))

    def submission(kind: ChangeKind) -> Any:
        def handle(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
            metadata, values = forms.read_change_form(view)
            if metadata is None or metadata.kind != kind:
                ack(
                    response_action="errors",
                    errors={field_block_id(REASON_KEY): "This form is out of date."},
                )
                return
            actor = str(body["user"]["id"])
            try:
                result = asking.submit_change(
                    deps, managed_id=metadata.managed_id, actor=actor, kind=kind, values=values
                )
            except BotError as error:  # the policy's refusal too (PolicyRefusedError)
                # Under the reason: both modals end with it.
                ack(
                    response_action="errors",
                    errors={field_block_id(REASON_KEY): escape(error.user_message)[:2000]},
                )
                return
            if isinstance(result, ChangeResult):
                ack(response_action="errors", errors=forms.change_field_errors(result.errors))
                return
            ack(response_action="update", view=build_submitted_view(result))

        return handle

    app.view(CallbackId.ROTATE_SUBMIT.value)(submission("rotate"))
    app.view(CallbackId.CHANGE_SUBMIT.value)(submission("change"))

    @app.action(ActionId.ROLLBACK.value)
    def handle_rollback_click(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        button = decode(RequestButton, action.get("value"))
        if button is None:
            ack()
            replies.tell(deps, body, respond, STALE)
            return
        try:
            # Claimed before the ack: a second click (or replica) finds it taken.
            text = asking.request_rollback(
                deps, request_id=button.request_id, actor=str(body["user"]["id"])
            )
        except BotError as error:
            text = escape(error.user_message)
        ack()
        replies.tell(deps, body, respond, text)
