"""Prometheus metrics, read from the database so every replica reports the same numbers."""

from __future__ import annotations

from datetime import datetime

from bot.db import queries
from bot.db.base import utcnow
from bot.db.session import SessionFactory, session_scope
from bot.domain.enums import JobStatus, RequestStatus


def metrics_text(session_factory: SessionFactory, *, now: datetime | None = None) -> str:
    """The exposition text for GET /metrics."""
    now = now or utcnow()
    with session_scope(session_factory) as session:
        requests = queries.count_requests_by_status(session=session)
        jobs = queries.count_jobs_by_status(session=session)
        oldest = queries.oldest_due_job(session=session, now=now)
        attempts = queries.count_attempts_by_outcome(session=session)
    lines = [
        "# HELP connector_bot_requests Connector requests by status.",
        "# TYPE connector_bot_requests gauge",
    ]
    lines += [
        f'connector_bot_requests{{status="{status.value}"}} {requests.get(status.value, 0)}'
        for status in RequestStatus
    ]
    lines += [
        "# HELP connector_bot_jobs Queued, finished and abandoned background jobs.",
        "# TYPE connector_bot_jobs gauge",
    ]
    lines += [
        f'connector_bot_jobs{{status="{status.value}"}} {jobs.get(status.value, 0)}'
        for status in JobStatus
    ]
    lag = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
    lines += [
        "# HELP connector_bot_job_lag_seconds How long the oldest due job has been waiting.",
        "# TYPE connector_bot_job_lag_seconds gauge",
        f"connector_bot_job_lag_seconds {lag:.3f}",
        "# HELP connector_bot_kibana_calls_total Kibana calls made, by operation and outcome.",
        "# TYPE connector_bot_kibana_calls_total counter",
    ]
    lines += [
        f'connector_bot_kibana_calls_total{{operation="{op}",outcome="{outcome}"}} {count}'
        for (op, outcome), count in sorted(attempts.items())
    ]
    return "\n".join(lines) + "\n"
