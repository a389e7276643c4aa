"""Reads and writes of the reminder schedule. Every function takes the caller's session and
never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, Select, bindparam, select, text, update
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.db.models import ApprovalDecision, ConnectorRequest
from bot.domain.enums import Decision, RequestStatus

DUE_INDEX = "ix_connector_request_status_nudge"


def due_nudges_query(now: datetime, limit: int) -> Select[int, datetime | None]:
    """Pending requests whose next reminder or escalation is due: one range scan of
    (status, next_nudge_at)."""
    return (
        select(ConnectorRequest.id, ConnectorRequest.next_nudge_at)
        .where(
            ConnectorRequest.status == RequestStatus.PENDING.value,
            ConnectorRequest.next_nudge_at <= now,
        )
        .order_by(ConnectorRequest.next_nudge_at)
        .limit(limit)
    )


def due_nudges(*, session: Session, now: datetime, limit: int = 500) -> list[tuple[int, datetime]]:
    """(request id, the due moment seen) of up to ``limit`` due requests, oldest first."""
    rows = session.execute(due_nudges_query(now, limit)).all()
    return [(int(row[0]), row[1]) for row in rows if row[1] is not None]


def claim_nudge(
    *,
    session: Session,
    request_id: int,
    seen: datetime,
    values: dict[str, Any],
) -> bool:
    """Compare-and-set the schedule: True only for the one caller that saw ``seen`` on a
    request still pending (a decided request, or one another replica claimed, gives False)."""
    result = session.execute(
        update(ConnectorRequest)
        .where(
            ConnectorRequest.id == request_id,
            ConnectorRequest.status == RequestStatus.PENDING.value,
            ConnectorRequest.next_nudge_at == seen,
        )
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)  # noqa: S101 - UPDATE always yields a cursor result
    changed = result.rowcount == 1
    if changed:
        session.expire_all()
    return changed


def approved_by(*, session: Session, request_id: int) -> list[str]:
    """Who approved the request so far (its approval_decision rows), in order."""
    return list(
        session.scalars(
            select(ApprovalDecision.decided_by_slack_id)
            .where(
                ApprovalDecision.request_id == request_id,
                ApprovalDecision.decision == Decision.APPROVED.value,
            )
            .order_by(ApprovalDecision.id)
        )
    )


def explain_due_nudges(*, session: Session, now: datetime, limit: int = 500) -> list[str]:
    """The database's plan for `due_nudges` (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN)."""
    compiled = due_nudges_query(now, limit).compile()
    binds = [
        bindparam(key, value, type_=compiled.binds[key].type)
        for key, value in compiled.params.items()
    ]
    sqlite = session.get_bind().dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
    rows = session.execute(text(prefix + str(compiled)).bindparams(*binds)).all()
    return [str(row[-1]) for row in rows]
