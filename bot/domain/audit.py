"""The audit trail's shapes: the model a request names, export ranges, the exported line and
the Elasticsearch document of an event, and the AUDIT_INDEX name rules."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EXAMPLE_RANGE = "2026-11-01 2026-11-30"


def request_model(settings: Mapping[str, Any] | None, config: Mapping[str, Any]) -> str | None:
    """The model a stored request asks for: its draft's ``model`` setting, or (rows stored
    before drafts were kept, and inference configs) the connector/endpoint config's."""
    for source, keys in (
        (settings or {}, ("model", "model_id", "deployment_id")),
        (config, ("defaultModel", "model_id", "model", "deployment_id")),
    ):
        for key in keys:
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


class AuditRangeError(ValueError):
    """A time range that can't be exported; the message says what to type instead."""


@dataclass(frozen=True)
class AuditRange:
    """``since <= created_at < until``, both aware UTC datetimes."""

    since: datetime
    until: datetime

    def describe(self) -> str:
        """``2026-11-01 to 2026-11-30 (UTC)`` for whole days, else both times."""
        if self.until.year == datetime.max.year:
            return f"{_shown(self.since)} until now"
        midnight = time(tzinfo=UTC)
        if self.since.timetz() == midnight and self.until.timetz() == midnight:
            last = (self.until - timedelta(days=1)).date()
            first = self.since.date()
            return f"{first} (UTC)" if first == last else f"{first} to {last} (UTC)"
        return f"{_shown(self.since)} to {_shown(self.until)}"


def _shown(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _parse(value: str, *, end: bool, name: str) -> datetime:
    text = value.strip()
    if DAY.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise AuditRangeError(f"{name} {text[:40]!r} is not a real date.") from None
        start = datetime.combine(day, time(), tzinfo=UTC)
        return start + timedelta(days=1) if end else start  # a day is included whole
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AuditRangeError(
            f"{name} {text[:40]!r} is not a date: write YYYY-MM-DD (a whole day, UTC) or an "
            "ISO 8601 time such as 2026-11-01T08:00:00Z."
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_range(since: str, until: str | None = None) -> AuditRange:
    """Dates as typed: ``YYYY-MM-DD`` is a whole UTC day (``until`` inclusive), or ISO 8601
    times (naive ones are UTC). Without ``until``: up to the end of time."""
    if not since.strip():
        raise AuditRangeError("Give the first day to export.")
    start = _parse(since, end=False, name="since")
    stop = _parse(until, end=True, name="until") if until else datetime.max.replace(tzinfo=UTC)
    if stop <= start:
        raise AuditRangeError(
            f"until ({until}) is before since ({since}): give the earlier date first, "
            f"e.g. {EXAMPLE_RANGE}."
        )
    return AuditRange(since=start, until=stop)


@dataclass(frozen=True)
class AuditRecord:
    """One exported event."""

    id: int
    at: datetime
    action: str
    actor: str | None
    request: str | None  # the request's reference (REQ-…)
    target: str | None
    space: str | None
    provider: str | None
    model: str | None
    detail: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "action": self.action,
            "actor": self.actor,
            "request": self.request,
            "target": self.target,
            "space": self.space,
            "provider": self.provider,
            "model": self.model,
            "detail": dict(self.detail),
        }

    def json_line(self) -> str:
        """The event as one JSON Lines line (with its newline)."""
        return json.dumps(self.as_dict(), ensure_ascii=False) + "\n"

    def document(self) -> dict[str, Any]:
        """The event as an Elasticsearch data-stream document (which needs ``@timestamp``)."""
        body = self.as_dict()
        body["@timestamp"] = body.pop("at")
        body["event"] = {"action": self.action, "id": str(self.id)}
        return body


@dataclass(frozen=True)
class AuditExport:
    """An export built for an approver: what it covers and how it ended."""

    period: AuditRange
    events: int
    truncated: bool  # stopped at ``max_bytes``
    max_bytes: int
    filename: str


INDEX_FORBIDDEN = set('\\/*?"<>|,# :')
INDEX_MAX_BYTES = 255


def index_name_problem(name: str) -> str | None:
    """Why ``name`` can't be an Elasticsearch data stream name (None: it can)."""
    if not name:
        return "is empty"
    if name != name.lower():
        return "must be lowercase"
    bad = sorted(set(name) & INDEX_FORBIDDEN)
    if bad:
        shown = " ".join("space" if char == " " else char for char in bad)
        return f"must not contain {shown}"
    if name[0] in "-_+.":
        return "must not start with -, _, + or ."
    if name in {".", ".."}:
        return "cannot be . or .."
    if len(name.encode()) > INDEX_MAX_BYTES:
        return f"is longer than {INDEX_MAX_BYTES} bytes"
    return None
