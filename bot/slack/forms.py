"""The only place that reads Slack's view state: it becomes form values by field key.

The chosen provider's `spec.parse(values)` turns those into its typed draft.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from bot.domain.enums import Provider
from bot.domain.fields import FormValues
from bot.domain.lifetime import LIFETIME_KEY, LifetimeChoice, read_choice
from bot.domain.providers import ProviderSpec, provider_spec
from bot.slack.ids import BlockId, field_block_id, field_key
from bot.slack.metadata import (
    ChangeFormMetadata,
    ManagedButton,
    RequestFormMetadata,
    RetireMetadata,
    decode,
)
from bot.slack.views.request_modal import block_id_for, form_fields

DEFAULT_PROVIDER = Provider.OPENAI


def _element_value(element: dict[str, Any]) -> str:
    kind = element.get("type")
    if kind in {"static_select", "radio_buttons"}:
        option = element.get("selected_option") or {}
        return str(option.get("value") or "")
    if kind == "checkboxes":
        return "true" if element.get("selected_options") else ""
    value = element.get("value")
    return "" if value is None else str(value)


def read_state(view: dict[str, Any]) -> dict[str, str]:
    """Every input's value by block id ('' for empty)."""
    values: dict[str, str] = {}
    state = (view.get("state") or {}).get("values") or {}
    for block_id, actions in state.items():
        for element in actions.values():
            values[block_id] = _element_value(element)
    return values


def read_provider(view: dict[str, Any]) -> Provider:
    """The provider chosen in the form (the select, else the metadata, else OpenAI)."""
    chosen = read_state(view).get(BlockId.PROVIDER.value, "")
    if chosen in Provider.__members__.values():
        return Provider(chosen)
    metadata = decode(RequestFormMetadata, view.get("private_metadata"))
    return metadata.provider if metadata else DEFAULT_PROVIDER


def read_target(view: dict[str, Any], known: Collection[str]) -> str | None:
    """The target chosen in the form (the select, else the metadata); None when the form
    names none, or one that is not in ``known`` (a forged or stale form)."""
    chosen = read_state(view).get(BlockId.TARGET.value, "")
    if not chosen:
        metadata = decode(RequestFormMetadata, view.get("private_metadata"))
        chosen = (metadata.target if metadata else None) or ""
    return chosen if chosen in known else None


def read_chosen_target(action: dict[str, Any]) -> str:
    """The target just picked in the select ('' when the action carries none)."""
    return str((action.get("selected_option") or {}).get("value") or "")


def read_chosen_provider(action: dict[str, Any], view: dict[str, Any]) -> Provider:
    """The provider just picked in the select (falls back to the view's state)."""
    chosen = str((action.get("selected_option") or {}).get("value") or "")
    if chosen in Provider.__members__.values():
        return Provider(chosen)
    return read_provider(view)


def read_form_metadata(view: dict[str, Any]) -> RequestFormMetadata:
    """What the form carries besides its inputs (provider, Kibana's availability)."""
    metadata = decode(RequestFormMetadata, view.get("private_metadata"))
    return metadata or RequestFormMetadata(provider=DEFAULT_PROVIDER)


def read_request_form(view: dict[str, Any]) -> tuple[ProviderSpec[Any, Any], FormValues]:
    """The chosen provider and the values of its fields, keyed by field key."""
    spec = provider_spec(read_provider(view))
    values: FormValues = {}
    for block_id, value in read_state(view).items():
        key = field_key(block_id)
        if key is not None:
            values[key] = value
    return spec, values


def field_errors(
    spec: ProviderSpec[Any, Any], errors: dict[str, str], view: dict[str, Any] | None = None
) -> dict[str, str]:
    """Map errors by field key to the block ids Slack shows them under (those of ``view``
    when it has the field: the space may be a select with a block id of its own)."""
    shown = {field_key(block_id): block_id for block_id in read_state(view or {})}
    return {shown.get(key) or block_id_for(spec, key): message for key, message in errors.items()}


def read_reject_reason(view: dict[str, Any]) -> str:
    return read_state(view).get(BlockId.REJECT_REASON.value, "").strip()


def read_break_glass_reason(view: dict[str, Any]) -> str:
    return read_state(view).get(BlockId.BREAK_GLASS_REASON.value, "").strip()


def shared_values(view: dict[str, Any], target: ProviderSpec[Any, Any]) -> dict[str, str]:
    """Non-secret values typed so far that the target provider's form also has."""
    typed = read_state(view)
    carried: dict[str, str] = {}

    by_key = {field_key(block_id): value for block_id, value in typed.items()}
    for spec in form_fields(target):
        if spec.secret:
            continue
        value = typed.get(block_id_for(target, spec.key))
        if spec.key == "space":  # a text input or a target's select: whichever is shown
            value = by_key.get("space")
        if value:
            carried[spec.key] = value
    lifetime = typed.get(field_block_id(LIFETIME_KEY))
    if lifetime:
        carried[LIFETIME_KEY] = lifetime
    return carried


def read_lifetime(values: FormValues) -> LifetimeChoice:
    """The form's Lifetime choice, read once here: days, or None for no expiry (a form
    without the select, opened before it existed, asks for no expiry)."""
    return read_choice(values.get(LIFETIME_KEY, ""))


def read_change_form(view: dict[str, Any]) -> tuple[ChangeFormMetadata | None, FormValues]:
    """A rotate or change modal: what it is about (None: not ours) and its values by field
    key; `bot.domain.changes.parse_rotation`/`parse_change` check them."""
    values: FormValues = {}
    for block_id, value in read_state(view).items():
        key = field_key(block_id)
        if key is not None:
            values[key] = value
    return decode(ChangeFormMetadata, view.get("private_metadata")), values


def change_field_errors(errors: dict[str, str]) -> dict[str, str]:
    """Errors by field key, under the rotate or change modal's blocks."""
    return {field_block_id(key): message for key, message in errors.items()}


def read_retire_form(view: dict[str, Any]) -> tuple[RetireMetadata | None, str]:
    """The retire confirmation: what it is about (None: not ours) and the reason given."""
    reason = read_state(view).get(BlockId.RETIRE_REASON.value, "").strip()
    return decode(RetireMetadata, view.get("private_metadata")), reason


def read_extend_form(view: dict[str, Any]) -> tuple[ManagedButton | None, str]:
    """The extend modal: which connector (None: not ours) and the days chosen ('' for none)."""
    days = read_state(view).get(BlockId.EXTEND_DAYS.value, "").strip()
    return decode(ManagedButton, view.get("private_metadata")), days
