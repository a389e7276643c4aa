"""After approval: Kibana down, 5xx, 4xx, 409, slow; failed tests; a restart in the middle."""

from __future__ import annotations

import json
import signal
import time

import pytest

from bot.db.session import session_scope
from bot.domain.enums import JobKind, JobStatus
from bot.services import requests
from bot.services.backends.connector import ConnectorBackend
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    NOTIFY_CHANNEL,
    REQUESTER,
    BotHarness,
    bot_environment,
    bot_process,
    free_port,
    make_settings,
    reference_from,
    running_bot,
    wait_until,
)

GOOD = {
    "name": "Prov GPT",
    "space": "default",
    "model": "gpt-4.1",
    "api_key": "sk-proj-provisioning0123456789",
    "justification": "provisioning tests",
}


def _approved(bot: BotHarness) -> str:
    reference = reference_from(bot.request_via_form(GOOD))
    assert bot.click(reference, "approval.approve", user=APPROVER).status_code == 200
    return reference


def _thread_text(bot: BotHarness, reference: str) -> str:
    card = bot.card_for(reference)
    return json.dumps(bot.slack.thread_replies(APPROVAL_CHANNEL, card["ts"]))


def _dm_text(bot: BotHarness) -> str:
    return json.dumps(bot.slack.messages_in(bot.slack.dm_channel_for(REQUESTER)))


def test_server_errors_are_retried_until_kibana_answers(bot: BotHarness) -> None:
    bot.kibana.fail_next(2, status=503, method="POST", path_contains="/api/actions/connector/")
    reference = _approved(bot)
    bot.wait_status(reference, "tested_ok")
    assert bot.attempts(reference) == [
        ("create", "unavailable", 503),
        ("create", "unavailable", 503),
        ("create", "ok", 200),
        ("test", "ok", 200),
    ]


def test_kibana_unreachable_after_all_attempts_fails_and_says_why(bot: BotHarness) -> None:
    bot.kibana.pause()
    reference = _approved(bot)
    row = bot.wait_status(reference, "failed")
    bot.kibana.resume()
    assert row.secrets_ciphertext is None
    assert [a[1] for a in bot.attempts(reference)] == ["unavailable"] * 3
    bot.wait_idle()
    for text in (_thread_text(bot, reference), _dm_text(bot)):
        assert "could not be reached" in text
        assert "3 attempts" in text
    assert bot.kibana.connectors("default") == {}


def test_kibana_refusal_ends_the_request_with_kibanas_message_and_a_fix(bot: BotHarness) -> None:
    bot.kibana.license = "basic"
    reference = _approved(bot)
    row = bot.wait_status(reference, "failed")
    assert bot.attempts(reference) == [("create", "refused", 403)]
    assert row.failure_message is not None
    assert "license" in row.failure_message
    bot.wait_idle()
    thread = _thread_text(bot, reference)
    assert "Enterprise licence" in thread
    assert "basic license does not support it" in thread
    assert "not created" in json.dumps(bot.slack.messages_in(NOTIFY_CHANNEL))


def test_a_retry_after_a_lost_answer_finds_the_connector_instead_of_making_another(
    bot: BotHarness,
) -> None:
    # Kibana creates the connector but the answer is lost; the retry meets a 409.
    bot.kibana.drop_next(
        1, method="POST", path_contains="/api/actions/connector/", after_processing=True
    )
    reference = _approved(bot)
    row = bot.wait_status(reference, "tested_ok")
    assert list(bot.kibana.connectors("default")) == [row.kibana_connector_id]
    outcomes = [a[:2] for a in bot.attempts(reference) if a[0] == "create"]
    assert outcomes == [("create", "unavailable"), ("create", "ok")]
    assert bot.kibana.requests_to("GET", f"/api/actions/connector/{row.kibana_connector_id}")


def test_an_id_taken_by_another_connector_is_a_failure_not_a_success(bot: BotHarness) -> None:
    reference = reference_from(bot.request_via_form(GOOD))
    row = bot.request_row(reference)
    assert row.kibana_connector_id is not None
    bot.kibana.add_connector(
        "default",
        row.kibana_connector_id,
        {
            "name": "Someone else's",
            "connector_type_id": ".gen-ai",
            "config": {
                "apiProvider": "OpenAI",
                "apiUrl": "https://api.openai.com/v1/chat/completions",
            },
            "secrets": {"apiKey": "sk-other"},
        },
    )
    bot.click(reference, "approval.approve", user=APPROVER)
    failed = bot.wait_status(reference, "failed")
    assert failed.failure_message is not None
    assert "already used" in failed.failure_message


def test_a_slow_kibana_times_out_and_is_retried(database_url, slack, kibana) -> None:
    settings = make_settings(database_url, slack, kibana, kibana_timeout_seconds=0.5)
    with running_bot(settings, slack, kibana) as bot:
        kibana.set_delay(2.0, method="POST", path_contains="/api/actions/connector/")
        reference = _approved(bot)
        row = bot.wait_status(reference, "failed", "provisioned", "tested_ok", "test_failed")
        kibana.set_delay(0, method="POST", path_contains="/api/actions/connector/")
        assert row.status == "failed"
        assert "did not answer in time" in (row.failure_message or "")


def test_a_200_with_status_error_is_a_failed_test(bot: BotHarness) -> None:
    bot.kibana.set_execute_result(
        status="error",
        message="an error occurred while running the action",
        service_message="Status code: 401. Message: Unauthorized API Error - Incorrect API key",
        retry=False,
        error_source="user",
    )
    reference = _approved(bot)
    row = bot.wait_status(reference, "test_failed")
    assert row.result is not None
    assert row.result["ok"] is False
    bot.wait_idle()
    thread = _thread_text(bot, reference)
    assert "Incorrect API key" in thread
    assert "an error occurred while running the action" in thread
    assert "rejected the key" in thread
    assert "test failed" in _dm_text(bot)


def test_results_say_what_answered_how_fast_and_how_many_tokens(bot: BotHarness) -> None:
    reference = _approved(bot)
    bot.wait_status(reference, "tested_ok")
    bot.wait_idle()
    thread = _thread_text(bot, reference)
    for expected in (
        "Time taken",
        "Model that answered",
        "gpt-4.1",
        "Tokens",
        "Reply",
        "Hello! How can I help you today?",
    ):
        assert expected in thread, expected
    notify = bot.slack.messages_in(NOTIFY_CHANNEL)
    assert len(notify) == 1
    assert "created and tested OK" in notify[0]["text"]


def test_a_kill_in_the_middle_of_provisioning_creates_the_connector_exactly_once(
    database_url, slack, kibana, tmp_path
) -> None:
    settings = make_settings(database_url, slack, kibana, job_lease_seconds=1.0)
    driver = BotHarness(settings=settings, slack=slack, kibana=kibana)
    port = free_port()
    driver.url = f"http://127.0.0.1:{port}"
    # First life, a real process: it is killed while Kibana is creating the connector.
    kibana.set_delay(2.0, method="POST", path_contains="/api/actions/connector/")
    env = bot_environment(settings, driver.keys, port=port)
    with bot_process(env, log_path=str(tmp_path / "first-life.log")) as process:
        reference = _approved(driver)
        deadline = time.monotonic() + 15
        while not any(
            r.path.startswith("/api/actions/connector/") and r.method == "POST"
            for r in kibana.requests_in_flight()
        ):
            assert time.monotonic() < deadline, "the create call never started"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    driver.http.close()
    kibana.set_delay(0, method="POST", path_contains="/api/actions/connector/")
    assert GOOD["api_key"] not in (tmp_path / "first-life.log").read_text()
    # Second life on the same database resumes the approved work and finishes it.
    with running_bot(settings, slack, kibana, keys=driver.keys) as second:
        row = second.wait_status(reference, "tested_ok")
        second.wait_idle()
    assert list(kibana.connectors("default")) == [row.kibana_connector_id]
    assert "Hello" in json.dumps(slack.messages_in(slack.dm_channel_for(REQUESTER)))


def test_work_approved_while_the_workers_were_down_is_resumed_at_start(
    database_url, slack, kibana
) -> None:
    settings = make_settings(database_url, slack, kibana)
    with running_bot(settings, slack, kibana, workers=False) as first:
        keys = first.keys
        reference = reference_from(first.request_via_form(GOOD))
        row = first.request_row(reference)
        requests.approve_request(first.deps, request_id=row.id, actor=APPROVER)
        assert [r for r in kibana.requests if r.method == "POST"] == []
    with running_bot(settings, slack, kibana, keys=keys) as second:
        second.wait_status(reference, "tested_ok")
        second.wait_idle()
        assert "Approved" in json.dumps(second.card_for(reference))


def test_finished_jobs_are_purged_after_a_week_but_dead_ones_stay(bot: BotHarness) -> None:
    import dataclasses
    from datetime import timedelta

    from bot.db import queries
    from bot.services.worker import JobRunner

    reference = _approved(bot)
    bot.wait_status(reference, "tested_ok")
    bot.wait_idle()
    with session_scope(bot.deps.session_factory) as session:
        request_id = bot.request_row(reference).id
        jobs = queries.list_jobs(session=session, request_id=request_id)
        assert jobs
        assert {job.status for job in jobs} == {"done"}
        queries.enqueue(session=session, kind=JobKind.REFRESH_CARD, request_id=request_id)
    with session_scope(bot.deps.session_factory) as session:
        newest = queries.list_jobs(session=session, request_id=request_id)[-1]
        queries.finish_job(session=session, job_id=newest.id, status=JobStatus.DEAD, error="kept")
    now = bot.deps.clock()
    assert JobRunner(dataclasses.replace(bot.deps, clock=lambda: now)).purge_finished_jobs() == 0
    later = dataclasses.replace(bot.deps, clock=lambda: now + timedelta(days=8))
    assert JobRunner(later).purge_finished_jobs() == len(jobs)
    with session_scope(bot.deps.session_factory) as session:
        left = queries.list_jobs(session=session, request_id=request_id)
        assert [job.status for job in left] == ["dead"]


def test_a_step_that_keeps_hitting_a_bug_ends_the_request_and_says_so(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job buried after repeated unexpected errors must not leave its request provisioning."""

    def broken(*_args: object) -> None:
        raise RuntimeError("a bug in the bot")

    monkeypatch.setattr(ConnectorBackend, "create", broken)
    reference = _approved(bot)
    row = bot.wait_status(reference, "failed", timeout=20)
    assert "internal error (RuntimeError" in (row.failure_message or "")
    assert row.secrets_ciphertext is None
    wait_until(lambda: "internal error" in _thread_text(bot, reference), what="thread outcome")
    wait_until(lambda: "internal error" in _dm_text(bot), what="requester DM")
    assert bot.kibana.connectors("default") == {}
