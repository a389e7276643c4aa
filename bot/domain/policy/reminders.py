"""When a pending request nudges its approvers: reminders with backoff, one escalation, expiry.

A request stores its plan (`ReminderPlan`) at submission, so a later policy change never
reschedules what is already waiting. Reminder number k (0-based) falls at
``created + after + repeat * (1 + 2 + … + 2^(k-2))``: the first gap is ``repeat``, each next
one doubles, capped at `REPEAT_CAP` (or at ``repeat`` itself when that is longer). Without
``repeat`` there is one reminder. Nothing is due at or after the request expires.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.domain.policy.approval import Vote, still_to_act
from bot.domain.policy.model import Reminders, Rule

REPEAT_CAP = timedelta(days=7)
# A late sweep (the bot was down) sends one reminder, not every one it missed; this bounds
# the walk over missed ones.
_MAX_STEPS = 10_000


@dataclass(frozen=True)
class ReminderPlan:
    """A request's reminders, escalation and expiry, and who approves it (for mentions)."""

    reminders: Reminders
    approvers: tuple[str, ...] = ()  # user ids and group ids, as the rule lists them
    approvals: int = 1

    def to_json(self) -> dict[str, Any]:
        r = self.reminders
        return {
            "after": _seconds(r.after),
            "repeat": _seconds(r.repeat),
            "escalate_after": _seconds(r.escalate_after),
            "escalate_to": list(r.escalate_to),
            "expire_after": _seconds(r.expire_after),
            "approvers": list(self.approvers),
            "approvals": self.approvals,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ReminderPlan:
        """The stored plan; a row stored before plans were kept has none (no nudges)."""
        if not data:
            return cls(Reminders(expire_after=None))
        return cls(
            Reminders(
                after=_delta(data.get("after")),
                repeat=_delta(data.get("repeat")),
                escalate_after=_delta(data.get("escalate_after")),
                escalate_to=tuple(str(item) for item in data.get("escalate_to") or ()),
                expire_after=_delta(data.get("expire_after")),
            ),
            approvers=tuple(str(item) for item in data.get("approvers") or ()),
            approvals=int(data.get("approvals") or 1),
        )

    def expires_at(self, created: datetime) -> datetime | None:
        after = self.reminders.expire_after
        return created + after if after is not None else None


def plan_for(
    reminders: Reminders, rule: Rule | None, *, fallback: Iterable[str] = ()
) -> ReminderPlan:
    """The plan of a request decided under ``rule`` (its approvers; ``fallback`` without one)."""
    approvers = rule.approvers if rule is not None else tuple(sorted(fallback))
    return ReminderPlan(
        reminders=reminders,
        approvers=tuple(approvers),
        approvals=rule.approvals if rule is not None else 1,
    )


def repeat_gap(repeat: timedelta, number: int) -> timedelta:
    """The wait between reminder ``number`` (1-based, ≥ 1) and the next one."""
    cap = max(repeat, REPEAT_CAP)
    gap = repeat
    for _ in range(number - 1):
        gap = gap * 2
        if gap >= cap:
            return cap
    return gap


def reminder_at(plan: ReminderPlan, created: datetime, index: int) -> datetime | None:
    """When reminder ``index`` (0-based) falls, or None when there is no such reminder."""
    r = plan.reminders
    if r.after is None:
        return None
    if index == 0:
        return created + r.after
    if r.repeat is None:
        return None
    moment = created + r.after
    for number in range(1, min(index, _MAX_STEPS) + 1):
        moment += repeat_gap(r.repeat, number)
    return moment


def escalation_at(plan: ReminderPlan, created: datetime) -> datetime | None:
    r = plan.reminders
    if r.escalate_after is None or not r.escalate_to:
        return None
    return created + r.escalate_after


@dataclass(frozen=True)
class Nudge:
    """What is due now: a reminder, the escalation, or both; and the new schedule."""

    remind: bool
    escalate: bool
    reminders_sent: int  # the count after this nudge (missed reminders are skipped)
    next_at: datetime | None


def next_nudge_at(
    plan: ReminderPlan, created: datetime, *, reminders_sent: int, escalated: bool
) -> datetime | None:
    """The next moment something is due, or None (nothing more before the request expires)."""
    candidates = [reminder_at(plan, created, reminders_sent)]
    if not escalated:
        candidates.append(escalation_at(plan, created))
    expires = plan.expires_at(created)
    due = [c for c in candidates if c is not None and (expires is None or c < expires)]
    return min(due) if due else None


def due_nudge(
    plan: ReminderPlan,
    created: datetime,
    *,
    reminders_sent: int,
    escalated: bool,
    now: datetime,
) -> Nudge:
    """What to send at ``now`` and when to look again."""
    expires = plan.expires_at(created)
    if expires is not None and now >= expires:
        return Nudge(remind=False, escalate=False, reminders_sent=reminders_sent, next_at=None)
    first = reminder_at(plan, created, reminders_sent)
    remind = first is not None and first <= now
    sent = reminders_sent
    if remind:
        sent += 1
        for _ in range(_MAX_STEPS):
            moment = reminder_at(plan, created, sent)
            if moment is None or moment > now:
                break
            sent += 1
    when = escalation_at(plan, created)
    escalate = not escalated and when is not None and when <= now
    following = next_nudge_at(plan, created, reminders_sent=sent, escalated=escalated or escalate)
    return Nudge(remind=remind, escalate=escalate, reminders_sent=sent, next_at=following)


def still_to_approve(
    plan: ReminderPlan, *, requester: str, approved_by: Collection[str]
) -> tuple[str, ...]:
    """Who still has to act, in the rule's order: its approver ids (groups stay as groups)
    without the requester and those who already approved."""
    votes = [Vote(approver=user, approve=True) for user in approved_by]
    left = still_to_act(requester=requester, eligible=frozenset(plan.approvers), votes=votes)
    return tuple(approver for approver in plan.approvers if approver in left)


def approvals_missing(plan: ReminderPlan, approved_by: Collection[str]) -> int:
    return max(1, plan.approvals - len(set(approved_by)))


@dataclass(frozen=True)
class ReminderNotice:
    """A reminder in the card's thread: how long the request waited, for how many more
    approvals, and who still has to act."""

    waited: timedelta
    missing: int
    to_act: tuple[str, ...]


@dataclass(frozen=True)
class EscalationNotice:
    """The escalation: the thread mentions ``escalate_to``; each user of it gets a DM."""

    waited: timedelta
    escalate_to: tuple[str, ...]
    to_act: tuple[str, ...]


def _seconds(value: timedelta | None) -> int | None:
    return int(value.total_seconds()) if value is not None else None


def _delta(value: object) -> timedelta | None:
    return timedelta(seconds=int(value)) if isinstance(value, int | float) else None
