"""Acknowledgements first: background work yields while Slack waits for an answer.

CPython runs one thread's Python code at a time, so the work that follows an ack (opening a
modal, refreshing a card, a job) competes with the acks still owed to Slack. Each Slack request
is counted from the moment it is verified until its answer is handed to the HTTP server;
deferrable work waits, for a bounded time, until none is owed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class AckGate:
    """Counts the Slack requests not yet answered; lets deferrable work wait for none."""

    def __init__(self) -> None:
        self._owed = 0
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
                if self._owed == 0:
                    self._quiet.notify_all()

    def wait_quiet(self, timeout: float) -> bool:
        """Wait until no Slack request waits for its answer, at most ``timeout`` seconds
        (the bound keeps deadlines such as a trigger id's 3 s); True when it is quiet."""
        with self._quiet:
            return self._quiet.wait_for(lambda: self._owed == 0, timeout)
