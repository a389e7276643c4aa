"""Property tests of the policy: the tally never approves with fewer distinct approvers than
the rule asks, the requester never counts without break-glass, any counted reject ends the
request, duplicate votes change nothing; the first matching rule wins."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.domain.enums import Provider
from bot.domain.policy.approval import (
    Outcome,
    Tally,
    Vote,
    eligible_approvers,
    is_group_id,
    tally,
    vote_refusal,
)
from bot.domain.policy.matching import (
    RequestFacts,
    explain,
    match_rule,
    mismatches,
    model_matches,
)
from bot.domain.policy.model import Match, PolicyDocument, Rule
from bot.domain.targets import Target

PROPERTIES = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
USERS = [f"U0{letter}" for letter in "ABCDEFGH"]
GROUPS = [f"S0{letter}" for letter in "ABCD"]

# --- the tally --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    rule: Rule
    requester: str
    eligible: frozenset[str]
    votes: list[Vote]

    def tally(self, votes: list[Vote] | None = None) -> Tally:
        cast = self.votes if votes is None else votes
        return tally(self.rule, requester=self.requester, eligible=self.eligible, votes=cast)


votes_st = st.builds(
    Vote,
    approver=st.sampled_from(USERS),
    approve=st.booleans(),
    break_glass=st.sampled_from([False, False, False, True]),
    reason=st.sampled_from([None, "", "   ", "prod is down"]),
)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    approvers = draw(st.lists(st.sampled_from(USERS + GROUPS), min_size=1, max_size=5, unique=True))
    rule = Rule(
        index=0,
        approvers=tuple(approvers),
        approvals=draw(st.integers(1, 5)),
        break_glass=draw(st.booleans()),
    )
    members = {
        group: frozenset(draw(st.lists(st.sampled_from(USERS), max_size=4)))
        for group in GROUPS
        if draw(st.booleans())  # a group Slack did not answer for contributes nobody
    }
    requester = draw(st.sampled_from(USERS))
    eligible = eligible_approvers(rule, members)
    # Mostly people who may decide (and the requester), so that votes count and decide.
    voters = st.sampled_from(sorted(eligible | {requester})) | st.sampled_from(USERS)
    votes = draw(
        st.lists(
            st.builds(
                Vote,
                approver=voters,
                approve=st.sampled_from([True, True, True, False]),
                break_glass=st.sampled_from([False, False, False, True]),
                reason=st.sampled_from([None, "", "   ", "prod is down"]),
            ),
            max_size=12,
        )
    )
    return Case(rule, requester, eligible, votes)


def _break_glass_vote(case: Case, voter: str) -> bool:
    return any(
        vote.approver == voter == case.requester
        and vote.approve
        and vote.break_glass
        and bool((vote.reason or "").strip())
        for vote in case.votes
    )


@PROPERTIES
@given(cases())
def test_approved_means_enough_distinct_eligible_approvers_or_break_glass(case: Case) -> None:
    result = case.tally()
    assert len(set(result.approved_by)) == len(result.approved_by)  # distinct
    assert set(result.approved_by) <= case.eligible
    if result.outcome is Outcome.APPROVED:
        if result.break_glass_by is not None:
            assert case.rule.break_glass
            assert result.break_glass_by == case.requester
            assert _break_glass_vote(case, case.requester)
        else:
            assert len(result.approved_by) >= case.rule.approvals
            assert case.requester not in result.approved_by
    else:
        assert result.break_glass_by is None
    if result.outcome is Outcome.WAITING:
        assert len(result.approved_by) < case.rule.approvals


@PROPERTIES
@given(cases())
def test_the_requester_never_counts_unless_break_glass(case: Case) -> None:
    result = case.tally()
    if case.requester in result.approved_by:
        assert result.break_glass_by == case.requester
        assert case.rule.break_glass
    assert result.rejected_by != case.requester  # withdrawing is Cancel, not a reject
    without_break_glass = [v for v in case.votes if not v.break_glass]
    assert case.requester not in case.tally(without_break_glass).approved_by


@PROPERTIES
@given(cases(), st.data())
def test_any_counted_reject_ends_the_request(case: Case, data: st.DataObject) -> None:
    counted: list[Vote] = []
    for position, vote in enumerate(case.votes):
        if case.tally(case.votes[:position]).outcome is not Outcome.WAITING:
            break
        refusal = vote_refusal(
            case.rule,
            vote=vote,
            requester=case.requester,
            eligible=case.eligible,
            votes=counted,
        )
        if refusal is not None:
            continue
        counted.append(vote)
        if not vote.approve:
            ended = case.votes[: position + 1]
            result = case.tally(ended)
            assert result.outcome is Outcome.REJECTED
            assert result.rejected_by == vote.approver
            later = _later_votes(case, data)
            assert case.tally(ended + later) == result  # nothing after it counts
            return
    assert case.tally().rejected_by is None


def _later_votes(case: Case, data: st.DataObject) -> list[Vote]:
    """Votes to cast next, mostly by people who may decide (so that they would count)."""
    voters = st.sampled_from(sorted(case.eligible)) if case.eligible else st.sampled_from(USERS)
    votes = st.builds(Vote, approver=voters | st.sampled_from(USERS), approve=st.booleans())
    return data.draw(st.lists(votes, min_size=1, max_size=6))


@PROPERTIES
@given(cases(), st.data())
def test_a_decision_is_final(case: Case, data: st.DataObject) -> None:
    result = case.tally()
    event(f"outcome {result.outcome}")
    if result.outcome is not Outcome.WAITING:
        assert case.tally(case.votes + _later_votes(case, data)) == result


@PROPERTIES
@given(cases(), st.data())
def test_duplicate_votes_change_nothing_wherever_they_come(case: Case, data: st.DataObject) -> None:
    if not case.votes:
        return
    original = data.draw(st.integers(0, len(case.votes) - 1))
    copies = data.draw(st.integers(1, 3))
    votes = list(case.votes)
    for _ in range(copies):
        position = data.draw(st.integers(original + 1, len(votes)))
        votes.insert(position, case.votes[original])
    assert case.tally(votes) == case.tally()


@PROPERTIES
@given(cases(), votes_st, st.data())
def test_a_counted_approver_cannot_change_their_vote(
    case: Case, second: Vote, data: st.DataObject
) -> None:
    result = case.tally()
    if result.outcome is not Outcome.WAITING or not result.approved_by:
        return
    voter = data.draw(st.sampled_from(result.approved_by))
    again = Vote(voter, second.approve, second.break_glass, second.reason)
    assert case.tally([*case.votes, again]) == result


# --- matching ---------------------------------------------------------------------------

TARGETS = ["prod", "staging", "lab"]
SPACES = ["default", "security", "search"]
PROVIDERS = [provider.value for provider in Provider]
MODEL_CHARS = "abcdefgHIJKLMxyz0123456789-._/:"


def _maybe(values: list[str]) -> st.SearchStrategy[frozenset[str] | None]:
    return st.none() | st.frozensets(st.sampled_from(values), min_size=1, max_size=2)


matches = st.builds(
    Match,
    targets=_maybe(TARGETS),
    spaces=_maybe(SPACES),
    providers=_maybe(PROVIDERS[:4]),
    models=st.none() | st.sampled_from([("gpt-4*",), ("*",), ("claude-?-*", "GPT-*")]),
    requesters=_maybe(USERS[:2] + GROUPS[:2]),
)
facts_st = st.builds(
    RequestFacts,
    target=st.sampled_from(TARGETS),
    space=st.sampled_from(SPACES),
    provider=st.sampled_from(PROVIDERS[:4]),
    requester=st.sampled_from(USERS[:3]),
    model=st.none() | st.sampled_from(["gpt-4o", "GPT-4.1", "claude-3-opus", "llama"]),
    requester_groups=st.frozensets(st.sampled_from(GROUPS[:3]), max_size=2),
)


def _policy(rule_matches: list[Match]) -> PolicyDocument:
    return PolicyDocument(
        targets=tuple(Target(key=key, kibana_url=f"https://{key}.example.com") for key in TARGETS),
        rules=tuple(
            Rule(index=index, match=match, approvers=("U0A",))
            for index, match in enumerate(rule_matches)
        ),
    )


@PROPERTIES
@given(st.lists(matches, min_size=1, max_size=6), facts_st)
def test_the_first_match_wins_and_explain_says_why_the_earlier_ones_did_not(
    rule_matches: list[Match], facts: RequestFacts
) -> None:
    policy = _policy(rule_matches)
    fitting = [rule for rule in policy.rules if not mismatches(rule.match, facts)]
    chosen = match_rule(policy, facts)
    lines = explain(policy, facts)
    if not fitting:
        assert chosen is None
        assert len(lines) == len(policy.rules) + 1
        assert lines[-1].startswith("no rule applies")
        return
    assert chosen == fitting[0]
    assert len(lines) == chosen.index + 1
    assert lines[-1].startswith(f"rules[{chosen.index}] ({chosen.label}) applies")
    assert all("does not apply: " in line for line in lines[:-1])


@PROPERTIES
@given(facts_st, st.lists(matches, max_size=3))
def test_an_empty_match_matches_everything(facts: RequestFacts, before: list[Match]) -> None:
    assert mismatches(Match(), facts) == []
    assert match_rule(_policy([*before, Match()]), facts) is not None


@PROPERTIES
@given(st.text(MODEL_CHARS, min_size=1, max_size=20), st.data())
def test_model_globs_ignore_case(model: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(model)))
    prefix = "".join(char.swapcase() if data.draw(st.booleans()) else char for char in model[:cut])
    assert model_matches((f"{prefix}*",), model)
    assert model_matches((model.swapcase(),), model)
    assert model_matches((model.upper(),), model.lower())
    assert not model_matches((f"{model}?",), model)  # ? stands for exactly one character
    assert model_matches(("*",), None)
    assert not model_matches((model,), None)


@PROPERTIES
@given(cases())
def test_group_members_are_eligible_and_groups_themselves_are_not(case: Case) -> None:
    assert not any(is_group_id(user) for user in case.eligible)
    users = {approver for approver in case.rule.approvers if not is_group_id(approver)}
    assert users <= case.eligible
