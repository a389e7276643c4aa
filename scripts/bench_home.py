"""Benchmark: building an approver's App Home over a large history, on SQLite and PostgreSQL.

Run from the repository root (everything binds to and connects to 127.0.0.1 only)::

    .venv/bin/python -m scripts.bench_home
    .venv/bin/python -m scripts.bench_home --database postgres \\
        --postgres-url postgresql://postgres@127.0.0.1:5432/test

What it does:

* builds the real bot (``bot.runtime.build_runtime``: migrations, engine, session factory,
  policy) against a fresh database (a SQLite file in a temporary directory, or a PostgreSQL
  schema of its own, dropped at the end), with the fake Slack and Kibana only so that the
  runtime can be built (nothing is called on them);
* seeds it with bulk inserts: ``--requests`` requests (100,000) from 2,000 requesters over two
  years, in every state (about 2 % pending, 1 % under way, 65 % created and tested, the rest
  rejected, cancelled, expired, failed or delivered), a decision for each decided one, and
  ``--audit-events`` audit events (1,000,000) spread over them. The approver measured also asks
  for connectors of their own (300 requests, some open, many tested). Then ``ANALYZE`` (on
  PostgreSQL ``VACUUM ANALYZE``, as autovacuum would);
* times ``bot.services.home.home_content`` for that approver (every section: their open
  requests, the pending queue, their connectors, the last 20 decisions) and, separately, the
  same plus rendering the Home view (``build_home_view(...).to_dict()``, what views.publish
  sends), ``--runs`` times after 3 warm-up runs, and prints p50/p95/max;
* prints the plan of every statement the Home build ran (``EXPLAIN QUERY PLAN`` on SQLite,
  ``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL), so the index each one uses is visible.

Wall-clock time includes waiting for the CPU when the machine is busy (the load average is
printed) and, on PostgreSQL, the server's work; CPU time is the bot's own thread only. The exit
status is 1 when the wall-clock p95 of the full build exceeds ``--budget-ms`` (100 ms).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bot` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.fernet import Fernet
from sqlalchemy import Connection, create_engine, event, insert, text
from sqlalchemy.engine import make_url

from bot.db.models import ApprovalDecision, AuditEvent, ConnectorRequest, ManagedConnector
from bot.db.session import session_scope
from bot.domain.enums import RequestStatus
from bot.runtime import build_runtime
from bot.services import home
from bot.slack.views.home import build_home_view
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.harness import APPROVER, make_settings

S = RequestStatus
START = datetime(2025, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
REQUESTERS = 2000
OWN_REQUESTS = 300  # the approver's own
CHUNK = 10_000
# (status, share of the requests): pending is what an approver's queue holds.
MIX: list[tuple[RequestStatus, float]] = [
    (S.PENDING, 0.02),
    (S.APPROVED, 0.002),
    (S.PROVISIONING, 0.004),
    (S.PROVISIONED, 0.004),
    (S.TESTED_OK, 0.60),
    (S.TEST_FAILED, 0.05),
    (S.REJECTED, 0.12),
    (S.CANCELLED, 0.05),
    (S.EXPIRED, 0.10),
    (S.FAILED, 0.03),
    (S.DELIVERED, 0.02),
]
DECIDED = {S.APPROVED, S.PROVISIONING, S.PROVISIONED, S.TESTED_OK, S.TEST_FAILED, S.FAILED}
AUDIT_ACTIONS = ["submitted", "approved", "provisioning_started", "provisioned", "tested"]
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def reference(number: int) -> str:
    digits = []
    for _ in range(6):
        number, digit = divmod(number, len(ALPHABET))
        digits.append(ALPHABET[digit])
    return "REQ-" + "".join(reversed(digits))


def status_of(number: int) -> RequestStatus:
    """A deterministic state with the shares of MIX (by the request's number)."""
    point = (number * 7919 % 100_000) / 100_000
    total = 0.0
    for status, share in MIX:
        total += share
        if point < total:
            return status
    return S.TESTED_OK


def own_status(index: int) -> RequestStatus:
    """The approver's own requests (``index``-th of them): a few open, many tested."""
    if index % 20 == 0:
        return S.PENDING
    cycle = [S.PROVISIONING, S.TESTED_OK, S.TESTED_OK, S.TEST_FAILED, S.REJECTED, S.EXPIRED]
    return cycle[index % len(cycle)]


def request_rows(count: int) -> Iterator[dict[str, Any]]:
    for number in range(1, count + 1):
        step = max(1, count // OWN_REQUESTS)
        own = number % step == 0
        status = own_status(number // step) if own else status_of(number)
        created = START + SPAN * (number / count)
        # Pending requests are recent (they expire after days); the rest ended after a while.
        if status is S.PENDING:
            created = START + SPAN - timedelta(hours=number % 48)
        finished = created + timedelta(hours=2) if status not in DECIDED - {S.FAILED} else None
        if status in {S.TESTED_OK, S.TEST_FAILED, S.FAILED, S.DELIVERED}:
            finished = created + timedelta(minutes=30)
        decided = status in DECIDED or status in {S.REJECTED, S.DELIVERED}
        tested = status in {S.TESTED_OK, S.TEST_FAILED}
        yield {
            "id": number,
            "reference": reference(number),
            "status": status.value,
            "provider": "openai",
            "connector_type_id": ".gen-ai",
            "connector_name": f"Team connector {number}",
            "space_id": "default" if number % 3 else "security",
            "kibana_connector_id": f"llm-bench-{number:08d}",
            "config": {"apiProvider": "OpenAI", "defaultModel": "gpt-4.1"},
            "settings": None,
            "backend": "connector",
            "backend_reason": None,
            "secrets_ciphertext": None,
            "justification": "Security AI Assistant for the SOC team, benchmark history",
            "warnings": [],
            "requested_by_slack_id": APPROVER if own else f"UBENCH{number % REQUESTERS:05d}",
            "card_channel": "CAPPROVALS",
            "card_ts": f"1700000000.{number:06d}",
            "decided_by_slack_id": "UAPPROVER2" if decided else None,
            "decided_at": created + timedelta(minutes=20) if decided else None,
            "decision_reason": "not this provider" if status is S.REJECTED else None,
            "result": (
                {"stage": "test", "ok": status is S.TESTED_OK, "duration_ms": 850, "message": None}
                if tested
                else None
            ),
            "failure_message": None,
            "created_at": created,
            "updated_at": finished or created,
            "expires_at": created + timedelta(days=3),
            "finished_at": finished,
        }


def managed_rows(count: int) -> Iterator[dict[str, Any]]:
    for row in request_rows(count):
        if row["status"] not in {S.TESTED_OK.value, S.TEST_FAILED.value}:
            continue
        ok = row["status"] == S.TESTED_OK.value
        yield {
            "target": "default",
            "space_id": row["space_id"],
            "resource_id": row["kibana_connector_id"],
            "backend": "connector",
            "type_id": ".gen-ai",
            "name": row["connector_name"],
            "provider": "openai",
            "model": "gpt-4.1",
            "owner_slack_id": row["requested_by_slack_id"],
            "approvers": ["UAPPROVER2"],
            "request_id": row["id"],
            "thread_channel": row["card_channel"],
            "thread_ts": row["card_ts"],
            "created_at": row["finished_at"],
            "updated_at": row["finished_at"],
            "state": "active" if ok or row["id"] % 2 else "failing",
            "last_test_at": row["finished_at"],
            "last_test_ok": ok,
            "last_test_latency_ms": 850,
            "consecutive_failures": 0 if ok else 2,
            "next_test_at": row["finished_at"] + timedelta(days=1),
            "retest_every_seconds": 86400,
            "failing_after": 2,
            "settings_snapshot": row["config"],
            "version": 1,
        }


def insert_chunks(
    connection: Connection, table: Any, rows: Iterator[dict[str, Any]], what: str
) -> int:
    total = 0
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            connection.execute(insert(table), chunk)
            total += len(chunk)
            chunk = []
            if total % (CHUNK * 20) == 0:
                progress(f"  {total:,} {what}")
    if chunk:
        connection.execute(insert(table), chunk)
        total += len(chunk)
    return total


def seed(connection: Connection, *, requests: int, audit_events: int) -> dict[str, int]:
    progress(f"seeding {requests:,} requests")
    decisions: list[dict[str, Any]] = []

    def requests_and_decisions() -> Iterator[dict[str, Any]]:
        for row in request_rows(requests):
            if row["decided_at"] is not None:
                decisions.append(
                    {
                        "request_id": row["id"],
                        "decision": "rejected" if row["status"] == "rejected" else "approved",
                        "decided_by_slack_id": row["decided_by_slack_id"],
                        "reason": row["decision_reason"],
                        "decided_at": row["decided_at"],
                    }
                )
            yield row

    counts = {
        "requests": insert_chunks(
            connection, ConnectorRequest.__table__, requests_and_decisions(), "requests"
        )
    }
    counts["decisions"] = insert_chunks(
        connection, ApprovalDecision.__table__, iter(decisions), "decisions"
    )
    # Every created and tested connector is in the inventory (Home's "Your connectors").
    counts["managed connectors"] = insert_chunks(
        connection, ManagedConnector.__table__, managed_rows(requests), "managed connectors"
    )
    progress(f"seeding {audit_events:,} audit events")

    def events() -> Iterator[dict[str, Any]]:
        for number in range(audit_events):
            request_id = number % requests + 1
            yield {
                "request_id": request_id,
                "actor_slack_id": f"UBENCH{request_id % REQUESTERS:05d}",
                "action": AUDIT_ACTIONS[number // requests % len(AUDIT_ACTIONS)],
                "detail": {},
                "created_at": START + SPAN * (request_id / requests),
            }

    counts["audit events"] = insert_chunks(
        connection, AuditEvent.__table__, events(), "audit events"
    )
    return counts


@contextmanager
def database(kind: str, postgres_url: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench-home.sqlite3'}"
        return
    admin_url = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"bench_home_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(admin_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def timed(runs: int, work: Callable[[], object]) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU (this thread's) milliseconds of each run, sorted."""
    for _ in range(3):
        work()
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.thread_time()
        work()
        cpu.append((time.thread_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    return sorted(wall), sorted(cpu)


def percentile(ordered: Sequence[float], p: float) -> float:
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(name: str, samples: Sequence[float]) -> str:
    return (
        f"{name:<34} p50 {statistics.median(samples):7.2f} ms   p95 "
        f"{percentile(samples, 95):7.2f} ms   max {samples[-1]:7.2f} ms   ({len(samples)} runs)"
    )


def explain(connection: Connection, dialect: str, statement: str, parameters: Any) -> str:
    if dialect == "sqlite":
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return "\n".join(f"    {row[-1]}" for row in rows)
    rows = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
    return "\n".join(f"    {row[0]}" for row in rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--audit-events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--budget-ms", type=float, default=100.0)
    args = parser.parse_args(argv)

    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = stack.enter_context(database(args.database, args.postgres_url, workdir))
        slack = stack.enter_context(FakeSlack())
        kibana = stack.enter_context(FakeKibana())
        runtime = build_runtime(make_settings(url, slack, kibana), [Fernet.generate_key()])
        stack.callback(runtime.close)
        deps = runtime.deps
        started = time.perf_counter()
        with deps.engine.begin() as connection:
            counts = seed(connection, requests=args.requests, audit_events=args.audit_events)
        # What autovacuum would have done by then: statistics, and (on PostgreSQL) the
        # visibility map that lets counts read an index only.
        with deps.engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql(
                "VACUUM ANALYZE" if url.startswith("postgresql") else "ANALYZE"
            )
        progress(f"seeded in {time.perf_counter() - started:.0f} s: {counts}")

        def content() -> object:
            with session_scope(deps.session_factory) as session:
                return home.home_content(deps, session, APPROVER, None)

        def rendered() -> object:
            with session_scope(deps.session_factory) as session:
                built = home.home_content(deps, session, APPROVER, None)
            return build_home_view(built).to_dict()

        with session_scope(deps.session_factory) as session:
            shown = home.home_content(deps, session, APPROVER, None)
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        query_samples = timed(args.runs, content)
        full_samples = timed(args.runs, rendered)

        statements: list[tuple[str, Any]] = []

        def record(*arguments: Any) -> None:
            # before_cursor_execute(conn, cursor, statement, parameters, context, executemany)
            statements.append((arguments[2], arguments[3]))

        event.listen(deps.engine, "before_cursor_execute", record)
        content()
        event.remove(deps.engine, "before_cursor_execute", record)

        dialect = deps.engine.dialect.name
        print(f"App Home of an approver, {dialect}: {counts}")
        print(
            f"  shown: {len(shown.open_requests.items)} of {shown.open_requests.total} open, "
            f"{len(shown.awaiting.items)} of {shown.awaiting.total} waiting, "
            f"{len(shown.connectors.items)} of {shown.connectors.total} connectors, "
            f"{len(shown.decisions)} decisions"
        )
        print(f"  load average before timing: {load}")
        print("  " + summary("queries (home_content), wall", query_samples[0]))
        print("  " + summary("queries (home_content), CPU", query_samples[1]))
        print("  " + summary("queries + view, wall", full_samples[0]))
        print("  " + summary("queries + view, CPU", full_samples[1]))
        print(f"  plans of the {len(statements)} statements:")
        with deps.engine.connect() as connection:
            for statement, parameters in statements:
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                print("  " + " ".join(statement.split())[:400])
                print(explain(connection, dialect, statement, parameters))
        over = percentile(full_samples[0], 95) > args.budget_ms
        if over:
            print(f"  OVER BUDGET: p95 above {args.budget_ms} ms")
        return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
