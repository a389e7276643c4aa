"""What a request keeps of the rule that decides it, so a policy change after submit does not
change a pending request's approvers or threshold (pure: no I/O)."""

from __future__ import annotations

from typing import Any

from bot.domain.policy.model import AutoApprove, Rule


def rule_snapshot(rule: Rule) -> dict[str, Any]:
    """The JSON stored on the request: enough to rebuild what counts votes."""
    auto = rule.auto_approve
    return {
        "index": rule.index,
        "name": rule.name,
        "label": rule.label,
        "approvers": list(rule.approvers),
        "approvals": rule.approvals,
        "break_glass": rule.break_glass,
        "auto_approve": (
            {"max_per_requester_per_day": auto.max_per_requester_per_day} if auto else None
        ),
    }


def rule_from_snapshot(stored: dict[str, Any]) -> Rule:
    """The rule as it was at submit (its match is not kept: it already matched)."""
    auto = stored.get("auto_approve")
    return Rule(
        index=int(stored.get("index", 0)),
        name=stored.get("name"),
        approvers=tuple(str(approver) for approver in stored.get("approvers") or ()),
        approvals=int(stored.get("approvals", 1)),
        break_glass=bool(stored.get("break_glass", False)),
        auto_approve=(
            AutoApprove(max_per_requester_per_day=int(auto["max_per_requester_per_day"]))
            if isinstance(auto, dict)
            else None
        ),
    )
