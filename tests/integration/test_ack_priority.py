"""Acks first: work that follows an ack waits until Slack has every answer it is owed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.slack import prompt_ack
from bot.slack.listeners import request as request_listeners
from bot.slack.views import request_modal
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


def test_the_blank_form_is_built_once(bot: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []
    real = request_modal.build_request_view

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(request_listeners, "build_request_view", counting)
    request_listeners._blank_request_form.cache_clear()

    def opened(count: int) -> Callable[[], bool]:
        return lambda: len(bot.slack.calls_for("views.open")) == count

    for count in range(1, 4):  # one after the other (concurrent first calls may both build it)
        assert bot.command("").status_code == 200
        wait_until(opened(count), timeout=10, what="views.open")
    views = [call.args["view"] for call in bot.slack.calls_for("views.open")]
    assert views[0] == views[1] == views[2]
    assert len(built) == 1  # converted from slack-sdk models once, not once per command
