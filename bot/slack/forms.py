"""The only place that reads Slack's view state: it becomes form values by field key.

The chosen provider's `spec.parse(values)` turns those into its typed draft.
"""

from __future__ import annotations

from typing import Any

from bot.domain.enums import Provider
from bot.domain.fields import FormValues
from bot.domain.providers import ProviderSpec, provider_spec
from bot.slack.ids import BlockId, field_key
from bot.slack.metadata import RequestFormMetadata, decode
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


def field_errors(spec: ProviderSpec[Any, Any], errors: dict[str, str]) -> dict[str, str]:
    """Map errors by field key to the block ids Slack shows them under."""
    from bot.slack.views.request_modal import block_id_for

    return {block_id_for(spec, key): message for key, message in errors.items()}


def read_reject_reason(view: dict[str, Any]) -> str:
    return read_state(view).get(BlockId.REJECT_REASON.value, "").strip()


def read_break_glass_reason(view: dict[str, Any]) -> str:
    return read_state(view).get(BlockId.BREAK_GLASS_REASON.value, "").strip()


def shared_values(view: dict[str, Any], target: ProviderSpec[Any, Any]) -> dict[str, str]:
    """Non-secret values typed so far that the target provider's form also has."""
    typed = read_state(view)
    carried: dict[str, str] = {}

    for spec in form_fields(target):
        if spec.secret:
            continue
        value = typed.get(block_id_for(target, spec.key))
        if value:
            carried[spec.key] = value
    return carried
