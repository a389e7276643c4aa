"""Drift: read what each managed target and space has, compare with the inventory, and tell
what was deleted or changed outside the bot. Nothing is changed back."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.db import lifecycle_queries as lq
from bot.db import queries
from bot.db.session import session_scope
from bot.domain.enums import AuditAction, JobKind
from bot.domain.lifecycle import (
    DELETED_IN_KIBANA,
    RECONCILED_STATES,
    LifecycleEvent,
    LifecycleNotice,
    ManagedState,
    can_move,
    drift,
    visible,
)
from bot.services.backends.base import BackendError, BackendUnavailableError
from bot.services.jobs import GiveUpError, JobContext, RetryLaterError
from bot.services.lifecycle.inventory import backend_of
from bot.services.lifecycle.notices import queue_notice
from bot.services.lifecycle.retests import concurrency_key

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

    from bot.db.models import ManagedConnector
    from bot.deps import Deps
    from bot.domain.resources import Resource

log = logging.getLogger(__name__)
RECONCILE_TASK = "lifecycle.reconcile"
DIGEST_TASK = "lifecycle.digest"
DELETED_IN_ELASTICSEARCH = "deleted in Elasticsearch"
BATCH = 100  # rows per transaction
ACK_YIELD_SECONDS = 0.25


def schedule_reconcile(deps: Deps) -> int:
    """When reconciliation is due (claimed by compare-and-set), queue one job per target and
    space (per target for inference endpoints, which are cluster-wide)."""
    now = deps.clock()
    every = deps.governance.lifecycle.reconcile_every
    with session_scope(deps.session_factory) as session:
        if not lq.claim_task(
            session=session, name=RECONCILE_TASK, now=now, next_run_at=now + every
        ):
            return 0
        groups = {
            (target, None if backend == "inference" else space, backend)
            for target, space, backend in lq.reconcile_groups(session=session)
        }
        for target, space, backend in sorted(groups, key=str):
            queries.enqueue(
                session=session,
                kind=JobKind.RECONCILE,
                request_id=None,
                payload={"target": target, "space_id": space, "backend": backend},
                concurrency_key=concurrency_key(target),
            )
    if groups:
        deps.wake_workers()
    return len(groups)


def schedule_digest(deps: Deps, *, every_hours: float = 24.0) -> bool:
    """Queue the daily digest when it is due (claimed by compare-and-set)."""
    from datetime import timedelta

    now = deps.clock()
    with session_scope(deps.session_factory) as session:
        claimed = lq.claim_task(
            session=session,
            name=DIGEST_TASK,
            now=now,
            next_run_at=now + timedelta(hours=every_hours),
        )
        if claimed:
            queries.enqueue(session=session, kind=JobKind.LIFECYCLE_DIGEST, request_id=None)
    if claimed:
        deps.wake_workers()
    return claimed


def reconcile(deps: Deps, job: JobContext) -> None:
    """Job: list one target and space once and reconcile every managed row in it."""
    target = str(job.payload["target"])
    space = job.payload.get("space_id")
    backend = str(job.payload["backend"])
    try:
        listed = backend_of(deps, target, backend).list(str(space or "default"))
    except BackendUnavailableError as error:
        raise RetryLaterError(0.0, error.message) from None
    except BackendError as error:
        raise GiveUpError(f"reconcile {target}/{space}: {error.message}") from None
    found = {resource.id: resource for resource in listed}
    with session_scope(deps.session_factory) as session:
        rows = lq.list_managed_in(session=session, target=target, space_id=space, backend=backend)
        ids = [row.id for row in rows]
    for start in range(0, len(ids), BATCH):
        deps.ack_gate.wait_quiet(ACK_YIELD_SECONDS)
        _reconcile_rows(deps, ids[start : start + BATCH], found)
    deps.wake_workers()


def _reconcile_rows(deps: Deps, managed_ids: list[int], found: dict[str, Resource]) -> None:
    """Reconcile some rows in one transaction, each with its own compare-and-set."""
    now = deps.clock()
    with session_scope(deps.session_factory) as session:
        for managed_id in managed_ids:
            row = lq.get_managed(session=session, managed_id=managed_id)
            if row is None or ManagedState(row.state) not in RECONCILED_STATES:
                continue
            resource = found.get(row.resource_id)
            if resource is None:
                _retire_deleted(session, deps, row, now)
            else:
                _compare(session, deps, row, resource, now)


def _retire_deleted(session: Session, deps: Deps, row: ManagedConnector, now: datetime) -> None:
    reason = DELETED_IN_ELASTICSEARCH if row.backend == "inference" else DELETED_IN_KIBANA
    before = ManagedState(row.state)
    changed = lq.update_managed(
        session=session,
        managed_id=row.id,
        version=row.version,
        values={
            "state": ManagedState.RETIRED.value,
            "state_reason": reason,
            "next_test_at": None,
            "reconciled_at": now,
        },
    )
    if changed:
        _audit(session, row, before, ManagedState.RETIRED)
        notice = LifecycleNotice(event=LifecycleEvent.DELETED, message=reason)
        queue_notice(session, deps, managed_id=row.id, notice=notice)


def _settings(name: str, config: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, **visible(config)}


def _compare(
    session: Session, deps: Deps, row: ManagedConnector, resource: Resource, now: datetime
) -> None:
    seen = visible(dict(resource.config))
    values: dict[str, Any] = {"reconciled_at": now, "settings_snapshot": seen}
    if row.settings_snapshot is None:  # no baseline yet: this is it
        lq.update_managed(session=session, managed_id=row.id, version=row.version, values=values)
        return
    changes = drift(_settings(row.name, row.settings_snapshot), _settings(resource.name, seen))
    if not changes:
        lq.update_managed(
            session=session, managed_id=row.id, version=row.version, values={"reconciled_at": now}
        )
        return
    state = ManagedState(row.state)
    if can_move(state, ManagedState.DRIFTED):
        values["state"] = ManagedState.DRIFTED.value
    values["state_reason"] = "changed outside the bot: " + ", ".join(c.key for c in changes)
    values["name"] = resource.name
    values["model"] = resource.model or row.model
    if not lq.update_managed(
        session=session, managed_id=row.id, version=row.version, values=values
    ):
        return  # a re-test wrote it meanwhile: the next reconciliation sees the change again
    if state is not ManagedState.DRIFTED and "state" in values:
        _audit(session, row, state, ManagedState.DRIFTED)
    notice = LifecycleNotice(event=LifecycleEvent.DRIFTED, changes=tuple(changes))
    queue_notice(session, deps, managed_id=row.id, notice=notice)


def _audit(
    session: Session, row: ManagedConnector, source: ManagedState, target: ManagedState
) -> None:
    queries.add_audit(
        session=session,
        action=AuditAction.MANAGED_STATE_CHANGED,
        request_id=row.request_id,
        actor=None,
        detail={"managed_id": row.id, "from": source.value, "to": target.value},
    )
