"""Views of a change to an existing connector: the rotate and change modals, the retire
confirmation, and the diff block of its approval card."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, InputBlock, PlainTextInputElement, PlainTextObject
from slack_sdk.models.views import View

from bot.domain.changes import (
    ChangeKind,
    Current,
    SettingChange,
    change_fields,
    rotate_fields,
    settings_values,
)
from bot.domain.fields import REASON_MAX, redact_urls
from bot.domain.providers.spec import INFERENCE, BackendKey
from bot.slack.ids import ActionId, BlockId, CallbackId, field_block_id
from bot.slack.metadata import ChangeFormMetadata, RetireMetadata, encode
from bot.slack.views.common import code, context, escape, field_input, section, truncate

DIFF_LINES_MAX = 20
VALUE_MAX = 200


def _where(current: Current, resource_id: str) -> str:
    if current.backend == INFERENCE:
        return f"inference endpoint {code(resource_id)} (cluster-wide)"
    return f"connector {code(resource_id)} in space {code(current.space_id)}"


def build_rotate_view(current: Current, *, managed_id: int, resource_id: str) -> View:
    """Only the secret fields (empty) and why: the settings stay as they are."""
    spec = current.spec
    blocks: list[Block] = [
        section(
            f"Rotate the key of *{escape(current.name)}* ({escape(spec.label)}), "
            f"{_where(current, resource_id)}. An approver decides as for a new request; the "
            "bot then updates it in place, tests it and tells you."
        )
    ]
    blocks += [
        field_input(f, block_id=field_block_id(f.key), initial="") for f in rotate_fields(spec)
    ]
    return _modal(
        CallbackId.ROTATE_SUBMIT,
        "Rotate key",
        "Ask to rotate",
        blocks,
        current,
        "rotate",
        managed_id,
    )


def build_change_view(current: Current, *, managed_id: int, resource_id: str) -> View:
    """The name and the non-secret settings prefilled with what the connector has now, the
    secrets again (empty) and why."""
    spec = current.spec
    # A stored value with a credential in a URL (refused by today's checks) is not shown: it
    # is typed again.
    prefilled = {
        key: value
        for key, value in {**settings_values(spec, current.settings), "name": current.name}.items()
        if redact_urls(value) == value
    }
    blocks: list[Block] = [
        section(
            f"Change *{escape(current.name)}* ({escape(spec.label)}), "
            f"{_where(current, resource_id)}. An approver sees what you change; the bot then "
            "updates it in place, tests it and tells you."
        )
    ]
    if current.backend == INFERENCE:
        blocks.append(
            context(
                ":information_source: Elasticsearch changes only the key and the task settings "
                "of an endpoint in place; for another model or URL, retire it and request a "
                "new one."
            )
        )
    blocks += [
        field_input(f, block_id=field_block_id(f.key), initial=prefilled.get(f.key, ""))
        for f in change_fields(spec)
    ]
    return _modal(
        CallbackId.CHANGE_SUBMIT,
        "Change connector",
        "Ask to change",
        blocks,
        current,
        "change",
        managed_id,
    )


def _modal(
    callback: CallbackId,
    title: str,
    submit: str,
    blocks: list[Block],
    current: Current,
    kind: ChangeKind,
    managed_id: int,
) -> View:
    metadata = ChangeFormMetadata(
        managed_id=managed_id, kind=kind, provider=current.provider, backend=current.backend
    )
    return View(
        type="modal",
        callback_id=callback.value,
        title=PlainTextObject(text=title),
        submit=PlainTextObject(text=submit),
        close=PlainTextObject(text="Cancel"),
        private_metadata=encode(metadata),
        blocks=blocks,
    )


def build_retire_view(
    *, managed_id: int, name: str, resource_id: str, space_id: str, backend: BackendKey
) -> View:
    """The confirmation before asking to delete a connector or endpoint, with a reason."""
    if backend == INFERENCE:
        what = (
            f"the Elasticsearch inference endpoint {code(resource_id)}: every space and every "
            "pipeline that uses it loses it"
        )
    else:
        what = (
            f"the Kibana connector {code(resource_id)} in space {code(space_id)}: the AI "
            "features that use it stop working"
        )
    return View(
        type="modal",
        callback_id=CallbackId.RETIRE_SUBMIT.value,
        title=PlainTextObject(text="Retire connector"),
        submit=PlainTextObject(text="Retire"),
        close=PlainTextObject(text="Back"),
        private_metadata=encode(RetireMetadata(managed_id=managed_id)),
        blocks=[
            section(
                f":warning: Retire *{escape(name)}*? The bot deletes {what}. It cannot be "
                "undone; an approver decides when the policy asks for one."
            ),
            InputBlock(
                block_id=BlockId.RETIRE_REASON.value,
                label=PlainTextObject(text="Why retire it?"),
                hint=PlainTextObject(text="Posted in the connector's thread."),
                element=PlainTextInputElement(
                    action_id=ActionId.REASON.value, multiline=True, max_length=REASON_MAX
                ),
            ),
        ],
    )


def _shown(value: str) -> str:
    return code(truncate(value, VALUE_MAX)) if value.strip() else "_(none)_"


def change_diff_blocks(
    kind: ChangeKind, diff: tuple[SettingChange, ...] | list[SettingChange], *, resource_id: str
) -> list[Block]:
    """The part of an approval card that says this is a change, and what changes (secrets
    never: a rotation says only that the key is replaced)."""
    head = f":arrows_counterclockwise: *Change of an existing connector* {code(resource_id)}"
    if kind == "rotate":
        return [section(f"{head}: key rotation (the new secrets are never shown).")]
    lines = [
        f"• *{escape(c.label)}*: {_shown(c.old)} → {_shown(c.new)}"
        for c in list(diff)[:DIFF_LINES_MAX]
    ]
    if len(diff) > DIFF_LINES_MAX:
        lines.append(f"…and {len(diff) - DIFF_LINES_MAX} more")
    body = "\n".join(lines) if lines else "_no setting changes_"
    return [section(f"{head}:\n{body}"), context("The secrets are sent again and never shown.")]
