"""Counting a request's approvals under its rule: N distinct approvers, any reject ends it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.policy.model import Rule


class Outcome(StrEnum):
    WAITING = "waiting"
    APPROVED = "approved"
    REJECTED = "rejected"


class VoteRefusal(StrEnum):
    NOT_APPROVER = "not_approver"
    OWN_REQUEST = "own_request"
    ALREADY_VOTED = "already_voted"
    BREAK_GLASS_OFF = "break_glass_off"  # self-approval asked where the rule does not allow it
    NEEDS_BREAK_GLASS = "needs_break_glass"  # own request, rule allows it: ask for the reason
    NO_REASON = "no_reason"  # break-glass needs a reason


@dataclass(frozen=True)
class Vote:
    approver: str
    approve: bool
    break_glass: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class Tally:
    outcome: Outcome
    needed: int
    approved_by: tuple[str, ...]  # distinct approvers that count, in the order they voted
    rejected_by: str | None = None
    break_glass_by: str | None = None

    @property
    def summary(self) -> str:
        """`1 of 2 approvals` (the card adds who)."""
        return f"{len(self.approved_by)} of {self.needed} approvals"


def eligible_approvers(rule: Rule, members: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """The user ids who may decide under ``rule``: its user ids and the members of its groups
    (``members`` maps a group id to its users; a group missing from it contributes nobody)."""
    eligible: set[str] = set()
    for approver in rule.approvers:
        if is_group_id(approver):
            eligible.update(members.get(approver, frozenset()))
        else:
            eligible.add(approver)
    return frozenset(eligible)


def is_group_id(slack_id: str) -> bool:
    return slack_id.startswith("S")


def vote_refusal(
    rule: Rule,
    *,
    vote: Vote,
    requester: str,
    eligible: frozenset[str],
    votes: Sequence[Vote],
) -> VoteRefusal | None:
    """Why ``vote`` may not be cast now, or None when it counts."""
    if vote.approver not in eligible:
        return VoteRefusal.NOT_APPROVER
    if any(earlier.approver == vote.approver for earlier in votes):
        return VoteRefusal.ALREADY_VOTED
    if vote.approver != requester:
        return VoteRefusal.BREAK_GLASS_OFF if vote.break_glass else None
    if not vote.approve:
        return VoteRefusal.OWN_REQUEST  # withdrawing is Cancel, not a reject
    if not rule.break_glass:
        return VoteRefusal.BREAK_GLASS_OFF if vote.break_glass else VoteRefusal.OWN_REQUEST
    if not vote.break_glass:
        return VoteRefusal.NEEDS_BREAK_GLASS
    if not (vote.reason or "").strip():
        return VoteRefusal.NO_REASON
    return None


def tally(rule: Rule, *, requester: str, eligible: frozenset[str], votes: Sequence[Vote]) -> Tally:
    """Where the request stands after ``votes`` (in the order cast).

    Only the first vote of each eligible approver counts; the requester counts only through
    break-glass on a rule that allows it, which approves at once; any counted reject ends it.
    """
    counted: list[Vote] = []
    for vote in votes:
        if vote_refusal(rule, vote=vote, requester=requester, eligible=eligible, votes=counted):
            continue
        counted.append(vote)
        if not vote.approve:
            return _tally(Outcome.REJECTED, rule, counted, rejected_by=vote.approver)
        if vote.break_glass:
            return _tally(Outcome.APPROVED, rule, counted, break_glass_by=vote.approver)
    approved = [vote for vote in counted if vote.approve]
    outcome = Outcome.APPROVED if len(approved) >= rule.approvals else Outcome.WAITING
    return _tally(outcome, rule, counted)


def still_to_act(
    *, requester: str, eligible: frozenset[str], votes: Sequence[Vote]
) -> frozenset[str]:
    """Who could still approve: eligible, not the requester, not yet voted."""
    voted = {vote.approver for vote in votes}
    return frozenset(eligible - voted - {requester})


def _tally(
    outcome: Outcome,
    rule: Rule,
    counted: list[Vote],
    *,
    rejected_by: str | None = None,
    break_glass_by: str | None = None,
) -> Tally:
    return Tally(
        outcome=outcome,
        needed=rule.approvals,
        approved_by=tuple(vote.approver for vote in counted if vote.approve),
        rejected_by=rejected_by,
        break_glass_by=break_glass_by,
    )
