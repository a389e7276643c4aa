"""Retire and extend a managed connector: who may ask, the request (decided by the same
policy as a new one), and the jobs that carry out an approved one."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from bot.db import lifecycle_queries as lq
from bot.db import queries
from bot.db.models import ConnectorRequest, ManagedConnector
from bot.db.session import session_scope
from bot.domain import expiry
from bot.domain.enums import AuditAction, RequestKind, RequestStatus
from bot.domain.lifecycle import LIVE_STATES, LifecycleEvent, LifecycleNotice, ManagedState
from bot.domain.lifetime import days_text
from bot.domain.policy.matching import RequestFacts
from bot.domain.schemas import RequestSnapshot
from bot.errors import BotError, NotAuthorizedError
from bot.services import requests
from bot.services.backends.base import BackendError, BackendUnavailableError
from bot.services.jobs import GiveUpError, JobContext, RetryLaterError
from bot.services.lifecycle.inventory import (
    backend_of,
    effective_lifecycle,
    is_approver,
    load_summary,
    target_of,
)
from bot.services.lifecycle.notices import queue_notice
from bot.services.transitions import announce, move, start_work

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.deps import Deps
    from bot.domain.lifecycle import ManagedSummary

log = logging.getLogger(__name__)
S = RequestStatus
CAS_TRIES = 5


class ManagedNotFoundError(BotError):
    """No managed connector answers to what was typed."""


def locate(deps: Deps, *, target: str | None, resource_id: str) -> ManagedSummary:
    """The live managed connector with this id (on ``target``, or on the only target)."""
    known = [found.key for found in deps.governance.targets]
    if target is None and len(known) > 1:
        raise ManagedNotFoundError(
            "Say which target it is on: " + ", ".join(f"`{key}`" for key in known) + "."
        )
    chosen = target or known[0]
    if chosen not in known:
        raise ManagedNotFoundError(f"There is no target `{chosen[:64]}`.")
    with session_scope(deps.session_factory) as session:
        rows = [
            row
            for row in lq.list_managed(session=session)
            if row.target == chosen and row.resource_id == resource_id
        ]
        live = [row for row in rows if ManagedState(row.state) in LIVE_STATES]
        if not live and rows:
            raise ManagedNotFoundError(
                f"That connector is {rows[0].state} already: there is nothing to do."
            )
        if not live:
            raise ManagedNotFoundError(
                "The bot manages no connector with that id (see `connectors`)."
            )
        if len(live) > 1:
            spaces = ", ".join(sorted(row.space_id for row in live))
            raise ManagedNotFoundError(f"That id is managed in several spaces ({spaces}).")
        return load_summary(session, live[0])


def check_may_ask(deps: Deps, *, managed_id: int, user: str, verb: str) -> ManagedSummary:
    """The live connector, when ``user`` (its owner or an approver) may ask to ``verb`` it."""
    with session_scope(deps.session_factory) as session:
        row = lq.get_managed(session=session, managed_id=managed_id)
        if row is None:
            raise ManagedNotFoundError("The bot no longer manages that connector.")
        connector = load_summary(session, row)
    if connector.owner != user and not is_approver(deps, user):
        raise NotAuthorizedError(f"Only its owner and the approvers can {verb} this connector.")
    if connector.state not in LIVE_STATES:
        raise ManagedNotFoundError(
            f"That connector is {connector.state.value} already: there is nothing to {verb}."
        )
    return connector


def ask_to_retire(deps: Deps, *, managed_id: int, actor: str, reason: str) -> RequestSnapshot:
    """Store a retire request, decided by the connector's policy rule (auto-approved when it
    says so); the connector's thread is told who asked and why."""
    check_may_ask(deps, managed_id=managed_id, user=actor, verb="retire")
    return _ask(deps, RequestKind.RETIRE, managed_id=managed_id, actor=actor, reason=reason)


def ask_to_extend(deps: Deps, *, managed_id: int, actor: str, days: int) -> RequestSnapshot:
    """Store a request to extend a time-limited connector by ``days``."""
    connector = check_may_ask(deps, managed_id=managed_id, user=actor, verb="extend")
    if connector.expires_at is None:
        raise BotError("That connector has no expiry: there is nothing to extend.")
    if days not in expiry.EXTENSION_CHOICES:
        raise BotError("Extend by 1, 7 or 30 days.")
    return _ask(
        deps,
        RequestKind.EXTEND,
        managed_id=managed_id,
        actor=actor,
        reason=f"Extend by {days_text(days)}.",
        days=days,
    )


def _ask(
    deps: Deps,
    kind: RequestKind,
    *,
    managed_id: int,
    actor: str,
    reason: str,
    days: int | None = None,
) -> RequestSnapshot:
    with session_scope(deps.session_factory) as session:
        managed = lq.get_managed(session=session, managed_id=managed_id)
        if managed is None:
            raise ManagedNotFoundError("The bot no longer manages that connector.")
        session.expunge(managed)
        waiting = lq.open_managed_request(session=session, managed_id=managed_id, kind=kind.value)
        if waiting is not None:
            raise BotError(f"{waiting.reference} already asks to {kind.value} it.")
    event = (
        LifecycleEvent.RETIRE_ASKED if kind is RequestKind.RETIRE else LifecycleEvent.EXTEND_ASKED
    )

    def tell_thread(session: Session, row: ConnectorRequest) -> None:
        notice = LifecycleNotice(
            event=event, actor=actor, message=reason, days=days, reference=row.reference
        )
        queue_notice(session, deps, managed_id=managed_id, notice=notice)

    return requests.submit_managed_request(
        deps,
        kind=kind,
        managed=managed,
        requested_by=actor,
        reason=reason,
        days=days,
        on_stored=tell_thread,
    )


def _start(session: Session, deps: Deps, request_id: int | None) -> ConnectorRequest | None:
    """The approved request, moved to provisioning (None: finished already, a stale job)."""
    return start_work(
        session,
        request_id=request_id or 0,
        now=deps.clock(),
        detail=lambda row: {"managed_id": row.managed_id, "kind": row.kind},
    )


def run_retire(deps: Deps, job: JobContext) -> None:
    """Job: delete the connector of an approved retire request (already gone: fine), set its
    inventory row retired and tell its thread and owner."""
    with session_scope(deps.session_factory) as session:
        row = _start(session, deps, job.request_id)
        if row is None:
            return
        request_id, requester, reference = row.id, row.requested_by_slack_id, row.reference
        managed = lq.get_managed(session=session, managed_id=row.managed_id or 0)
        if managed is None:
            _end(session, deps, request_id, ok=False, message="its inventory entry is gone")
            return
        live = ManagedState(managed.state) in LIVE_STATES
        target, where = target_of(managed), (managed.target, managed.backend)
    if live:
        try:
            backend_of(deps, *where).delete(target)
        except BackendUnavailableError as error:
            raise RetryLaterError(0.0, error.message) from None
        except BackendError as error:
            _refused(deps, job, error)
            return
    reason = f"retired by <@{requester}>"
    with session_scope(deps.session_factory) as session:
        set_gone(
            session,
            deps,
            managed_id=target_managed_id(session, request_id),
            state=ManagedState.RETIRED,
            reason=reason,
            notice=LifecycleNotice(
                event=LifecycleEvent.RETIRED, actor=requester, reference=reference
            ),
            action=AuditAction.RETIRED,
            actor=requester,
            request_id=request_id,
        )
        _end(session, deps, request_id, ok=True)
    deps.wake_workers()
    log.info("request %s: managed connector retired", reference)


def target_managed_id(session: Session, request_id: int) -> int:
    row = queries.get_request(session=session, request_id=request_id)
    if row is None or row.managed_id is None:
        raise GiveUpError("the retire request has no managed connector")
    return row.managed_id


def _refused(deps: Deps, job: JobContext, error: BackendError) -> None:
    """The back-end refused the deletion (e.g. an endpoint still in use): the request fails
    and the connector's thread and owner are told why and what to do."""
    with session_scope(deps.session_factory) as session:
        managed_id = target_managed_id(session, job.request_id or 0)
        queue_notice(
            session,
            deps,
            managed_id=managed_id,
            notice=LifecycleNotice(
                event=LifecycleEvent.DELETE_FAILED, message=error.message, hint=error.hint
            ),
        )
        _end(session, deps, job.request_id or 0, ok=False, message=error.message)
    deps.wake_workers()


def retire_unreachable(
    deps: Deps, job: JobContext, retry: RetryLaterError, since: datetime
) -> None:
    """The retries are spent (Kibana or Elasticsearch away): the request fails, and says so."""
    del since
    _refused(deps, job, BackendError(f"could not be reached: {retry.reason}"))


def retire_abandoned(deps: Deps, job: JobContext, reason: str) -> None:
    """The job kept failing inside the bot: end the request instead of leaving it stuck."""
    with session_scope(deps.session_factory) as session:
        _end(session, deps, job.request_id or 0, ok=False, message=f"internal error ({reason})")
    deps.wake_workers()


def _end(session: Session, deps: Deps, request_id: int, *, ok: bool, message: str = "") -> None:
    """Finish a retire or extend request: completed, or failed with why; the card shows it."""
    if move(
        session,
        request_id=request_id,
        sources=[S.PROVISIONING],
        target=S.COMPLETED if ok else S.FAILED,
        now=deps.clock(),
        action=None if ok else AuditAction.PROVISIONING_FAILED,
        values={} if ok else {"failure_message": message[:2000]},
    ):
        announce(session, request_id=request_id)


def set_gone(
    session: Session,
    deps: Deps,
    *,
    managed_id: int,
    state: ManagedState,
    reason: str,
    notice: LifecycleNotice,
    action: AuditAction,
    actor: str | None,
    request_id: int | None,
) -> bool:
    """Move a live row to retired or expired (compare-and-set, retried against re-tests
    writing it), audit it and tell its thread and owner; False when it was no longer live."""
    for _ in range(CAS_TRIES):
        managed = lq.get_managed(session=session, managed_id=managed_id)
        if managed is None or ManagedState(managed.state) not in LIVE_STATES:
            return False
        before = managed.state
        if lq.update_managed(
            session=session,
            managed_id=managed_id,
            version=managed.version,
            values={
                "state": state.value,
                "state_reason": reason,
                "next_test_at": None,
                "next_expiry_warning_at": None,
            },
        ):
            queries.add_audit(
                session=session,
                action=action,
                request_id=request_id if request_id is not None else managed.request_id,
                actor=actor,
                detail={"managed_id": managed_id, "from": before, "to": state.value},
            )
            queue_notice(session, deps, managed_id=managed_id, notice=notice)
            return True
    raise RetryLaterError(0.5, "the inventory row kept changing")


def run_extend(deps: Deps, job: JobContext) -> None:
    """Job: move the expiry of an approved extension (capped at now + the policy's maximum
    lifetime), re-arm the warnings and tell the thread and owner."""
    with session_scope(deps.session_factory) as session:
        row = _start(session, deps, job.request_id)
        if row is None:
            return
        days = row.lifetime_days or 1
        for _ in range(CAS_TRIES):
            managed = lq.get_managed(session=session, managed_id=row.managed_id or 0)
            if managed is None or ManagedState(managed.state) not in LIVE_STATES:
                _end(session, deps, row.id, ok=False, message="the connector is gone")
                return
            if managed.expiry_claimed_at is not None:
                _end(session, deps, row.id, ok=False, message="it was already being deleted")
                return
            now = deps.clock()
            longest = effective_lifecycle(deps, _facts(managed)).max_lifetime_days
            moved = expiry.extension(now=now, end=managed.expires_at, days=days, max_days=longest)
            if lq.update_managed(
                session=session,
                managed_id=managed.id,
                version=managed.version,
                values={
                    "expires_at": moved.until,
                    "next_expiry_warning_at": expiry.next_warning(moved.until, not_before=now),
                },
            ):
                break
        else:
            raise RetryLaterError(0.5, "the inventory row kept changing")
        note = (
            f"capped at the policy's maximum of {days_text(longest)} from now"
            if moved.capped and longest is not None
            else None
        )
        queries.add_audit(
            session=session,
            action=AuditAction.EXTENDED,
            request_id=row.id,
            actor=row.requested_by_slack_id,
            detail={"managed_id": managed.id, "until": moved.until.isoformat(), "days": days},
        )
        notice = LifecycleNotice(
            event=LifecycleEvent.EXTENDED,
            actor=row.requested_by_slack_id,
            days=days,
            message=note,
            reference=row.reference,
        )
        queue_notice(session, deps, managed_id=managed.id, notice=notice)
        _end(session, deps, row.id, ok=True)
    deps.wake_workers()


def _facts(managed: ManagedConnector) -> RequestFacts:
    return RequestFacts(
        target=managed.target,
        space=managed.space_id,
        provider=managed.provider,
        requester=managed.owner_slack_id,
        model=managed.model,
    )


def facts_of(connector: ManagedSummary) -> RequestFacts:
    """What the policy rules match for a managed connector (its lifecycle settings)."""
    return RequestFacts(
        target=connector.target,
        space=connector.space_id,
        provider=connector.provider,
        requester=connector.owner,
        model=connector.model,
    )


def extend_unreachable(
    deps: Deps, job: JobContext, retry: RetryLaterError, since: datetime
) -> None:
    """An extension that could not be written (the row kept changing): it fails, and says so."""
    del since
    with session_scope(deps.session_factory) as session:
        _end(session, deps, job.request_id or 0, ok=False, message=retry.reason)
    deps.wake_workers()
