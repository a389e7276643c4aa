"""The reminder schedule: first reminder, doubling repeats with a cap, one escalation, nothing
at or after expiry, and who still has to act."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.policy.model import Reminders, Rule
from bot.domain.policy.reminders import (
    REPEAT_CAP,
    ReminderPlan,
    approvals_missing,
    due_nudge,
    next_nudge_at,
    plan_for,
    reminder_at,
    still_to_approve,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
H = timedelta(hours=1)


def plan(**values: object) -> ReminderPlan:
    defaults: dict[str, object] = {
        "after": 4 * H,
        "repeat": 24 * H,
        "escalate_after": 48 * H,
        "escalate_to": ("U0ESCALATE",),
        "expire_after": timedelta(days=30),
    }
    defaults.update(values)
    return ReminderPlan(Reminders(**defaults), approvers=("U1", "S0GROUP", "U2"), approvals=2)  # type: ignore[arg-type]


def test_reminders_repeat_with_doubling_gaps_capped_at_seven_days() -> None:
    p = plan()
    times = [reminder_at(p, T0, k) for k in range(6)]
    gaps = [b - a for a, b in itertools.pairwise(times)]  # type: ignore[operator]
    assert times[0] == T0 + 4 * H
    assert gaps == [24 * H, 48 * H, 96 * H, REPEAT_CAP, REPEAT_CAP]


def test_a_repeat_longer_than_the_cap_stays_as_written() -> None:
    p = plan(repeat=timedelta(days=10))
    assert reminder_at(p, T0, 2) - reminder_at(p, T0, 1) == timedelta(days=10)  # type: ignore[operator]


def test_without_repeat_there_is_one_reminder_and_without_after_none() -> None:
    assert reminder_at(plan(repeat=None), T0, 1) is None
    assert reminder_at(plan(after=None), T0, 0) is None


def test_the_first_nudge_is_the_earlier_of_reminder_and_escalation() -> None:
    assert next_nudge_at(plan(), T0, reminders_sent=0, escalated=False) == T0 + 4 * H
    late = plan(after=72 * H)
    assert next_nudge_at(late, T0, reminders_sent=0, escalated=False) == T0 + 48 * H
    assert next_nudge_at(late, T0, reminders_sent=0, escalated=True) == T0 + 72 * H


def test_nothing_is_due_at_or_after_expiry() -> None:
    short = plan(expire_after=4 * H)
    assert next_nudge_at(short, T0, reminders_sent=0, escalated=False) is None
    p = plan(expire_after=10 * H, escalate_after=None)
    assert next_nudge_at(p, T0, reminders_sent=1, escalated=False) is None  # next at 28 h
    nudge = due_nudge(p, T0, reminders_sent=0, escalated=False, now=T0 + 11 * H)
    assert not nudge.remind
    assert not nudge.escalate


def test_a_late_sweep_sends_one_reminder_and_skips_those_missed() -> None:
    nudge = due_nudge(plan(), T0, reminders_sent=0, escalated=True, now=T0 + 100 * H)
    assert nudge.remind
    assert nudge.reminders_sent == 3  # those at 4 h, 28 h and 76 h are behind
    assert nudge.next_at == T0 + (4 + 24 + 48 + 96) * H


def test_escalation_comes_once() -> None:
    first = due_nudge(plan(), T0, reminders_sent=2, escalated=False, now=T0 + 48 * H)
    assert first.escalate
    assert not first.remind
    again = due_nudge(plan(), T0, reminders_sent=1, escalated=True, now=T0 + 49 * H)
    assert not again.escalate


def test_escalation_needs_someone_to_escalate_to() -> None:
    p = plan(escalate_to=())
    assert not due_nudge(p, T0, reminders_sent=9, escalated=False, now=T0 + 49 * H).escalate


def test_the_plan_round_trips_through_json() -> None:
    p = plan()
    assert ReminderPlan.from_json(p.to_json()) == p
    assert ReminderPlan.from_json(None).expires_at(T0) is None


def test_who_still_has_to_act_keeps_groups_and_drops_approvers_and_the_requester() -> None:
    p = plan()
    assert still_to_approve(p, requester="U2", approved_by=["U1"]) == ("S0GROUP",)
    assert approvals_missing(p, ["U1"]) == 1
    assert approvals_missing(p, []) == 2


def test_a_plan_takes_the_rules_approvers_or_the_fallback() -> None:
    rule = Rule(index=0, approvers=("S1", "U9"), approvals=2)
    assert plan_for(Reminders(), rule).approvers == ("S1", "U9")
    assert plan_for(Reminders(), None, fallback={"U2", "U1"}).approvers == ("U1", "U2")


@given(
    st.integers(min_value=1, max_value=10**6),
    st.integers(min_value=1, max_value=10**6),
    st.integers(min_value=0, max_value=10**8),
)
def test_the_next_nudge_is_always_after_now_and_before_expiry(
    after: int, repeat: int, elapsed: int
) -> None:
    p = plan(
        after=timedelta(seconds=after),
        repeat=timedelta(seconds=repeat),
        expire_after=timedelta(days=400),
    )
    now = T0 + timedelta(seconds=elapsed)
    nudge = due_nudge(p, T0, reminders_sent=0, escalated=True, now=now)
    if nudge.next_at is not None:
        assert nudge.next_at > now
        assert nudge.next_at < T0 + timedelta(days=400)
