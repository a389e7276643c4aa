"""Secrets typed into the form: encrypted while pending, erased after, never logged or shown.

Every test drives the real bot the way Slack does and then looks for the secret everywhere it
could leak: the database (the raw SQLite files, or every row of every PostgreSQL table), every
log record of every logger at DEBUG, everything sent to Slack, and every request made to Kibana
other than the one body where it belongs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url

from bot.db.models import AuditEvent, ConnectorRequest
from bot.db.session import make_engine, make_session_factory, session_scope
from bot.domain.enums import Provider
from bot.services import requests
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    BOT_TOKEN,
    KIBANA_KEY,
    NOTIFY_CHANNEL,
    REQUESTER,
    SIGNING_SECRET,
    BotHarness,
    bot_environment,
    bot_process,
    free_port,
    make_settings,
    reference_from,
    running_bot,
    wait_until,
)
from tests.unit.domain import samples

LOGGERS = ("httpx", "httpcore", "slack_sdk", "slack_bolt", "urllib3", "waitress", "bot")


def _openai_key() -> str:
    return f"sk-proj-LEAKCHECK{secrets.token_hex(16)}"


def _openai_values(key: str) -> dict[str, str]:
    return {
        "name": f"Leak check {secrets.token_hex(3)}",
        "space": "default",
        "model": "gpt-4.1",
        "api_key": key,
        "justification": "secret handling tests",
    }


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record of every logger, at DEBUG, for the whole test."""
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _log_text(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_text:
            parts.append(record.exc_text)
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(repr(record.exc_info[1]))
    return "\n".join(parts)


# --- where a secret could be ----------------------------------------------------------------


def _sqlite_files(database_url: str) -> list[Path]:
    database = make_url(database_url).database
    assert database
    path = Path(database)
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(path.name))


def _sqlite_bytes(database_url: str) -> bytes:
    files = _sqlite_files(database_url)
    assert files, "the SQLite database has no files"
    return b"\n".join(p.read_bytes() for p in files)


def _postgres_rows(engine: Engine) -> str:
    """Every row of every table of the test's schema, as PostgreSQL renders a row as text."""
    with engine.connect() as connection:
        tables = connection.scalars(
            text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            )
        ).all()
        assert "connector_request" in tables
        rows: list[str] = []
        for table in tables:
            quoted = '"' + str(table).replace('"', '""') + '"'
            rows.extend(
                str(row)
                for row in connection.scalars(
                    text(f"SELECT t::text FROM {quoted} t")  # noqa: S608 - names from the catalog
                )
            )
    return "\n".join(rows)


def _assert_not_in_database(bot: BotHarness, fragments: list[str]) -> None:
    url = bot.settings.database_url
    if url.startswith("sqlite"):
        raw = _sqlite_bytes(url)
        for fragment in fragments:
            assert fragment.encode() not in raw, f"{fragment[:24]}… is in the SQLite files"
        return
    rows = _postgres_rows(bot.deps.engine)
    for fragment in fragments:
        assert fragment not in rows, f"{fragment[:24]}… is in a PostgreSQL row"
        # bytea columns render as hex: the plaintext must not be there either
        assert fragment.encode().hex() not in rows, f"{fragment[:24]}… is in a bytea column"


def _assert_ciphertext_only(bot: BotHarness, reference: str, fragments: list[str]) -> bytes:
    """While pending: the row holds a ciphertext that opens to the secret; nothing is plain."""
    row = bot.request_row(reference)
    assert row.status == "pending"
    ciphertext = row.secrets_ciphertext
    assert ciphertext is not None
    for fragment in fragments:
        assert fragment.encode() not in ciphertext
    opened = json.dumps(bot.deps.secret_box.open(ciphertext))
    for fragment in fragments:
        assert fragment in opened or json.dumps(fragment)[1:-1] in opened
    _assert_not_in_database(bot, fragments)
    if bot.settings.database_url.startswith("sqlite"):
        # A long ciphertext spills into SQLite overflow pages, split by page pointers, so its
        # bytes need not be contiguous in the file: show instead that the files read are the
        # database's (they hold the request's reference), so the checks above mean something.
        assert reference.encode() in _sqlite_bytes(bot.settings.database_url), "not the database"
    else:
        assert ciphertext.hex() in _postgres_rows(bot.deps.engine), "ciphertext not stored"
    return ciphertext


def _assert_not_sent_to_slack(bot: BotHarness, fragments: list[str]) -> None:
    everything = bot.slack.all_text()
    assert everything, "nothing was sent to Slack"
    for fragment in fragments:
        assert fragment not in everything
        assert json.dumps(fragment)[1:-1] not in everything


def _assert_not_logged(caplog: pytest.LogCaptureFixture, fragments: list[str]) -> None:
    logged = _log_text(caplog)
    assert any(r.name.startswith("bot.") for r in caplog.records), "no record of the bot's"
    for fragment in fragments:
        assert fragment not in logged, f"{fragment[:24]}… was logged"
        assert json.dumps(fragment)[1:-1] not in logged, f"{fragment[:24]}… was logged escaped"


def _assert_kibana_saw_it_only_in_secrets(
    bot: BotHarness, connector_id: str, fragments: list[str]
) -> dict[str, str]:
    creates = bot.kibana.requests_to("POST", f"/api/actions/connector/{connector_id}")
    assert len(creates) == 1
    body = creates[0].body
    assert isinstance(body, dict)
    secrets_sent = body["secrets"]
    outside = json.dumps({k: v for k, v in body.items() if k != "secrets"})
    everything_else = json.dumps(
        [
            {"path": r.path, "query": r.query, "headers": r.headers, "body": r.body}
            for r in bot.kibana.requests
            if r is not creates[0]
        ]
    )
    headers = json.dumps(creates[0].headers)
    for fragment in fragments:
        escaped = json.dumps(fragment)[1:-1]
        assert fragment in json.dumps(secrets_sent) or escaped in json.dumps(secrets_sent)
        for elsewhere in (outside, everything_else, headers, creates[0].path):
            assert fragment not in elsewhere
            assert escaped not in elsewhere
    return dict(secrets_sent)


def _audit_actions(bot: BotHarness, reference: str) -> list[str]:
    request_id = bot.request_row(reference).id
    with session_scope(bot.deps.session_factory) as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.request_id == request_id).order_by(AuditEvent.id)
        ).all()
        return [row.action for row in rows]


# --- the whole flow ---------------------------------------------------------------------------


def test_an_api_key_is_sealed_while_pending_then_erased_and_never_leaks(
    bot: BotHarness, logs: pytest.LogCaptureFixture
) -> None:
    key = _openai_key()
    fragments = [key, key.removeprefix("sk-proj-")]
    response = bot.request_via_form(_openai_values(key))
    reference = reference_from(response)
    assert key not in response.text

    _assert_ciphertext_only(bot, reference, fragments)
    card = bot.card_for(reference)
    assert key not in json.dumps(card)

    assert bot.click(reference, "approval.approve", user=APPROVER).status_code == 200
    row = bot.wait_status(reference, "tested_ok")
    bot.wait_idle()
    assert row.secrets_ciphertext is None
    assert row.kibana_connector_id is not None

    sent = _assert_kibana_saw_it_only_in_secrets(bot, row.kibana_connector_id, fragments)
    assert sent == {"apiKey": key}
    actions = _audit_actions(bot, reference)
    assert "provisioned" in actions
    assert actions.count("secrets_erased") == 1
    _assert_not_in_database(bot, fragments)
    _assert_not_sent_to_slack(bot, fragments)
    for version in bot.slack.message_history(APPROVAL_CHANNEL, card["ts"]):
        assert key not in json.dumps(version)
    _assert_not_logged(logs, fragments)


def _reject(bot: BotHarness, reference: str) -> None:
    response = bot.reject(reference, "use the shared connector")
    assert response.status_code == 200


def _cancel(bot: BotHarness, reference: str) -> None:
    assert "cancelled" in bot.command(f"cancel {reference}").json()["text"]


def _refused_by_kibana(bot: BotHarness, reference: str) -> None:
    bot.kibana.license = "basic"
    assert bot.click(reference, "approval.approve", user=APPROVER).status_code == 200


def _kibana_unreachable(bot: BotHarness, reference: str) -> None:
    bot.kibana.pause()
    assert bot.click(reference, "approval.approve", user=APPROVER).status_code == 200


def _expire(bot: BotHarness, reference: str) -> None:
    later = datetime.now(UTC) + timedelta(hours=bot.settings.request_ttl_hours + 1)
    assert requests.expire_due_requests(dataclasses.replace(bot.deps, clock=lambda: later)) == 1


ENDINGS = {
    "rejected": (_reject, "rejected"),
    "cancelled": (_cancel, "cancelled"),
    "refused_by_kibana": (_refused_by_kibana, "failed"),
    "kibana_unreachable": (_kibana_unreachable, "failed"),
    "expired": (_expire, "expired"),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_every_other_ending_erases_the_ciphertext_and_leaks_nothing(
    bot: BotHarness, logs: pytest.LogCaptureFixture, ending: str
) -> None:
    key = _openai_key()
    fragments = [key, key.removeprefix("sk-proj-")]
    reference = reference_from(bot.request_via_form(_openai_values(key)))
    bot.card_for(reference)
    _assert_ciphertext_only(bot, reference, fragments)

    act, status = ENDINGS[ending]
    act(bot, reference)
    row = bot.wait_status(reference, status)
    bot.kibana.resume()
    bot.wait_idle()
    assert row.secrets_ciphertext is None
    assert row.finished_at is not None

    if status == "failed":
        assert row.kibana_connector_id is not None
        creates = bot.kibana.requests_to(
            "POST", f"/api/actions/connector/{row.kibana_connector_id}"
        )
        if creates:  # an unreachable Kibana received nothing at all
            _assert_kibana_saw_it_only_in_secrets(bot, row.kibana_connector_id, fragments)
        assert bot.kibana.connectors("default") == {}
    else:
        assert (
            bot.kibana.requests_to("POST", f"/api/actions/connector/{row.kibana_connector_id}")
            == []
        )
    _assert_not_in_database(bot, fragments)
    _assert_not_sent_to_slack(bot, fragments)
    _assert_not_logged(logs, fragments)


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_the_audit_trail_records_the_erasure_at_every_ending(bot: BotHarness, ending: str) -> None:
    reference = reference_from(bot.request_via_form(_openai_values(_openai_key())))
    bot.card_for(reference)
    act, status = ENDINGS[ending]
    act(bot, reference)
    bot.wait_status(reference, status)
    bot.kibana.resume()
    bot.wait_idle()
    assert _audit_actions(bot, reference).count("secrets_erased") == 1


# --- a multi-line secret: a Vertex service-account key ----------------------------------------


def _pem_lines(pem: str) -> list[str]:
    """The base64 lines of a PEM body: any one of them found anywhere is a leak."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def test_a_service_account_private_key_never_leaks(
    bot: BotHarness, logs: pytest.LogCaptureFixture
) -> None:
    private_key_id = secrets.token_hex(20)
    document = samples.service_account_json(private_key_id=private_key_id)
    values = dict(samples.valid_values(Provider.VERTEX, credentials_json=document))
    values["space"] = "security"
    pem = samples.private_key_pem()
    fragments = [*_pem_lines(pem), private_key_id]
    assert len(fragments) > 10

    response = bot.request_via_form(values, provider="vertex")
    reference = reference_from(response)
    for fragment in fragments:
        assert fragment not in response.text
    _assert_ciphertext_only(bot, reference, fragments)
    assert "PRIVATE KEY" not in json.dumps(bot.card_for(reference))

    assert bot.click(reference, "approval.approve", user=APPROVER).status_code == 200
    row = bot.wait_status(reference, "tested_ok", "test_failed", "failed")
    bot.wait_idle()
    assert row.status == "tested_ok", row.failure_message or row.result
    assert row.secrets_ciphertext is None
    assert row.kibana_connector_id is not None
    sent = _assert_kibana_saw_it_only_in_secrets(bot, row.kibana_connector_id, fragments)
    assert json.loads(sent["credentialsJson"])["private_key"] == pem
    assert "secrets_erased" in _audit_actions(bot, reference)
    _assert_not_in_database(bot, fragments)
    _assert_not_sent_to_slack(bot, fragments)
    assert "PRIVATE KEY" not in bot.slack.all_text()
    _assert_not_logged(logs, fragments)


# --- the JSON logs of a real `python -m bot` process -------------------------------------------


def test_the_json_logs_of_a_running_bot_never_hold_the_secret(
    database_url: str, slack, kibana, tmp_path: Path
) -> None:
    # Not shaped like any credential the log filter knows: only the bot's care keeps it out.
    key = f"LEAKCHECK{secrets.token_hex(16)}"
    settings = make_settings(database_url, slack, kibana)
    driver = BotHarness(settings=settings, slack=slack, kibana=kibana)
    port = free_port()
    driver.url = f"http://127.0.0.1:{port}"
    env = bot_environment(settings, driver.keys, port=port)
    log_path = tmp_path / "bot.log"
    values = {
        "name": "Azure leak check",
        "space": "default",
        "api_url": samples.AZURE_URL,
        "api_key": key,
        "justification": "secret handling tests",
    }
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    try:
        with bot_process(env, log_path=str(log_path)) as process:
            reference = reference_from(driver.request_via_form(values, provider="azure_openai"))
            assert driver.click(reference, "approval.approve", user=APPROVER).status_code == 200

            def finished() -> ConnectorRequest | None:
                with session_scope(factory) as session:
                    row = session.scalars(
                        select(ConnectorRequest).where(ConnectorRequest.reference == reference)
                    ).one()
                    session.expunge(row)
                return row if row.status in {"tested_ok", "test_failed", "failed"} else None

            row = wait_until(finished, timeout=30, what=f"{reference} to finish")
            assert row.status == "tested_ok", row.failure_message
            assert row.secrets_ciphertext is None
            wait_until(
                lambda: (
                    "Hello" in json.dumps(slack.messages_in(slack.dm_channel_for(REQUESTER)))
                    and slack.messages_in(NOTIFY_CHANNEL)
                ),
                what="the outcome DM and notification",
            )
            process.terminate()
            assert process.wait(15) == 0
    finally:
        driver.http.close()
        engine.dispose()
    assert kibana.requests_to("POST", f"/api/actions/connector/{row.kibana_connector_id}")
    logged = log_path.read_text()
    entries = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    assert any("kibana POST" in entry["message"] for entry in entries)
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert key not in logged
    assert key not in slack.all_text()


# --- the bot's own credentials ----------------------------------------------------------------


def test_the_bots_own_credentials_never_reach_slack_the_database_or_the_logs(
    bot: BotHarness, logs: pytest.LogCaptureFixture
) -> None:
    reference = reference_from(bot.request_via_form(_openai_values(_openai_key())))
    assert bot.click(reference, "approval.approve", user=APPROVER).status_code == 200
    bot.wait_status(reference, "tested_ok")
    bot.wait_idle()
    own = [KIBANA_KEY, BOT_TOKEN, SIGNING_SECRET, *(key.decode() for key in bot.keys)]
    _assert_not_in_database(bot, own)
    _assert_not_sent_to_slack(bot, own)
    _assert_not_logged(logs, own)


def test_a_kibana_api_key_with_a_trailing_newline_is_not_leaked_when_it_fails(
    slack, kibana, tmp_path: Path
) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'bot.sqlite3'}", slack, kibana, kibana_api_key=KIBANA_KEY + "\n"
    )
    with running_bot(settings, slack, kibana) as bot:
        reference = reference_from(bot.request_via_form(_openai_values(_openai_key())))
        assert bot.click(reference, "approval.approve", user=APPROVER).status_code == 200
        bot.wait_status(reference, "failed", "tested_ok")
        bot.wait_idle()
        _assert_not_in_database(bot, [KIBANA_KEY])
        assert KIBANA_KEY not in slack.all_text()
