"""Seed a database with a long history: N requests and M audit events (bulk inserts).

Run from the repository root::

    DATABASE_URL=sqlite:////tmp/history.sqlite3 .venv/bin/python -m scripts.seed_history
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m scripts.seed_history --requests 100000 --events 1000000 --days 365

The database is migrated first. Requests are spread evenly over the last ``--days`` days
(mostly finished, some pending), across a few spaces, providers, models and requesters; each
gets about M/N audit events in the hour after it was made. Nothing is encrypted: the rows
hold no secrets. Prints how long the inserts took.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select

from bot.config import normalise_database_url
from bot.db.migrate import upgrade_database
from bot.db.models import AuditEvent, ConnectorRequest
from bot.db.session import make_engine
from bot.domain.enums import AuditAction, RequestStatus
from bot.domain.targets import DEFAULT_TARGET

BATCH = 5000
SPACES = ("default", "security", "observability", "search", "lab")
PROVIDERS = (
    ("openai", ".gen-ai", "gpt-4.1"),
    ("azure_openai", ".gen-ai", "gpt-4o"),
    ("bedrock", ".bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0"),
    ("vertex", ".gemini", "gemini-2.5-pro"),
    ("vllm", ".gen-ai", "meta-llama/Llama-3.1-8B-Instruct"),
)
REQUESTERS = tuple(f"U{n:09d}" for n in range(500))
APPROVERS = ("U0APPROVE1", "U0APPROVE2", "U0APPROVE3")
FINISHED = (
    RequestStatus.TESTED_OK,
    RequestStatus.TESTED_OK,
    RequestStatus.TESTED_OK,
    RequestStatus.REJECTED,
    RequestStatus.EXPIRED,
    RequestStatus.FAILED,
    RequestStatus.CANCELLED,
)
LIFE = (
    AuditAction.SUBMITTED,
    AuditAction.APPROVED,
    AuditAction.PROVISIONING_STARTED,
    AuditAction.SECRETS_ERASED,
    AuditAction.PROVISIONED,
    AuditAction.TESTED,
)


def reference(number: int) -> str:
    """A unique REQ- reference per request number (base 32, like the bot's alphabet)."""
    alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ0"
    text = ""
    for _ in range(6):
        number, digit = divmod(number, 32)
        text += alphabet[digit]
    return "REQ-" + text


def request_rows(
    count: int, *, days: int, now: datetime, rng: random.Random
) -> Iterator[dict[str, Any]]:
    span = timedelta(days=days).total_seconds()
    for number in range(count):
        provider, type_id, model = PROVIDERS[number % len(PROVIDERS)]
        created = now - timedelta(seconds=span * (1 - number / count))
        pending = number >= count - max(1, count // 100)  # the newest 1 % still wait
        status = RequestStatus.PENDING if pending else rng.choice(FINISHED)
        yield {
            "id": number + 1,
            "reference": reference(number),
            "status": status.value,
            "provider": provider,
            "connector_type_id": type_id,
            "connector_name": f"Seeded {number}",
            "space_id": SPACES[number % len(SPACES)],
            "kibana_connector_id": f"llm-seeded-{number}",
            "config": {"apiProvider": "OpenAI", "defaultModel": model},
            "settings": {"model": model},
            "backend": "connector",
            "justification": "seeded history",
            "warnings": [],
            "requested_by_slack_id": REQUESTERS[number % len(REQUESTERS)],
            "decided_by_slack_id": None if pending else APPROVERS[number % len(APPROVERS)],
            "created_at": created,
            "updated_at": created,
            "expires_at": created + timedelta(days=3),
            "finished_at": None if pending else created + timedelta(minutes=30),
        }


def event_rows(requests: int, events: int, *, days: int, now: datetime) -> Iterator[dict[str, Any]]:
    span = timedelta(days=days).total_seconds()
    per_request, extra = divmod(events, requests)
    for number in range(requests):
        provider, _, model = PROVIDERS[number % len(PROVIDERS)]
        created = now - timedelta(seconds=span * (1 - number / requests))
        for step in range(per_request + (1 if number < extra else 0)):
            action = LIFE[step] if step < len(LIFE) else AuditAction.DECISION_REFUSED
            yield {
                "request_id": number + 1,
                "actor_slack_id": REQUESTERS[number % len(REQUESTERS)] if step == 0 else None,
                "action": action.value,
                "detail": {"seeded": True},
                "created_at": created + timedelta(seconds=step * 60),
                "target": DEFAULT_TARGET,
                "space_id": SPACES[number % len(SPACES)],
                "provider": provider,
                "model": model,
            }


def bulk_insert(engine: Engine, table: Any, rows: Iterator[dict[str, Any]]) -> int:
    total = 0
    batch: list[dict[str, Any]] = []
    with engine.begin() as connection:
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                connection.execute(insert(table), batch)
                total += len(batch)
                batch.clear()
        if batch:
            connection.execute(insert(table), batch)
            total += len(batch)
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.stderr.write("seed_history: set DATABASE_URL (an empty database)\n")
        return 2
    engine = make_engine(normalise_database_url(url))
    upgrade_database(engine)
    with engine.connect() as connection:
        if connection.scalar(select(func.count()).select_from(ConnectorRequest)):
            sys.stderr.write("seed_history: the database already has requests; use an empty one\n")
            return 2
    now = datetime.now(UTC)
    rng = random.Random(args.seed)
    started = time.perf_counter()
    requests = bulk_insert(
        engine,
        ConnectorRequest.__table__,
        request_rows(args.requests, days=args.days, now=now, rng=rng),
    )
    middle = time.perf_counter()
    events = bulk_insert(
        engine,
        AuditEvent.__table__,
        event_rows(args.requests, args.events, days=args.days, now=now),
    )
    done = time.perf_counter()
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            # Rows inserted with explicit ids: move the sequence past them.
            connection.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('connector_request', 'id'), "
                "(SELECT max(id) FROM connector_request))"
            )
            connection.exec_driver_sql("ANALYZE connector_request")
            connection.exec_driver_sql("ANALYZE audit_event")
    else:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    print(
        f"seeded {requests} requests in {middle - started:.1f} s and {events} audit events in "
        f"{done - middle:.1f} s over {args.days} days ({engine.dialect.name})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
