"""App Home: who sees what, recording who opened it, and republishing it when that changes.

Seams the approvals and lifecycle work will switch (one function each): ``is_approver``
(the policy's approvers), ``awaiting_decision`` (the rule's eligible approvers who have not
voted yet), ``owned_connectors`` (the managed-connector inventory) and ``refresh_for_request``
(whose Home a change of the request reaches: now its requester and every approver).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import timedelta

from sqlalchemy.orm import Session

from bot.db import home_queries, queries
from bot.db.base import utcnow
from bot.db.session import session_scope
from bot.deps import Deps
from bot.domain.enums import JobKind, Provider, RequestStatus
from bot.domain.home import (
    AWAITING_SHOWN,
    CONNECTORS_SHOWN,
    DECISIONS_SHOWN,
    OPEN_SHOWN,
    DecisionLine,
    HomeContent,
    Listed,
    Owned,
)
from bot.domain.lifecycle import ManagedState
from bot.domain.providers import provider_spec
from bot.domain.schemas import ApprovalProgress, RequestSnapshot
from bot.services import approvers
from bot.services.jobs import GiveUpError, JobContext, RetryLaterError
from bot.services.lifecycle.inventory import load_summary
from bot.services.ports import NotificationFailedError, NotificationRetryableError
from bot.services.snapshots import to_snapshot

log = logging.getLogger(__name__)
NOTICE_MAX = 500
# Longer than the Slack lane's retries (about 25 minutes): a mark this old is a dead job's.
PUBLISH_MARK_STALE = timedelta(minutes=30)
# The oldest pending requests looked at for someone's queue (each is checked against its rule).
AWAITING_SCANNED = 300


def is_approver(deps: Deps, user: str) -> bool:
    """Whether ``user`` decides requests (Home shows them the queue and recent decisions)."""
    return approvers.is_approver(deps, user)


def awaiting_decision(deps: Deps, session: Session, user: str) -> Listed:
    """The requests waiting for ``user``'s decision: pending, someone else's, under a rule that
    lets them decide, and not voted on by them yet (oldest first; the scan is bounded)."""
    if not is_approver(deps, user):
        return Listed()
    rows, _ = home_queries.pending_not_from(session=session, user=user, limit=AWAITING_SCANNED)
    voted = home_queries.voted_by(session=session, user=user, request_ids=[r.id for r in rows])
    waiting = []
    for row in rows:
        if row.id in voted:
            continue
        snapshot = to_snapshot(row, deps.governance)
        if user in approvers.eligible_for(deps, snapshot):
            waiting.append(snapshot)
    return Listed(with_progress(deps, session, waiting[:AWAITING_SHOWN]), len(waiting))


def with_progress(
    deps: Deps, session: Session, snapshots: list[RequestSnapshot]
) -> list[RequestSnapshot]:
    """The pending ones with their approvals so far under their rule ("1 of 2 approvals"),
    as the card shows them."""
    pending = [s.id for s in snapshots if s.status is RequestStatus.PENDING]
    approved = home_queries.approvals_of(session=session, request_ids=pending)
    shown = []
    for snapshot in snapshots:
        if snapshot.status is RequestStatus.PENDING:
            rule = approvers.rule_of(deps, snapshot)
            progress = ApprovalProgress(
                needed=rule.approvals, approved_by=approved.get(snapshot.id, ())
            )
            snapshot = snapshot.model_copy(update={"progress": progress})
        shown.append(snapshot)
    return shown


def owned_connectors(deps: Deps, session: Session, user: str) -> Owned:
    """The connectors ``user`` owns in the inventory (not retired), with state and last test."""
    del deps
    shown = [state.value for state in ManagedState if state is not ManagedState.RETIRED]
    rows, total = home_queries.managed_of(
        session=session, owner=user, limit=CONNECTORS_SHOWN, states=shown
    )
    return Owned([load_summary(session, row) for row in rows], total)


def home_content(deps: Deps, session: Session, user: str, notice: str | None) -> HomeContent:
    approver = is_approver(deps, user)
    rows, total = home_queries.open_requests_of(session=session, user=user, limit=OPEN_SHOWN)
    decisions = []
    if approver:
        for decision, reference, name, provider in home_queries.latest_decisions(
            session=session, limit=DECISIONS_SHOWN
        ):
            decisions.append(
                DecisionLine(
                    reference=reference,
                    connector_name=name,
                    provider_label=provider_spec(Provider(provider)).label,
                    decision=decision.decision,
                    decided_by=decision.decided_by_slack_id,
                    decided_at=decision.decided_at,
                    reason=decision.reason,
                )
            )
    return HomeContent(
        user=user,
        approver=approver,
        open_requests=Listed(
            with_progress(deps, session, [to_snapshot(row, deps.governance) for row in rows]),
            total,
        ),
        awaiting=awaiting_decision(deps, session, user),
        connectors=owned_connectors(deps, session, user),
        decisions=decisions,
        notice=notice,
    )


def build_home(deps: Deps, user: str) -> HomeContent:
    """What ``user``'s Home shows now (the benchmark times this)."""
    with session_scope(deps.session_factory) as session:
        return home_content(deps, session, user, None)


def queue_publish(
    session: Session,
    *,
    users: Collection[str] = (),
    approvers: bool = False,
    requester_of: int | None = None,
) -> int:
    """Queue a Home publish (in the caller's transaction) for those of these people who opened
    Home and have none queued or running; return how many were queued. A running one
    publishes again once it is done."""
    now = utcnow()
    marked = home_queries.mark_publish_queued(
        session=session,
        now=now,
        stale_before=now - PUBLISH_MARK_STALE,
        users=users,
        approvers=approvers,
        requester_of=requester_of,
    )
    for user in marked:
        _enqueue(session, user)
    return len(marked)


def _enqueue(session: Session, user: str) -> None:
    queries.enqueue(
        session=session, kind=JobKind.PUBLISH_HOME, request_id=None, payload={"user": user}
    )


def refresh_for_request(session: Session, request_id: int) -> None:
    """A request changed: republish the Home of its requester and of the approvers (its queue
    or their recent decisions may show it)."""
    queue_publish(session, approvers=True, requester_of=request_id)


def home_opened(deps: Deps, user: str) -> None:
    """``user`` opened the Home tab: remember them and publish their Home."""
    with session_scope(deps.session_factory) as session:
        home_queries.record_viewer(
            session=session, user=user, now=deps.clock(), approver=is_approver(deps, user)
        )
        queue_publish(session, users=[user])
    deps.wake_workers()


def tell(deps: Deps, user: str, text: str) -> None:
    """Show ``text`` at the top of ``user``'s Home (where they clicked), republishing it."""
    with session_scope(deps.session_factory) as session:
        if home_queries.get_viewer(session=session, user=user) is None:
            home_queries.record_viewer(
                session=session, user=user, now=deps.clock(), approver=is_approver(deps, user)
            )
        home_queries.set_viewer(session=session, user=user, values={"notice": text[:NOTICE_MAX]})
        queue_publish(session, users=[user])
    deps.wake_workers()


def publish_home(deps: Deps, job: JobContext) -> None:
    """Job: publish ``payload.user``'s Home as it is now.

    One publish per person at a time (the mark set when it was queued), so an older view never
    lands after a newer one; what changed while it ran is published by the next one. The notice
    is cleared only once it was shown."""
    user = str(job.payload.get("user") or "")
    if not user:
        raise GiveUpError("no user to publish the Home of")
    with session_scope(deps.session_factory) as session:
        home_queries.start_publish(session=session, user=user, approver=is_approver(deps, user))
    with session_scope(deps.session_factory) as session:
        viewer = home_queries.get_viewer(session=session, user=user)
        notice = viewer.notice if viewer is not None else None
        content = home_content(deps, session, user, notice)
    try:
        deps.notifier.publish_home(content)
    except NotificationRetryableError as error:
        raise RetryLaterError(error.retry_after or 2.0, f"publish home: {error}") from None
    except NotificationFailedError as error:
        log.warning("the Home of %s could not be published: %s", user, error)
        _finish(deps, user, notice)
        raise GiveUpError(f"publish home: {error}") from None
    _finish(deps, user, notice)


def _finish(deps: Deps, user: str, notice: str | None) -> None:
    with session_scope(deps.session_factory) as session:
        if notice is not None:
            home_queries.clear_notice(session=session, user=user, shown=notice)
        if home_queries.finish_publish(session=session, user=user, now=utcnow()):
            _enqueue(session, user)
            again = True
        else:
            again = False
    if again:
        deps.wake_workers()
