"""Benchmark: a scheduled re-test run over many managed connectors, and what it does to the
acks of slash commands arriving meanwhile.

Run from the repository root (everything binds to and connects to 127.0.0.1 only)::

    .venv/bin/python -m scripts.bench_retests
    .venv/bin/python -m scripts.bench_retests --database postgres \\
        --postgres-url postgresql://postgres@127.0.0.1:5432/test

What it does, in one process:

* starts the fake Slack and Kibana, a database and the real bot (``tests.harness.BotHarness``:
  real WSGI server, real workers with the default WORKER_THREADS=4 and LIFECYCLE_CONCURRENCY=4);
* seeds ``--connectors`` connectors in the fake Kibana and in the inventory, all due now
  (``.bedrock`` by default: one ``_execute`` per test; ``--kind gen-ai`` adds the invokeAI
  second check, two calls per test);
* idle: ``--rounds`` bursts of ``--commands`` concurrent slash commands (each opens the form:
  ``views.open`` on the fake Slack), timed from send to the full HTTP response;
* puts reconciliation and the digest a day away (only the re-tests are measured), makes
  every ``_execute`` answer after ``--kibana-delay`` seconds, runs the lifecycle sweep
  (the same call the bot's sweep thread makes: it claims and queues every due re-test), and
  while the re-tests run fires the same bursts (one every ``--pause`` s); the run ends when
  every row has its result;
* prints the run's total time, Kibana ``_execute`` calls per second, the peak of calls in
  flight (the per-target limit) and the ack p50/p99/max idle and during the run.

Percentiles are nearest-rank (see scripts/bench_ack.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bot` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from bot.db import lifecycle_queries as lq
from bot.db.models import ManagedConnector
from bot.db.session import session_scope
from bot.services.lifecycle.reconcile import DIGEST_TASK, RECONCILE_TASK
from bot.services.lifecycle.schedule import run_lifecycle_sweep
from scripts.bench_ack import (
    SLASH_COMMAND,
    Load,
    Sample,
    database,
    percentile,
    progress,
    scrub_environment,
    slash_commands,
    start_fakes,
)
from tests.harness import BotHarness, make_settings
from tests.integration.lifecycle_support import seed_managed

DAY = timedelta(days=1)


def _tested(bot: BotHarness) -> int:
    with session_scope(bot.deps.session_factory) as session:
        return int(
            session.scalar(select(func.count()).where(ManagedConnector.last_test_at.is_not(None)))
            or 0
        )


def _summary(samples: Sequence[Sample]) -> str:
    ordered = sorted(sample.seconds * 1000 for sample in samples)
    bad = sum(1 for sample in samples if sample.status != 200)
    return (
        f"n={len(ordered)} p50 {percentile(ordered, 50):.1f} ms, p99 "
        f"{percentile(ordered, 99):.1f} ms, max {ordered[-1]:.1f} ms, non-200 {bad}"
    )


def _bursts(load: Load, bot: BotHarness, args: argparse.Namespace) -> list[Sample]:
    samples: list[Sample] = []
    for _ in range(args.rounds):
        burst = load.burst(bot.url, lambda: slash_commands(bot.slack, SLASH_COMMAND, args.commands))
        samples += burst.samples
        time.sleep(args.pause)
    return samples


def _wait_tested(bot: BotHarness, args: argparse.Namespace, finished: list[float]) -> None:
    deadline = time.perf_counter() + args.timeout
    while time.perf_counter() < deadline:
        if _tested(bot) >= args.connectors:
            finished.append(time.perf_counter())
            return
        time.sleep(0.05)
    progress("timed out")


def _watch_in_flight(bot: BotHarness, stop: threading.Event, peak: list[int]) -> None:
    while not stop.wait(0.01):
        held = [r for r in bot.kibana.requests_in_flight() if r.path.endswith("/_execute")]
        peak[0] = max(peak[0], len(held))


def run(args: argparse.Namespace) -> int:
    scrub_environment()
    logging.basicConfig(level=logging.WARNING)
    with ExitStack() as stack:
        slack, kibana = start_fakes(stack)
        url = stack.enter_context(database(args.database, args.postgres_url))
        settings = make_settings(
            url,
            slack,
            kibana,
            log_level="WARNING",
            lifecycle_sweep_seconds=3600.0,
            http_threads=32,
            kibana_timeout_seconds=30.0,
        )
        bot = BotHarness(settings=settings, slack=slack, kibana=kibana).start()
        stack.callback(bot.stop)
        progress(f"seeding {args.connectors} managed connectors…")
        seed_managed(bot, args.connectors, kind=args.kind)
        # Only the re-tests are measured: reconciliation and the digest wait (a fresh
        # database has them due at once).
        with session_scope(bot.deps.session_factory) as session:
            for task in (RECONCILE_TASK, DIGEST_TASK):
                lq.set_task_due(session=session, name=task, at=bot.deps.clock() + DAY)
        load = Load(args.commands)
        stack.callback(load.close)
        progress("idle bursts…")
        idle = _bursts(load, bot, args)
        kibana.set_delay(args.kibana_delay, path_contains="_execute")
        calls_before = sum(1 for r in kibana.requests if r.path.endswith("/_execute"))
        stop, peak = threading.Event(), [0]
        watcher = threading.Thread(target=_watch_in_flight, args=(bot, stop, peak), daemon=True)
        watcher.start()
        progress("re-test run…")
        started = time.perf_counter()
        queued = run_lifecycle_sweep(bot.deps).retests
        finished: list[float] = []
        done = threading.Thread(
            target=_wait_tested, args=(bot, args, finished), daemon=True, name="bench-done"
        )
        done.start()
        during: list[Sample] = []
        one_burst = argparse.Namespace(**{**vars(args), "rounds": 1})
        while done.is_alive():
            during += _bursts(load, bot, one_burst)
        total = (finished[0] if finished else time.perf_counter()) - started
        stop.set()
        watcher.join(1)
        kibana.set_delay(0, path_contains="_execute")
        calls = sum(1 for r in kibana.requests if r.path.endswith("/_execute")) - calls_before
        tested = _tested(bot)
    lifecycle = settings.lifecycle_concurrency
    print(
        f"database: {args.database}; connectors: {args.connectors} ({args.kind}); "
        f"Kibana _execute delay {args.kibana_delay * 1000:.0f} ms; "
        f"WORKER_THREADS {settings.worker_threads}, LIFECYCLE_CONCURRENCY {lifecycle}"
    )
    print(f"re-tests queued by one sweep: {queued}; tested: {tested}")
    print(
        f"re-test run: {total:.1f} s total, {calls} Kibana calls, {calls / total:.1f} calls/s, "
        f"peak {peak[0]} calls in flight"
    )
    print(f"slash-command acks idle:        {_summary(idle)}")
    print(f"slash-command acks during run:  {_summary(during)}")
    return 0 if tested == args.connectors else 1


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--connectors", type=int, default=1000)
    parser.add_argument("--kind", choices=["bedrock", "gen-ai"], default="bedrock")
    parser.add_argument("--kibana-delay", type=float, default=0.2)
    parser.add_argument("--commands", type=int, default=50, help="concurrent slash commands")
    parser.add_argument("--rounds", type=int, default=6, help="idle bursts")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between bursts")
    parser.add_argument("--timeout", type=float, default=900.0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
