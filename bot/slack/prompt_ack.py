"""Answer Slack as soon as a listener acks, and run what follows the ack after the answers.

Bolt (``process_before_response=False``) runs a listener on its executor while the HTTP
thread checks every 10 ms whether ``ack()`` was called. ``PromptAck`` wakes that thread the
moment it is, and holds the listener's remaining work until every Slack request in flight has
been answered (see ``bot.priority``), for at most ``FOLLOW_UP_WAIT_SECONDS``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, BoltRequest, BoltResponse

from bot.priority import AckGate

# What follows an ack waits at most this long for the other answers: views.open must still
# reach Slack within the trigger id's 3 s.
FOLLOW_UP_WAIT_SECONDS = 0.5
# Bolt's own ack timeout (Listener.ack_timeout): past it, reading the response never waits.
ACK_WAIT_SECONDS = 3.0


class PromptAck(Ack):
    """An ``ack`` whose HTTP thread sleeps until it is called instead of polling for it."""

    def __init__(self, gate: AckGate) -> None:
        self._gate = gate
        self._called = threading.Event()
        self._answering_thread = threading.get_ident()
        self._wait_until = time.monotonic() + ACK_WAIT_SECONDS
        self._response: BoltResponse | None = None
        super().__init__()  # type: ignore[no-untyped-call]  # Bolt leaves it unannotated

    @property
    def response(self) -> BoltResponse | None:
        # Bolt's HTTP thread polls `ack.response is None` while the listener runs: wait for it
        # here instead, once, until Bolt's ack timeout (it reads it again after giving up).
        if self._response is None and threading.get_ident() == self._answering_thread:
            self._called.wait(max(0.0, self._wait_until - time.monotonic()))
        return self._response

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        self._response = value
        if value is not None:
            self._called.set()

    def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        answer = super().__call__(*args, **kwargs)
        if threading.get_ident() != self._answering_thread:
            # In the listener's thread: let the answers Slack is waiting for go out first.
            self._gate.wait_quiet(FOLLOW_UP_WAIT_SECONDS)
        return answer


def prompt_ack_middleware(
    gate: AckGate,
) -> Callable[[BoltRequest, Callable[[], BoltResponse]], BoltResponse | None]:
    """A global Bolt middleware: count the request until answered, and give it a PromptAck."""

    def middleware(
        req: BoltRequest,
        next: Callable[[], BoltResponse],  # Bolt passes arguments by these names
    ) -> BoltResponse | None:
        with gate.owed_answer():
            req.context["ack"] = PromptAck(gate)
            return next()

    return middleware
