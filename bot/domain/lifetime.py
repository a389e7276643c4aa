"""A request's lifetime: how long the connector lives after it is created (pure).

The form offers 1, 7 and 30 days and no expiry (the default). With a policy maximum, "no
expiry" is not offered, the maximum itself is when it is none of those, and a choice above it
is refused with the maximum named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.fields import FieldKind, FieldSpec

LIFETIME_KEY = "lifetime"
NO_EXPIRY = "none"
CHOICES: tuple[int | None, ...] = (1, 7, 30, None)
DAYS = re.compile(r"[0-9]{1,4}")  # ASCII digits only: int() would also read other scripts'


def days_text(days: int) -> str:
    return "1 day" if days == 1 else f"{days} days"


def lifetime_text(days: int | None) -> str:
    """How the card and the DMs say it: "expires 7 days after creation" or "no expiry"."""
    return "no expiry" if days is None else f"expires {days_text(days)} after creation"


def offered(max_days: int | None) -> tuple[int | None, ...]:
    """The choices the form offers under a maximum (None: no maximum)."""
    if max_days is None:
        return CHOICES
    within = tuple(c for c in CHOICES if c is not None and c <= max_days)
    return within if max_days in within else (*within, max_days)


def option_value(days: int | None) -> str:
    return NO_EXPIRY if days is None else str(days)


def default_choice(max_days: int | None) -> int | None:
    """No expiry; under a maximum, the longest offered."""
    return None if max_days is None else offered(max_days)[-1]


def lifetime_field(max_days: int | None) -> FieldSpec:
    """The form's "Lifetime" select for this maximum."""
    labels = [
        (
            option_value(days),
            "No expiry"
            if days is None
            else days_text(days) + (" (the maximum)" if days == max_days else ""),
        )
        for days in offered(max_days)
    ]
    hint = "The bot deletes the connector at the end, after reminding you 3 days and 1 day before."
    if max_days is not None:
        hint += f" The policy allows at most {days_text(max_days)}."
    return FieldSpec(
        key=LIFETIME_KEY,
        label="Lifetime",
        hint=hint,
        kind=FieldKind.SELECT,
        initial=option_value(default_choice(max_days)),
        options=tuple(labels),
    )


@dataclass(frozen=True)
class LifetimeChoice:
    """What the form's select said: the days (None: no expiry), or why it is not usable."""

    days: int | None
    error: str | None = None


def read_choice(value: str) -> LifetimeChoice:
    """The select's value ('' when the form had none: no expiry, as before the field)."""
    text = value.strip()
    if text in ("", NO_EXPIRY):
        return LifetimeChoice(None)
    if DAYS.fullmatch(text) and 1 <= int(text) <= 3650:
        return LifetimeChoice(int(text))
    return LifetimeChoice(None, "Pick a lifetime from the list.")


def refusal(days: int | None, max_days: int | None) -> str | None:
    """Why the policy refuses this lifetime, naming the maximum; None when it is allowed."""
    if max_days is None or (days is not None and days <= max_days):
        return None
    if days is None:
        return f"The policy allows connectors for at most {days_text(max_days)}: pick a lifetime."
    return f"The policy allows at most {days_text(max_days)}: pick {days_text(max_days)} or less."
