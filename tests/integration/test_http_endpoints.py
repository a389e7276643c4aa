"""POST /slack/events verifies every request; GET /healthz tells readiness."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from sqlalchemy import create_engine, func, select

from bot.db.models import ConnectorRequest
from bot.db.session import database_answers, session_scope
from bot.server import make_wsgi_app
from tests.harness import REQUESTER, BotHarness


def _command_body(bot: BotHarness) -> str:
    return urlencode(
        {
            "team_id": "T0001",
            "user_id": REQUESTER,
            "command": "/llm-connector",
            "text": "",
            "trigger_id": bot.slack.issue_trigger_id(),
            "response_url": bot.slack.response_url(),
        }
    )


def _nothing_happened(bot: BotHarness) -> None:
    assert bot.slack.calls_for("views.open") == []
    with session_scope(bot.deps.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(ConnectorRequest)) == 0


def test_forged_signature_is_refused(bot: BotHarness) -> None:
    body = _command_body(bot)
    headers = bot.signed_headers(body)
    headers["x-slack-signature"] = "v0=" + "0" * 64
    response = bot.post(body, headers)
    assert response.status_code == 401
    _nothing_happened(bot)


def test_missing_signature_is_refused(bot: BotHarness) -> None:
    response = bot.post(_command_body(bot), {"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 401
    _nothing_happened(bot)


def test_body_changed_after_signing_is_refused(bot: BotHarness) -> None:
    body = _command_body(bot)
    headers = bot.signed_headers(body)
    response = bot.post(body.replace("text=", "text=help"), headers)
    assert response.status_code == 401
    _nothing_happened(bot)


def test_replay_older_than_five_minutes_is_refused(bot: BotHarness) -> None:
    body = _command_body(bot)
    response = bot.post(body, bot.signed_headers(body, timestamp=int(time.time()) - 301))
    assert response.status_code == 401
    _nothing_happened(bot)


def test_signed_request_is_served(bot: BotHarness) -> None:
    response = bot.post_signed(_command_body(bot))
    assert response.status_code == 200
    bot.slack.wait_for("views.open")


def test_healthz_answers_without_calling_slack_or_kibana(bot: BotHarness) -> None:
    slack_calls, kibana_calls = len(bot.slack.calls), len(bot.kibana.requests)
    response = bot.http.get(f"{bot.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(bot.slack.calls) == slack_calls
    assert len(bot.kibana.requests) == kibana_calls


def test_healthz_fails_when_the_database_does_not_answer(bot: BotHarness) -> None:
    unreachable = create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:9/none", connect_args={"connect_timeout": 2}
    )
    assert bot.runtime is not None
    application = make_wsgi_app(bot.runtime.app, ready=lambda: database_answers(unreachable))
    statuses: list[str] = []
    body = b"".join(
        application(
            {"PATH_INFO": "/healthz", "REQUEST_METHOD": "GET"},
            lambda status, _headers: statuses.append(status),  # type: ignore[arg-type]
        )
    )
    unreachable.dispose()
    assert statuses == ["503 Service Unavailable"]
    assert b"unavailable" in body


def test_other_paths_and_methods(bot: BotHarness) -> None:
    assert bot.http.get(f"{bot.url}/slack/events").status_code == 405
    assert bot.http.get(f"{bot.url}/nope").status_code == 404


def test_metrics_report_requests_jobs_and_kibana_calls_from_the_database(bot: BotHarness) -> None:
    from tests.harness import APPROVER, reference_from

    reference = reference_from(
        bot.request_via_form(
            {
                "name": "Metrics GPT",
                "space": "default",
                "model": "gpt-4.1",
                "api_key": "sk-proj-metrics0123456789",
                "justification": "metrics",
            }
        )
    )
    bot.click(reference, "approval.approve", user=APPROVER)
    bot.wait_status(reference, "tested_ok")
    bot.wait_idle()
    response = bot.http.get(f"{bot.url}/metrics")
    assert response.status_code == 200
    text = response.text
    assert 'connector_bot_requests{status="tested_ok"} 1' in text
    assert 'connector_bot_requests{status="pending"} 0' in text
    assert 'connector_bot_jobs{status="queued"} 0' in text
    assert 'connector_bot_kibana_calls_total{operation="create",outcome="ok"} 1' in text
    assert "connector_bot_job_lag_seconds 0.000" in text
