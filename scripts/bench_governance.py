"""Benchmark: the governance reads on a long history (issue 8's performance goal).

Seed a database first (``scripts.seed_history``: 100,000 requests, 1,000,000 audit events),
then run from the repository root::

    DATABASE_URL=sqlite:////tmp/history.sqlite3 .venv/bin/python -m scripts.bench_governance
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench \\
        .venv/bin/python -m scripts.bench_governance --runs 30

Each case calls the bot's own service functions (no HTTP from Slack) through a real runtime
built on that database, with the fake Slack and Kibana of the tests on 127.0.0.1 for what
the services call out to. It prints, per case, the median, p95 and worst wall time over
``--runs`` calls (after one warm-up) and the median CPU time of the calling thread (the bot's
own work, which a busy machine's other processes don't inflate), then the query plan (SQLite
``EXPLAIN QUERY PLAN``, PostgreSQL ``EXPLAIN``) of every SELECT the case ran, so index use can
be read. Exit status 1 when a case's median wall time is over ``--budget-ms`` (100 ms).

A new case is one function taking a ``Bench`` and added to ``CASES``.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import Engine, event, func, select

from bot.config import normalise_database_url
from bot.db import queries
from bot.db.models import AuditEvent, ConnectorRequest
from bot.db.session import session_scope
from bot.deps import Deps
from bot.domain.audit import parse_range
from bot.domain.targets import DEFAULT_TARGET
from bot.runtime import Runtime, build_runtime
from bot.services import audit, catalog, requests
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.harness import APPROVER, make_settings

LISTED_CONNECTORS = 100


@dataclass
class Bench:
    """What cases use: the bot's dependencies and a random choice of seeded rows."""

    deps: Deps
    rng: random.Random
    request_count: int
    day: str  # a seeded day (YYYY-MM-DD) in the middle of the history

    def any_reference(self) -> str:
        with session_scope(self.deps.session_factory) as session:
            number = self.rng.randrange(1, self.request_count + 1)
            row = queries.get_request(session=session, request_id=number)
            assert row is not None  # noqa: S101 - ids are dense in a seeded database
            return row.reference


def case_list(bench: Bench) -> Callable[[], None]:
    """`/llm-connector list`: Kibana's connectors of a space, marked when the bot made them."""

    def run() -> None:
        catalog.list_resources(bench.deps, target=DEFAULT_TARGET, space_id="default")

    return run


def case_status(bench: Bench) -> Callable[[], None]:
    """`/llm-connector status REQ-…` by an approver: the request and its history."""

    def run() -> None:
        requests.request_history(bench.deps, reference=bench.any_reference(), viewer=APPROVER)

    return run


def case_audit_day(bench: Bench) -> Callable[[], None]:
    """The audit export of one day, every line built (JSON Lines into memory)."""
    period = parse_range(bench.day, bench.day)

    def run() -> None:
        audit.write_jsonl(bench.deps.session_factory, period, io.StringIO())

    return run


CASES: dict[str, Callable[[Bench], Callable[[], None]]] = {
    "list": case_list,
    "status": case_status,
    "audit export (1 day)": case_audit_day,
}


@dataclass
class Recorder:
    """The SELECT statements run on the engine while ``capturing``."""

    capturing: bool = False
    statements: list[tuple[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, engine: Engine) -> None:
        @event.listens_for(engine, "before_cursor_execute")
        def _seen(
            _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool
        ) -> None:
            if self.capturing and statement.lstrip().upper().startswith("SELECT"):
                with self.lock:
                    self.statements.append((statement, parameters))

    @contextmanager
    def capture(self) -> Iterator[list[tuple[str, Any]]]:
        self.statements = []
        self.capturing = True
        try:
            yield self.statements
        finally:
            self.capturing = False


def explain(engine: Engine, statement: str, parameters: Any) -> list[str]:
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(prefix + statement, parameters).all()
    if engine.dialect.name == "sqlite":
        return [f"    {row[-1]}" for row in rows]
    return [f"    {row[0]}" for row in rows]


def percentile(ordered: list[float], p: float) -> float:
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@contextmanager
def runtime_on(database_url: str) -> Iterator[Runtime]:
    with ExitStack() as stack:
        slack = stack.enter_context(FakeSlack())
        kibana = stack.enter_context(FakeKibana(spaces=("default",)))
        for n in range(LISTED_CONNECTORS):
            # Half of them are the bot's (their ids are stored on seeded requests).
            connector_id = f"llm-seeded-{n * 5}" if n % 2 == 0 else f"hand-made-{n}"
            kibana.add_connector(
                "default",
                connector_id,
                {
                    "name": f"Connector {n}",
                    "connector_type_id": ".gen-ai",
                    "config": {
                        "apiProvider": "OpenAI",
                        "apiUrl": "https://api.openai.com/v1/chat/completions",
                        "defaultModel": "gpt-4.1",
                    },
                    "secrets": {"apiKey": "sk-bench"},
                },
            )
        settings = make_settings(database_url, slack, kibana, log_level="WARNING")
        runtime = build_runtime(settings, [Fernet.generate_key()])
        try:
            yield runtime
        finally:
            runtime.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--budget-ms", type=float, default=100.0)
    parser.add_argument("--no-explain", action="store_true")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.stderr.write("bench_governance: set DATABASE_URL (seeded by scripts.seed_history)\n")
        return 2
    over = []
    with runtime_on(normalise_database_url(url)) as runtime:
        deps = runtime.deps
        recorder = Recorder()
        recorder.attach(runtime.engine)
        with session_scope(deps.session_factory) as session:
            count = int(session.scalar(select(func.count()).select_from(ConnectorRequest)) or 0)
            first = session.scalar(select(func.min(ConnectorRequest.created_at)))
            last = session.scalar(select(func.max(ConnectorRequest.created_at)))
            events = int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)
        if not count or first is None or last is None:
            sys.stderr.write("bench_governance: the database has no requests; seed it first\n")
            return 2
        middle: datetime = first + (last - first) / 2
        day = middle.astimezone(UTC).date().isoformat()
        in_day = sum(1 for _ in audit.records(deps.session_factory, parse_range(day, day)))
        bench = Bench(deps=deps, rng=random.Random(7), request_count=count, day=day)
        print(
            f"{runtime.engine.dialect.name}: {count} requests, {events} audit events; "
            f"audit day {day} has {in_day} events; {args.runs} runs per case"
        )
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{'case':<24} {'median ms':>10} {'p95 ms':>10} {'max ms':>10} {'cpu ms':>10}")
        plans: dict[str, list[tuple[str, Any]]] = {}
        for name, build in CASES.items():
            run = build(bench)
            with recorder.capture() as seen:
                run()  # warm-up; its statements are the ones explained
            plans[name] = list(dict.fromkeys((s, _hashable(p)) for s, p in seen))
            timings, cpu = [], []
            for _ in range(args.runs):
                started, started_cpu = time.perf_counter(), time.thread_time()
                run()
                timings.append((time.perf_counter() - started) * 1000)
                cpu.append((time.thread_time() - started_cpu) * 1000)
            ordered = sorted(timings)
            median = statistics.median(ordered)
            print(
                f"{name:<24} {median:>10.1f} {percentile(ordered, 95):>10.1f} "
                f"{ordered[-1]:>10.1f} {statistics.median(cpu):>10.1f}"
            )
            if median > args.budget_ms:
                over.append(name)
        if not args.no_explain:
            for name, statements in plans.items():
                print(f"\n== {name}: query plans")
                for statement, parameters in statements:
                    print("  " + " ".join(statement.split())[:300])
                    for line in explain(runtime.engine, statement, _unhashable(parameters)):
                        print(line)
    if over:
        print(f"\nover {args.budget_ms:.0f} ms: {', '.join(over)}")
        return 1
    return 0


def _hashable(parameters: Any) -> Any:
    if isinstance(parameters, dict):
        return ("dict", tuple(sorted(parameters.items())))
    return ("tuple", tuple(parameters))


def _unhashable(parameters: Any) -> Any:
    kind, values = parameters
    return dict(values) if kind == "dict" else tuple(values)


if __name__ == "__main__":
    sys.exit(main())
