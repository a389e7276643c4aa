"""Time-limited connectors: the owner's warnings before the end and the deletion at it,
found by the lifecycle sweep in the database and claimed there (exactly once across
replicas, and after a restart)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.db import lifecycle_queries as lq
from bot.db import queries
from bot.db.session import session_scope
from bot.domain import expiry
from bot.domain.enums import AuditAction, JobKind
from bot.domain.lifecycle import LIVE_STATES, LifecycleEvent, LifecycleNotice, ManagedState
from bot.services.backends.base import BackendError, BackendUnavailableError
from bot.services.jobs import JobContext, RetryLaterError
from bot.services.lifecycle.inventory import backend_of, target_of
from bot.services.lifecycle.notices import queue_notice
from bot.services.lifecycle.retests import concurrency_key
from bot.services.lifecycle.retire import set_gone

if TYPE_CHECKING:
    from datetime import datetime

    from bot.deps import Deps

log = logging.getLogger(__name__)
SWEEP_BATCH = 100


def schedule_expiry(deps: Deps) -> tuple[int, int]:
    """Queue the due warnings and deletions; return how many of each."""
    return _warn_due(deps), _queue_due_expiries(deps)


def _warn_due(deps: Deps) -> int:
    """Each due warning is claimed by moving the row's next warning on, in the transaction
    that queues its messages; one already past the end is dropped (the deletion follows)."""
    now = deps.clock()
    sent = 0
    with session_scope(deps.session_factory) as session:
        for item in lq.due_expiry_warnings(session=session, now=now, limit=SWEEP_BATCH):
            later = expiry.warning_after(item.expires_at, sent=item.due, now=now)
            if not lq.claim_warning(
                session=session, managed_id=item.managed_id, due=item.due, next_at=later
            ):
                continue
            if item.expires_at <= now:
                continue
            days = expiry.days_left(item.expires_at, now)
            notice = LifecycleNotice(event=LifecycleEvent.EXPIRING, days=days)
            queue_notice(session, deps, managed_id=item.managed_id, notice=notice)
            managed = lq.get_managed(session=session, managed_id=item.managed_id)
            queries.add_audit(
                session=session,
                action=AuditAction.EXPIRY_WARNED,
                request_id=managed.request_id if managed is not None else None,
                actor=None,
                detail={"managed_id": item.managed_id, "days_left": days},
            )
            sent += 1
    if sent:
        deps.wake_workers()
    return sent


def _queue_due_expiries(deps: Deps) -> int:
    now = deps.clock()
    queued = 0
    with session_scope(deps.session_factory) as session:
        for managed_id, target in lq.due_expiries(session=session, now=now, limit=SWEEP_BATCH):
            if lq.claim_expiry(session=session, managed_id=managed_id, now=now):
                queries.enqueue(
                    session=session,
                    kind=JobKind.EXPIRE,
                    request_id=None,
                    payload={"managed_id": managed_id},
                    concurrency_key=concurrency_key(target),
                )
                queued += 1
    if queued:
        deps.wake_workers()
    return queued


def run_expire(deps: Deps, job: JobContext) -> None:
    """Job: delete a connector at its expiry (already gone: fine), set it expired and tell
    its thread and owner. A refusal (e.g. an endpoint in use) is told instead, once."""
    managed_id = int(job.payload["managed_id"])
    with session_scope(deps.session_factory) as session:
        managed = lq.get_managed(session=session, managed_id=managed_id)
        if managed is None or ManagedState(managed.state) not in LIVE_STATES:
            return
        if managed.expiry_claimed_at is None:
            return  # released after spent retries: the next sweep queues it again
        target, where, ends = (
            target_of(managed),
            (managed.target, managed.backend),
            managed.expires_at,
        )
    try:
        backend_of(deps, *where).delete(target)
    except BackendUnavailableError as error:
        raise RetryLaterError(0.0, error.message) from None
    except BackendError as error:
        with session_scope(deps.session_factory) as session:
            notice = LifecycleNotice(
                event=LifecycleEvent.DELETE_FAILED, message=error.message, hint=error.hint
            )
            queue_notice(session, deps, managed_id=managed_id, notice=notice)
        deps.wake_workers()
        return
    when = ends.date().isoformat() if ends is not None else "its end"
    with session_scope(deps.session_factory) as session:
        set_gone(
            session,
            deps,
            managed_id=managed_id,
            state=ManagedState.EXPIRED,
            reason=f"expired on {when}",
            notice=LifecycleNotice(event=LifecycleEvent.EXPIRED),
            action=AuditAction.CONNECTOR_EXPIRED,
            actor=None,
            request_id=None,
        )
    deps.wake_workers()
    log.info("managed connector %s expired and deleted", managed_id)


def expiry_unreachable(
    deps: Deps, job: JobContext, retry: RetryLaterError, since: datetime
) -> None:
    """The retries are spent: the next sweep queues the deletion again."""
    del retry, since
    with session_scope(deps.session_factory) as session:
        lq.release_expiry(session=session, managed_id=int(job.payload["managed_id"]))
