"""Reads and writes of App Home: bounded, indexed queries; the caller's session, no commit."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, UnaryExpression, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot.db.models import ApprovalDecision, ConnectorRequest, HomeViewer, ManagedConnector
from bot.domain.enums import Decision, RequestStatus

S = RequestStatus
CR = ConnectorRequest
OPEN_STATES = [S.PENDING.value, S.APPROVED.value, S.PROVISIONING.value, S.PROVISIONED.value]


def _page(
    session: Session,
    where: list[ColumnElement[bool]],
    order: list[UnaryExpression[Any] | InstrumentedAttribute[Any]],
    limit: int,
) -> tuple[list[ConnectorRequest], int]:
    rows = list(session.scalars(select(CR).where(*where).order_by(*order).limit(limit)))
    if len(rows) < limit:
        return rows, len(rows)
    total = session.scalar(select(func.count()).select_from(CR).where(*where))
    return rows, int(total or 0)


def open_requests_of(
    *, session: Session, user: str, limit: int
) -> tuple[list[ConnectorRequest], int]:
    """A person's requests still under way, newest first (index requester, status)."""
    where = [CR.requested_by_slack_id == user, CR.status.in_(OPEN_STATES)]
    return _page(session, where, [CR.created_at.desc(), CR.id.desc()], limit)


def pending_not_from(
    *, session: Session, user: str, limit: int
) -> tuple[list[ConnectorRequest], int]:
    """Pending requests someone else asked for, oldest first (index status, created_at)."""
    where = [CR.status == S.PENDING.value, CR.requested_by_slack_id != user]
    rows = list(
        session.scalars(select(CR).where(*where).order_by(CR.created_at, CR.id).limit(limit))
    )
    if len(rows) < limit:
        return rows, len(rows)
    # Both counts read an index only (no row lookups): all pending, minus the person's own.
    pending = session.scalar(
        select(func.count()).select_from(CR).where(CR.status == S.PENDING.value)
    )
    own = session.scalar(
        select(func.count())
        .select_from(CR)
        .where(CR.requested_by_slack_id == user, CR.status == S.PENDING.value)
    )
    return rows, int(pending or 0) - int(own or 0)


def voted_by(*, session: Session, user: str, request_ids: list[int]) -> set[int]:
    """Which of ``request_ids`` ``user`` has already voted on."""
    if not request_ids:
        return set()
    found = session.scalars(
        select(ApprovalDecision.request_id).where(
            ApprovalDecision.decided_by_slack_id == user,
            ApprovalDecision.request_id.in_(request_ids),
        )
    )
    return set(found)


def approvals_of(*, session: Session, request_ids: list[int]) -> dict[int, tuple[str, ...]]:
    """Who has approved each of ``request_ids`` so far (in vote order; one indexed read)."""
    if not request_ids:
        return {}
    rows = session.execute(
        select(ApprovalDecision.request_id, ApprovalDecision.decided_by_slack_id)
        .where(
            ApprovalDecision.request_id.in_(request_ids),
            ApprovalDecision.decision == Decision.APPROVED.value,
        )
        .order_by(ApprovalDecision.id)
    )
    found: dict[int, tuple[str, ...]] = {}
    for request_id, user in rows:
        found[request_id] = (*found.get(request_id, ()), user)
    return found


def latest_decisions(
    *, session: Session, limit: int
) -> list[tuple[ApprovalDecision, str, str, str]]:
    """The last decisions with their request's reference, name and provider (index
    decided_at)."""
    rows = session.execute(
        select(ApprovalDecision, CR.reference, CR.connector_name, CR.provider)
        .join(CR, CR.id == ApprovalDecision.request_id)
        .order_by(ApprovalDecision.decided_at.desc(), ApprovalDecision.id.desc())
        .limit(limit)
    )
    return [(decision, reference, name, provider) for decision, reference, name, provider in rows]


def record_viewer(*, session: Session, user: str, now: datetime, approver: bool) -> None:
    """Remember that ``user`` opened Home (one row per person, whatever replicas race)."""
    values = {"slack_user_id": user, "opened_at": now, "approver": approver}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(HomeViewer).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[HomeViewer.slack_user_id],
            set_={"opened_at": now, "approver": approver},
        )
    )


def set_viewer(*, session: Session, user: str, values: dict[str, object]) -> None:
    session.execute(
        update(HomeViewer)
        .where(HomeViewer.slack_user_id == user)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def get_viewer(*, session: Session, user: str) -> HomeViewer | None:
    return session.get(HomeViewer, user)


def mark_publish_queued(
    *,
    session: Session,
    now: datetime,
    stale_before: datetime,
    users: Collection[str] = (),
    approvers: bool = False,
    requester_of: int | None = None,
) -> list[str]:
    """Mark the Home of the viewers among ``users`` (plus every approver viewer when
    ``approvers``, plus the requester of request ``requester_of``) as out of date; return
    those that have no publish job queued or running (now marked as having one).

    The mark is the de-duplication: a burst of changes queues one publish per person. A mark
    older than ``stale_before`` belongs to a job that died and is taken over."""
    who: list[ColumnElement[bool]] = []
    if users:
        who.append(HomeViewer.slack_user_id.in_(list(users)))
    if approvers:
        who.append(HomeViewer.approver.is_(True))
    if requester_of is not None:
        requester = select(CR.requested_by_slack_id).where(CR.id == requester_of)
        who.append(HomeViewer.slack_user_id == requester.scalar_subquery())
    if not who:
        return []
    viewers = or_(*who)
    session.execute(
        update(HomeViewer)
        .where(viewers, HomeViewer.publish_queued_at.is_not(None))
        .values(publish_again=True)
        .execution_options(synchronize_session=False)
    )
    marked = session.scalars(
        update(HomeViewer)
        .where(
            viewers,
            or_(
                HomeViewer.publish_queued_at.is_(None),
                HomeViewer.publish_queued_at < stale_before,
            ),
        )
        .values(publish_queued_at=now, publish_again=False)
        .returning(HomeViewer.slack_user_id)
        .execution_options(synchronize_session=False)
    )
    return sorted(marked)


def start_publish(*, session: Session, user: str, approver: bool) -> None:
    """A publish job reads the database next: what changes from now on is published again."""
    set_viewer(session=session, user=user, values={"publish_again": False, "approver": approver})


def finish_publish(*, session: Session, user: str, now: datetime) -> bool:
    """The publish job is done: free the mark, unless something changed meanwhile (then the
    mark stays, renewed, and True says to queue the next publish)."""
    freed = session.execute(
        update(HomeViewer)
        .where(HomeViewer.slack_user_id == user, HomeViewer.publish_again.is_(False))
        .values(publish_queued_at=None)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(freed, CursorResult)  # noqa: S101 - UPDATE always yields a cursor result
    if freed.rowcount == 1:
        return False
    again = session.execute(
        update(HomeViewer)
        .where(HomeViewer.slack_user_id == user, HomeViewer.publish_again.is_(True))
        .values(publish_queued_at=now, publish_again=False)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(again, CursorResult)  # noqa: S101 - UPDATE always yields a cursor result
    return again.rowcount == 1


def clear_notice(*, session: Session, user: str, shown: str) -> None:
    """Forget the notice that was shown (not a newer one set meanwhile)."""
    session.execute(
        update(HomeViewer)
        .where(HomeViewer.slack_user_id == user, HomeViewer.notice == shown)
        .values(notice=None)
        .execution_options(synchronize_session=False)
    )


def managed_of(
    *, session: Session, owner: str, limit: int, states: list[str]
) -> tuple[list[ManagedConnector], int]:
    """A person's connectors in the inventory (in ``states``), newest first."""
    where = [ManagedConnector.owner_slack_id == owner, ManagedConnector.state.in_(states)]
    rows = list(
        session.scalars(
            select(ManagedConnector).where(*where).order_by(ManagedConnector.id.desc()).limit(limit)
        )
    )
    if len(rows) < limit:
        return rows, len(rows)
    total = session.scalar(select(func.count()).select_from(ManagedConnector).where(*where))
    return rows, int(total or 0)
