"""A Kibana restart: people are told at once, the bot keeps trying for a window, one result."""

from __future__ import annotations

import json
from typing import Any

from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    REQUESTER,
    BotHarness,
    make_settings,
    reference_from,
    running_bot,
    wait_until,
)

GOOD = {
    "name": "Outage GPT",
    "space": "default",
    "model": "gpt-4.1",
    "api_key": "sk-proj-outage0123456789abcd",
    "justification": "outage tests",
}
STILL_TRYING = "keeps trying"


def _outage_settings(database_url, slack, kibana, **overrides: Any):
    values: dict[str, Any] = {
        "kibana_max_attempts": None,
        "kibana_retry_base_seconds": 0.1,
        "kibana_retry_window_seconds": 30.0,
    }
    values.update(overrides)
    return make_settings(database_url, slack, kibana, **values)


def _approve(bot: BotHarness) -> str:
    reference = reference_from(bot.request_via_form(GOOD))
    bot.card_for(reference)
    assert bot.click(reference, "approval.approve", user=APPROVER).status_code == 200
    return reference


def _thread(bot: BotHarness, reference: str) -> list[dict[str, Any]]:
    return bot.slack.thread_replies(APPROVAL_CHANNEL, bot.card_for(reference)["ts"])


def _dms(bot: BotHarness) -> list[dict[str, Any]]:
    return bot.slack.messages_in(bot.slack.dm_channel_for(REQUESTER))


def _with(messages: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    return [m for m in messages if text in json.dumps(m)]


def _wait_notices(bot: BotHarness, reference: str) -> None:
    wait_until(
        lambda: _with(_thread(bot, reference), STILL_TRYING) and _with(_dms(bot), STILL_TRYING),
        what="the still-trying notices in the thread and the DM",
    )


def _creates_answered_200(bot: BotHarness, connector_id: str) -> int:
    calls = bot.kibana.requests_to("POST", f"/api/actions/connector/{connector_id}")
    return sum(1 for call in calls if call.status == 200)


def test_a_kibana_refusing_connections_then_back_gives_one_connector_and_one_result(
    database_url, slack, kibana
) -> None:
    settings = _outage_settings(database_url, slack, kibana)
    with running_bot(settings, slack, kibana) as bot:
        reference = reference_from(bot.request_via_form(GOOD))
        bot.card_for(reference)
        kibana.pause()  # connection refused, as while Kibana restarts
        try:
            assert bot.click(reference, "approval.approve", user=APPROVER).status_code == 200
            _wait_notices(bot, reference)
            wait_until(lambda: len(bot.attempts(reference)) >= 4, what="several failed attempts")
        finally:
            kibana.resume()
        row = bot.wait_status(reference, "tested_ok")
        bot.wait_idle()
        assert row.kibana_connector_id is not None
        thread, dms = _thread(bot, reference), _dms(bot)
        notice = _with(thread, STILL_TRYING)
        assert len(notice) == 1, notice
        assert len(_with(dms, STILL_TRYING)) == 1
        said = json.dumps(notice[0])
        assert "Connection refused" in said or "could not be reached" in said, said
        assert "<!date^" in said  # until when, in each reader's time zone
        assert len(_with(thread, "Connector created and tested")) == 1
        assert len(_with(dms, "Connector created and tested")) == 1
        assert list(kibana.connectors("default")) == [row.kibana_connector_id]
        assert _creates_answered_200(bot, row.kibana_connector_id) == 1
        outcomes = [a[1] for a in bot.attempts(reference) if a[0] == "create"]
        assert outcomes[-1] == "ok"
        assert outcomes.count("unavailable") >= 3  # more than KIBANA_MAX_ATTEMPTS' old 3


def test_a_kibana_answering_503_for_a_while_then_back_is_told_once(
    database_url, slack, kibana
) -> None:
    settings = _outage_settings(database_url, slack, kibana)
    with running_bot(settings, slack, kibana) as bot:
        kibana.fail_next(5, status=503, method="POST", path_contains="/api/actions/connector/")
        reference = _approve(bot)
        row = bot.wait_status(reference, "tested_ok", timeout=30)
        bot.wait_idle()
        assert row.kibana_connector_id is not None
        thread, dms = _thread(bot, reference), _dms(bot)
        notice = _with(thread, STILL_TRYING)
        assert len(notice) == 1, notice
        assert "503" in json.dumps(notice[0])
        assert len(_with(dms, STILL_TRYING)) == 1
        assert len(_with(thread, "Connector created and tested")) == 1
        assert len(_with(dms, "Connector created and tested")) == 1
        assert list(kibana.connectors("default")) == [row.kibana_connector_id]
        assert _creates_answered_200(bot, row.kibana_connector_id) == 1
        assert [a[1] for a in bot.attempts(reference) if a[0] == "create"].count("unavailable") == 5


def test_a_kibana_down_past_the_window_ends_failed_with_the_reason(
    database_url, slack, kibana
) -> None:
    settings = _outage_settings(
        database_url, slack, kibana, kibana_retry_window_seconds=1.5, kibana_retry_base_seconds=0.2
    )
    with running_bot(settings, slack, kibana) as bot:
        reference = reference_from(bot.request_via_form(GOOD))
        bot.card_for(reference)
        kibana.pause()
        try:
            assert bot.click(reference, "approval.approve", user=APPROVER).status_code == 200
            row = bot.wait_status(reference, "failed", timeout=20)
            bot.wait_idle()
        finally:
            kibana.resume()
        assert row.failure_message is not None
        assert "could not be reached" in row.failure_message
        assert "Last error" in row.failure_message
        attempts = bot.attempts(reference)
        assert len(attempts) >= 3
        assert {a[1] for a in attempts} == {"unavailable"}
        thread, dms = _thread(bot, reference), _dms(bot)
        assert len(_with(thread, STILL_TRYING)) == 1
        assert len(_with(dms, STILL_TRYING)) == 1
        assert len(_with(thread, "could not be reached")) >= 1
        assert len(_with(dms, "Kibana could not be reached: the connector was not created")) == 1
        assert kibana.connectors("default") == {}


def test_a_test_call_failing_for_a_while_is_told_and_retried(database_url, slack, kibana) -> None:
    settings = _outage_settings(database_url, slack, kibana)
    with running_bot(settings, slack, kibana) as bot:
        kibana.fail_next(3, status=502, method="POST", path_contains="/_execute")
        reference = _approve(bot)
        bot.wait_status(reference, "tested_ok", timeout=30)
        bot.wait_idle()
        notice = _with(_thread(bot, reference), STILL_TRYING)
        assert len(notice) == 1, notice
        assert "testing the connector" in json.dumps(notice[0])
        assert "502" in json.dumps(notice[0])
        assert len(_with(_thread(bot, reference), "Connector created and tested")) == 1
