"""Retire and extend a managed connector: the `retire` and `extend` words, the Retire and
Extend buttons (outcome messages, DMs, App Home, the expiry warning) and their modals."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from bot.deps import Deps
from bot.domain.backends import Backend
from bot.domain.expiry import EXTENSION_CHOICES
from bot.domain.lifecycle import ManagedSummary
from bot.domain.providers.spec import CONNECTOR, INFERENCE
from bot.errors import BotError
from bot.services.lifecycle import inventory, retire
from bot.slack import forms
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.metadata import ManagedButton, decode
from bot.slack.views.changes import build_retire_view
from bot.slack.views.common import escape
from bot.slack.views.request_modal import build_notice_view
from bot.slack.views.retire import build_extend_view, retire_answer

log = logging.getLogger(__name__)
VERBS = frozenset({"retire", "extend"})


def usage(verb: str, command: str) -> str:
    days = " [1|7|30]" if verb == "extend" else ""
    return (
        f"Say which connector: `{command} {verb} [<target>] <id>{days}` (the target may be "
        "left out when there is only one; `connectors` lists the ids)."
    )


def parse_words(verb: str, words: list[str]) -> tuple[str | None, str, int | None] | None:
    """`[<target>] <id>` (extend: and optional days); None when the words don't fit."""
    days: int | None = None
    if verb == "extend" and len(words) >= 2 and words[-1] in {str(d) for d in EXTENSION_CHOICES}:
        days, words = int(words[-1]), words[:-1]
    if len(words) == 1:
        return None, words[0][:200], days
    if len(words) == 2:
        return words[0][:64], words[1][:200], days
    return None


def _modal(deps: Deps, verb: str, connector: ManagedSummary) -> View:
    if verb == "retire":
        backend = INFERENCE if connector.backend == Backend.INFERENCE.value else CONNECTOR
        return build_retire_view(
            managed_id=connector.id,
            name=connector.name,
            resource_id=connector.resource_id,
            space_id=connector.space_id,
            backend=backend,
        )
    facts = retire.facts_of(connector)
    longest = inventory.effective_lifecycle(deps, facts).max_lifetime_days
    return build_extend_view(connector, max_days=longest)


def handle_command(
    deps: Deps,
    verb: str,
    words: list[str],
    *,
    ack: Ack,
    respond: Respond,
    client: WebClient,
    user: str,
    trigger_id: str,
    command: str,
) -> None:
    """`retire <id>` opens the confirmation; `extend <id> <days>` asks at once, without days
    it opens the choice."""
    parsed = parse_words(verb, words)
    if parsed is None:
        ack(text=usage(verb, command), response_type="ephemeral")
        return
    target, resource_id, days = parsed
    try:
        found = retire.locate(deps, target=target, resource_id=resource_id)
        connector = retire.check_may_ask(deps, managed_id=found.id, user=user, verb=verb)
    except BotError as error:
        ack(text=escape(error.user_message), response_type="ephemeral")
        return
    if days is not None:
        ack(text=f"Asking to extend {escape(connector.name)}…", response_type="ephemeral")
        try:
            snapshot = retire.ask_to_extend(deps, managed_id=connector.id, actor=user, days=days)
        except BotError as error:
            respond(text=escape(error.user_message))
            return
        respond(text=retire_answer(snapshot))
        return
    ack()
    _open(client, respond, trigger_id, _modal(deps, verb, connector))


def _open(client: WebClient, respond: Respond | None, trigger_id: str, view: View) -> None:
    try:
        client.views_open(trigger_id=trigger_id, view=view.to_dict())
    except SlackApiError as error:
        code = error.response.get("error")
        log.warning("could not open the retire/extend modal: %s", code)
        if respond is not None:
            respond(text=f"Slack didn't let me open it in time ({code}). Please try again.")


def _tell(client: WebClient, body: dict[str, Any], respond: Respond, text: str) -> None:
    """A private answer to a click: in place of a message's response_url, else by DM (the
    App Home has no response_url)."""
    if body.get("response_url"):
        respond(text=text, response_type="ephemeral", replace_original=False)
        return
    try:
        client.chat_postMessage(channel=str(body["user"]["id"]), text=text)
    except SlackApiError as error:
        log.warning("could not answer a retire/extend click: %s", error.response.get("error"))


def register(app: App, deps: Deps) -> None:
    """Wire the buttons and modals (before the fallback listener)."""

    def click(verb: str) -> Any:
        def handle(
            ack: Ack,
            body: dict[str, Any],
            action: dict[str, Any],
            client: WebClient,
            respond: Respond,
        ) -> None:
            ack()
            button = decode(ManagedButton, action.get("value"))
            user = str(body["user"]["id"])
            if button is None:
                _tell(client, body, respond, "That button is not one of the bot's.")
                return
            try:
                connector = retire.check_may_ask(
                    deps, managed_id=button.managed_id, user=user, verb=verb
                )
            except BotError as error:
                _tell(client, body, respond, escape(error.user_message))
                return
            _open(client, None, str(body["trigger_id"]), _modal(deps, verb, connector))

        return handle

    app.action(ActionId.RETIRE.value)(click("retire"))
    app.action(ActionId.EXTEND.value)(click("extend"))

    @app.view(CallbackId.RETIRE_SUBMIT.value)
    def handle_retire_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        metadata, reason = forms.read_retire_form(view)
        if metadata is None:
            ack(response_action="errors", errors={BlockId.RETIRE_REASON.value: "Not ours."})
            return
        if not reason:
            ack(
                response_action="errors",
                errors={BlockId.RETIRE_REASON.value: "Say why it should be retired."},
            )
            return
        try:
            snapshot = retire.ask_to_retire(
                deps, managed_id=metadata.managed_id, actor=str(body["user"]["id"]), reason=reason
            )
        except BotError as error:
            ack(
                response_action="errors",
                errors={BlockId.RETIRE_REASON.value: error.user_message[:300]},
            )
            return
        ack(
            response_action="update",
            view=build_notice_view("Retire connector", retire_answer(snapshot)),
        )

    @app.view(CallbackId.EXTEND_SUBMIT.value)
    def handle_extend_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        metadata, days = forms.read_extend_form(view)
        if metadata is None or days not in {str(d) for d in EXTENSION_CHOICES}:
            ack(response_action="errors", errors={BlockId.EXTEND_DAYS.value: "Pick 1, 7 or 30."})
            return
        try:
            snapshot = retire.ask_to_extend(
                deps, managed_id=metadata.managed_id, actor=str(body["user"]["id"]), days=int(days)
            )
        except BotError as error:
            ack(
                response_action="errors",
                errors={BlockId.EXTEND_DAYS.value: error.user_message[:300]},
            )
            return
        ack(
            response_action="update",
            view=build_notice_view("Extend connector", retire_answer(snapshot)),
        )
