"""Worker threads that carry out queued jobs, leased so replicas never run one twice at once."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta

from bot.db import queries
from bot.db.session import session_scope
from bot.deps import Deps
from bot.domain.enums import JobKind
from bot.services import notifications, provisioning, requests
from bot.services.jobs import GiveUpError, JobContext, RetryLaterError

log = logging.getLogger(__name__)

Handler = Callable[[Deps, JobContext], None]

HANDLERS: dict[JobKind, Handler] = {
    JobKind.POST_CARD: notifications.post_card,
    JobKind.REFRESH_CARD: notifications.refresh_card,
    JobKind.THREAD_REPLY: notifications.thread_reply,
    JobKind.DM_REQUESTER: notifications.dm_requester,
    JobKind.NOTIFY_CHANNEL: notifications.notify_channel,
    JobKind.PROVISION: provisioning.provision_connector,
    JobKind.TEST_CONNECTOR: provisioning.run_connector_test,
}

# A handler that raises something unexpected is retried this often before it is buried.
UNEXPECTED_ERROR_ATTEMPTS = 5
FINISHED_JOBS_KEPT = timedelta(days=7)
NOTIFY_BACKOFF_CAP_SECONDS = 300.0
ACK_YIELD_SECONDS = 0.25  # longest a worker waits for Slack's pending acks before a job


class JobRunner:
    """Claims due jobs from the database and runs them on a few threads."""

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
        self._threads = threads
        self._lease = timedelta(seconds=lease_seconds)
        self._poll = poll_seconds
        self._sweep = sweep_seconds
        self.owner = f"worker-{uuid.uuid4().hex[:12]}"
        self._stop = threading.Event()
        self._running: set[int] = set()
        self._running_lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def start(self) -> None:
        """Start the worker, lease-keeping and expiry threads."""
        targets: list[tuple[str, Callable[[], None]]] = [
            (f"job-worker-{n}", self._work_loop) for n in range(self._threads)
        ]
        targets += [("job-lease-keeper", self._keep_leases), ("request-expiry", self._expire_loop)]
        for name, target in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._workers.append(thread)
        log.info("job runner %s started with %d threads", self.owner, self._threads)

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

    def run_once(self) -> bool:
        """Claim and run one due job; False when there was none."""
        now = self._deps.clock()
        with session_scope(self._deps.session_factory) as session:
            job = queries.claim_job(
                session=session, owner=self.owner, now=now, lease_until=now + self._lease
            )
            if job is None:
                return False
            context = JobContext(
                id=job.id,
                kind=JobKind(job.kind),
                request_id=job.request_id,
                payload=dict(job.payload),
                attempt=job.attempts,
            )
        with self._running_lock:
            self._running.add(context.id)
        try:
            self._execute(context)
        finally:
            with self._running_lock:
                self._running.discard(context.id)
        return True

    def _execute(self, job: JobContext) -> None:
        handler = HANDLERS[job.kind]
        try:
            handler(self._deps, job)
        except RetryLaterError as retry:
            self._retry(job, retry.delay, retry.reason)
        except GiveUpError as error:
            log.error("job %s (%s) gave up: %s", job.id, job.kind, error)
            self._finish(job, "dead", str(error))
        except Exception as error:  # a bug in one job must not stop the worker
            error_id = uuid.uuid4().hex[:8]
            log.exception("job %s (%s) failed unexpectedly (error %s)", job.id, job.kind, error_id)
            if job.attempt >= UNEXPECTED_ERROR_ATTEMPTS:
                self._finish(job, "dead", f"{type(error).__name__} (error {error_id})")
            else:
                self._retry(job, 2.0**job.attempt, f"{type(error).__name__} (error {error_id})")
        else:
            self._finish(job, "done", None)

    def _retry(self, job: JobContext, delay: float, reason: str) -> None:
        kibana_work = job.kind in {JobKind.PROVISION, JobKind.TEST_CONNECTOR}
        if not kibana_work:
            # Slack messages back off exponentially (Kibana work has its own policy), so a
            # Slack outage of several minutes delays them instead of losing them.
            delay = max(delay, min(2.0 ** (job.attempt - 1), NOTIFY_BACKOFF_CAP_SECONDS))
        if job.attempt >= self._deps.policy.notify_max_attempts and not kibana_work:
            log.error(
                "job %s (%s) dropped after %d attempts: %s", job.id, job.kind, job.attempt, reason
            )
            self._finish(job, "dead", reason)
            return
        log.info(
            "job %s (%s) attempt %d: retry in %.1f s (%s)",
            job.id,
            job.kind,
            job.attempt,
            delay,
            reason,
        )
        with session_scope(self._deps.session_factory) as session:
            queries.reschedule_job(
                session=session,
                job_id=job.id,
                run_after=self._deps.clock() + timedelta(seconds=delay),
                error=reason[:2000],
            )

    def _finish(self, job: JobContext, status: str, error: str | None) -> None:
        with session_scope(self._deps.session_factory) as session:
            queries.finish_job(session=session, job_id=job.id, status=status, error=error)

    def _work_loop(self) -> None:
        while not self._stop.is_set():
            # Jobs can wait a moment; Slack's acknowledgements cannot.
            self._deps.ack_gate.wait_quiet(ACK_YIELD_SECONDS)
            try:
                ran = self.run_once()
            except Exception:  # e.g. the database is briefly down: keep going
                log.exception("could not claim a job")
                ran = False
            if not ran:
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
                purged = self.purge_finished_jobs()
            except Exception:  # the database may be briefly away: try at the next sweep
                log.exception("could not expire requests or purge jobs")
                continue
            if expired or purged:
                log.info("expired %d pending requests, purged %d finished jobs", expired, purged)

    def purge_finished_jobs(self) -> int:
        """Forget jobs done more than a week ago; the audit trail keeps what happened."""
        cutoff = self._deps.clock() - FINISHED_JOBS_KEPT
        with session_scope(self._deps.session_factory) as session:
            return queries.purge_finished_jobs(session=session, finished_before=cutoff)
