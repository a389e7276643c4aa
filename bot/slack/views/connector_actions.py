"""The buttons of a managed connector (its outcome message and DM, App Home) and the Roll back
button of a change whose test failed."""

from __future__ import annotations

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ConfirmObject, PlainTextObject

from bot.domain.changes import rotatable
from bot.domain.enums import Provider
from bot.domain.lifecycle import CHANGEABLE_STATES, ManagedState, ManagedSummary
from bot.domain.providers import provider_spec
from bot.slack.ids import ActionId
from bot.slack.metadata import ManagedButton, RequestButton, encode

ACTIONS_BLOCK_PREFIX = "connector.actions."
ROLLBACK_BLOCK_PREFIX = "connector.rollback."


def _can_rotate(summary: ManagedSummary) -> bool:
    try:
        return rotatable(provider_spec(Provider(summary.provider)))
    except ValueError:  # a provider this version no longer knows
        return False


def _button(text: str, action: ActionId, value: str, *, style: str | None = None) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=text), action_id=action.value, value=value, style=style
    )


def connector_buttons(summary: ManagedSummary) -> ActionsBlock | None:
    """Rotate key (when there is a key), Change, Retire, and Extend (when it expires); None
    for a connector that is retired or expired (nothing left to ask for but Extend)."""
    value = encode(ManagedButton(managed_id=summary.id))
    elements: list[ButtonElement] = []
    if summary.state in CHANGEABLE_STATES:
        if _can_rotate(summary):
            elements.append(_button("Rotate key", ActionId.ROTATE, value))
        elements.append(_button("Change", ActionId.CHANGE, value))
        elements.append(_button("Retire", ActionId.RETIRE, value, style="danger"))
    if summary.expires_at is not None and summary.state is not ManagedState.RETIRED:
        elements.append(_button("Extend", ActionId.EXTEND, value))
    if not elements:
        return None
    return ActionsBlock(block_id=f"{ACTIONS_BLOCK_PREFIX}{summary.id}", elements=elements)


def rollback_button(request_id: int) -> ActionsBlock:
    """Roll back a changed connector whose test failed (once, by its owner or an approver)."""
    button = _button(
        "Roll back", ActionId.ROLLBACK, encode(RequestButton(request_id=request_id)), style="danger"
    )
    button.confirm = ConfirmObject(
        title="Roll back the change?",
        text="The bot puts the previous settings back (the new key stays) and tests it again.",
        confirm="Roll back",
        deny="Keep it",
    )
    return ActionsBlock(block_id=f"{ROLLBACK_BLOCK_PREFIX}{request_id}", elements=[button])
