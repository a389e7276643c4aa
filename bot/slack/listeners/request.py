"""The request flow: the slash command, the provider switch and the form submission."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.deps import Deps
from bot.domain.providers import provider_spec, validate_request
from bot.domain.refs import normalise_reference
from bot.errors import BotError
from bot.services import requests
from bot.slack import forms
from bot.slack.ids import ActionId, CallbackId
from bot.slack.views.request_modal import build_request_view, build_submitted_view

log = logging.getLogger(__name__)


def usage(command: str) -> str:
    return (
        f"*{command}* asks for an LLM connector in Kibana; an approver decides.\n"
        f"• `{command}` opens the request form\n"
        f"• `{command} cancel REQ-XXXXXX` withdraws your pending request\n"
        f"• `{command} help` shows this"
    )


def register(app: App, deps: Deps, *, slash_command: str) -> None:
    """Wire the request flow's listeners."""

    @app.command(slash_command)
    def handle_request_command(
        ack: Ack, command: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        words = str(command.get("text") or "").split()
        if not words:
            ack()
            _open_request_modal(client, respond, trigger_id=str(command["trigger_id"]))
            return
        verb, rest = words[0].lower(), words[1:]
        if verb == "cancel":
            text = _cancel(deps, rest, actor=str(command["user_id"]), command=slash_command)
        elif verb == "help":
            text = usage(slash_command)
        else:
            text = f"I don't know “{words[0][:40]}”.\n" + usage(slash_command)
        ack(text=text, response_type="ephemeral")

    @app.action(ActionId.PROVIDER.value)
    def handle_provider_change(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        view = body["view"]
        spec = provider_spec(forms.read_chosen_provider(action, view))
        try:
            client.views_update(
                view_id=view["id"],
                hash=view.get("hash"),
                view=build_request_view(spec, carried=forms.shared_values(view, spec)),
            )
        except SlackApiError as error:
            # hash_conflict: a newer switch already replaced the form; nothing is lost.
            log.info("provider switch not shown: %s", error.response.get("error"))

    @app.view(CallbackId.REQUEST_SUBMIT.value)
    def handle_request_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        spec, values = forms.read_request_form(view)
        validation = validate_request(spec, values)
        name, space = values.get("name", "").strip(), values.get("space", "").strip()
        if validation.ok and requests.name_in_use(deps, space_id=space, name=name):
            validation.error(
                "name",
                f"A request for “{name}” in space {space} is already open: pick another name.",
            )
        if not validation.ok:
            ack(response_action="errors", errors=forms.field_errors(spec, validation.errors))
            return
        draft = forms.to_draft(
            spec, values, warnings=validation.warnings, requested_by=str(body["user"]["id"])
        )
        snapshot = requests.submit_request(deps, draft)
        ack(response_action="update", view=build_submitted_view(snapshot))


def _open_request_modal(client: WebClient, respond: Respond, *, trigger_id: str) -> None:
    try:
        client.views_open(
            trigger_id=trigger_id, view=build_request_view(provider_spec(forms.DEFAULT_PROVIDER))
        )
    except SlackApiError as error:
        code = error.response.get("error")
        log.warning("could not open the request form: %s", code)
        respond(
            text=f"Slack didn't let me open the form in time ({code}). Please run the command "
            "again."
        )


def _cancel(deps: Deps, words: list[str], *, actor: str, command: str) -> str:
    reference = normalise_reference(words[0]) if words else None
    if reference is None:
        return f"Say which request to cancel, e.g. `{command} cancel REQ-7K3M9Q`."
    try:
        snapshot = requests.cancel_request(deps, reference=reference, actor=actor)
    except BotError as error:
        return error.user_message
    return f"{snapshot.reference} is cancelled; its secrets are erased."
