"""The audit trail's pure parts: ranges as typed, the exported line, the data-stream document,
the AUDIT_INDEX name rules and the model a stored request names."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.domain.audit import (
    AuditRangeError,
    AuditRecord,
    index_name_problem,
    parse_range,
    request_model,
)


def test_days_are_whole_utc_days_and_until_is_included() -> None:
    period = parse_range("2026-11-01", "2026-11-30")
    assert period.since == datetime(2026, 11, 1, tzinfo=UTC)
    assert period.until == datetime(2026, 12, 1, tzinfo=UTC)
    assert period.describe() == "2026-11-01 to 2026-11-30 (UTC)"
    assert parse_range("2026-11-01", "2026-11-01").describe() == "2026-11-01 (UTC)"


def test_iso_times_are_taken_as_given_and_naive_ones_as_utc() -> None:
    period = parse_range("2026-11-01T08:00:00+01:00", "2026-11-01T09:30Z")
    assert period.since == datetime(2026, 11, 1, 7, tzinfo=UTC)
    assert period.until == datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    assert parse_range("2026-11-01T08:00").since == datetime(2026, 11, 1, 8, tzinfo=UTC)
    assert "until now" in parse_range("2026-11-01T08:00").describe()


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("", None, "Give the first day"),
        ("2026-02-30", None, "is not a real date"),
        ("last week", None, "is not a date: write YYYY-MM-DD"),
        ("2026-11-02", "2026-11-01", "is before since"),
        ("2026-11-01T10:00Z", "2026-11-01T10:00Z", "is before since"),
        ("2026-11-01", "soon", "until 'soon' is not a date"),
    ],
)
def test_bad_ranges_say_what_is_wrong(since: str, until: str | None, message: str) -> None:
    with pytest.raises(AuditRangeError, match=message):
        parse_range(since, until)


def _record(**changes: object) -> AuditRecord:
    values: dict[str, object] = {
        "id": 7,
        "at": datetime(2026, 11, 3, 4, 5, 6, 789000, tzinfo=UTC),
        "action": "approved",
        "actor": "U012ABCDEF",
        "request": "REQ-7K3M9Q",
        "target": "prod",
        "space": "security",
        "provider": "openai",
        "model": "gpt-4.1",
        "detail": {"reason": "ok ✓"},
    }
    values.update(changes)
    return AuditRecord(**values)  # type: ignore[arg-type]


def test_a_line_is_one_json_object_with_every_column() -> None:
    line = _record().json_line()
    assert line.endswith("\n")
    assert line.count("\n") == 1
    assert json.loads(line) == {
        "id": 7,
        "at": "2026-11-03T04:05:06.789000Z",
        "action": "approved",
        "actor": "U012ABCDEF",
        "request": "REQ-7K3M9Q",
        "target": "prod",
        "space": "security",
        "provider": "openai",
        "model": "gpt-4.1",
        "detail": {"reason": "ok ✓"},
    }
    # A newline typed into a reason stays inside the JSON string.
    assert _record(detail={"reason": "a\nb"}).json_line().count("\n") == 1


def test_the_document_carries_the_timestamp_a_data_stream_needs() -> None:
    document = _record().document()
    assert document["@timestamp"] == "2026-11-03T04:05:06.789000Z"
    assert "at" not in document
    assert document["event"] == {"action": "approved", "id": "7"}


@pytest.mark.parametrize(
    "name", ["logs-llm_connector.audit-default", "audit", "a" * 255, "llm-audit-2026"]
)
def test_good_data_stream_names(name: str) -> None:
    assert index_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "empty"),
        ("Audit", "lowercase"),
        ("audit*", "must not contain *"),
        ("a/b", "must not contain /"),
        ("a b", "must not contain space"),
        ("a,b#c", "must not contain # ,"),
        ("-audit", "must not start"),
        ("_audit", "must not start"),
        ("+audit", "must not start"),
        (".audit", "must not start"),
        ("a" * 256, "longer than 255 bytes"),
    ],
)
def test_bad_data_stream_names(name: str, problem: str) -> None:
    found = index_name_problem(name)
    assert found is not None
    assert problem in found


def test_the_model_of_a_request() -> None:
    assert request_model({"model": "gpt-4.1"}, {"defaultModel": "other"}) == "gpt-4.1"
    assert request_model(None, {"defaultModel": "gpt-4o"}) == "gpt-4o"  # stored before drafts
    assert request_model({}, {"service": "openai", "model_id": "gpt-4o"}) == "gpt-4o"
    assert request_model({"model": "  "}, {"deployment_id": "dep"}) == "dep"
    assert request_model({}, {}) is None
