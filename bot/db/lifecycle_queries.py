"""Reads and writes of the connector inventory and the periodic tasks; never commit."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, func, or_, select, text, update
from sqlalchemy.orm import Session

from bot.db import queries
from bot.db.base import utcnow
from bot.db.models import ConnectorRequest, Job, ManagedConnector, ScheduledTask
from bot.domain.enums import JobKind, JobStatus
from bot.domain.lifecycle import LIVE_STATES, RECONCILED_STATES, TESTED_STATES, ManagedState


@dataclass(frozen=True)
class DueTest:
    managed_id: int
    due: datetime
    every_seconds: int
    target: str


# Any constant: the PostgreSQL advisory lock that makes limited claims one at a time.
_LIMITED_CLAIM_LOCK = 0x4C1FEC7C


def add_managed(*, session: Session, row: ManagedConnector) -> ManagedConnector:
    session.add(row)
    session.flush()
    return row


def get_managed(*, session: Session, managed_id: int) -> ManagedConnector | None:
    return session.get(ManagedConnector, managed_id)


def get_managed_by_resource(
    *, session: Session, target: str, space_id: str, resource_id: str
) -> ManagedConnector | None:
    return session.scalars(
        select(ManagedConnector).where(
            ManagedConnector.target == target,
            ManagedConnector.space_id == space_id,
            ManagedConnector.resource_id == resource_id,
        )
    ).one_or_none()


def get_managed_by_request(*, session: Session, request_id: int) -> ManagedConnector | None:
    return session.scalars(
        select(ManagedConnector).where(ManagedConnector.request_id == request_id)
    ).first()


def managed_resource_taken(*, session: Session, target: str, resource_id: str) -> bool:
    """True when any managed row of the target has this id (inference ids are cluster-wide)."""
    found = session.scalar(
        select(ManagedConnector.id).where(
            ManagedConnector.target == target, ManagedConnector.resource_id == resource_id
        )
    )
    return found is not None


def update_managed(
    *, session: Session, managed_id: int, version: int, values: dict[str, Any]
) -> bool:
    """Compare-and-set on the row's version; True only when nobody wrote it since it was read."""
    result = session.execute(
        update(ManagedConnector)
        .where(ManagedConnector.id == managed_id, ManagedConnector.version == version)
        .values(version=version + 1, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)  # noqa: S101 - UPDATE always yields a cursor result
    changed = result.rowcount == 1
    if changed:
        session.expire_all()
    return changed


def set_thread(*, session: Session, managed_id: int, channel: str, ts: str) -> bool:
    """Store the thread of a row that has none yet (the adopt message); True when stored."""
    result = session.execute(
        update(ManagedConnector)
        .where(ManagedConnector.id == managed_id, ManagedConnector.thread_ts.is_(None))
        .values(thread_channel=channel, thread_ts=ts)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)  # noqa: S101 - UPDATE always yields a cursor result
    return result.rowcount == 1


def due_for_test(*, session: Session, now: datetime, limit: int) -> list[DueTest]:
    """Rows whose re-test is due, oldest first, through the (state, next_test_at) index;
    rows locked by another replica's sweep are skipped."""
    rows = session.execute(
        select(
            ManagedConnector.id,
            ManagedConnector.next_test_at,
            ManagedConnector.retest_every_seconds,
            ManagedConnector.target,
        )
        .where(
            ManagedConnector.state.in_([state.value for state in TESTED_STATES]),
            ManagedConnector.next_test_at <= now,
        )
        .order_by(ManagedConnector.next_test_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    return [
        DueTest(int(row_id), due, int(every), str(target))
        for row_id, due, every, target in rows
        if due is not None
    ]


def claim_test(*, session: Session, managed_id: int, due: datetime, next_at: datetime) -> bool:
    """Move a due row's next_test_at on, only if it still is ``due``: the one claim of it."""
    result = session.execute(
        update(ManagedConnector)
        .where(ManagedConnector.id == managed_id, ManagedConnector.next_test_at == due)
        .values(next_test_at=next_at)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)  # noqa: S101 - UPDATE always yields a cursor result
    return result.rowcount == 1


def reconcile_groups(*, session: Session) -> list[tuple[str, str, str]]:
    """Each (target, space, back-end) that has rows to reconcile."""
    rows = session.execute(
        select(ManagedConnector.target, ManagedConnector.space_id, ManagedConnector.backend)
        .where(ManagedConnector.state.in_([state.value for state in RECONCILED_STATES]))
        .distinct()
    ).all()
    return [(str(target), str(space), str(backend)) for target, space, backend in rows]


def list_managed_in(
    *, session: Session, target: str, space_id: str | None, backend: str
) -> list[ManagedConnector]:
    """Rows to reconcile in one target and space (inference endpoints: every space)."""
    where = [
        ManagedConnector.target == target,
        ManagedConnector.backend == backend,
        ManagedConnector.state.in_([state.value for state in RECONCILED_STATES]),
    ]
    if space_id is not None:
        where.append(ManagedConnector.space_id == space_id)
    return list(
        session.scalars(select(ManagedConnector).where(*where).order_by(ManagedConnector.id))
    )


def list_managed(
    *, session: Session, owner: str | None = None, states: Collection[ManagedState] | None = None
) -> list[ManagedConnector]:
    """The inventory (of one owner when given), newest first."""
    where = []
    if owner is not None:
        where.append(ManagedConnector.owner_slack_id == owner)
    if states is not None:
        where.append(ManagedConnector.state.in_([state.value for state in states]))
    return list(
        session.scalars(select(ManagedConnector).where(*where).order_by(ManagedConnector.id.desc()))
    )


def claim_task(*, session: Session, name: str, now: datetime, next_run_at: datetime) -> bool:
    """Take a periodic task that is due by moving its next run on; True for the one claimer."""
    result = session.execute(
        update(ScheduledTask)
        .where(ScheduledTask.name == name, ScheduledTask.next_run_at <= now)
        .values(next_run_at=next_run_at, last_run_at=now)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)  # noqa: S101 - UPDATE always yields a cursor result
    return result.rowcount == 1


def set_task_due(*, session: Session, name: str, at: datetime) -> None:
    session.execute(
        update(ScheduledTask)
        .where(ScheduledTask.name == name)
        .values(next_run_at=at)
        .execution_options(synchronize_session=False)
    )


def claim_limited_job(
    *,
    session: Session,
    owner: str,
    now: datetime,
    lease_until: datetime,
    kinds: Collection[JobKind],
    limit: int,
) -> Job | None:
    """Lease the oldest due job of ``kinds`` whose concurrency key has fewer than ``limit``
    jobs running (leased). On PostgreSQL an advisory lock makes these claims one at a time
    across replicas, so the count cannot be raced; the caller serialises them in-process."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LIMITED_CLAIM_LOCK})
    kind_values = [kind.value for kind in kinds]
    running = session.execute(
        select(Job.concurrency_key, func.count())
        .where(
            Job.kind.in_(kind_values),
            Job.status == JobStatus.QUEUED.value,
            Job.concurrency_key.is_not(None),
            Job.lease_expires_at >= now,
        )
        .group_by(Job.concurrency_key)
    ).all()
    saturated = [str(key) for key, count in running if int(count) >= limit]
    free_key = [or_(Job.concurrency_key.is_(None), Job.concurrency_key.not_in(saturated))]
    return queries.claim_job(
        session=session,
        owner=owner,
        now=now,
        lease_until=lease_until,
        kinds=kinds,
        where=free_key if saturated else (),
    )


@dataclass(frozen=True)
class DueWarning:
    managed_id: int
    due: datetime
    expires_at: datetime


def due_expiry_warnings(*, session: Session, now: datetime, limit: int) -> list[DueWarning]:
    """Live rows whose next expiry warning is due, through the (state, warning) index; rows
    locked by another replica's sweep are skipped."""
    rows = session.execute(
        select(
            ManagedConnector.id,
            ManagedConnector.next_expiry_warning_at,
            ManagedConnector.expires_at,
        )
        .where(
            ManagedConnector.state.in_([state.value for state in LIVE_STATES]),
            ManagedConnector.next_expiry_warning_at <= now,
        )
        .order_by(ManagedConnector.next_expiry_warning_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    return [
        DueWarning(int(row_id), due, end)
        for row_id, due, end in rows
        if due is not None and end is not None
    ]


def claim_warning(
    *, session: Session, managed_id: int, due: datetime, next_at: datetime | None
) -> bool:
    """Move a due warning on to the next one (or none), only if it still is ``due``."""
    result = session.execute(
        update(ManagedConnector)
        .where(ManagedConnector.id == managed_id, ManagedConnector.next_expiry_warning_at == due)
        .values(next_expiry_warning_at=next_at)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)  # noqa: S101 - UPDATE always yields a cursor result
    return result.rowcount == 1


def due_expiries(*, session: Session, now: datetime, limit: int) -> list[tuple[int, str]]:
    """Live rows past their expiry whose deletion is not queued yet: (id, target)."""
    rows = session.execute(
        select(ManagedConnector.id, ManagedConnector.target)
        .where(
            ManagedConnector.state.in_([state.value for state in LIVE_STATES]),
            ManagedConnector.expires_at <= now,
            ManagedConnector.expiry_claimed_at.is_(None),
        )
        .order_by(ManagedConnector.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    return [(int(row_id), str(target)) for row_id, target in rows]


def claim_expiry(*, session: Session, managed_id: int, now: datetime) -> bool:
    """Mark a live, expired row's deletion as queued (bumping its version, so an extension
    that read it before loses its compare-and-set); True for the one claimer."""
    result = session.execute(
        update(ManagedConnector)
        .where(
            ManagedConnector.id == managed_id,
            ManagedConnector.expiry_claimed_at.is_(None),
            ManagedConnector.expires_at <= now,
            ManagedConnector.state.in_([state.value for state in LIVE_STATES]),
        )
        .values(expiry_claimed_at=now, version=ManagedConnector.version + 1)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)  # noqa: S101 - UPDATE always yields a cursor result
    return result.rowcount == 1


def release_expiry(*, session: Session, managed_id: int) -> None:
    """Let the next sweep queue the deletion again (its job ran out of retries)."""
    session.execute(
        update(ManagedConnector)
        .where(ManagedConnector.id == managed_id)
        .values(expiry_claimed_at=None)
        .execution_options(synchronize_session=False)
    )


def open_managed_request(
    *, session: Session, managed_id: int, kind: str
) -> ConnectorRequest | None:
    """An unfinished request of ``kind`` for the managed row (pending, approved or running)."""
    return session.scalars(
        select(ConnectorRequest).where(
            ConnectorRequest.managed_id == managed_id,
            ConnectorRequest.kind == kind,
            ConnectorRequest.status.in_(["pending", "approved", "provisioning"]),
        )
    ).first()
