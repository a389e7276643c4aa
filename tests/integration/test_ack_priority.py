"""Acks first: work that follows an ack waits until Slack has every answer it is owed."""

from __future__ import annotations

import pytest

from bot.slack import prompt_ack
from tests.harness import BotHarness, wait_until


def test_modal_opens_only_after_the_answers_owed_went_out(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prompt_ack, "FOLLOW_UP_WAIT_SECONDS", 30.0)
    with bot.deps.ack_gate.owed_answer():  # another Slack request still waits for its answer
        response = bot.command("")
        assert response.status_code == 200  # the ack itself is not held back
        assert bot.slack.calls_for("views.open") == []
    wait_until(lambda: bot.slack.calls_for("views.open"), timeout=10, what="views.open")


def test_slack_requests_are_counted_until_answered(bot: BotHarness) -> None:
    assert bot.deps.ack_gate.owed == 0
    assert bot.command("help").status_code == 200
    assert bot.deps.ack_gate.owed == 0
