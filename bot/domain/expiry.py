"""When a time-limited connector expires, when its owner is warned, and how far an extension
moves it (pure).

The owner is warned 3 days and 1 day before the end; a warning whose moment is already past
when the connector is made (a 1-day lifetime has no 3-day warning) is skipped, and a warning
due at the very moment of creation (the 1-day warning of a 1-day connector) is sent at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

WARN_BEFORE: tuple[timedelta, ...] = (timedelta(days=3), timedelta(days=1))
EXTENSION_CHOICES: tuple[int, ...] = (1, 7, 30)
DAY = timedelta(days=1)


def expires_at(
    created: datetime, lifetime_days: int | None, max_days: int | None
) -> datetime | None:
    """The end of a connector made at ``created`` (None: no expiry), within the policy's
    maximum (a lifetime checked at submit under a later, stricter policy is cut to it)."""
    days = lifetime_days
    if max_days is not None:
        days = max_days if days is None else min(days, max_days)
    return None if days is None else created + timedelta(days=days)


def next_warning(end: datetime | None, *, not_before: datetime) -> datetime | None:
    """The first warning moment at or after ``not_before`` and before the end (None: none)."""
    if end is None:
        return None
    moments = sorted(end - before for before in WARN_BEFORE)
    return next((at for at in moments if not_before <= at < end), None)


def warning_after(end: datetime | None, *, sent: datetime, now: datetime) -> datetime | None:
    """The warning after the one due at ``sent`` (claimed at ``now``): a sweep that runs late
    (the bot was down) sends the latest due warning once, not every one it missed."""
    if end is None:
        return None
    moments = sorted(end - before for before in WARN_BEFORE)
    return next((at for at in moments if at > sent and at > now and at < end), None)


def days_left(end: datetime, now: datetime) -> int:
    """Whole days until the end, rounded up (at least 1): what the warning says."""
    return max(1, math.ceil((end - now) / DAY))


@dataclass(frozen=True)
class Extension:
    """The new end of an extension and whether the policy's maximum cut it."""

    until: datetime
    capped: bool


def extension(*, now: datetime, end: datetime | None, days: int, max_days: int | None) -> Extension:
    """``days`` more from the current end (or from now once it is past), never past
    now + the policy's maximum lifetime."""
    start = end if end is not None and end > now else now
    until = start + timedelta(days=days)
    if max_days is not None and until > now + timedelta(days=max_days):
        return Extension(now + timedelta(days=max_days), capped=True)
    return Extension(until, capped=False)
