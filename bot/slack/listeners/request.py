"""The request flow: the slash command, the provider switch and the form submission."""

from __future__ import annotations

import functools
import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.deps import Deps
from bot.domain.audit import AuditRangeError
from bot.domain.fields import SPACE_ID, SPACE_ID_RULE
from bot.domain.providers import ProviderSpec, provider_spec
from bot.domain.refs import normalise_reference
from bot.domain.targets import Target
from bot.errors import BotError, NotAuthorizedError
from bot.services import audit, catalog, form_context, intake, requests
from bot.services.admission import PolicyRefusedError
from bot.services.backends.base import BackendError
from bot.services.form_context import FormContext
from bot.slack import forms
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.listeners import changes, lifecycle, retire
from bot.slack.views import answers
from bot.slack.views import audit as audit_views
from bot.slack.views.common import section, to_dicts
from bot.slack.views.connector_list import build_connector_list
from bot.slack.views.request_modal import (
    build_managed_llm_view,
    build_notice_view,
    build_request_view,
    build_submitted_view,
)
from bot.slack.views.status import build_status_blocks

log = logging.getLogger(__name__)
MAX_MESSAGE_BLOCKS = 50  # Slack's limit for a message


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
            targets, rest = _listed_targets(deps, rest)
            space = rest[0] if rest else "default"
            if not SPACE_ID.match(space):
                ack(text=answers.bad_space_text(space, SPACE_ID_RULE), response_type="ephemeral")
                return
            ack(text=answers.listing_text(space), response_type="ephemeral")
            _list_connectors(deps, respond, targets=targets, space_id=space)
            return
        if verb == "audit":
            text = _audit(deps, rest, user=str(command["user_id"]), command=slash_command)
            ack(text=text, response_type="ephemeral")
            return
        if verb in retire.VERBS:
            retire.handle_command(
                deps,
                verb,
                rest,
                ack=ack,
                respond=respond,
                client=client,
                user=str(command["user_id"]),
                trigger_id=str(command["trigger_id"]),
                command=slash_command,
            )
            return
        if verb in lifecycle.VERBS:
            lifecycle.handle_lifecycle_command(
                deps,
                verb,
                rest,
                ack=ack,
                respond=respond,
                user=str(command["user_id"]),
                command=slash_command,
            )
            return
        if verb in changes.VERBS:
            changes.handle_change_command(
                deps,
                verb,
                rest,
                ack=ack,
                client=client,
                respond=respond,
                user=str(command["user_id"]),
                command=slash_command,
                trigger_id=str(command["trigger_id"]),
            )
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
        target = _form_target(deps, view)
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
                    max_lifetime_days=metadata.max_lifetime_days,
                    targets=form_context.target_choices(deps),
                    target=target,
                    spaces=form_context.spaces_for(deps, target),
                ),
            )
        except SlackApiError as error:
            # hash_conflict: a newer switch already replaced the form; nothing is lost.
            log.info("provider switch not shown: %s", error.response.get("error"))

    @app.action(ActionId.TARGET.value)
    def handle_target_change(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        view = body["view"]
        target = forms.read_chosen_target(action)
        if deps.governance.target(target) is None:
            log.info("target switch to an unknown target ignored")
            return
        spec = provider_spec(forms.read_provider(view))
        context = form_context.read_context(deps, target)
        _redraw(client, view, context, spec, carried=forms.shared_values(view, spec))

    @app.view(CallbackId.REQUEST_SUBMIT.value)
    def handle_request_submission(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        spec, values = forms.read_request_form(view)
        metadata = forms.read_form_metadata(view)
        target = forms.read_target(view, [t.key for t in deps.governance.targets])
        if target is None and deps.several_targets:
            shown = forms.read_state(view)
            where = BlockId.TARGET if BlockId.TARGET.value in shown else BlockId.PROVIDER
            ack(response_action="errors", errors={where.value: "Choose one of the targets."})
            return
        target = target or deps.governance.default_target.key
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
            _answer_managed_llm(deps, client, view_id=str(view["id"]), target=target)
            return
        backend = intake.choose_backend(deps, spec, target=target)
        if isinstance(backend, str):
            ack(response_action="errors", errors={BlockId.PROVIDER.value: backend})
            return
        lifetime = forms.read_lifetime(values)
        result = intake.vet_request(
            deps,
            spec,
            values,
            target=target,
            deprecated=metadata.deprecated,
            backend=backend,
            lifetime=lifetime,
            requester=str(body["user"]["id"]),
        )
        if result.draft is None:
            ack(response_action="errors", errors=forms.field_errors(spec, result.errors, view))
            return
        try:
            snapshot = requests.submit_request(
                deps,
                result.draft,
                warnings=result.warnings,
                requested_by=str(body["user"]["id"]),
                target=target,
                backend=backend,
                lifetime_days=lifetime.days,
            )
        except PolicyRefusedError as refused:
            # The approval policy decides per provider: say so where the provider is chosen.
            ack(response_action="errors", errors={BlockId.PROVIDER.value: refused.user_message})
            return
        ack(response_action="update", view=build_submitted_view(snapshot))


@functools.cache
def _blank_request_form(max_lifetime_days: int | None = None) -> dict[str, Any]:
    """The form the slash command opens, as Slack receives it. It varies only with the policy's
    maximum lifetime, so it is built and converted once per maximum: converting slack-sdk
    models costs more than anything else the command does, and it competes with the acks of
    the requests arriving at the same time."""
    spec = provider_spec(forms.DEFAULT_PROVIDER)
    return build_request_view(spec, max_lifetime_days=max_lifetime_days).to_dict()


def _open_request_modal(
    deps: Deps, client: WebClient, respond: Respond, *, trigger_id: str
) -> None:
    spec = provider_spec(forms.DEFAULT_PROVIDER)
    initial = form_context.initial_context(deps)
    form = (
        _blank_request_form(initial.max_lifetime_days)
        if initial.plain
        else _form(initial, spec).to_dict()
    )
    try:
        opened = client.views_open(trigger_id=trigger_id, view=form)
    except SlackApiError as error:
        code = error.response.get("error")
        log.warning("could not open the request form: %s", code)
        respond(
            text=f"Slack didn't let me open the form in time ({code}). Please run the command "
            "again."
        )
        return
    # Only now, with the form on screen, ask Kibana what it can take and which spaces it has
    # (never before views.open: the trigger id dies after 3 seconds).
    context = form_context.read_context(deps, initial.target)
    availability = context.availability
    noted = availability is not None and bool(availability.unavailable or availability.deprecated)
    if not noted and context.backend is None and context.spaces == initial.spaces:
        return
    _redraw(client, opened["view"], context, spec)


def _form(
    context: FormContext, spec: ProviderSpec[Any, Any], carried: dict[str, str] | None = None
) -> View:
    availability = context.availability
    return build_request_view(
        spec,
        carried=carried,
        unavailable=availability.unavailable if availability else None,
        deprecated=availability.deprecated if availability else (),
        backend=context.backend,
        targets=context.targets,
        target=context.target,
        spaces=context.spaces,
        max_lifetime_days=context.max_lifetime_days,
    )


def _redraw(
    client: WebClient,
    view: dict[str, Any],
    context: FormContext,
    spec: ProviderSpec[Any, Any],
    carried: dict[str, str] | None = None,
) -> None:
    try:
        client.views_update(
            view_id=view["id"], hash=view.get("hash"), view=_form(context, spec, carried)
        )
    except SlackApiError as error:
        # hash_conflict: the person changed the form meanwhile; their change stands.
        log.info("could not redraw the request form: %s", error.response.get("error"))


def _form_target(deps: Deps, view: dict[str, Any]) -> str:
    known = [target.key for target in deps.governance.targets]
    return forms.read_target(view, known) or deps.governance.default_target.key


def _answer_managed_llm(deps: Deps, client: WebClient, *, view_id: str, target: str) -> None:
    answer = catalog.find_managed_llm(deps, target=target, space_id="default")
    try:
        client.views_update(view_id=view_id, view=build_managed_llm_view(answer))
    except SlackApiError as error:
        log.warning(
            "could not show the Elastic Managed LLM answer: %s", error.response.get("error")
        )


def _listed_targets(deps: Deps, words: list[str]) -> tuple[list[Target], list[str]]:
    """`list [target] [space]`: the target named first (several targets), else every one."""
    if words and deps.several_targets:
        named = deps.governance.target(words[0])
        if named is not None:
            return [named], words[1:]
    return list(deps.governance.targets), words


def _list_connectors(deps: Deps, respond: Respond, *, targets: list[Target], space_id: str) -> None:
    """One section per target when there are several (each says what could not be read)."""
    several = deps.several_targets
    text_parts: list[str] = []
    blocks: list[Block] = []
    for target in targets:
        label = target.display if several else None
        try:
            listing = catalog.list_resources(deps, target=target.key, space_id=space_id)
        except BackendError as error:
            if error.status == catalog.NOT_FOUND:
                text = answers.no_space_text(space_id, label)
            else:
                text = answers.kibana_unreachable_text(error.message, label)
            if not several:
                respond(text=text)
                return
            text_parts.append(text)
            blocks.append(section(text))
            continue
        text, shown = build_connector_list(
            space_id, listing.resources, listing.notes, target_label=label
        )
        text_parts.append(text)
        blocks += shown
    respond(text="\n".join(text_parts), blocks=to_dicts(blocks[:MAX_MESSAGE_BLOCKS]))


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


def _audit(deps: Deps, words: list[str], *, user: str, command: str) -> str:
    try:
        period = audit.ask_for_export(deps, user=user, words=words)
    except NotAuthorizedError as error:
        return audit_views.export_refused_text(error.user_message)
    except AuditRangeError as error:
        return audit_views.bad_range_text(str(error), command)
    return audit_views.export_queued_text(period)
