"""The request modal, fitted to the chosen provider, and the views around it."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.domain.backends import CLUSTER_WIDE_NOTE, Backend, BackendChoice, for_provider
from bot.domain.enums import Provider
from bot.domain.fields import (
    COMMON_FIELDS,
    JUSTIFICATION_FIELD,
    REASON_MAX,
    FieldKind,
    FieldSpec,
)
from bot.domain.lifetime import lifetime_field, lifetime_text
from bot.domain.providers import PROVIDERS, ProviderSpec
from bot.domain.providers.spec import CONNECTOR, BackendKey
from bot.domain.schemas import RequestSnapshot
from bot.services.catalog import ManagedLlm, SpaceOptions
from bot.slack.ids import ActionId, BlockId, CallbackId, field_block_id
from bot.slack.metadata import RejectMetadata, RequestFormMetadata, encode
from bot.slack.views.common import (
    code,
    context,
    escape,
    field_input,
    mention,
    option,
    section,
    space_on,
    truncate,
)

COMMON_KEYS = frozenset(spec.key for spec in (*COMMON_FIELDS, JUSTIFICATION_FIELD))
TITLE = "LLM connector request"


def form_fields(spec: ProviderSpec[Any, Any]) -> tuple[FieldSpec, ...]:
    """The fields of the form for a provider, in display order."""
    if not spec.provisions:
        return ()
    return (*COMMON_FIELDS, *spec.fields, JUSTIFICATION_FIELD)


def block_id_for(spec: ProviderSpec[Any, Any], key: str) -> str:
    """Fields whose default differs per provider get a provider-specific block id, so that
    switching provider shows the new default instead of keeping the old one."""
    field = spec.field(key)
    if key in COMMON_KEYS or field is None or field.initial is None:
        return field_block_id(key)
    return field_block_id(key, provider=spec.key.value)


def build_request_view(
    spec: ProviderSpec[Any, Any],
    *,
    carried: Mapping[str, str] | None = None,
    unavailable: Mapping[Provider, str] | None = None,
    deprecated: Collection[str] = (),
    backend: BackendChoice | None = None,
    max_lifetime_days: int | None = None,
    targets: Sequence[tuple[str, str]] = (),
    target: str | None = None,
    spaces: SpaceOptions | None = None,
) -> View:
    """The request form for ``spec``, prefilled with ``carried`` values.

    ``unavailable`` marks providers this Kibana can't take (with why); ``deprecated`` lists
    connector types Kibana marks deprecated, which the API still creates; ``backend`` is the
    stack's back-end and why (None when Elasticsearch is not configured: no line, and the
    menu leaves out the providers only an inference endpoint can serve).

    ``targets`` are the (key, name) of the deployments to choose from: with more than one the
    form asks for ``target`` first. ``spaces`` are the chosen target's spaces (a select; a
    note when they are not Kibana's own list); None keeps the space a text input.
    ``max_lifetime_days`` is the policy's maximum lifetime, which the Lifetime select obeys.
    """
    notes = dict(unavailable or {})
    blocks: list[Block] = [
        section(
            "Ask for an LLM connector in Kibana. An approver decides; the bot then creates it "
            "and tests it, and tells you the result."
        ),
    ]
    if len(targets) > 1:
        blocks.append(_target_select(targets, target))
    blocks += [
        # Without Elasticsearch only connectors can be made; with it, a provider falls back
        # to the back-end it supports (its notes say so) or is refused at submit.
        _provider_select(spec, notes, CONNECTOR if backend is None else None),
    ]
    if spec.key in notes:
        blocks.append(context(f":no_entry: Not available: {escape(notes[spec.key])}."))
    if backend is not None and spec.provisions:
        blocks += backend_notes(spec, backend)
    if spec.connector_type_id in deprecated:
        blocks.append(
            context(
                f":information_source: Kibana marks {spec.connector_type_id} connectors "
                "deprecated (9.5+); the bot still creates them through the API."
            )
        )
    if not spec.provisions:
        blocks.append(
            section(
                "Elastic Managed LLM is preconfigured by Elastic on eligible deployments: "
                "there is nothing to create. Press *Check* and the bot looks for it in Kibana."
            )
        )
    lifetime = lifetime_field(max_lifetime_days)
    for field in form_fields(spec):
        if field.key == JUSTIFICATION_FIELD.key:
            chosen = (carried or {}).get(lifetime.key)
            blocks.append(
                field_input(lifetime, block_id=field_block_id(lifetime.key), initial=chosen)
            )
        key = block_id_for(spec, field.key)
        initial = (carried or {}).get(field.key)
        if field.key == "space" and spaces is not None:
            blocks += _space_blocks(field, spaces, target, initial)
            continue
        blocks.append(field_input(field, block_id=key, initial=initial))
    return View(
        type="modal",
        callback_id=CallbackId.REQUEST_SUBMIT.value,
        title=PlainTextObject(text=TITLE),
        submit=PlainTextObject(text="Submit request" if spec.provisions else "Check"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=encode(
            RequestFormMetadata(
                provider=spec.key,
                unavailable=notes,
                deprecated=sorted(deprecated),
                backend=backend.backend if backend else None,
                backend_reason=truncate(backend.reason, 300) if backend else None,
                max_lifetime_days=max_lifetime_days,
                target=target,
            )
        ),
        blocks=blocks,
    )


def backend_notes(spec: ProviderSpec[Any, Any], stack: BackendChoice) -> list[Block]:
    """Which back-end this provider's request ends in on this stack, and why (shown only when
    Elasticsearch is configured; the submission decides again with the operator's setting)."""
    choice = for_provider(stack, spec.supported_backends)
    if choice is None:
        return [
            context(
                f":no_entry: {escape(spec.label)} cannot be provisioned here: "
                f"{escape(stack.reason)}."
            )
        ]
    if choice.backend is Backend.INFERENCE:
        return [
            context(
                f":gear: Back-end: *Elasticsearch inference endpoint* ({escape(choice.reason)})."
            ),
            context(f":globe_with_meridians: {CLUSTER_WIDE_NOTE}"),
        ]
    return [context(f":gear: Back-end: *Kibana connector* ({escape(choice.reason)}).")]


def offered_providers(
    backend: BackendKey | None, *, chosen: Provider | None = None
) -> list[ProviderSpec[Any, Any]]:
    """The providers the menu offers on ``backend`` (all when it is not known yet): those
    that back-end creates, those with nothing to create, and the chosen one whatever it is
    (so the menu can show it selected)."""
    return [
        candidate
        for candidate in PROVIDERS.values()
        if backend is None
        or backend in candidate.supported_backends
        or not candidate.provisions
        or candidate.key == chosen
    ]


def _provider_select(
    spec: ProviderSpec[Any, Any],
    notes: Mapping[Provider, str],
    backend: BackendKey | None = None,
) -> InputBlock:
    options = []
    for candidate in offered_providers(backend, chosen=spec.key):
        label = candidate.label
        if (
            backend is not None
            and candidate.provisions
            and backend not in candidate.supported_backends
        ):
            label += f" (not on the {backend} back-end)"  # one note: options hold 75 characters
        elif candidate.key in notes:
            label += " (unavailable)"
        options.append(option(candidate.key.value, label))
    chosen = next(o for o in options if o.value == spec.key.value)
    return InputBlock(
        block_id=BlockId.PROVIDER.value,
        label=PlainTextObject(text="Provider"),
        hint=PlainTextObject(text=spec.summary),
        dispatch_action=True,
        element=StaticSelectElement(
            action_id=ActionId.PROVIDER.value, options=options, initial_option=chosen
        ),
    )


def space_block_id(target: str | None) -> str:
    """The space select's block id: one per target, so that a switch shows its options
    afresh instead of keeping the other target's choice."""
    return f"{field_block_id('space')}.at-{(target or 'default')[:100]}"


def _space_blocks(
    field: FieldSpec, spaces: SpaceOptions, target: str | None, initial: str | None
) -> list[Block]:
    blocks: list[Block] = []
    if spaces.options is None:
        blocks.append(field_input(field, block_id=field_block_id(field.key), initial=initial))
    else:
        ids = {space_id for space_id, _ in spaces.options}
        chosen = initial if initial in ids else ("default" if "default" in ids else None)
        select = replace(
            field,
            kind=FieldKind.SELECT,
            hint="The Kibana space the connector is created in.",
            options=tuple(
                (space_id, name if name == space_id else f"{name} ({space_id})")
                for space_id, name in spaces.options
            ),
            initial=None,
        )
        blocks.append(field_input(select, block_id=space_block_id(target), initial=chosen))
    if spaces.note:
        blocks.append(context(f":information_source: {escape(spaces.note)}"))
    return blocks


def _target_select(targets: Sequence[tuple[str, str]], chosen: str | None) -> InputBlock:
    options = [option(key, name) for key, name in targets[:100]]
    initial = next((o for o in options if o.value == chosen), options[0])
    return InputBlock(
        block_id=BlockId.TARGET.value,
        label=PlainTextObject(text="Target"),
        hint=PlainTextObject(text="The Kibana deployment the connector is created in."),
        dispatch_action=True,
        element=StaticSelectElement(
            action_id=ActionId.TARGET.value, options=options, initial_option=initial
        ),
    )


def build_submitted_view(snapshot: RequestSnapshot) -> View:
    """What the modal turns into once a request is stored."""
    if snapshot.auto_approved:
        rule = escape(snapshot.rule_label or "the policy")
        head = (
            f":white_check_mark: Request *{snapshot.reference}* was approved by policy {rule} "
            f"({escape(snapshot.decision_reason or 'auto-approve')})."
        )
        follow = "The bot is creating it; you'll get a DM with the connector's test result."
    else:
        head = f":white_check_mark: Request *{snapshot.reference}* is waiting for an approver."
        follow = "You'll get a DM when it is decided, and again with the connector's test result."
    lines = [
        head,
        f"*{escape(snapshot.connector_name)}* ({snapshot.provider_label}) in space "
        f"{space_on(snapshot.space_id, snapshot.target_label)}.",
        f"{follow} Quote *{snapshot.reference}* if you ask about it.",
    ]
    blocks: list[Block] = [section("\n".join(lines))]
    if snapshot.lifetime_days is not None:
        blocks.append(
            context(f":hourglass: The connector {lifetime_text(snapshot.lifetime_days)}.")
        )
    blocks += [context(f":warning: {escape(warning)}") for warning in snapshot.warnings[:5]]
    return View(
        type="modal",
        callback_id=CallbackId.REQUEST_DONE.value,
        title=PlainTextObject(text="Request submitted"),
        close=PlainTextObject(text="Done"),
        blocks=blocks,
    )


def build_notice_view(title: str, text: str) -> View:
    """A one-message modal (e.g. the Elastic Managed LLM answer)."""
    return View(
        type="modal",
        callback_id=CallbackId.REQUEST_DONE.value,
        title=PlainTextObject(text=title[:24]),
        close=PlainTextObject(text="Done"),
        blocks=[section(text)],
    )


def build_managed_llm_view(answer: ManagedLlm) -> View:
    """Whether Elastic Managed LLM is there to use, or what the deployment needs."""
    if answer.connector is not None:
        text = (
            f":white_check_mark: *{escape(answer.connector.name)}* ({code(answer.connector.id)}) "
            "is ready to use: pick it as the connector in the AI Assistant, Attack Discovery or "
            "Playground. Nothing to create, no approval needed."
        )
    else:
        problem = f" ({escape(answer.problem)})" if answer.problem else ""
        text = (
            f":information_source: This Kibana has no Elastic Managed LLM connector{problem}. "
            "It is preconfigured by Elastic on eligible Elastic Cloud deployments and serverless "
            "projects (it is billed per token), and it needs the `manage_inference` cluster "
            "privilege. Ask your Elastic admin about eligibility, or request one of the other "
            "providers."
        )
    return build_notice_view("Elastic Managed LLM", text + _eis_endpoints_text(answer))


def _eis_endpoints_text(answer: ManagedLlm) -> str:
    """The cluster's Elastic Inference Service chat endpoints (Kibana 9.4+ lists them beside
    the connectors), or why they could not be read."""
    if answer.endpoints_problem:
        return f"\n\n:warning: {escape(answer.endpoints_problem)}"
    if not answer.endpoints:
        return ""
    lines = [
        f"• *{escape(e.name)}* ({code(e.id)}" + (f", model {escape(e.model)})" if e.model else ")")
        for e in answer.endpoints
    ]
    return (
        "\n\n:white_check_mark: Elastic Inference Service chat endpoints in this cluster "
        "(cluster-wide; Kibana 9.4+ AI features list them beside the connectors):\n"
        + "\n".join(lines)
    )


def build_reject_view(snapshot: RequestSnapshot) -> View:
    """The small modal that asks an approver why they reject."""
    return View(
        type="modal",
        callback_id=CallbackId.REJECT_REASON.value,
        title=PlainTextObject(text="Reject request"),
        submit=PlainTextObject(text="Reject"),
        close=PlainTextObject(text="Back"),
        private_metadata=encode(RejectMetadata(request_id=snapshot.id)),
        blocks=[
            section(
                f"Reject *{snapshot.reference}*, {mention(snapshot.requested_by)}'s request for "
                f"*{escape(snapshot.connector_name)}* ({snapshot.provider_label})?"
            ),
            InputBlock(
                block_id=BlockId.REJECT_REASON.value,
                label=PlainTextObject(text="Reason"),
                hint=PlainTextObject(text="The requester sees this in their DM."),
                element=PlainTextInputElement(
                    action_id=ActionId.REASON.value, multiline=True, max_length=REASON_MAX
                ),
            ),
        ],
    )
