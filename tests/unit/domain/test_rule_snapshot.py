"""A request keeps what decides it: the stored rule rebuilds the same counting rule."""

from __future__ import annotations

import json

from bot.domain.policy.approval import Vote, tally
from bot.domain.policy.model import AutoApprove, Match, Rule
from bot.domain.rule_snapshot import rule_from_snapshot, rule_snapshot


def test_the_snapshot_survives_json_and_counts_the_same() -> None:
    rule = Rule(
        index=2,
        name="prod",
        match=Match(providers=frozenset({"openai"})),
        approvers=("U1", "S0GROUP"),
        approvals=2,
        break_glass=True,
        auto_approve=AutoApprove(3),
    )
    stored = json.loads(json.dumps(rule_snapshot(rule)))
    assert stored["label"] == "rule 3 (prod)"
    back = rule_from_snapshot(stored)
    assert back.label == rule.label
    assert (back.approvers, back.approvals, back.break_glass) == (("U1", "S0GROUP"), 2, True)
    assert back.auto_approve == AutoApprove(3)
    votes = [Vote("U1", approve=True), Vote("U2", approve=True)]
    eligible = frozenset({"U1", "U2"})
    assert tally(back, requester="U9", eligible=eligible, votes=votes) == tally(
        rule, requester="U9", eligible=eligible, votes=votes
    )


def test_a_rule_without_auto_approve_or_name() -> None:
    back = rule_from_snapshot(rule_snapshot(Rule(index=0, approvers=("U1",))))
    assert back.auto_approve is None
    assert back.label == "rule 1"
