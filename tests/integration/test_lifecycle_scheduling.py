"""Lifecycle work is scheduled from the database: claimed once across replicas, retaken after
a killed replica's lease, limited per target, and kept out of the way of Slack's acks."""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import ExitStack
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db import lifecycle_queries as lq
from bot.db.models import Job, ManagedConnector
from bot.db.session import session_scope
from bot.domain.enums import JobKind, JobStatus
from bot.services.jobs import Lane
from bot.services.lifecycle.schedule import run_lifecycle_sweep
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.harness import BotHarness, make_settings, reference_from, running_bot, wait_until
from tests.integration.lifecycle_support import VALUES, lifecycle_bot, seed_managed


def _retest_jobs(bot: BotHarness) -> list[Job]:
    with session_scope(bot.deps.session_factory) as session:
        jobs = list(session.scalars(select(Job).where(Job.kind == JobKind.RETEST.value)))
        for job in jobs:
            session.expunge(job)
        return jobs


def _tested(bot: BotHarness) -> int:
    with session_scope(bot.deps.session_factory) as session:
        rows = session.scalars(select(ManagedConnector.last_test_at))
        return sum(1 for at in rows if at is not None)


def _executes(kibana: FakeKibana) -> Counter[str]:
    return Counter(
        request.path.split("/connector/")[1].split("/")[0]
        for request in kibana.requests
        if request.path.endswith("/_execute")
    )


def _is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def test_two_replicas_never_run_the_same_retest_twice(
    database_url: str, slack: FakeSlack, kibana: FakeKibana
) -> None:
    if not _is_postgres(database_url):
        pytest.skip("replicas share PostgreSQL; one process owns a SQLite database")
    settings = make_settings(database_url, slack, kibana, lifecycle_sweep_seconds=3600.0)
    with ExitStack() as stack:
        first = stack.enter_context(running_bot(settings, slack, kibana))
        second = stack.enter_context(running_bot(settings, slack, kibana))
        ids = seed_managed(first, 24)
        sweeps = [
            threading.Thread(target=run_lifecycle_sweep, args=(bot.deps,))
            for bot in (first, second, first, second)
        ]
        for thread in sweeps:
            thread.start()
        for thread in sweeps:
            thread.join(30)
        wait_until(lambda: _tested(first) == len(ids), timeout=30, what="every re-test")
        first.wait_idle()
        second.wait_idle()
        jobs = _retest_jobs(first)
        per_row = Counter(job.payload["managed_id"] for job in jobs)
        assert len(per_row) == len(ids)
        assert set(per_row.values()) == {1}
        assert {job.status for job in jobs} == {JobStatus.DONE.value}
        owners = {job.lease_owner for job in jobs}  # cleared when done
        assert owners == {None}
        calls = _executes(kibana)
        assert set(calls) == set(ids)
        assert len(set(calls.values())) == 1  # every connector tested exactly as often


def test_a_retest_leased_by_a_killed_replica_is_retaken_after_its_lease(
    database_url: str, slack: FakeSlack, kibana: FakeKibana
) -> None:
    settings = make_settings(database_url, slack, kibana, lifecycle_sweep_seconds=3600.0)
    with running_bot(settings, slack, kibana, workers=False) as bot:
        (connector_id,) = seed_managed(bot, 1)
        assert run_lifecycle_sweep(bot.deps).retests == 1
        now = bot.deps.clock()
        with session_scope(bot.deps.session_factory) as session:
            dead = lq.claim_limited_job(
                session=session,
                owner="worker-killed",
                now=now,
                lease_until=now + timedelta(minutes=5),
                kinds={JobKind.RETEST},
                limit=4,
            )
            assert dead is not None
            job_id = dead.id
        runner = bot.runtime.runner  # type: ignore[union-attr]
        while runner.run_once(Lane.LIFECYCLE):  # other lifecycle work (the reconciliation)
            pass
        assert _tested(bot) == 0  # the killed replica's re-test is still leased to it
        with session_scope(bot.deps.session_factory) as session:
            job = session.get(Job, job_id)
            assert job is not None
            job.lease_expires_at = now - timedelta(seconds=1)  # the lease ran out
        assert runner.run_once(Lane.LIFECYCLE) is True
        with session_scope(bot.deps.session_factory) as session:
            job = session.get(Job, job_id)
            assert job is not None
            assert (job.status, job.attempts) == (JobStatus.DONE.value, 2)
        assert _tested(bot) == 1
        assert _executes(kibana)[connector_id] >= 1
        # Nothing is due any more: the next re-test is a day away.
        assert run_lifecycle_sweep(bot.deps).retests == 0


def test_retests_are_limited_per_target_across_replicas(
    database_url: str, slack: FakeSlack, kibana: FakeKibana
) -> None:
    limit = 2
    replicas = 2 if _is_postgres(database_url) else 1
    settings = make_settings(
        database_url,
        slack,
        kibana,
        lifecycle_sweep_seconds=3600.0,
        lifecycle_concurrency=limit,
        worker_threads=4,
    )
    with ExitStack() as stack:
        bots = [stack.enter_context(running_bot(settings, slack, kibana)) for _ in range(replicas)]
        # More lifecycle threads than the limit in total: the claim query enforces it.
        ids = seed_managed(bots[0], 10)
        kibana.set_delay(0.15, path_contains="_execute")
        peak = 0
        run_lifecycle_sweep(bots[0].deps)
        deadline = time.monotonic() + 60
        while _tested(bots[0]) < len(ids) and time.monotonic() < deadline:
            peak = max(peak, len([r for r in kibana.requests_in_flight() if "_execute" in r.path]))
            time.sleep(0.01)
        kibana.set_delay(0, path_contains="_execute")
        assert _tested(bots[0]) == len(ids)
        assert 1 <= peak <= limit


def test_slow_retests_do_not_delay_acks_or_new_cards(
    database_url: str, slack: FakeSlack, kibana: FakeKibana
) -> None:
    with lifecycle_bot(database_url, slack, kibana) as bot:
        seed_managed(bot, 40)
        kibana.set_delay(2.0, path_contains="_execute")
        try:
            run_lifecycle_sweep(bot.deps)
            wait_until(kibana.requests_in_flight, what="re-tests under way")
            started = time.monotonic()
            response = bot.command("help")
            assert response.status_code == 200
            assert time.monotonic() - started < 1.0
            started = time.monotonic()
            reference = reference_from(bot.request_via_form({**VALUES, "name": "During"}))
            bot.card_for(reference)
            assert time.monotonic() - started < 5.0
            assert len(kibana.requests_in_flight()) >= 1  # the re-tests were still held
        finally:
            kibana.set_delay(0, path_contains="_execute")


def test_the_bots_own_sweep_finds_due_retests(
    database_url: str, slack: FakeSlack, kibana: FakeKibana
) -> None:
    with lifecycle_bot(database_url, slack, kibana, lifecycle_sweep_seconds=0.1) as bot:
        ids = seed_managed(bot, 3)
        wait_until(lambda: _tested(bot) == len(ids), what="the sweep thread's re-tests")
        bot.wait_idle()
        assert len(_retest_jobs(bot)) == len(ids)
