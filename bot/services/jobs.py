"""The unit of queued work as handlers see it, and how a handler asks to be retried."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.domain.enums import JobKind


@dataclass(frozen=True)
class JobContext:
    id: int
    kind: JobKind
    request_id: int | None
    payload: dict[str, Any]
    attempt: int  # 1 for the first run


class RetryLaterError(Exception):
    """Raised by a handler: the work could not be done now; run it again after ``delay``."""

    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason


class GiveUpError(Exception):
    """Raised by a handler: the work can never succeed; stop retrying it."""
