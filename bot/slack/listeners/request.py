"""The request flow: the slash command, the provider switch and the form submission."""

from __future__ import annotations

import functools
import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.deps import Deps
from bot.domain.fields import SPACE_ID, SPACE_ID_RULE
from bot.domain.providers import provider_spec
from bot.domain.refs import normalise_reference
from bot.errors import BotError
from bot.services import catalog, intake, requests, stack
from bot.services.admission import PolicyRefusedError
from bot.services.backends.base import BackendError
from bot.slack import forms
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.views import answers
from bot.slack.views.common import to_dicts
from bot.slack.views.connector_list import build_connector_list
from bot.slack.views.request_modal import (
    build_managed_llm_view,
    build_notice_view,
    build_request_view,
    build_submitted_view,
)
from bot.slack.views.status import build_status_blocks

log = logging.getLogger(__name__)


def register(app: App, deps: Deps, *, slash_command: str) -> None:
    """Wire the request flow's listeners."""

    @app.command(slash_command)
    def handle_request_command(
        ack: Ack, command: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        words = str(command.get("text") or "").split()
        if not words:
            ack()
            _open_request_modal(deps, client, respond, trigger_id=str(command["trigger_id"]))
            return
        verb, rest = words[0].lower(), words[1:]
        if verb == "list":
            space = rest[0] if rest else "default"
            if not SPACE_ID.match(space):
                ack(text=answers.bad_space_text(space, SPACE_ID_RULE), response_type="ephemeral")
                return
            ack(text=answers.listing_text(space), response_type="ephemeral")
            _list_connectors(deps, respond, space_id=space)
            return
        if verb == "status":
            ack()
            _status(deps, respond, rest, viewer=str(command["user_id"]), command=slash_command)
            return
        if verb == "cancel":
            text = _cancel(deps, rest, actor=str(command["user_id"]), command=slash_command)
        elif verb == "help":
            text = answers.usage(slash_command)
        else:
            text = answers.unknown_verb_text(words[0], slash_command)
        ack(text=text, response_type="ephemeral")

    @app.action(ActionId.PROVIDER.value)
    def handle_provider_change(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        view = body["view"]
        spec = provider_spec(forms.read_chosen_provider(action, view))
        metadata = forms.read_form_metadata(view)
        try:
            client.views_update(
                view_id=view["id"],
                hash=view.get("hash"),
                view=build_request_view(
                    spec,
                    carried=forms.shared_values(view, spec),
                    unavailable=metadata.unavailable,
                    deprecated=metadata.deprecated,
                    backend=metadata.backend_choice(),
                ),
            )
        except SlackApiError as error:
            # hash_conflict: a newer switch already replaced the form; nothing is lost.
            log.info("provider switch not shown: %s", error.response.get("error"))

    @app.view(CallbackId.REQUEST_SUBMIT.value)
    def handle_request_submission(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        spec, values = forms.read_request_form(view)
        metadata = forms.read_form_metadata(view)
        if spec.key in metadata.unavailable:
            ack(
                response_action="errors",
                errors={
                    BlockId.PROVIDER.value: f"Not available: {metadata.unavailable[spec.key]}."
                },
            )
            return
        if not spec.provisions:
            ack(
                response_action="update",
                view=build_notice_view(
                    "Elastic Managed LLM", ":hourglass_flowing_sand: Asking Kibana…"
                ),
            )
            _answer_managed_llm(deps, client, view_id=str(view["id"]))
            return
        backend = intake.choose_backend(deps, spec)
        if isinstance(backend, str):
            ack(response_action="errors", errors={BlockId.PROVIDER.value: backend})
            return
        result = intake.vet_request(
            deps, spec, values, deprecated=metadata.deprecated, backend=backend
        )
        if result.draft is None:
            ack(response_action="errors", errors=forms.field_errors(spec, result.errors))
            return
        try:
            snapshot = requests.submit_request(
                deps,
                result.draft,
                warnings=result.warnings,
                requested_by=str(body["user"]["id"]),
                backend=backend,
            )
        except PolicyRefusedError as refused:
            # The approval policy decides per provider: say so where the provider is chosen.
            ack(response_action="errors", errors={BlockId.PROVIDER.value: refused.user_message})
            return
        ack(response_action="update", view=build_submitted_view(snapshot))


@functools.cache
def _blank_request_form() -> dict[str, Any]:
    """The form the slash command opens, as Slack receives it. It never varies, so it is built
    and converted once: converting slack-sdk models costs more than anything else the command
    does, and it competes with the acks of the requests arriving at the same time."""
    return build_request_view(provider_spec(forms.DEFAULT_PROVIDER)).to_dict()


def _open_request_modal(
    deps: Deps, client: WebClient, respond: Respond, *, trigger_id: str
) -> None:
    spec = provider_spec(forms.DEFAULT_PROVIDER)
    try:
        opened = client.views_open(trigger_id=trigger_id, view=_blank_request_form())
    except SlackApiError as error:
        code = error.response.get("error")
        log.warning("could not open the request form: %s", code)
        respond(
            text=f"Slack didn't let me open the form in time ({code}). Please run the command "
            "again."
        )
        return
    # Only now, with the form on screen, ask Kibana what it can take (never before views.open:
    # the trigger id dies after 3 seconds).
    availability = catalog.connector_availability(deps)
    # Which back-end, and why: only when Elasticsearch is configured (else: as always).
    backend = stack.stack_backend(deps) if deps.elasticsearch_quick is not None else None
    noted = availability is not None and bool(availability.unavailable or availability.deprecated)
    if not noted and backend is None:
        return
    view = opened["view"]
    try:
        client.views_update(
            view_id=view["id"],
            hash=view.get("hash"),
            view=build_request_view(
                spec,
                unavailable=availability.unavailable if availability else None,
                deprecated=availability.deprecated if availability else (),
                backend=backend,
            ),
        )
    except SlackApiError as error:
        log.info("could not mark unavailable providers: %s", error.response.get("error"))


def _answer_managed_llm(deps: Deps, client: WebClient, *, view_id: str) -> None:
    answer = catalog.find_managed_llm(deps, space_id="default")
    try:
        client.views_update(view_id=view_id, view=build_managed_llm_view(answer))
    except SlackApiError as error:
        log.warning(
            "could not show the Elastic Managed LLM answer: %s", error.response.get("error")
        )


def _list_connectors(deps: Deps, respond: Respond, *, space_id: str) -> None:
    try:
        listing = catalog.list_resources(deps, space_id=space_id)
    except BackendError as error:
        if error.status == catalog.NOT_FOUND:
            respond(text=answers.no_space_text(space_id))
        else:
            respond(text=answers.kibana_unreachable_text(error.message))
        return
    text, blocks = build_connector_list(space_id, listing.resources, listing.notes)
    respond(text=text, blocks=to_dicts(blocks))


def _status(deps: Deps, respond: Respond, words: list[str], *, viewer: str, command: str) -> None:
    reference = normalise_reference(words[0]) if words else None
    if reference is None:
        respond(text=f"Say which request, e.g. `{command} status REQ-7K3M9Q`.")
        return
    try:
        snapshot, history = requests.request_history(deps, reference=reference, viewer=viewer)
    except BotError as error:
        respond(text=error.user_message)
        return
    text, blocks = build_status_blocks(snapshot, history)
    respond(text=text, blocks=to_dicts(blocks))


def _cancel(deps: Deps, words: list[str], *, actor: str, command: str) -> str:
    reference = normalise_reference(words[0]) if words else None
    if reference is None:
        return f"Say which request to cancel, e.g. `{command} cancel REQ-7K3M9Q`."
    try:
        snapshot = requests.cancel_request(deps, reference=reference, actor=actor)
    except BotError as error:
        return error.user_message
    return answers.cancelled_text(snapshot.reference)
