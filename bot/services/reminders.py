"""Reminders, escalation and expiry of pending requests, driven from the database.

At submission a request stores its plan (`reminder_plan_for`) and the first moment something
is due (``next_nudge_at``). The sweep (`nudge_due_requests`) finds due requests with one
indexed query and claims each by a compare-and-set of ``next_nudge_at`` in the transaction
that queues its Slack jobs: with several replicas each reminder is sent once, and after a
restart the schedule is where it was. Expiry itself is `requests.expire_due_requests`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.db import nudges, queries
from bot.db.models import ConnectorRequest
from bot.db.session import session_scope
from bot.deps import Deps
from bot.domain.enums import AuditAction, JobKind, RequestStatus
from bot.domain.policy.approval import is_group_id
from bot.domain.policy.matching import RequestFacts, match_rule
from bot.domain.policy.model import Rule
from bot.domain.policy.reminders import (
    EscalationNotice,
    ReminderNotice,
    ReminderPlan,
    approvals_missing,
    due_nudge,
    next_nudge_at,
    plan_for,
    still_to_approve,
)
from bot.domain.providers.spec import ProviderDraft
from bot.domain.schemas import RequestSnapshot
from bot.domain.targets import DEFAULT_TARGET
from bot.services.jobs import GiveUpError, JobContext, RetryLaterError
from bot.services.ports import NotificationFailedError, NotificationRetryableError
from bot.services.snapshots import to_snapshot

log = logging.getLogger(__name__)
# A due reminder whose card is not posted yet is looked at again this much later.
CARD_WAIT = timedelta(minutes=1)
WAITED = "waited_seconds"
USER = "user"


def reminder_plan_for(
    deps: Deps, draft: ProviderDraft[Any, Any], requester: str, *, target: str = DEFAULT_TARGET
) -> ReminderPlan:
    """The reminders, escalation and expiry of a request: those of the rule it matches
    (first match wins), else the top-level ones."""
    model = getattr(draft.settings, "model", None)
    facts = RequestFacts(
        target=target,
        space=draft.space_id,
        provider=draft.provider.value,
        requester=requester,
        model=model if isinstance(model, str) else None,
    )
    return rule_plan(deps, match_rule(deps.governance, facts))


def rule_plan(deps: Deps, rule: Rule | None) -> ReminderPlan:
    """The reminders, escalation and expiry under ``rule`` (the one matched at submit)."""
    return plan_for(deps.governance.reminders_for(rule), rule, fallback=deps.policy.approvers)


def schedule(plan: ReminderPlan, created: datetime) -> dict[str, Any]:
    """The columns a new request stores for ``plan``."""
    return {
        "reminder_plan": plan.to_json(),
        "next_nudge_at": next_nudge_at(plan, created, reminders_sent=0, escalated=False),
        "reminders_sent": 0,
        "expires_at": plan.expires_at(created),
    }


def nudge_due_requests(deps: Deps, *, limit: int = 500) -> int:
    """Queue the reminders and escalations due now; return how many requests were nudged."""
    now = deps.clock()
    with session_scope(deps.session_factory) as session:
        due = nudges.due_nudges(session=session, now=now, limit=limit)
    nudged = 0
    for request_id, seen in due:
        with session_scope(deps.session_factory) as session:
            if _claim(session, request_id, seen, now):
                nudged += 1
    if nudged:
        deps.wake_workers()
    return nudged


def _claim(session: Session, request_id: int, seen: datetime, now: datetime) -> bool:
    row = queries.get_request(session=session, request_id=request_id)
    if row is None or row.status != RequestStatus.PENDING.value:
        return False
    if row.card_ts is None:  # nowhere to reply yet: look again shortly
        nudges.claim_nudge(
            session=session,
            request_id=request_id,
            seen=seen,
            values={"next_nudge_at": now + CARD_WAIT},
        )
        return False
    plan = ReminderPlan.from_json(row.reminder_plan)
    nudge = due_nudge(
        plan,
        row.created_at,
        reminders_sent=row.reminders_sent,
        escalated=row.escalated_at is not None,
        now=now,
    )
    values: dict[str, Any] = {
        "next_nudge_at": nudge.next_at,
        "reminders_sent": nudge.reminders_sent,
    }
    if nudge.escalate:
        values["escalated_at"] = now
    if not nudges.claim_nudge(session=session, request_id=request_id, seen=seen, values=values):
        return False
    waited = {WAITED: int((now - row.created_at).total_seconds())}
    if nudge.remind:
        queries.enqueue(session=session, kind=JobKind.REMIND, request_id=request_id, payload=waited)
        queries.add_audit(
            session=session,
            action=AuditAction.REMINDED,
            request_id=request_id,
            actor=None,
            detail={"reminder": nudge.reminders_sent},
        )
    if nudge.escalate:
        _queue_escalation(session, row, plan, waited)
    return nudge.remind or nudge.escalate


def _queue_escalation(
    session: Session, row: ConnectorRequest, plan: ReminderPlan, waited: dict[str, Any]
) -> None:
    escalate_to = plan.reminders.escalate_to
    queries.enqueue(session=session, kind=JobKind.ESCALATE, request_id=row.id, payload=waited)
    for user in escalate_to:
        if not is_group_id(user):  # a group is reached by the thread mention only
            queries.enqueue(
                session=session,
                kind=JobKind.ESCALATE_DM,
                request_id=row.id,
                payload={**waited, USER: user},
            )
    queries.add_audit(
        session=session,
        action=AuditAction.ESCALATED,
        request_id=row.id,
        actor=None,
        detail={"escalate_to": list(escalate_to)},
    )


# --- the jobs ----------------------------------------------------------------------------------


def send_reminder(deps: Deps, job: JobContext) -> None:
    """The reminder in the card's thread, mentioning who still has to act."""
    found = _pending(deps, job)
    if found is None:
        return
    snapshot, plan, approved = found
    notice = ReminderNotice(
        waited=_waited(job),
        missing=approvals_missing(plan, approved),
        to_act=who_still_has_to_act(plan, snapshot.requested_by, approved),
    )
    _deliver("reminder", lambda: deps.notifier.remind(snapshot, notice))


def send_escalation(deps: Deps, job: JobContext) -> None:
    """The escalation in the card's thread (``escalate_to`` mentioned), or the DM to one user
    of it."""
    found = _pending(deps, job)
    if found is None:
        return
    snapshot, plan, approved = found
    notice = EscalationNotice(
        waited=_waited(job),
        escalate_to=plan.reminders.escalate_to,
        to_act=who_still_has_to_act(plan, snapshot.requested_by, approved),
    )
    user = job.payload.get(USER)
    dm = str(user) if isinstance(user, str) else None
    _deliver("escalation", lambda: deps.notifier.escalate(snapshot, notice, user=dm))


def who_still_has_to_act(
    plan: ReminderPlan, requester: str, approved: list[str]
) -> tuple[str, ...]:
    """The ids a reminder mentions: the rule's approvers (groups as groups) who have not
    approved. The one place to switch to a directory's resolved members."""
    return still_to_approve(plan, requester=requester, approved_by=approved)


def _pending(deps: Deps, job: JobContext) -> tuple[RequestSnapshot, ReminderPlan, list[str]] | None:
    with session_scope(deps.session_factory) as session:
        row = queries.get_request(session=session, request_id=job.request_id or 0)
        if row is None:
            raise GiveUpError("request vanished")
        if row.status != RequestStatus.PENDING.value:
            log.info("request %s was decided: its %s is not sent", row.reference, job.kind)
            return None
        snapshot = to_snapshot(row, deps.governance)
        if snapshot.card_ts is None:
            raise RetryLaterError(CARD_WAIT.total_seconds(), "the approval card is not posted")
        plan = ReminderPlan.from_json(row.reminder_plan)
        approved = nudges.approved_by(session=session, request_id=row.id)
    return snapshot, plan, approved


def _waited(job: JobContext) -> timedelta:
    value = job.payload.get(WAITED)
    return timedelta(seconds=int(value) if isinstance(value, int | float) else 0)


def _deliver(action: str, send: Any) -> None:
    try:
        send()
    except NotificationRetryableError as error:
        raise RetryLaterError(error.retry_after or 2.0, f"{action}: {error}") from None
    except NotificationFailedError as error:
        raise GiveUpError(f"{action}: {error}") from None
