"""Counting votes on one request under its rule, with the request row locked: who may vote,
what a refused vote is told, and what a late click is told."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.db import queries
from bot.db.models import ConnectorRequest
from bot.db.session import session_scope
from bot.deps import Deps
from bot.domain.enums import AuditAction, Decision, RequestStatus
from bot.domain.policy.approval import Tally, Vote, VoteRefusal, tally, vote_refusal
from bot.domain.policy.model import Rule
from bot.domain.rules import REFUSAL_TEXT, Refusal
from bot.domain.schemas import RequestSnapshot
from bot.errors import InvalidTransitionError, NotAuthorizedError, RequestNotFoundError
from bot.services import approvers
from bot.services.snapshots import to_snapshot

log = logging.getLogger(__name__)
S = RequestStatus


class BreakGlassNeededError(NotAuthorizedError):
    """The requester approves their own request under a break-glass rule: ask the reason."""

    def __init__(self, snapshot: RequestSnapshot) -> None:
        super().__init__(
            f"{snapshot.reference} is your own request: approving it is break-glass, "
            "and needs a reason."
        )
        self.snapshot = snapshot


@dataclass(frozen=True)
class Ballot:
    """What counts the votes on one request: its rule, who may vote, the votes so far."""

    rule: Rule
    requester: str
    eligible: frozenset[str]
    votes: tuple[Vote, ...]

    def refusal(self, vote: Vote) -> VoteRefusal | None:
        return vote_refusal(
            self.rule, vote=vote, requester=self.requester, eligible=self.eligible, votes=self.votes
        )

    def tally(self, *more: Vote) -> Tally:
        return tally(
            self.rule,
            requester=self.requester,
            eligible=self.eligible,
            votes=[*self.votes, *more],
        )


def _rule_and_voters(deps: Deps, request_id: int) -> tuple[Rule, frozenset[str]]:
    """The request's rule and who may vote under it, found before the row is locked (user
    groups may need a lookup; the rule stored at submit never changes)."""
    with session_scope(deps.session_factory) as session:
        snapshot = to_snapshot(load(session, request_id), deps.governance)
    rule = approvers.rule_of(deps, snapshot)
    return rule, approvers.eligible_under(deps, rule)


def _ballot(
    session: Session, row: ConnectorRequest, rule: Rule, eligible: frozenset[str]
) -> Ballot:
    votes = tuple(
        Vote(
            approver=decision.decided_by_slack_id,
            approve=decision.decision == Decision.APPROVED.value,
            break_glass=decision.break_glass,
            reason=decision.reason,
        )
        for decision in queries.list_decisions(session=session, request_id=row.id)
    )
    return Ballot(rule=rule, requester=row.requested_by_slack_id, eligible=eligible, votes=votes)


VOTE_REFUSAL_TEXT = {
    VoteRefusal.NOT_APPROVER: REFUSAL_TEXT[Refusal.NOT_APPROVER],
    VoteRefusal.OWN_REQUEST: REFUSAL_TEXT[Refusal.OWN_REQUEST],
    VoteRefusal.BREAK_GLASS_OFF: (
        "Break-glass self-approval is not allowed for this request: another approver has to decide."
    ),
    VoteRefusal.NEEDS_BREAK_GLASS: REFUSAL_TEXT[Refusal.OWN_REQUEST],
    VoteRefusal.NO_REASON: "Give a reason for approving your own request: the other approvers "
    "see it.",
}


def _refusal_text(refusal: VoteRefusal, row: ConnectorRequest, ballot: Ballot) -> str:
    if refusal is VoteRefusal.ALREADY_VOTED:
        counted = ballot.tally()
        return (
            f"You already approved {row.reference}; {len(counted.approved_by)} of "
            f"{counted.needed} so far."
        )
    return VOTE_REFUSAL_TEXT[refusal]


# Decides the vote once it may be cast: True when it was (a compare-and-set may lose).
Apply = Callable[[Session, datetime, ConnectorRequest, Ballot], bool]


def guarded_vote(
    deps: Deps,
    *,
    request_id: int,
    vote: Vote,
    apply: Apply | None,
    ask_break_glass: bool = True,
    check: Callable[[ConnectorRequest, Ballot], str | None] | None = None,
) -> RequestSnapshot:
    """Cast ``vote`` through ``apply`` only when the request's rule lets its voter cast it
    now, with the request row locked (two last votes can't both miss or both pass the
    threshold). A refusal is recorded; a late click is told what already happened.

    ``apply`` None only checks (the Reject click, before its reason form opens); ``check``
    may refuse for a reason of its own (a delivery under a rule that needs several)."""
    refused: str | None = None
    needs_glass: RequestSnapshot | None = None
    changed = False
    rule, eligible = _rule_and_voters(deps, request_id)
    with session_scope(deps.session_factory) as session:
        row = queries.lock_request(session=session, request_id=request_id)
        if row is None:
            raise RequestNotFoundError("That request no longer exists.")
        pending = row.status == S.PENDING.value
        ballot = _ballot(session, row, rule, eligible)
        refusal = ballot.refusal(vote)
        if refusal is VoteRefusal.ALREADY_VOTED and not pending:
            refusal = None  # a repeated click on a decided request: say what happened
        if refusal is VoteRefusal.NEEDS_BREAK_GLASS and ask_break_glass and pending:
            needs_glass = to_snapshot(row, deps.governance)
        elif refusal is not None:
            refused = _refusal_text(refusal, row, ballot)
            _record_refusal(session, row, vote.approver, refusal.value)
        elif pending and check is not None and (refused := check(row, ballot)) is not None:
            _record_refusal(session, row, vote.approver, "needs_more_approvals")
        elif pending:
            changed = apply is None or apply(session, deps.clock(), row, ballot)
        snapshot = to_snapshot(load(session, request_id), deps.governance)
    if needs_glass is not None:
        raise BreakGlassNeededError(needs_glass)
    if refused is not None:
        raise NotAuthorizedError(refused)
    if not changed:
        raise InvalidTransitionError(already_decided_text(snapshot))
    if apply is not None:
        deps.wake_workers()
    return snapshot


def load(session: Session, request_id: int) -> ConnectorRequest:
    """The request row; RequestNotFoundError when it is gone."""
    row = queries.get_request(session=session, request_id=request_id)
    if row is None:
        raise RequestNotFoundError("That request no longer exists.")
    return row


def _record_refusal(session: Session, row: ConnectorRequest, actor: str, why: str) -> None:
    queries.add_audit(
        session=session,
        action=AuditAction.DECISION_REFUSED,
        request_id=row.id,
        actor=actor,
        detail={"why": why},
    )
    log.warning("refused decision on %s by %s (%s)", row.reference, actor, why)


def already_decided_text(snapshot: RequestSnapshot) -> str:
    """Explain to a late clicker what already happened to the request."""
    who = f" by <@{snapshot.decided_by}>" if snapshot.decided_by else ""
    if snapshot.status is S.REJECTED:
        return f"{snapshot.reference} was already rejected{who}."
    if snapshot.status in {S.CANCELLED, S.EXPIRED}:
        return f"{snapshot.reference} was {snapshot.status.value}; there is nothing to decide."
    if snapshot.status is S.PENDING:
        return f"{snapshot.reference} is still pending."
    return f"{snapshot.reference} was already approved{who}."
