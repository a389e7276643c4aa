"""Benchmark: finding due reminders among 10,000 pending requests, on SQLite and PostgreSQL.

Run from the repository root (PostgreSQL on 127.0.0.1 only; a fresh schema is made and
dropped)::

    .venv/bin/python -m scripts.bench_reminders
    .venv/bin/python -m scripts.bench_reminders --database sqlite --pending 10000

For each database it migrates an empty one, bulk-inserts ``--pending`` pending requests (one in
``--due-every`` has its next reminder in the past, the others within the next week) and as many
finished ones (whose schedule must not be read), runs ANALYZE, then times the sweep's
due-reminder query (`bot.db.nudges.due_nudges`, at most 500 rows) ``--runs`` times on one
connection and prints p50/p99/max in milliseconds, the rows found, and the database's plan.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from bot.db import nudges
from bot.db.base import utcnow
from bot.db.migrate import upgrade_database
from bot.db.models import ConnectorRequest
from bot.db.session import make_engine, make_session_factory, session_scope

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def database(kind: str, postgres_url: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def rows(count: int, *, status: str, due_every: int, offset: int) -> list[dict[str, Any]]:
    now = utcnow()
    out = []
    for n in range(count):
        due = n % due_every == 0
        nudge = (
            now - timedelta(seconds=n % 3600 + 1) if due else now + timedelta(minutes=n % 10080 + 1)
        )
        out.append(
            {
                "reference": f"REQ-{offset + n:08d}",
                "status": status,
                "provider": "openai",
                "connector_type_id": ".gen-ai",
                "connector_name": f"bench {offset + n}",
                "space_id": "default",
                "config": {"apiProvider": "OpenAI", "defaultModel": "gpt-4.1"},
                "justification": "benchmark",
                "warnings": [],
                "requested_by_slack_id": "UBENCH0001",
                "created_at": now - timedelta(hours=5),
                "updated_at": now,
                "expires_at": now + timedelta(days=7),
                "reminder_plan": {"after": 14400, "repeat": 86400, "approvers": ["U1"]},
                "next_nudge_at": nudge,
                "reminders_sent": 0,
            }
        )
    return out


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def bench(kind: str, args: argparse.Namespace) -> None:
    with database(kind, args.postgres_url) as url:
        engine = make_engine(url)
        upgrade_database(engine)
        factory = make_session_factory(engine)
        started = time.perf_counter()
        with session_scope(factory) as session:
            for status, offset in (("pending", 0), ("tested_ok", args.pending)):
                batch = rows(args.pending, status=status, due_every=args.due_every, offset=offset)
                session.execute(insert(ConnectorRequest), batch)
        seeded = time.perf_counter() - started
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
        timings: list[float] = []
        found = 0
        with session_scope(factory) as session:  # one connection: the query, not the pool
            for _ in range(args.runs):
                begin = time.perf_counter()
                found = len(nudges.due_nudges(session=session, now=utcnow()))
                timings.append((time.perf_counter() - begin) * 1000)
        with session_scope(factory) as session:
            plan = nudges.explain_due_nudges(session=session, now=utcnow())
        engine.dispose()
    print(f"== {kind}: {args.pending} pending + {args.pending} finished requests")
    print(f"seeded in {seeded:.2f} s; due rows found per query: {found}")
    print(
        f"due-reminder query over {args.runs} runs: p50 {percentile(timings, 50):.2f} ms, "
        f"p99 {percentile(timings, 99):.2f} ms, max {max(timings):.2f} ms"
    )
    print("plan:")
    for line in plan:
        print(f"  {line}")
    print(f"uses {nudges.DUE_INDEX}: {any(nudges.DUE_INDEX in line for line in plan)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--due-every", type=int, default=50, help="1 in N is due now")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    for kind in kinds:
        bench(kind, args)


if __name__ == "__main__":
    main()
