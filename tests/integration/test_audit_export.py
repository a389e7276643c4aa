"""The audit trail and its export: `/llm-connector audit FROM TO` sends an approver the JSON
Lines file in a DM (files upload v2 on the fake), `python -m bot audit` writes it for the
operator, others are refused (and that is audited), AUDIT_INDEX copies every event into an
Elasticsearch data stream, and nothing changes or deletes an audit row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from bot import audit_cli
from bot.db.models import AppendOnlyError, AuditEvent, Job
from bot.db.session import session_scope
from bot.domain.enums import AuditAction, JobKind
from bot.services import audit as audit_service
from tests.fakes.elasticsearch import FakeElasticsearch
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import UPLOAD_METHOD, FakeSlack
from tests.harness import (
    APPROVER,
    STRANGER,
    BotHarness,
    make_settings,
    reference_from,
    running_bot,
    wait_until,
)

API_KEY = "sk-proj-auditexport0123456789"
GOOD = {
    "name": "Audit GPT",
    "space": "security",
    "model": "gpt-4.1",
    "api_key": API_KEY,
    "justification": "Security AI Assistant",
}
COLUMNS = {
    "id",
    "at",
    "action",
    "actor",
    "request",
    "target",
    "space",
    "provider",
    "model",
    "detail",
}
AUDIT_STREAM = "logs-llm_connector.audit-default"


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _ack_text(response: Any) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["text"])


def _approved_request(bot: BotHarness) -> str:
    reference = reference_from(bot.request_via_form(GOOD))
    assert bot.click(reference, "approval.approve", user=APPROVER).status_code == 200
    bot.wait_status(reference, "tested_ok")
    bot.wait_idle()
    return reference


def _lines(content: bytes) -> list[dict[str, Any]]:
    text = content.decode("utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def _events(bot: BotHarness, action: str) -> list[AuditEvent]:
    with session_scope(bot.deps.session_factory) as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()
        session.expunge_all()
        return list(rows)


def test_an_approver_gets_the_days_events_as_a_file_in_a_dm(bot: BotHarness) -> None:
    reference = _approved_request(bot)
    text = _ack_text(bot.command(f"audit {_today()} {_today()}", user=APPROVER))
    assert "Building the audit export" in text
    assert "DM" in text

    uploads = wait_until(bot.slack.uploads, what="the export uploaded")
    assert len(uploads) == 1
    upload = uploads[0]
    assert upload["channel"] == bot.slack.dm_channel_for(APPROVER)
    assert upload["filename"].endswith(".jsonl")
    said = bot.slack.messages_in(upload["channel"])[-1]["text"]
    assert "events, one JSON object a line" in said
    # slack-sdk's files_upload_v2: the URL, the bytes POSTed to it, then the completion.
    methods = [
        call.method
        for call in bot.slack.calls
        if call.method.startswith("files.") or call.method == UPLOAD_METHOD
    ]
    assert methods == [
        "files.getUploadURLExternal",
        UPLOAD_METHOD,
        "files.completeUploadExternal",
    ]

    lines = _lines(upload["content"])
    assert all(set(line) == COLUMNS for line in lines)
    ids = [line["id"] for line in lines]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    start = datetime.fromisoformat(_today()).replace(tzinfo=UTC)
    for line in lines:
        at = datetime.fromisoformat(line["at"].replace("Z", "+00:00"))
        assert start <= at < start + timedelta(days=1)
        assert line["at"].endswith("Z")
    mine = [line for line in lines if line["request"] == reference]
    actions = [line["action"] for line in mine]
    for expected in ("submitted", "approved", "provisioning_started", "provisioned", "tested"):
        assert expected in actions
    for line in mine:
        assert (line["target"], line["space"], line["provider"], line["model"]) == (
            "default",
            "security",
            "openai",
            "gpt-4.1",
        )
    approved = next(line for line in mine if line["action"] == "approved")
    assert approved["actor"] == APPROVER
    assert API_KEY.encode() not in upload["content"]
    # The export itself is on the record.
    wait_until(lambda: _events(bot, AuditAction.AUDIT_EXPORTED), what="the export audited")


def test_a_large_export_stops_at_the_cap_and_says_so(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    _approved_request(bot)
    monkeypatch.setattr(audit_service, "SLACK_EXPORT_MAX_BYTES", 1024)
    _ack_text(bot.command(f"audit {_today()}", user=APPROVER))
    [upload] = wait_until(bot.slack.uploads, what="the export uploaded")
    lines = _lines(upload["content"])
    assert 0 < len(upload["content"]) <= 1024
    assert lines[0]["action"] == "submitted"
    said = bot.slack.messages_in(upload["channel"])[-1]["text"]
    assert f"{len(lines)} events" in said
    assert "stops there, at 1 KB" in said
    [exported] = wait_until(lambda: _events(bot, AuditAction.AUDIT_EXPORTED), what="audited")
    assert exported.detail["truncated"] is True


def test_an_empty_range_is_a_dm_saying_so(bot: BotHarness) -> None:
    text = _ack_text(bot.command("audit 2020-01-01 2020-01-31", user=APPROVER))
    assert "2020-01-01 to 2020-01-31" in text

    def said() -> list[dict[str, Any]]:
        return bot.slack.messages_in(bot.slack.dm_channel_for(APPROVER))

    messages = wait_until(said, what="the empty-export DM")
    assert "no events" in messages[-1]["text"]
    assert bot.slack.uploads() == []


def test_someone_not_an_approver_is_refused_and_that_is_audited(bot: BotHarness) -> None:
    text = _ack_text(bot.command(f"audit {_today()}", user=STRANGER))
    assert "Only approvers" in text
    refused = _events(bot, AuditAction.COMMAND_REFUSED)
    assert [(row.actor_slack_id, row.detail["command"]) for row in refused] == [(STRANGER, "audit")]
    with session_scope(bot.deps.session_factory) as session:
        kinds = session.scalars(select(Job.kind)).all()
    assert JobKind.EXPORT_AUDIT.value not in kinds


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("", "Give the first day"),
        ("2026-13-01", "is not a real date"),
        ("2026-11-30 2026-11-01", "is before since"),
        ("yesterday", "is not a date"),
        ("2026-11-01 2026-11-02 2026-11-03", "at most two dates"),
    ],
)
def test_bad_dates_get_a_specific_answer(bot: BotHarness, words: str, expected: str) -> None:
    text = _ack_text(bot.command(f"audit {words}".strip(), user=APPROVER))
    assert expected in text
    assert "audit 2026-11-01 2026-11-30" in text  # how to write it
    with session_scope(bot.deps.session_factory) as session:
        kinds = session.scalars(select(Job.kind)).all()
    assert JobKind.EXPORT_AUDIT.value not in kinds


def test_the_operator_exports_with_the_cli(
    bot: BotHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    reference = _approved_request(bot)
    monkeypatch.setenv("DATABASE_URL", bot.settings.database_url)
    output = tmp_path / "audit.jsonl"
    code = audit_cli.main(
        ["--since", _today(), "--until", _today(), "--format", "jsonl", "--output", str(output)]
    )
    assert code == 0
    lines = _lines(output.read_bytes())
    assert {line["request"] for line in lines} == {reference}
    assert all(set(line) == COLUMNS for line in lines)
    assert "events from" in capsys.readouterr().err

    # stdout by default; a range before anything happened is empty
    assert audit_cli.main(["--since", "2020-01-01", "--format", "jsonl"]) == 0
    captured = capsys.readouterr()
    stream = _lines(captured.out.encode())
    assert [line["id"] for line in stream] == [line["id"] for line in lines]
    assert (
        audit_cli.main(["--since", "2020-01-01", "--until", "2020-01-02", "--format", "jsonl"]) == 0
    )
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--since", "2026-02-30", "--format", "jsonl"], "not a real date"),
        (["--since", "2026-11-02", "--until", "2026-11-01", "--format", "jsonl"], "before since"),
        (["--since", "2026-11-01", "--format", "csv"], "invalid choice"),
        (["--format", "jsonl"], "--since"),
    ],
)
def test_the_cli_refuses_bad_arguments_in_one_line(
    argv: list[str], expected: str, capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'none.sqlite3'}")
    assert audit_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert len(err.strip().splitlines()) == 1


def test_the_cli_needs_only_the_database(tmp_path: Path) -> None:
    """A subprocess with DATABASE_URL alone (no Slack or Kibana settings)."""
    import os
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": url}
    migrated = subprocess.run(
        [sys.executable, "-m", "bot", "migrate"], env=env, capture_output=True, check=False
    )
    assert migrated.returncode == 0, migrated.stderr
    result = subprocess.run(
        [sys.executable, "-m", "bot", "audit", "--since", "2026-11-01", "--format", "jsonl"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "0 events" in result.stderr
    helped = subprocess.run(
        [sys.executable, "-m", "bot", "--help"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "audit --since DATE" in helped.stdout


def test_audit_rows_are_append_only(bot: BotHarness) -> None:
    reference_from(bot.request_via_form(GOOD))
    with session_scope(bot.deps.session_factory) as session:
        row = session.scalars(select(AuditEvent)).first()
        assert row is not None
        row.action = "rewritten"
        with pytest.raises(AppendOnlyError):
            session.flush()
        session.rollback()
    with pytest.raises(AppendOnlyError), session_scope(bot.deps.session_factory) as session:
        session.delete(session.scalars(select(AuditEvent)).first())
    for statement in (update(AuditEvent).values(action="x"), delete(AuditEvent)):
        with pytest.raises(AppendOnlyError), session_scope(bot.deps.session_factory) as session:
            session.execute(statement)
    assert not _events(bot, "rewritten")
    # No migration rewrites or removes audit rows either.
    for path in Path("migrations/versions").glob("*.py"):
        source = path.read_text().lower()
        assert "update audit_event" not in source
        assert "delete from audit_event" not in source


@pytest.fixture
def indexed_bot(
    database_url: str, slack: FakeSlack, kibana: FakeKibana, elasticsearch: FakeElasticsearch
) -> Iterator[BotHarness]:
    kibana.version = elasticsearch.version
    elasticsearch.add_data_stream(AUDIT_STREAM)
    settings = make_settings(
        database_url,
        slack,
        kibana,
        elasticsearch_url=elasticsearch.url,
        elasticsearch_api_key=elasticsearch.api_key,
        provision_backend="connector",
        audit_index=AUDIT_STREAM,
    )
    with running_bot(settings, slack, kibana) as bot:
        yield bot


def test_audit_index_copies_every_event_into_the_data_stream(
    indexed_bot: BotHarness, elasticsearch: FakeElasticsearch
) -> None:
    elasticsearch.fail_next(2, status=503, path_contains="/_doc")  # retried, not lost
    reference = _approved_request(indexed_bot)
    with session_scope(indexed_bot.deps.session_factory) as session:
        count = len(session.scalars(select(AuditEvent.id)).all())
    documents = elasticsearch.wait_for_documents(AUDIT_STREAM, count)
    assert len(documents) == count
    for document in documents:
        assert document["@timestamp"].endswith("Z")
        assert document["request"] == reference
        assert document["model"] == "gpt-4.1"
    assert {d["action"] for d in documents} >= {"submitted", "approved", "tested"}
    created = elasticsearch.requests_to("POST", "/_doc")
    assert all(request.query.get("op_type") == "create" for request in created)
    assert API_KEY not in json.dumps(documents)


def test_an_audit_copy_elasticsearch_refuses_is_dropped_without_blocking(
    indexed_bot: BotHarness, elasticsearch: FakeElasticsearch
) -> None:
    elasticsearch.can_write_documents = False
    reference = _approved_request(indexed_bot)  # the request goes through regardless
    assert elasticsearch.documents(AUDIT_STREAM) == []
    with session_scope(indexed_bot.deps.session_factory) as session:
        jobs = session.scalars(select(Job).where(Job.kind == JobKind.INDEX_AUDIT.value)).all()
        assert jobs
        assert all(job.status == "done" and job.attempts == 1 for job in jobs)
    assert indexed_bot.request_row(reference).status == "tested_ok"
