"""Acks first: the gate that counts unanswered Slack requests, and the ack that uses it."""

from __future__ import annotations

import threading
import time

import pytest
from slack_bolt import BoltResponse

from bot.priority import AckGate
from bot.slack import prompt_ack
from bot.slack.prompt_ack import PromptAck
from tests.harness import wait_until


def test_gate_is_quiet_with_nothing_owed() -> None:
    assert AckGate().wait_quiet(0) is True


def test_gate_waits_for_the_owed_answer_then_wakes_at_once() -> None:
    gate = AckGate()
    woke = threading.Event()
    quiet: list[bool] = []

    def waiter() -> None:
        quiet.append(gate.wait_quiet(30))
        woke.set()

    with gate.owed_answer():
        assert gate.owed == 1
        assert gate.wait_quiet(0.01) is False
        thread = threading.Thread(target=waiter)
        thread.start()
        assert not woke.wait(0.05)
    assert woke.wait(10), "the waiter was not woken when the answer went out"
    assert quiet == [True]
    assert gate.owed == 0
    thread.join(5)


def test_prompt_ack_wakes_the_answering_thread_when_called() -> None:
    gate = AckGate()
    ack = PromptAck(gate)  # made in this thread: the one that answers Slack
    listener = threading.Thread(target=lambda: ack(text="ok"))
    listener.start()
    response = ack.response  # waits for the listener's ack instead of polling
    assert isinstance(response, BoltResponse)
    assert response.status == 200
    listener.join(5)


def test_work_after_the_ack_waits_for_the_answers_owed() -> None:
    gate = AckGate()
    returned = threading.Event()
    with gate.owed_answer():
        ack = PromptAck(gate)

        def listener() -> None:
            ack()
            returned.set()  # what the listener does after its ack

        thread = threading.Thread(target=listener)
        thread.start()
        wait_until(lambda: ack.response is not None, timeout=10, what="the ack")
        assert not returned.is_set(), "work after the ack ran before the answer went out"
    assert returned.wait(10)
    thread.join(5)


def test_work_after_the_ack_waits_a_bounded_time() -> None:
    gate = AckGate()
    returned = threading.Event()
    with gate.owed_answer():  # an answer that never goes out
        ack = PromptAck(gate)

        def listener() -> None:
            ack()
            returned.set()

        threading.Thread(target=listener).start()
        assert returned.wait(10), "the listener waited past FOLLOW_UP_WAIT_SECONDS"


def test_gate_lingers_after_the_last_answer() -> None:
    gate = AckGate(linger_seconds=30)
    with gate.owed_answer():
        pass
    assert gate.wait_quiet(0.05) is False  # answered a moment ago: more are probably coming
    assert AckGate(linger_seconds=0).wait_quiet(0) is True


def test_an_ack_never_called_is_waited_for_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompt_ack, "ACK_WAIT_SECONDS", 1.0)
    ack = PromptAck(AckGate())
    started = time.monotonic()
    # Bolt reads it in its wait loop, then twice more after giving up: one wait in all.
    assert [ack.response, ack.response, ack.response] == [None, None, None]
    assert time.monotonic() - started < 2.0
