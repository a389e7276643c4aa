"""Every callback_id, action_id and block_id the bot uses: one source of truth."""

from __future__ import annotations

from enum import StrEnum


class CallbackId(StrEnum):
    REQUEST_SUBMIT = "connector_request.submit"
    REQUEST_DONE = "connector_request.done"
    REJECT_REASON = "approval.reject_reason"
    ROTATE_SUBMIT = "lifecycle.rotate"
    CHANGE_SUBMIT = "lifecycle.change"
    RETIRE_SUBMIT = "lifecycle.retire"
    BREAK_GLASS_REASON = "approval.break_glass_reason"
    EXTEND_SUBMIT = "lifecycle.extend"


class ActionId(StrEnum):
    PROVIDER = "connector_request.provider"
    FIELD_VALUE = "connector_request.value"
    APPROVE = "approval.approve"
    REJECT = "approval.reject"
    DELIVER_YAML = "approval.deliver_yaml"
    REASON = "approval.reason"
    TARGET = "connector_request.target"
    HOME_CANCEL = "home.cancel"
    # Buttons on a managed connector (its messages, DMs and Home); value: ManagedButton.
    ROTATE = "lifecycle.rotate_button"
    CHANGE = "lifecycle.change_button"
    RETIRE = "lifecycle.retire_button"
    EXTEND = "lifecycle.extend_button"
    ROLLBACK = "lifecycle.rollback_button"  # value: RequestButton of the failed change


class BlockId(StrEnum):
    PROVIDER = "connector_request.provider"
    APPROVAL_ACTIONS = "approval.actions"
    REJECT_REASON = "approval.reject_reason"
    RETIRE_REASON = "lifecycle.retire_reason"
    TARGET = "connector_request.target"
    BREAK_GLASS_REASON = "approval.break_glass_reason"
    EXTEND_DAYS = "lifecycle.extend_days"


FIELD_BLOCK_PREFIX = "field."


def field_block_id(key: str, *, provider: str | None = None) -> str:
    """Block id of a form field; provider-specific when its default differs per provider."""
    return f"{FIELD_BLOCK_PREFIX}{key}" + (f".{provider}" if provider else "")


def field_key(block_id: str) -> str | None:
    """The field key inside a field block id, or None for other blocks."""
    if not block_id.startswith(FIELD_BLOCK_PREFIX):
        return None
    return block_id[len(FIELD_BLOCK_PREFIX) :].split(".", 1)[0]
