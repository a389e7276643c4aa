"""Reads and writes. Every function takes the caller's session and never commits."""

from __future__ import annotations

import zlib
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Row,
    Select,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.db.models import (
    ApprovalDecision,
    AuditEvent,
    ConnectorRequest,
    Job,
    ProvisioningAttempt,
)
from bot.domain.audit import request_model
from bot.domain.enums import AuditAction, JobKind, JobStatus, RequestStatus


def get_request(*, session: Session, request_id: int) -> ConnectorRequest | None:
    return session.get(ConnectorRequest, request_id)


def get_request_by_reference(*, session: Session, reference: str) -> ConnectorRequest | None:
    return session.scalars(
        select(ConnectorRequest).where(ConnectorRequest.reference == reference)
    ).one_or_none()


def reference_exists(*, session: Session, reference: str) -> bool:
    found = session.scalar(
        select(ConnectorRequest.id).where(ConnectorRequest.reference == reference)
    )
    return found is not None


def add_request(*, session: Session, request: ConnectorRequest) -> ConnectorRequest:
    session.add(request)
    session.flush()
    return request


def transition(
    *,
    session: Session,
    request_id: int,
    sources: Collection[RequestStatus],
    target: RequestStatus,
    values: dict[str, Any] | None = None,
) -> bool:
    """Compare-and-set the status; True only for the one caller whose source state matched."""
    now = utcnow()
    result = session.execute(
        update(ConnectorRequest)
        .where(
            ConnectorRequest.id == request_id,
            ConnectorRequest.status.in_([source.value for source in sources]),
        )
        .values(status=target.value, updated_at=now, **(values or {}))
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)  # noqa: S101 - UPDATE always yields a cursor result
    changed = result.rowcount == 1
    if changed:
        session.expire_all()
    return changed


def update_request(*, session: Session, request_id: int, values: dict[str, Any]) -> None:
    session.execute(
        update(ConnectorRequest)
        .where(ConnectorRequest.id == request_id)
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()


def add_decision(
    *,
    session: Session,
    request_id: int,
    decision: str,
    actor: str,
    reason: str | None,
    break_glass: bool = False,
) -> None:
    """Record one approver's vote (one per request and approver: the table says so)."""
    session.add(
        ApprovalDecision(
            request_id=request_id,
            decision=decision,
            decided_by_slack_id=actor,
            reason=reason,
            break_glass=break_glass,
        )
    )
    session.flush()


# Session.info key: the data stream audit events are also indexed into (set by the runtime
# only when AUDIT_INDEX is set and Elasticsearch is configured).
AUDIT_INDEX_INFO = "audit_index"


def list_decisions(*, session: Session, request_id: int) -> list[ApprovalDecision]:
    """A request's votes, in the order they were cast."""
    return list(
        session.scalars(
            select(ApprovalDecision)
            .where(ApprovalDecision.request_id == request_id)
            .order_by(ApprovalDecision.id)
        )
    )


def lock_request(*, session: Session, request_id: int) -> ConnectorRequest | None:
    """The request row, locked until the transaction ends (PostgreSQL: SELECT … FOR UPDATE;
    SQLite serialises writing transactions already), so votes on it are counted one by one."""
    return session.scalars(
        select(ConnectorRequest)
        .where(ConnectorRequest.id == request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def count_auto_approved(*, session: Session, requester: str, since: datetime) -> int:
    """How many of ``requester``'s requests the policy approved by itself since ``since``.

    On PostgreSQL the count is taken under a transaction-scoped advisory lock per requester,
    so two submits at once (two replicas) can't both take the last one of the day; SQLite
    serialises writing transactions already."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"auto-approve:{requester}".encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    return int(
        session.scalar(
            select(func.count()).where(
                ConnectorRequest.requested_by_slack_id == requester,
                ConnectorRequest.auto_approved_at >= since,
            )
        )
        or 0
    )


def add_audit(
    *,
    session: Session,
    action: AuditAction | str,
    request_id: int | None,
    actor: str | None,
    detail: dict[str, Any] | None = None,
    target: str | None = None,
    space_id: str | None = None,
    provider: str | None = None,
    model: str | None = None,
) -> AuditEvent:
    """Append an event to the audit trail. With a request, what it concerns (target, space,
    provider, model) comes from the request row; otherwise from the keyword arguments. When
    the audit index is on, its indexing is queued in the same transaction."""
    row = session.get(ConnectorRequest, request_id) if request_id is not None else None
    if row is not None:
        target = row.target
        space_id, provider = row.space_id, row.provider
        model = request_model(row.settings, row.config)
    event = AuditEvent(
        request_id=request_id,
        actor_slack_id=actor,
        action=str(action),
        detail=detail or {},
        created_at=utcnow(),
        target=target,
        space_id=space_id,
        provider=provider,
        model=model,
    )
    session.add(event)
    index = session.info.get(AUDIT_INDEX_INFO)
    if index:
        session.flush()
        enqueue(
            session=session,
            kind=JobKind.INDEX_AUDIT,
            request_id=None,
            payload={"audit_id": event.id, "index": str(index)},
        )
    return event


def audit_id_bounds(
    *, session: Session, since: datetime, until: datetime
) -> tuple[int, int] | None:
    """The lowest and highest id of the events with ``since <= created_at < until`` (None:
    there are none); one range scan of the (created_at, id) index."""
    # ``id + 0``: a bare min(id)/max(id) lets the planners walk the primary key from one end
    # and filter by time (half the table for a day in the middle); this reads the range.
    low, high = session.execute(
        select(func.min(AuditEvent.id + 0), func.max(AuditEvent.id + 0)).where(
            AuditEvent.created_at >= since, AuditEvent.created_at < until
        )
    ).one()
    return None if low is None or high is None else (int(low), int(high))


# What the export reads of an event, with its request's reference (plain rows: no ORM objects
# for a month of events).
AUDIT_EXPORT_COLUMNS = (
    AuditEvent.id,
    AuditEvent.created_at,
    AuditEvent.action,
    AuditEvent.actor_slack_id,
    ConnectorRequest.reference,
    AuditEvent.target,
    AuditEvent.space_id,
    AuditEvent.provider,
    AuditEvent.model,
    AuditEvent.detail,
)


def audit_rows_between(
    *,
    session: Session,
    since: datetime,
    until: datetime,
    after_id: int,
    last_id: int,
    limit: int,
) -> list[Row[Any]]:
    """The next ``limit`` events with ``since <= created_at < until`` and ``after_id < id <=
    last_id``, in id order, as `AUDIT_EXPORT_COLUMNS` rows (keyset pagination over the
    primary key, bounded by `audit_id_bounds`: each batch reads only its own rows)."""
    # On the connection: Core rows, without the ORM's result processing.
    statement = audit_between_query(since, until, after_id, last_id, limit)
    return list(session.connection().execute(statement))


def audit_between_query(
    since: datetime, until: datetime, after_id: int, last_id: int, limit: int
) -> Select[Any]:
    return (
        select(*AUDIT_EXPORT_COLUMNS)
        .outerjoin(ConnectorRequest, ConnectorRequest.id == AuditEvent.request_id)
        .where(
            AuditEvent.id > after_id,
            AuditEvent.id <= last_id,
            AuditEvent.created_at >= since,
            AuditEvent.created_at < until,
        )
        .order_by(AuditEvent.id)
        .limit(limit)
    )


def get_audit(*, session: Session, audit_id: int) -> AuditEvent | None:
    return session.get(AuditEvent, audit_id)


def references_of(*, session: Session, request_ids: Collection[int]) -> dict[int, str]:
    """The references of these requests, by id."""
    if not request_ids:
        return {}
    rows = session.execute(
        select(ConnectorRequest.id, ConnectorRequest.reference).where(
            ConnectorRequest.id.in_(list(request_ids))
        )
    ).all()
    return {int(request_id): str(reference) for request_id, reference in rows}


def list_audit(*, session: Session, request_id: int) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.request_id == request_id).order_by(AuditEvent.id)
        )
    )


def add_attempt(*, session: Session, attempt: ProvisioningAttempt) -> None:
    session.add(attempt)


def list_attempts(*, session: Session, request_id: int) -> list[ProvisioningAttempt]:
    return list(
        session.scalars(
            select(ProvisioningAttempt)
            .where(ProvisioningAttempt.request_id == request_id)
            .order_by(ProvisioningAttempt.id)
        )
    )


def enqueue(
    *,
    session: Session,
    kind: JobKind,
    request_id: int | None,
    payload: dict[str, Any] | None = None,
    run_after: datetime | None = None,
    concurrency_key: str | None = None,
) -> None:
    session.add(
        Job(
            kind=kind.value,
            request_id=request_id,
            payload=payload or {},
            run_after=run_after or utcnow(),
            concurrency_key=concurrency_key,
        )
    )


def claim_job(
    *,
    session: Session,
    owner: str,
    now: datetime,
    lease_until: datetime,
    kinds: Collection[JobKind] | None = None,
    where: Collection[ColumnElement[bool]] = (),
) -> Job | None:
    """Lease the oldest due job nobody holds, of ``kinds`` (all when None) and matching
    ``where``; SKIP LOCKED lets replicas and lanes claim side by side."""
    lane = [Job.kind.in_([kind.value for kind in kinds])] if kinds is not None else []
    job = session.scalars(
        select(Job)
        .where(
            *lane,
            *where,
            Job.status == JobStatus.QUEUED.value,
            Job.run_after <= now,
            or_(Job.lease_expires_at.is_(None), Job.lease_expires_at < now),
        )
        .order_by(Job.run_after, Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).one_or_none()
    if job is None:
        return None
    job.lease_owner = owner
    job.lease_expires_at = lease_until
    job.attempts += 1
    session.flush()
    return job


def extend_leases(
    *, session: Session, owner: str, job_ids: Iterable[int], lease_until: datetime
) -> None:
    ids = list(job_ids)
    if ids:
        session.execute(
            update(Job)
            .where(Job.id.in_(ids), Job.lease_owner == owner, Job.status == JobStatus.QUEUED.value)
            .values(lease_expires_at=lease_until)
            .execution_options(synchronize_session=False)
        )


def finish_job(
    *, session: Session, job_id: int, status: JobStatus, error: str | None = None
) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(
            status=status.value,
            finished_at=utcnow(),
            last_error=error,
            lease_owner=None,
            lease_expires_at=None,
        )
        .execution_options(synchronize_session=False)
    )


def reschedule_job(
    *,
    session: Session,
    job_id: int,
    run_after: datetime,
    error: str,
    payload: dict[str, Any] | None = None,
) -> None:
    """Run the job again after ``run_after``; ``payload`` (when given) replaces its payload."""
    values: dict[str, Any] = {
        "run_after": run_after,
        "last_error": error,
        "lease_owner": None,
        "lease_expires_at": None,
    }
    if payload is not None:
        values["payload"] = payload
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def count_queued_jobs(*, session: Session) -> int:
    return int(
        session.scalar(select(func.count()).where(Job.status == JobStatus.QUEUED.value)) or 0
    )


def list_jobs(*, session: Session, request_id: int) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.request_id == request_id).order_by(Job.id)))


def expired_pending_ids(*, session: Session, now: datetime) -> list[int]:
    return list(
        session.scalars(
            select(ConnectorRequest.id).where(
                ConnectorRequest.status == RequestStatus.PENDING.value,
                ConnectorRequest.expires_at <= now,
            )
        )
    )


def connector_name_taken(*, session: Session, target: str, space_id: str, name: str) -> bool:
    """True when an open or successful request already uses this name in the target's
    space."""
    open_states = [
        RequestStatus.PENDING,
        RequestStatus.APPROVED,
        RequestStatus.PROVISIONING,
        RequestStatus.PROVISIONED,
    ]
    found = session.scalar(
        select(ConnectorRequest.id).where(
            ConnectorRequest.target == target,
            ConnectorRequest.space_id == space_id,
            ConnectorRequest.connector_name == name,
            ConnectorRequest.status.in_([state.value for state in open_states]),
        )
    )
    return found is not None


def release_all_leases(*, session: Session) -> None:
    """Free every job lease (only safe when a single process uses the database)."""
    session.execute(
        update(Job)
        .where(Job.status == JobStatus.QUEUED.value, Job.lease_owner.is_not(None))
        .values(lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )


def count_requests_by_status(*, session: Session) -> dict[str, int]:
    rows = session.execute(
        select(ConnectorRequest.status, func.count()).group_by(ConnectorRequest.status)
    ).all()
    return {str(status): int(count) for status, count in rows}


def count_jobs_by_status(*, session: Session) -> dict[str, int]:
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    return {str(status): int(count) for status, count in rows}


def oldest_due_job(*, session: Session, now: datetime) -> datetime | None:
    return session.scalar(
        select(func.min(Job.run_after)).where(
            Job.status == JobStatus.QUEUED.value, Job.run_after <= now
        )
    )


def count_attempts_by_outcome(*, session: Session) -> dict[tuple[str, str], int]:
    rows = session.execute(
        select(ProvisioningAttempt.operation, ProvisioningAttempt.outcome, func.count()).group_by(
            ProvisioningAttempt.operation, ProvisioningAttempt.outcome
        )
    ).all()
    return {(str(op), str(outcome)): int(count) for op, outcome, count in rows}


def purge_finished_jobs(*, session: Session, finished_before: datetime) -> int:
    """Delete done jobs finished before the cutoff (dead ones stay for inspection)."""
    result = session.execute(
        delete(Job)
        .where(Job.status == JobStatus.DONE.value, Job.finished_at < finished_before)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)  # noqa: S101 - DELETE always yields a cursor result
    return int(result.rowcount)


def stored_resource_ids(
    *, session: Session, ids: Collection[str], target: str | None = None
) -> set[str]:
    """Those of ``ids`` that a request row (of ``target``, when given) stored as the id of
    what it provisions."""
    if not ids:
        return set()
    query = select(ConnectorRequest.kibana_connector_id).where(
        ConnectorRequest.kibana_connector_id.in_(list(ids))
    )
    if target is not None:
        query = query.where(ConnectorRequest.target == target)
    found = session.scalars(query)
    return {value for value in found if value is not None}
