"""The unit of queued work as handlers see it, how a handler asks to be retried, and how each
kind of job is run (its lane and its retry policy)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bot.domain.enums import JobKind

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.deps import Deps

# Payload key: when the current run of failures began (ISO 8601), kept across retries.
RETRYING_SINCE = "retrying_since"


@dataclass(frozen=True)
class JobContext:
    id: int
    kind: JobKind
    request_id: int | None
    payload: dict[str, Any]
    attempt: int  # 1 for the first run

    @property
    def retrying_since(self) -> datetime | None:
        """When this job's current run of transient failures began (None: none yet)."""
        value = self.payload.get(RETRYING_SINCE)
        return datetime.fromisoformat(value) if isinstance(value, str) else None


class RetryLaterError(Exception):
    """Raised by a handler: the work could not be done now; run it again after ``delay``
    (at least; the kind's retry policy may wait longer)."""

    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason


class GiveUpError(Exception):
    """Raised by a handler: the work can never succeed; stop retrying it."""


class Lane(StrEnum):
    """Worker thread groups: Slack work never waits behind a slow Kibana call."""

    SLACK = "slack"
    KIBANA = "kibana"
    AUDIT = "audit"  # copies of audit events for AUDIT_INDEX: never in front of Slack work
    LIFECYCLE = "lifecycle"  # re-tests and reconciliation: never delays the two above


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff (``base`` * 2^(n-1), at most ``cap``) until ``max_attempts`` runs
    or ``window_seconds`` since the first failure are spent, whichever comes first."""

    base_seconds: float
    cap_seconds: float
    max_attempts: int | None = None
    window_seconds: float | None = None

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.base_seconds * 2.0 ** min(attempt - 1, 60), self.cap_seconds))

    def deadline(self, since: datetime) -> datetime | None:
        """When retrying stops for failures that began at ``since`` (None: no window)."""
        if self.window_seconds is None:
            return None
        return since + timedelta(seconds=self.window_seconds)

    def next_delay(
        self, *, attempt: int, asked: float, since: datetime, now: datetime
    ) -> float | None:
        """Seconds until the next attempt, or None when the retries are spent."""
        if self.max_attempts is not None and attempt >= self.max_attempts:
            return None
        delay = max(asked, self.backoff(attempt))
        deadline = self.deadline(since)
        if deadline is not None:
            left = (deadline - now).total_seconds()
            if left <= 0:
                return None
            delay = min(delay, left)  # the last try comes at the deadline announced
        return delay


# Called in the transaction that reschedules a job after the first failure of a run of them
# (with the deadline of the retries), e.g. to tell people the bot keeps trying.
FirstFailureHook = Callable[
    ["Session", "Deps", JobContext, RetryLaterError, "datetime | None"], None
]
# Called once the retries are spent (with when the failures began), instead of burying the job.
ExhaustedHook = Callable[["Deps", JobContext, RetryLaterError, datetime], None]
# Called when a job that kept raising something unexpected is buried (with the error reference),
# so that what it was doing ends visibly instead of staying half-done.
BuriedHook = Callable[["Deps", JobContext, str], None]


@dataclass(frozen=True)
class JobSpec:
    """Everything about running one kind of job.

    ``handler`` does the work. It raises RetryLaterError for transient failures, retried by
    ``retry``; GiveUpError for final ones (the job is buried as dead); errors that end the
    request (Kibana's 4xx) are the handler's to record, and the job is done.
    """

    handler: Callable[[Deps, JobContext], None]
    lane: Lane
    retry: RetryPolicy
    on_first_failure: FirstFailureHook | None = None
    on_exhausted: ExhaustedHook | None = None
    on_buried: BuriedHook | None = None
