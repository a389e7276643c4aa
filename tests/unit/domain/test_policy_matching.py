from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.policy.approval import (
    Outcome,
    Vote,
    VoteRefusal,
    eligible_approvers,
    still_to_act,
    tally,
    vote_refusal,
)
from bot.domain.policy.durations import format_duration, parse_duration
from bot.domain.policy.matching import RequestFacts, explain, match_rule
from bot.domain.policy.model import AutoApprove, Match, PolicyDocument, Rule
from bot.domain.targets import Target

PROD = Target(key="prod", kibana_url="https://kibana.prod.example.com")
STAGING = Target(key="staging", kibana_url="https://kibana.staging.example.com")
POLICY = PolicyDocument(
    targets=(PROD, STAGING),
    rules=(
        Rule(
            index=0,
            match=Match(targets=frozenset({"prod"}), providers=frozenset({"lm_studio"})),
            allow=False,
            message="LM Studio is for lab spaces.",
        ),
        Rule(
            index=1,
            match=Match(
                targets=frozenset({"prod"}),
                spaces=frozenset({"security"}),
                providers=frozenset({"openai", "azure_openai"}),
                models=("gpt-4*",),
            ),
            approvers=("U1", "S1"),
            approvals=2,
        ),
        Rule(
            index=2,
            match=Match(targets=frozenset({"staging"}), requesters=frozenset({"SLAB"})),
            auto_approve=AutoApprove(max_per_requester_per_day=3),
        ),
        Rule(index=3, match=Match(targets=frozenset({"prod"})), approvers=("U1",)),
    ),
)


def facts(**overrides: object) -> RequestFacts:
    values: dict[str, object] = {
        "target": "prod",
        "space": "security",
        "provider": "openai",
        "requester": "U9",
        "model": "GPT-4o",
    }
    values.update(overrides)
    return RequestFacts(**values)  # type: ignore[arg-type]


def test_first_matching_rule_wins() -> None:
    assert match_rule(POLICY, facts(provider="lm_studio")) == POLICY.rules[0]
    assert match_rule(POLICY, facts()) == POLICY.rules[1]
    assert match_rule(POLICY, facts(model="gpt-3.5")) == POLICY.rules[3]
    assert match_rule(POLICY, facts(space="default")) == POLICY.rules[3]


def test_requester_matches_by_user_or_group() -> None:
    assert match_rule(POLICY, facts(target="staging", requester_groups=frozenset({"SLAB"})))
    assert match_rule(POLICY, facts(target="staging", requester="SLAB")) == POLICY.rules[2]
    assert match_rule(POLICY, facts(target="staging")) is None


def test_explain_says_why_each_rule_was_passed_over() -> None:
    lines = explain(POLICY, facts(model="gpt-3.5"))
    assert lines[0].startswith("rules[0] (rule 1) does not apply: provider 'openai' is not")
    assert "model 'gpt-3.5' matches none of gpt-4*" in lines[1]
    assert lines[-1] == "rules[3] (rule 4) applies: needs 1 of U1"
    assert explain(POLICY, facts(target="staging"))[-1].startswith("no rule applies")


def test_two_of_the_rule_approvers_with_group_members() -> None:
    rule = POLICY.rules[1]
    eligible = eligible_approvers(rule, {"S1": frozenset({"U2", "U9"})})
    assert eligible == {"U1", "U2", "U9"}
    one = [Vote("U1", True)]
    assert tally(rule, requester="U9", eligible=eligible, votes=one).outcome is Outcome.WAITING
    assert still_to_act(requester="U9", eligible=eligible, votes=one) == {"U2"}
    two = [*one, Vote("U1", True), Vote("U2", True)]
    result = tally(rule, requester="U9", eligible=eligible, votes=two)
    assert (result.outcome, result.approved_by, result.summary) == (
        Outcome.APPROVED,
        ("U1", "U2"),
        "2 of 2 approvals",
    )


def test_own_request_needs_break_glass_with_a_reason() -> None:
    rule = POLICY.rules[3]
    glass = Rule(index=4, approvers=("U1",), approvals=2, break_glass=True)
    eligible = frozenset({"U1"})
    own = Vote("U1", True)
    assert vote_refusal(rule, vote=own, requester="U1", eligible=eligible, votes=[]) is (
        VoteRefusal.OWN_REQUEST
    )
    assert vote_refusal(glass, vote=own, requester="U1", eligible=eligible, votes=[]) is (
        VoteRefusal.NEEDS_BREAK_GLASS
    )
    no_reason = Vote("U1", True, break_glass=True, reason=" ")
    assert vote_refusal(glass, vote=no_reason, requester="U1", eligible=eligible, votes=[]) is (
        VoteRefusal.NO_REASON
    )
    broken = Vote("U1", True, break_glass=True, reason="prod incident")
    result = tally(glass, requester="U1", eligible=eligible, votes=[broken])
    assert (result.outcome, result.break_glass_by) == (Outcome.APPROVED, "U1")


def test_durations() -> None:
    assert parse_duration("30s") == timedelta(seconds=30)
    assert parse_duration("7d") == timedelta(days=7)
    assert format_duration(timedelta(hours=48)) == "2d"
    for bad in ("0s", "4", "4 hours", "-1h", "1.5h", ""):
        with pytest.raises(ValueError, match="is not a duration"):
            parse_duration(bad)
