"""Expiry moments, warnings and extensions (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain import expiry

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def test_no_lifetime_no_expiry_unless_the_policy_has_a_maximum() -> None:
    assert expiry.expires_at(NOW, None, None) is None
    assert expiry.expires_at(NOW, None, 10) == NOW + 10 * DAY
    assert expiry.expires_at(NOW, 30, 10) == NOW + 10 * DAY
    assert expiry.expires_at(NOW, 7, 10) == NOW + 7 * DAY


@pytest.mark.parametrize(
    ("days", "first"),
    [(1, NOW), (3, NOW), (7, NOW + 4 * DAY), (30, NOW + 27 * DAY)],
)
def test_the_first_warning_is_the_first_one_not_yet_past(days: int, first: datetime) -> None:
    end = NOW + days * DAY
    assert expiry.next_warning(end, not_before=NOW) == first


def test_after_the_three_day_warning_comes_the_one_day_one_then_none() -> None:
    end = NOW + 7 * DAY
    three = end - 3 * DAY
    one = end - DAY
    assert expiry.warning_after(end, sent=three, now=three) == one
    assert expiry.warning_after(end, sent=one, now=one) is None
    # A sweep that runs late (the bot was down past both) sends one, not both.
    assert expiry.warning_after(end, sent=three, now=one + timedelta(hours=1)) is None


def test_days_left_rounds_up() -> None:
    assert expiry.days_left(NOW + DAY, NOW) == 1
    assert expiry.days_left(NOW + 3 * DAY, NOW) == 3
    assert expiry.days_left(NOW + 2 * DAY + timedelta(hours=1), NOW) == 3
    assert expiry.days_left(NOW + timedelta(minutes=1), NOW) == 1


def test_an_extension_adds_to_the_end_and_is_capped_at_now_plus_the_maximum() -> None:
    end = NOW + DAY
    assert expiry.extension(now=NOW, end=end, days=7, max_days=None).until == end + 7 * DAY
    capped = expiry.extension(now=NOW, end=end, days=30, max_days=10)
    assert capped == expiry.Extension(NOW + 10 * DAY, capped=True)
    past = expiry.extension(now=NOW, end=NOW - DAY, days=1, max_days=None)
    assert past.until == NOW + DAY


@given(st.integers(min_value=1, max_value=3650), st.integers(min_value=0, max_value=10**6))
def test_warnings_are_before_the_end_and_never_in_the_past(days: int, offset: int) -> None:
    end = NOW + days * DAY
    at = NOW + timedelta(seconds=offset)
    found = expiry.next_warning(end, not_before=at)
    if found is not None:
        assert at <= found < end
