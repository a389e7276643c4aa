"""Break-glass: the reason form an approver fills to approve their own request, and the DM
that tells the rule's other approvers at once."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, InputBlock, PlainTextInputElement, PlainTextObject
from slack_sdk.models.views import View

from bot.domain.fields import REASON_MAX
from bot.domain.schemas import RequestSnapshot
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.metadata import RejectMetadata, encode
from bot.slack.views.common import escape, mention, section, space_on, truncate


def build_break_glass_view(snapshot: RequestSnapshot) -> View:
    """Ask the requester-approver why they approve their own request (required)."""
    rule = f" ({escape(snapshot.rule_label)})" if snapshot.rule_label else ""
    where = space_on(snapshot.space_id, snapshot.target_label)
    return View(
        type="modal",
        callback_id=CallbackId.BREAK_GLASS_REASON.value,
        title=PlainTextObject(text="Break-glass approval"),
        submit=PlainTextObject(text="Approve"),
        close=PlainTextObject(text="Back"),
        private_metadata=encode(RejectMetadata(request_id=snapshot.id)),
        blocks=[
            section(
                f"*{snapshot.reference}* is your own request for "
                f"*{escape(truncate(snapshot.connector_name, 200))}* "
                f"({snapshot.provider_label}, space {where}). The policy"
                f"{rule} lets you approve it yourself: it is approved at once, and every other "
                "approver is told, with your reason."
            ),
            InputBlock(
                block_id=BlockId.BREAK_GLASS_REASON.value,
                label=PlainTextObject(text="Why can't this wait for another approver?"),
                hint=PlainTextObject(text="The other approvers and the audit trail see this."),
                element=PlainTextInputElement(
                    action_id=ActionId.REASON.value, multiline=True, max_length=REASON_MAX
                ),
            ),
        ],
    )


def break_glass_notice(snapshot: RequestSnapshot) -> tuple[str, list[Block]]:
    """The DM to each other approver of the rule: who self-approved what, and why."""
    reason = escape(truncate(snapshot.decision_reason or "", 1000))
    who = mention(snapshot.decided_by or snapshot.requested_by)
    where = space_on(snapshot.space_id, snapshot.target_label)
    text = (
        f":rotating_light: {who} approved their own request *{snapshot.reference}* "
        f"(break-glass): *{escape(truncate(snapshot.connector_name, 200))}*, "
        f"{snapshot.provider_label} in space {where}.\n>{reason}"
    )
    fallback = (
        f"{snapshot.reference}: {who} approved their own request (break-glass): "
        f"{escape(truncate(snapshot.decision_reason or '', 200))}"
    )
    return fallback, [section(text)]
