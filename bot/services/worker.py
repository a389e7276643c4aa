"""Worker threads that carry out queued jobs, leased so replicas never run one twice at once."""

from __future__ import annotations

import functools
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.db import lifecycle_queries, queries
from bot.db.session import session_scope
from bot.deps import Deps, Policy
from bot.domain.enums import JobKind, JobStatus
from bot.services import audit, home, notifications, provisioning, reminders, requests
from bot.services.changes import applying as change_applying
from bot.services.jobs import (
    RETRYING_SINCE,
    GiveUpError,
    JobContext,
    JobSpec,
    Lane,
    RetryLaterError,
    RetryPolicy,
)
from bot.services.lifecycle import expiry, reconcile, retests, retire
from bot.services.lifecycle import notices as lifecycle_notices
from bot.services.lifecycle.schedule import run_lifecycle_sweep

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

SLACK_BACKOFF_CAP_SECONDS = 300.0
# A handler that raises something unexpected is retried this often before it is buried.
UNEXPECTED_ERROR_ATTEMPTS = 5
FINISHED_JOBS_KEPT = timedelta(days=7)
ACK_YIELD_SECONDS = 0.25  # longest a worker waits for Slack's pending acks before a job


def job_specs(policy: Policy) -> dict[JobKind, JobSpec]:
    """How every kind of job is run: the one place for handlers, lanes and retry policies."""
    # Slack messages back off exponentially (honouring Retry-After) for about 25 minutes, so
    # a Slack outage delays them instead of losing them.
    slack = RetryPolicy(
        base_seconds=1.0,
        cap_seconds=SLACK_BACKOFF_CAP_SECONDS,
        max_attempts=policy.notify_max_attempts,
    )
    # Kibana is retried for a window (a restart takes minutes), telling people at once.
    kibana = RetryPolicy(
        base_seconds=policy.kibana_retry_base_seconds,
        cap_seconds=policy.kibana_retry_cap_seconds,
        max_attempts=policy.kibana_max_attempts,
        window_seconds=policy.kibana_retry_window_seconds,
    )

    # Audit copies wait out an Elasticsearch outage for about a day, then are dropped.
    indexing = RetryPolicy(base_seconds=2.0, cap_seconds=600.0, max_attempts=150)

    def slack_job(handler: Callable[[Deps, JobContext], None]) -> JobSpec:
        return JobSpec(handler=handler, lane=Lane.SLACK, retry=slack)

    def kibana_job(handler: Callable[[Deps, JobContext], None]) -> JobSpec:
        return JobSpec(
            handler=handler,
            lane=Lane.KIBANA,
            retry=kibana,
            on_first_failure=provisioning.tell_kibana_retrying,
            on_exhausted=provisioning.give_up,
            on_buried=provisioning.abandon,
        )

    # Re-tests and reconciliation: a few quick retries when Kibana is away (the next
    # scheduled run comes anyway), never the provisioning window.
    lifecycle = RetryPolicy(
        base_seconds=max(policy.kibana_retry_base_seconds, 0.01),
        cap_seconds=policy.kibana_retry_cap_seconds,
        max_attempts=3,
    )

    def lifecycle_job(handler: Callable[[Deps, JobContext], None], **hooks: Any) -> JobSpec:
        return JobSpec(handler=handler, lane=Lane.LIFECYCLE, retry=lifecycle, **hooks)

    def lifecycle_slack_job(handler: Callable[[Deps, JobContext], None]) -> JobSpec:
        return JobSpec(handler=handler, lane=Lane.LIFECYCLE, retry=slack)

    def decided_job(
        handler: Callable[[Deps, JobContext], None], retry: RetryPolicy, **hooks: Any
    ) -> JobSpec:
        """Work an approver decided on (retire, extend, roll back): beside provisioning."""
        return JobSpec(handler=handler, lane=Lane.KIBANA, retry=retry, **hooks)

    return {
        JobKind.POST_CARD: slack_job(notifications.post_card),
        JobKind.REFRESH_CARD: slack_job(notifications.refresh_card),
        JobKind.THREAD_REPLY: slack_job(notifications.thread_reply),
        JobKind.DM_REQUESTER: slack_job(notifications.dm_requester),
        JobKind.NOTIFY_CHANNEL: slack_job(notifications.notify_channel),
        JobKind.PROVISION: kibana_job(provisioning.provision_connector),
        JobKind.TEST_CONNECTOR: kibana_job(provisioning.run_connector_test),
        JobKind.EXPORT_AUDIT: slack_job(audit.deliver_export),
        JobKind.INDEX_AUDIT: JobSpec(handler=audit.index_event, lane=Lane.AUDIT, retry=indexing),
        JobKind.PUBLISH_HOME: slack_job(home.publish_home),
        JobKind.REMIND: slack_job(reminders.send_reminder),
        JobKind.ESCALATE: slack_job(reminders.send_escalation),
        JobKind.ESCALATE_DM: slack_job(reminders.send_escalation),
        JobKind.RETEST: lifecycle_job(retests.run_retest, on_exhausted=retests.retest_unreachable),
        JobKind.RECONCILE: lifecycle_job(reconcile.reconcile),
        # Lifecycle messages are Slack calls retried like Slack's, but on the lifecycle lane:
        # a thousand failing connectors never queue ahead of a new request's card.
        JobKind.LIFECYCLE_NOTICE: lifecycle_slack_job(lifecycle_notices.post_notice),
        JobKind.ADOPTED_MESSAGE: lifecycle_slack_job(lifecycle_notices.post_adopted),
        JobKind.LIFECYCLE_DIGEST: lifecycle_slack_job(lifecycle_notices.post_digest),
        JobKind.DM_APPROVER: slack_job(notifications.dm_approver),
        JobKind.ROLLBACK_CHANGE: decided_job(
            change_applying.run_rollback,
            kibana,
            on_exhausted=change_applying.rollback_unreachable,
            on_buried=change_applying.rollback_abandoned,
        ),
        # Retire requests call Kibana (or Elasticsearch) like provisioning, retried alike.
        JobKind.RETIRE: decided_job(
            retire.run_retire,
            kibana,
            on_exhausted=retire.retire_unreachable,
            on_buried=retire.retire_abandoned,
        ),
        JobKind.EXTEND: decided_job(
            retire.run_extend,
            lifecycle,
            on_exhausted=retire.extend_unreachable,
            on_buried=retire.retire_abandoned,
        ),
        JobKind.EXPIRE: lifecycle_job(expiry.run_expire, on_exhausted=expiry.expiry_unreachable),
    }


def lane_threads(total: int, *, lifecycle: int = 0) -> dict[Lane, int]:
    """Split WORKER_THREADS between the lanes: half each (Kibana gets the odd one), at least
    one per lane, so a Kibana call holding threads never delays a card update; audit copies
    to Elasticsearch get one thread of their own. Lifecycle work has ``lifecycle`` threads of
    its own (LIFECYCLE_CONCURRENCY) on top."""
    slack = max(1, total // 2)
    lanes = {Lane.SLACK: slack, Lane.KIBANA: max(1, total - slack), Lane.AUDIT: 1}
    if lifecycle > 0:
        lanes[Lane.LIFECYCLE] = lifecycle
    return lanes


class JobRunner:
    """Claims due jobs from the database and runs them, each lane on threads of its own."""

    def __init__(
        self,
        deps: Deps,
        *,
        threads: int = 4,
        lease_seconds: float = 30.0,
        poll_seconds: float = 1.0,
        sweep_seconds: float = 30.0,
    ) -> None:
        self._deps = deps
        self._threads = lane_threads(threads, lifecycle=deps.policy.lifecycle_concurrency)
        self._limited_claims = threading.Lock()  # lifecycle claims count running jobs
        self._specs = job_specs(deps.policy)
        self._kinds = {
            lane: frozenset(kind for kind, spec in self._specs.items() if spec.lane is lane)
            for lane in Lane
        }
        self._lease = timedelta(seconds=lease_seconds)
        self._poll = poll_seconds
        self._sweep = sweep_seconds
        self.owner = f"worker-{uuid.uuid4().hex[:12]}"
        self._stop = threading.Event()
        self._running: set[int] = set()
        self._running_lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def start(self) -> None:
        """Start the worker threads of each lane, the lease keeper and the expiry loop."""
        targets: list[tuple[str, Callable[[], None]]] = [
            (f"job-worker-{lane.value}-{n}", functools.partial(self._work_loop, lane))
            for lane, count in self._threads.items()
            for n in range(count)
        ]
        targets += [
            ("job-lease-keeper", self._keep_leases),
            ("request-expiry", self._expire_loop),
            ("lifecycle-sweep", self._lifecycle_loop),
        ]
        for name, target in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._workers.append(thread)
        log.info(
            "job runner %s started: %s",
            self.owner,
            ", ".join(f"{count} {lane.value} threads" for lane, count in self._threads.items()),
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming work and wait for running jobs to finish."""
        self._stop.set()
        self._deps.wake_event.set()
        for thread in self._workers:
            thread.join(timeout)
        self._workers.clear()

    @property
    def busy(self) -> bool:
        with self._running_lock:
            return bool(self._running)

    def run_once(self, lane: Lane | None = None) -> bool:
        """Claim and run one due job (of ``lane``, or any); False when there was none."""
        if lane is Lane.LIFECYCLE:
            with self._limited_claims:
                context = self._claim(lane)
        else:
            context = self._claim(lane)
        if context is None:
            return False
        with self._running_lock:
            self._running.add(context.id)
        try:
            self._execute(context)
        finally:
            with self._running_lock:
                self._running.discard(context.id)
        return True

    def _claim(self, lane: Lane | None) -> JobContext | None:
        now = self._deps.clock()
        with session_scope(self._deps.session_factory) as session:
            if lane is Lane.LIFECYCLE:
                job = lifecycle_queries.claim_limited_job(
                    session=session,
                    owner=self.owner,
                    now=now,
                    lease_until=now + self._lease,
                    kinds=self._kinds[lane],
                    limit=self._deps.policy.lifecycle_concurrency,
                )
            else:
                job = queries.claim_job(
                    session=session,
                    owner=self.owner,
                    now=now,
                    lease_until=now + self._lease,
                    kinds=None if lane is None else self._kinds[lane],
                )
            if job is None:
                return None
            return JobContext(
                id=job.id,
                kind=JobKind(job.kind),
                request_id=job.request_id,
                payload=dict(job.payload),
                attempt=job.attempts,
            )

    def _execute(self, job: JobContext) -> None:
        spec = self._specs[job.kind]
        try:
            spec.handler(self._deps, job)
        except RetryLaterError as retry:
            self._retry(spec, job, retry)
        except GiveUpError as error:
            log.error("job %s (%s) gave up: %s", job.id, job.kind, error)
            self._finish(job, JobStatus.DEAD, str(error))
        except Exception as error:  # a bug in one job must not stop the worker
            error_id = uuid.uuid4().hex[:8]
            log.exception("job %s (%s) failed unexpectedly (error %s)", job.id, job.kind, error_id)
            reason = f"{type(error).__name__} (error {error_id})"
            if job.attempt >= UNEXPECTED_ERROR_ATTEMPTS:
                self._finish(job, JobStatus.DEAD, reason)
                self._bury(spec, job, reason)
            else:
                self._reschedule(job, spec.retry.backoff(job.attempt), reason)
        else:
            self._finish(job, JobStatus.DONE, None)

    def _bury(self, spec: JobSpec, job: JobContext, reason: str) -> None:
        if spec.on_buried is None:
            return
        try:
            spec.on_buried(self._deps, job, reason)
        except Exception:  # the job is already buried; the log keeps what happened
            log.exception("job %s (%s): could not end its work after burying it", job.id, job.kind)

    def _retry(self, spec: JobSpec, job: JobContext, retry: RetryLaterError) -> None:
        now = self._deps.clock()
        first = job.retrying_since is None
        since = job.retrying_since or now
        delay = spec.retry.next_delay(attempt=job.attempt, asked=retry.delay, since=since, now=now)
        if delay is None:
            if spec.on_exhausted is None:
                log.error(
                    "job %s (%s) dropped after %d attempts: %s",
                    job.id,
                    job.kind,
                    job.attempt,
                    retry.reason,
                )
                self._finish(job, JobStatus.DEAD, retry.reason)
                return
            log.warning(
                "job %s (%s) retries spent after %d attempts: %s",
                job.id,
                job.kind,
                job.attempt,
                retry.reason,
            )
            spec.on_exhausted(self._deps, job, retry, since)
            self._finish(job, JobStatus.DONE, retry.reason)
            return
        payload = {**job.payload, RETRYING_SINCE: since.isoformat()} if first else None
        with session_scope(self._deps.session_factory) as session:
            self._reschedule_in(session, job, delay, retry.reason, payload=payload)
            if first and spec.on_first_failure is not None:
                # Same transaction as the reschedule: told once per run of failures.
                spec.on_first_failure(session, self._deps, job, retry, spec.retry.deadline(since))
        if first:
            self._deps.wake_workers()

    def _reschedule(self, job: JobContext, delay: float, reason: str) -> None:
        with session_scope(self._deps.session_factory) as session:
            self._reschedule_in(session, job, delay, reason)

    def _reschedule_in(
        self,
        session: Session,
        job: JobContext,
        delay: float,
        reason: str,
        *,
        payload: dict[str, Any] | None = None,
    ) -> None:
        log.info(
            "job %s (%s) attempt %d: retry in %.1f s (%s)",
            job.id,
            job.kind,
            job.attempt,
            delay,
            reason,
        )
        queries.reschedule_job(
            session=session,
            job_id=job.id,
            run_after=self._deps.clock() + timedelta(seconds=delay),
            error=reason[:2000],
            payload=payload,
        )

    def _finish(self, job: JobContext, status: JobStatus, error: str | None) -> None:
        with session_scope(self._deps.session_factory) as session:
            queries.finish_job(session=session, job_id=job.id, status=status, error=error)

    def _work_loop(self, lane: Lane) -> None:
        while not self._stop.is_set():
            # Jobs can wait a moment; Slack's acknowledgements cannot.
            self._deps.ack_gate.wait_quiet(ACK_YIELD_SECONDS)
            try:
                ran = self.run_once(lane)
            except Exception:  # e.g. the database is briefly down: keep going
                log.exception("could not claim a job")
                ran = False
            if not ran and lane is Lane.LIFECYCLE:
                # Lifecycle work is never urgent: poll instead of waking at every commit, so
                # its threads add no claims (write transactions on SQLite) to busy moments.
                self._stop.wait(self._poll)
            elif not ran:
                self._deps.wake_event.wait(self._poll)
                self._deps.wake_event.clear()

    def _keep_leases(self) -> None:
        while not self._stop.wait(self._lease.total_seconds() / 3):
            with self._running_lock:
                running = list(self._running)
            if not running:
                continue
            try:
                with session_scope(self._deps.session_factory) as session:
                    queries.extend_leases(
                        session=session,
                        owner=self.owner,
                        job_ids=running,
                        lease_until=self._deps.clock() + self._lease,
                    )
            except Exception:
                log.exception("could not extend job leases")

    def _expire_loop(self) -> None:
        while not self._stop.wait(self._sweep):
            try:
                expired = requests.expire_due_requests(self._deps)
                nudged = reminders.nudge_due_requests(self._deps)
                purged = self.purge_finished_jobs()
            except Exception:  # the database may be briefly away: try at the next sweep
                log.exception("could not expire or remind requests or purge jobs")
                continue
            if expired or nudged or purged:
                log.info(
                    "expired %d pending requests, reminded %d, purged %d finished jobs",
                    expired,
                    nudged,
                    purged,
                )

    def _lifecycle_loop(self) -> None:
        while not self._stop.wait(self._deps.policy.lifecycle_sweep_seconds):
            try:
                run_lifecycle_sweep(self._deps)
            except Exception:  # the database may be briefly away: try at the next sweep
                log.exception("could not schedule lifecycle work")

    def purge_finished_jobs(self) -> int:
        """Forget jobs done more than a week ago; the audit trail keeps what happened."""
        cutoff = self._deps.clock() - FINISHED_JOBS_KEPT
        with session_scope(self._deps.session_factory) as session:
            return queries.purge_finished_jobs(session=session, finished_before=cutoff)
