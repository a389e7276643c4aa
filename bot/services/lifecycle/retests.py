"""Scheduled re-tests: the sweep that claims due rows and queues their jobs, and the job
that runs the back-end's test and records what it means for the row."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.db import lifecycle_queries as lq
from bot.db import queries
from bot.db.session import session_scope
from bot.domain.enums import AuditAction, JobKind
from bot.domain.lifecycle import (
    TESTED_STATES,
    LifecycleNotice,
    ManagedState,
    apply_test,
    next_test_at,
)
from bot.domain.resources import TestRun
from bot.services.backends.base import BackendError, BackendUnavailableError
from bot.services.jobs import JobContext, RetryLaterError
from bot.services.lifecycle.inventory import backend_of, seed_for, target_of
from bot.services.lifecycle.notices import queue_notice

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

    from bot.deps import Deps

log = logging.getLogger(__name__)
SWEEP_BATCH = 100
ACK_YIELD_SECONDS = 0.25
CAS_TRIES = 5


def concurrency_key(target: str) -> str:
    """Lifecycle jobs of one target share this key: at most N of them run at once."""
    return f"lifecycle:{target}"


def schedule_due_retests(deps: Deps) -> int:
    """Queue a re-test for every due row: each claimed by moving its next_test_at on (with
    jitter) in the transaction that queues its job, so it runs once whatever the replicas."""
    now = deps.clock()
    queued = 0
    while True:
        deps.ack_gate.wait_quiet(ACK_YIELD_SECONDS)  # a big batch can wait; Slack cannot
        with session_scope(deps.session_factory) as session:
            due = lq.due_for_test(session=session, now=now, limit=SWEEP_BATCH)
            for item in due:
                every = timedelta(seconds=max(1, item.every_seconds))
                later = next_test_at(now, every, seed=seed_for(item.managed_id, now))
                if lq.claim_test(
                    session=session, managed_id=item.managed_id, due=item.due, next_at=later
                ):
                    queue_retest(session, managed_id=item.managed_id, target=item.target)
                    queued += 1
        if len(due) < SWEEP_BATCH:
            break
    if queued:
        deps.wake_workers()
    return queued


def queue_retest(session: Session, *, managed_id: int, target: str) -> None:
    """Queue one re-test job, limited with the other lifecycle jobs of its target."""
    queries.enqueue(
        session=session,
        kind=JobKind.RETEST,
        request_id=None,
        payload={"managed_id": managed_id},
        concurrency_key=concurrency_key(target),
    )


def run_retest(deps: Deps, job: JobContext) -> None:
    """Job: test a managed connector as its first test did, and record the result."""
    managed_id = int(job.payload["managed_id"])
    with session_scope(deps.session_factory) as session:
        row = lq.get_managed(session=session, managed_id=managed_id)
        if row is None or ManagedState(row.state) not in TESTED_STATES:
            return
        target, key, backend = row.target, target_of(row), row.backend
    started = time.monotonic()
    try:
        run = backend_of(deps, target, backend).test(key)
    except BackendUnavailableError as error:
        # Kibana (or Elasticsearch) itself is away: that says nothing about the connector.
        raise RetryLaterError(0.0, error.message) from None
    except BackendError as error:
        run = TestRun(ok=False, message=error.message, hint=error.hint)
    record_result(deps, managed_id, run, latency_ms=round((time.monotonic() - started) * 1000))


def record_result(deps: Deps, managed_id: int, run: TestRun, *, latency_ms: int) -> None:
    """Write a test result with a compare-and-set (re-read and re-applied if the row moved
    meanwhile); the event it causes is queued in the same transaction, so it is told once."""
    now = deps.clock()
    for _ in range(CAS_TRIES):
        with session_scope(deps.session_factory) as session:
            row = lq.get_managed(session=session, managed_id=managed_id)
            if row is None or ManagedState(row.state) not in TESTED_STATES:
                return
            before = ManagedState(row.state)
            effect = apply_test(
                before, row.consecutive_failures, ok=run.ok, failing_after=row.failing_after
            )
            message = None if run.ok else (run.message or run.service_message or "test failed")
            values = {
                "last_test_at": now,
                "last_test_ok": run.ok,
                "last_test_latency_ms": latency_ms,
                "last_test_message": message[:2000] if message else None,
                "consecutive_failures": effect.consecutive_failures,
                "state": effect.state.value,
            }
            if effect.state is not before:
                values["state_reason"] = message if effect.state is ManagedState.FAILING else None
            if not lq.update_managed(
                session=session, managed_id=managed_id, version=row.version, values=values
            ):
                continue
            if effect.state is not before:
                queries.add_audit(
                    session=session,
                    action=AuditAction.MANAGED_STATE_CHANGED,
                    request_id=row.request_id,
                    actor=None,
                    detail={"managed_id": managed_id, "from": before, "to": effect.state},
                )
            if effect.event is not None:
                notice = LifecycleNotice(
                    event=effect.event,
                    message=message,
                    hint=run.hint,
                    failures=effect.consecutive_failures,
                    failing_after=row.failing_after,
                )
                queue_notice(session, deps, managed_id=managed_id, notice=notice)
            break
    deps.wake_workers()
    log.info("managed connector %s re-tested: ok=%s", managed_id, run.ok)


def retest_unreachable(
    deps: Deps, job: JobContext, retry: RetryLaterError, since: datetime
) -> None:
    """The retries of a re-test are spent because Kibana could not be reached: keep the
    connector's state (its next re-test is scheduled already) and note why."""
    del since
    managed_id = int(job.payload.get("managed_id") or 0)
    with session_scope(deps.session_factory) as session:
        row = lq.get_managed(session=session, managed_id=managed_id)
        if row is None:
            return
        lq.update_managed(
            session=session,
            managed_id=managed_id,
            version=row.version,
            values={
                "last_test_message": f"not tested: could not be reached ({retry.reason})"[:2000]
            },
        )
    log.warning("managed connector %s not re-tested: %s", managed_id, retry.reason)
