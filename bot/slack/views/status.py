"""The `status` answer: where a request is, and what happened to it, in order."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.domain.schemas import AuditEntry, RequestSnapshot
from bot.slack.views.approval_message import status_line
from bot.slack.views.common import escape, mention, section, slack_date, space_on

WHAT = {
    "submitted": "submitted",
    "approved": "approved",
    "rejected": "rejected",
    "cancelled": "cancelled by the requester",
    "expired": "expired",
    "decision_refused": "refused a decision (not allowed)",
    "provisioning_started": "started creating the connector",
    "provisioned": "connector created in Kibana",
    "provisioning_failed": "connector not created",
    "tested": "connector tested",
    "secrets_erased": "secrets erased",
    "delivered_as_yaml": "delivered as kibana.yml",
    "delivered_as_devtools": "delivered as a Dev Tools request",
    "auto_approved": "approved by policy (auto-approve)",
    "break_glass": "approved own request (break-glass)",
    "approval_counted": "approval counted",
}
MAX_EVENTS = 40


def build_status_blocks(
    snapshot: RequestSnapshot, history: list[AuditEntry]
) -> tuple[str, list[Block]]:
    lines = [
        f"• {slack_date(entry.at)}: {escape(WHAT.get(entry.action, entry.action))}"
        + (f" by {mention(entry.actor)}" if entry.actor else "")
        for entry in history[-MAX_EVENTS:]
    ]
    head = (
        f"*{snapshot.reference}* · {escape(snapshot.connector_name)} ({snapshot.provider_label}, "
        f"space {space_on(snapshot.space_id, snapshot.target_label)}), "
        f"asked by {mention(snapshot.requested_by)}\n"
        f"{status_line(snapshot)}"
    )
    text = f"{snapshot.reference}: {snapshot.status.value}"
    return text, [section(head), section("\n".join(lines) or "No history yet.")]
