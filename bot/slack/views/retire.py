"""Views of retiring, extending and expiring a managed connector: the thread and DM lines,
the expiry DM's buttons, the extend modal and the retire / extend request card."""

from __future__ import annotations

from collections.abc import Callable

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextObject,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.domain.enums import RequestKind
from bot.domain.expiry import EXTENSION_CHOICES
from bot.domain.lifecycle import LifecycleEvent, LifecycleNotice, ManagedSummary
from bot.domain.lifetime import days_text
from bot.domain.schemas import RequestSnapshot
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.metadata import ManagedButton, RequestButton, encode
from bot.slack.views.common import (
    code,
    escape,
    fields_section,
    mention,
    option,
    section,
    slack_date,
    space_on,
    truncate,
)

MANAGED_KINDS = frozenset({RequestKind.RETIRE, RequestKind.EXTEND})


def _name(connector: ManagedSummary) -> str:
    return f"*{escape(truncate(connector.name, 80))}*"


def _reason(notice: LifecycleNotice) -> str:
    return f"\n>{escape(truncate(notice.message, 600))}" if notice.message else ""


def _ref(notice: LifecycleNotice) -> str:
    return f" ({escape(notice.reference)})" if notice.reference else ""


def _until(connector: ManagedSummary) -> str:
    return slack_date(connector.expires_at) if connector.expires_at else "no expiry"


def _asked(verb: str) -> Callable[[ManagedSummary, LifecycleNotice], str]:
    def headline(connector: ManagedSummary, notice: LifecycleNotice) -> str:
        what = verb if notice.days is None else f"{verb} by {days_text(notice.days)}"
        return (
            f":inbox_tray: {mention(notice.actor or '')} asked to {what} {_name(connector)}"
            f"{_ref(notice)}; it follows the approval policy.{_reason(notice)}"
        )

    return headline


def _retired(connector: ManagedSummary, notice: LifecycleNotice) -> str:
    return (
        f":black_circle: {_name(connector)} was deleted: *retired* by "
        f"{mention(notice.actor or '')}{_ref(notice)}. The bot no longer tests it."
    )


def _extended(connector: ManagedSummary, notice: LifecycleNotice) -> str:
    added = days_text(notice.days or 0)
    cap = f" ({escape(notice.message)})" if notice.message else ""
    return (
        f":hourglass: {_name(connector)} was extended by {added}{cap}: it now expires "
        f"{_until(connector)}{_ref(notice)}."
    )


def _expiring(connector: ManagedSummary, notice: LifecycleNotice) -> str:
    left = days_text(notice.days or 1)
    return (
        f":hourglass_flowing_sand: {_name(connector)} expires in {left} "
        f"({_until(connector)}): the bot deletes it then. Extend it, or retire it now."
    )


def _expired(connector: ManagedSummary, notice: LifecycleNotice) -> str:
    del notice
    return f":white_circle: {_name(connector)} reached its expiry: the bot deleted it (*expired*)."


def _delete_failed(connector: ManagedSummary, notice: LifecycleNotice) -> str:
    del notice
    return f":x: The bot could not delete {_name(connector)}; it is still there."


def _rejected(connector: ManagedSummary, notice: LifecycleNotice) -> str:
    return (
        f":no_entry: {mention(notice.actor or '')} rejected the request{_ref(notice)} about "
        f"{_name(connector)}: it stays as it is.{_reason(notice)}"
    )


MANAGED_HEADLINES: dict[LifecycleEvent, Callable[[ManagedSummary, LifecycleNotice], str]] = {
    LifecycleEvent.RETIRE_ASKED: _asked("retire"),
    LifecycleEvent.EXTEND_ASKED: _asked("extend"),
    LifecycleEvent.RETIRED: _retired,
    LifecycleEvent.EXTENDED: _extended,
    LifecycleEvent.EXPIRING: _expiring,
    LifecycleEvent.EXPIRED: _expired,
    LifecycleEvent.DELETE_FAILED: _delete_failed,
    LifecycleEvent.ASK_REJECTED: _rejected,
}


def expiry_buttons(managed_id: int) -> ActionsBlock:
    """The expiry warning's two buttons: Extend, and Retire now (the retire confirmation)."""
    value = encode(ManagedButton(managed_id=managed_id))
    return ActionsBlock(
        elements=[
            ButtonElement(
                text=PlainTextObject(text="Extend"),
                action_id=ActionId.EXTEND.value,
                value=value,
                style="primary",
            ),
            ButtonElement(
                text=PlainTextObject(text="Retire now"),
                action_id=ActionId.RETIRE.value,
                value=value,
                style="danger",
            ),
        ]
    )


def build_extend_view(connector: ManagedSummary, *, max_days: int | None) -> View:
    """The extension choice (1, 7 or 30 days more), with the policy's cap said."""
    cap = (
        f" The policy allows at most {days_text(max_days)} from now: a longer end is cut to it."
        if max_days is not None
        else ""
    )
    return View(
        type="modal",
        callback_id=CallbackId.EXTEND_SUBMIT.value,
        title=PlainTextObject(text="Extend connector"),
        submit=PlainTextObject(text="Ask to extend"),
        close=PlainTextObject(text="Back"),
        private_metadata=encode(ManagedButton(managed_id=connector.id)),
        blocks=[
            section(
                f"Extend {_name(connector)} {code(connector.resource_id)}, which expires "
                f"{_until(connector)}. An approver decides when the policy asks for one.{cap}"
            ),
            InputBlock(
                block_id=BlockId.EXTEND_DAYS.value,
                label=PlainTextObject(text="Extend by"),
                element=StaticSelectElement(
                    action_id=ActionId.FIELD_VALUE.value,
                    options=[option(str(days), days_text(days)) for days in EXTENSION_CHOICES],
                    initial_option=option("7", days_text(7)),
                ),
            ),
        ],
    )


def managed_card_blocks(snapshot: RequestSnapshot, status: str) -> list[Block]:
    """The approval card of a request to retire or extend a managed connector."""
    retire = snapshot.kind is RequestKind.RETIRE
    title = "Retire an existing connector" if retire else "Extend an existing connector"
    resource = str(snapshot.config.get("resource_id") or "")
    details = [
        ("Requester", mention(snapshot.requested_by)),
        ("Provider", escape(snapshot.provider_label)),
        ("Where", space_on(snapshot.space_id, snapshot.target_label)),
        ("Connector", f"{escape(snapshot.connector_name)}\n{code(resource)}"),
    ]
    if not retire and snapshot.lifetime_days is not None:
        details.append(("Extend by", days_text(snapshot.lifetime_days)))
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=f"{title} {snapshot.reference}")),
        fields_section(details),
        section(f"*Why*\n{escape(truncate(snapshot.justification, 1500))}"),
        section(status),
    ]
    if snapshot.status.value == "pending":
        blocks.append(_buttons(snapshot, retire=retire))
    return blocks


def _buttons(snapshot: RequestSnapshot, *, retire: bool) -> ActionsBlock:
    value = encode(RequestButton(request_id=snapshot.id))
    question = "Delete this connector?" if retire else "Extend this connector?"
    what = "The bot deletes it; it cannot be undone." if retire else "The bot moves its expiry."
    return ActionsBlock(
        block_id=BlockId.APPROVAL_ACTIONS.value,
        elements=[
            ButtonElement(
                text=PlainTextObject(text="Approve"),
                action_id=ActionId.APPROVE.value,
                value=value,
                style="primary",
                confirm=ConfirmObject(
                    title=PlainTextObject(text=question),
                    text=MarkdownTextObject(text=what),
                    confirm=PlainTextObject(text="Approve"),
                    deny=PlainTextObject(text="Back"),
                ),
            ),
            ButtonElement(
                text=PlainTextObject(text="Reject…"),
                action_id=ActionId.REJECT.value,
                value=value,
                style="danger",
            ),
        ],
    )


def managed_status_line(snapshot: RequestSnapshot, decided: str) -> str | None:
    """Where a retire or extend request is, once approved (None: as for any request)."""
    verb = "Retiring" if snapshot.kind is RequestKind.RETIRE else "Extending"
    done = "Retired" if snapshot.kind is RequestKind.RETIRE else "Extended"
    status = snapshot.status.value
    if status in {"approved", "provisioning"}:
        return f":white_check_mark: Approved{decided}. {verb} it…"
    if status == "completed":
        return f":large_green_circle: Approved{decided}. {done}: see the connector's thread."
    if status == "failed":
        why = escape(truncate(snapshot.failure_message or "", 500))
        return f":x: Approved{decided}, but it was not done: {why}"
    return None


def retire_answer(snapshot: RequestSnapshot) -> str:
    """What the person who asked sees once the request is stored."""
    verb = "retire" if snapshot.kind is RequestKind.RETIRE else "extend"
    if snapshot.status.value == "pending":
        return (
            f"Asked to {verb} {escape(snapshot.connector_name)} as {snapshot.reference}: "
            "waiting for an approver; the connector's thread has the story."
        )
    return (
        f"{snapshot.reference}: the policy approved it; the bot will {verb} "
        f"{escape(snapshot.connector_name)} now and tell the connector's thread."
    )
