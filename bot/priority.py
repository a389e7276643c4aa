"""Acknowledgements first: background work yields while Slack waits for an answer.

CPython runs one thread's Python code at a time, so the work that follows an ack (opening a
modal, refreshing a card, a job) competes with the acks still owed to Slack. Each Slack request
is counted from the moment it is verified until its answer is handed to the HTTP server;
deferrable work waits, for a bounded time, until none is owed and none has been answered for
a moment (requests come in bursts: the next one is usually on its way).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class AckGate:
    """Counts the Slack requests not yet answered; lets deferrable work wait for none."""

    def __init__(self, *, linger_seconds: float = 0.02) -> None:
        self._owed = 0
        self._linger = linger_seconds
        self._last_answer = -float("inf")  # time.monotonic() of the latest answer
        self._quiet = threading.Condition()

    @property
    def owed(self) -> int:
        """How many Slack requests are waiting for their answer now."""
        with self._quiet:
            return self._owed

    @contextmanager
    def owed_answer(self) -> Iterator[None]:
        """Count one Slack request for as long as the block runs (until it is answered)."""
        with self._quiet:
            self._owed += 1
        try:
            yield
        finally:
            with self._quiet:
                self._owed -= 1
                self._last_answer = time.monotonic()
                if self._owed == 0:
                    self._quiet.notify_all()

    def wait_quiet(self, timeout: float) -> bool:
        """Wait until no Slack request waits for its answer and none was answered in the last
        ``linger_seconds``, at most ``timeout`` seconds (the bound keeps deadlines such as a
        trigger id's 3 s); True when it is quiet."""
        deadline = time.monotonic() + timeout
        with self._quiet:
            while True:
                now = time.monotonic()
                if self._owed == 0 and now - self._last_answer >= self._linger:
                    return True
                if now >= deadline:
                    return False
                if self._owed == 0:  # answered a moment ago: wait out the linger
                    pause = self._last_answer + self._linger - now
                else:
                    pause = deadline - now
                self._quiet.wait(min(pause, deadline - now))
