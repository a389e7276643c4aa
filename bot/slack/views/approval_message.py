"""The approval card posted to the approvers' channel, updated in place as the request moves."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
)

from bot.domain.backends import CLUSTER_WIDE_NOTE
from bot.domain.changes import ChangeKind
from bot.domain.devtools import DELIVERED_REASON
from bot.domain.enums import RequestKind, RequestStatus
from bot.domain.lifetime import lifetime_text
from bot.domain.schemas import RequestSnapshot
from bot.slack.ids import ActionId, BlockId
from bot.slack.metadata import RequestButton, encode
from bot.slack.views.changes import change_diff_blocks
from bot.slack.views.common import (
    code,
    context,
    escape,
    fields_section,
    mention,
    section,
    slack_date,
    space_on,
    truncate,
)
from bot.slack.views.retire import MANAGED_KINDS, managed_card_blocks, managed_status_line

S = RequestStatus
CONFIRM_TEXT_MAX = 300


def card_text(snapshot: RequestSnapshot) -> str:
    """Notification fallback text of the card."""
    return (
        f"{snapshot.reference}: {snapshot.provider_label} connector "
        f"“{escape(truncate(snapshot.connector_name, 80))}” requested by "
        f"{mention(snapshot.requested_by)} — {status_line(snapshot)}"
    )


def build_card_blocks(snapshot: RequestSnapshot) -> list[Block]:
    """The card: who asks for what and why, its state, and buttons while it is pending."""
    if snapshot.kind in MANAGED_KINDS:
        return managed_card_blocks(snapshot, status_line(snapshot))
    inference = snapshot.backend == "inference"
    kind = f"inference: {snapshot.inference_service}" if inference else snapshot.connector_type_id
    resource = "Inference endpoint" if inference else "Connector"
    details = [
        ("Requester", mention(snapshot.requested_by)),
        ("Provider", f"{snapshot.provider_label} ({code(kind)})"),
        ("Model", escape(snapshot.model or "Kibana's default")),
        *([("Target", escape(snapshot.target_label))] if snapshot.target_label else []),
        ("Kibana space", code(snapshot.space_id)),
        (
            resource,
            f"{escape(snapshot.connector_name)}\n"
            f"{code(snapshot.change_resource_id or snapshot.kibana_connector_id)}",
        ),
    ]
    if snapshot.api_url:
        details.append(("API URL", escape(truncate(snapshot.api_url, 300))))
    if snapshot.backend_reason:
        details.append(("Back-end", _backend_line(snapshot)))
    if snapshot.lifetime_days is not None:
        details.append(("Lifetime", lifetime_text(snapshot.lifetime_days).capitalize()))
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=f"{_title(snapshot)} {snapshot.reference}")),
        *_change_blocks(snapshot),
        fields_section(details),
        section(f"*Why*\n{escape(truncate(snapshot.justification, 1500))}"),
    ]
    if inference:
        blocks.append(context(f":globe_with_meridians: {CLUSTER_WIDE_NOTE}"))
    blocks += [context(f":warning: {escape(warning)}") for warning in snapshot.warnings[:5]]
    blocks.append(section(status_line(snapshot)))
    if snapshot.status is S.PENDING:
        blocks += [context(line) for line in unresolved_lines(snapshot)]
        blocks.append(_decision_buttons(snapshot))
    return blocks


def _title(snapshot: RequestSnapshot) -> str:
    if snapshot.kind is RequestKind.ROTATE:
        return "Key rotation"
    if snapshot.kind is RequestKind.CHANGE:
        return "Change of an existing connector"
    return "LLM connector request"


def _change_blocks(snapshot: RequestSnapshot) -> list[Block]:
    """A rotation or change says so, with the diff of its non-secret settings."""
    if snapshot.kind not in {RequestKind.ROTATE, RequestKind.CHANGE}:
        return []
    kind: ChangeKind = "rotate" if snapshot.kind is RequestKind.ROTATE else "change"
    return change_diff_blocks(
        kind, snapshot.change_diff, resource_id=snapshot.change_resource_id or ""
    )


def unresolved_lines(snapshot: RequestSnapshot) -> list[str]:
    """One line per approver group of the request's rule that Slack did not resolve."""
    unresolved = snapshot.progress.unresolved if snapshot.progress else ()
    return [
        f":warning: User group {code(group)} could not be resolved ({escape(error)}): its "
        "members can't approve until it does."
        for group, error in unresolved[:5]
    ]


def approved_by(snapshot: RequestSnapshot) -> str:
    """Who approved: ` by <@U> on <date>`, ` by policy rule 3 (auto-approve, 2 of 3 today)`,
    or ` by <@U> (break-glass: reason)`."""
    if snapshot.auto_approved:
        rule = escape(snapshot.rule_label or "the policy")
        reason = escape(snapshot.decision_reason or "auto-approve")
        return f" by policy {rule} ({reason})"
    if not snapshot.decided_by:
        return ""
    when = f" on {slack_date(snapshot.decided_at)}" if snapshot.decided_at else ""
    if snapshot.break_glass and snapshot.status is not S.REJECTED:
        reason = escape(truncate(snapshot.decision_reason or "", 300))
        return f" by {mention(snapshot.decided_by)} (break-glass: {reason}){when}"
    return f" by {mention(snapshot.decided_by)}{when}"


def _waiting_line(snapshot: RequestSnapshot) -> str:
    progress = snapshot.progress
    if progress is None or (progress.needed <= 1 and not progress.approved_by):
        return ":hourglass_flowing_sand: Waiting for an approver."
    if not progress.approved_by:
        return f":hourglass_flowing_sand: Waiting for {progress.needed} approvals."
    who = ", ".join(mention(user) for user in progress.approved_by)
    return (
        f":hourglass_flowing_sand: {len(progress.approved_by)} of {progress.needed} "
        f"approvals: {who}"
    )


def _backend_line(snapshot: RequestSnapshot) -> str:
    name = (
        "Elasticsearch inference endpoint"
        if snapshot.backend == "inference"
        else ("Kibana connector")
    )
    return f"{name}\n_{escape(truncate(snapshot.backend_reason or '', 400))}_"


def _decision_buttons(
    snapshot: RequestSnapshot, *, block_id: str = BlockId.APPROVAL_ACTIONS.value
) -> ActionsBlock:
    value = encode(RequestButton(request_id=snapshot.id))
    change = _is_change(snapshot)
    # A change is made in place by the bot: there is nothing to deliver by hand.
    delivery = [] if change else [_delivery_button(snapshot, value)]
    return ActionsBlock(
        block_id=block_id,
        elements=[
            ButtonElement(
                text=PlainTextObject(text="Approve"),
                action_id=ActionId.APPROVE.value,
                value=value,
                style="primary",
                confirm=ConfirmObject(
                    title=PlainTextObject(
                        text="Change this connector?" if change else "Create this connector?"
                    ),
                    text=MarkdownTextObject(
                        text=truncate(_confirm_text(snapshot), CONFIRM_TEXT_MAX)
                    ),
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
            *delivery,
        ],
    )


def decision_buttons(snapshot: RequestSnapshot, *, block_id: str) -> ActionsBlock:
    """The card's decision buttons (same action ids and values, so the same listeners and
    checks run) under another block id, e.g. on the Home tab that lists several requests."""
    return _decision_buttons(snapshot, block_id=block_id)


def _confirm_text(snapshot: RequestSnapshot) -> str:
    what = (
        f"*{escape(truncate(snapshot.connector_name, 80))}* in space "
        f"{space_on(snapshot.space_id, snapshot.target_label)}"
    )
    needed = snapshot.progress.needed if snapshot.progress else 1
    verb = "updates" if _is_change(snapshot) else "creates"
    if needed > 1:
        return f"Your approval is one of the {needed} needed; then the bot {verb} {what}."
    return f"The bot {verb} {what} and tests it."


def _is_change(snapshot: RequestSnapshot) -> bool:
    return snapshot.kind in {RequestKind.ROTATE, RequestKind.CHANGE}


def _change_status_line(snapshot: RequestSnapshot, decided: str) -> str | None:
    """Where an approved rotation or change is (None: as for any request)."""
    status = snapshot.status
    if status in {S.APPROVED, S.PROVISIONING}:
        return f":white_check_mark: Approved{decided}. Updating the connector in place…"
    if status is S.PROVISIONED:
        return f":white_check_mark: Approved{decided}. Connector updated; testing it…"
    if status is S.TESTED_OK:
        return f":large_green_circle: Approved{decided}. Connector updated and its test passed."
    if status is S.TEST_FAILED:
        return (
            f":warning: Approved{decided}. Connector updated, but its test failed (details in "
            "the connector's thread)."
        )
    if status is S.FAILED:
        return (
            f":x: Approved{decided}, but the connector could not be updated: nothing was "
            "changed (details in the connector's thread)."
        )
    return None


def status_line(snapshot: RequestSnapshot) -> str:
    """One line saying where the request is."""
    status = snapshot.status
    decided = approved_by(snapshot)
    if _is_change(snapshot):
        line = _change_status_line(snapshot, decided)
        if line is not None:
            return line
    managed = managed_status_line(snapshot, decided) if snapshot.kind in MANAGED_KINDS else None
    if managed is not None:
        return managed
    if status is S.PENDING:
        return _waiting_line(snapshot)
    if status in {S.APPROVED, S.PROVISIONING}:
        return f":white_check_mark: Approved{decided}. Creating the connector in Kibana…"
    if status is S.PROVISIONED:
        return f":white_check_mark: Approved{decided}. Connector created; testing it…"
    if status is S.TESTED_OK:
        return f":large_green_circle: Approved{decided}. Connector created and its test passed."
    if status is S.TEST_FAILED:
        return (
            f":warning: Approved{decided}. Connector created, but its test failed "
            "(details in the thread)."
        )
    if status is S.FAILED:
        return f":x: Approved{decided}, but the connector was not created (details in the thread)."
    if status is S.REJECTED:
        reason = escape(truncate(snapshot.decision_reason or "", 500))
        return f":no_entry: Rejected{decided}.\n>{reason}"
    if status is S.CANCELLED:
        return ":heavy_minus_sign: Cancelled by the requester."
    if status is S.EXPIRED:
        return ":heavy_minus_sign: Expired: nobody decided in time."
    if snapshot.decision_reason == DELIVERED_REASON:
        return f":package: Approved{decided}; delivered as a Dev Tools request."
    return f":package: Approved{decided}; delivered as a kibana.yml entry."


def _delivery_button(snapshot: RequestSnapshot, value: str) -> ButtonElement:
    """Deliver instead of creating: a kibana.yml entry for a connector, the Dev Tools request
    (and Terraform resource) for an inference endpoint."""
    if snapshot.backend == "inference":
        label, detail = (
            "Deliver as Dev Tools request",
            "You get the `PUT _inference/chat_completion/…` request and a Terraform resource "
            "privately, secrets as placeholders; nothing is created by the bot.",
        )
    else:
        label, detail = (
            "Deliver as kibana.yml",
            "For a self-managed stack: you get the preconfigured-connector entry and keystore "
            "commands privately; nothing is created through the API. Kibana must be restarted; "
            "not available on serverless.",
        )
    return ButtonElement(
        text=PlainTextObject(text=label),
        action_id=ActionId.DELIVER_YAML.value,
        value=value,
        confirm=ConfirmObject(
            title=PlainTextObject(text="Deliver instead?"),
            text=MarkdownTextObject(text=detail),
            confirm=PlainTextObject(text="Deliver"),
            deny=PlainTextObject(text="Back"),
        ),
    )
