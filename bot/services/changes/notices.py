"""What a rotation or change tells the connector's thread and owner (the original request's
thread: `lifecycle.notices`), queued in the transaction of the step it tells."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.db import change_queries as cq
from bot.db import queries
from bot.db.models import ConnectorRequest
from bot.domain.enums import AuditAction, Decision, JobKind
from bot.domain.lifecycle import Audience, LifecycleEvent, LifecycleNotice
from bot.errors import InvalidTransitionError
from bot.services.lifecycle.notices import queue_notice

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.deps import Deps


def tell(
    session: Session,
    deps: Deps,
    row: ConnectorRequest,
    event: LifecycleEvent,
    *,
    message: str | None = None,
    hint: str | None = None,
    actor: str | None = None,
) -> None:
    """Queue one step of the change ``row`` for its connector's thread (and owner)."""
    if row.managed_id is None:
        return
    notice = LifecycleNotice(
        event=event,
        message=message,
        hint=hint,
        actor=actor,
        request_id=row.id,
        kind=row.kind,
    )
    queue_notice(session, deps, managed_id=row.managed_id, notice=notice)
    if event is LifecycleEvent.CHANGE_TEST_FAILED:
        _tell_deciders(session, row, notice)


def _tell_deciders(session: Session, row: ConnectorRequest, notice: LifecycleNotice) -> None:
    """The approvers who approved the change get the owner's message too (Roll back and
    all): they let it through."""
    deciders = {
        vote.decided_by_slack_id
        for vote in queries.list_decisions(session=session, request_id=row.id)
        if vote.decision == Decision.APPROVED.value
    }
    for user in sorted(deciders - {row.requested_by_slack_id}):
        queries.enqueue(
            session=session,
            kind=JobKind.LIFECYCLE_NOTICE,
            request_id=None,
            payload={
                "managed_id": row.managed_id,
                "audience": Audience.OWNER.value,
                "dm_to": user,
                **notice.to_payload(),
            },
        )


def one_at_a_time(session: Session, managed_id: int) -> None:
    """Refuse a second open change of one connector (checked under the row's lock, in the
    transaction that stores the new one)."""
    cq.lock_managed(session=session, managed_id=managed_id)
    pending = cq.open_change(session=session, managed_id=managed_id)
    if pending is not None:
        raise InvalidTransitionError(
            f"A {pending.kind} of this connector is already under way ({pending.reference}, "
            f"{pending.status}): wait for it to finish."
        )


def requested(session: Session, deps: Deps, row: ConnectorRequest, *, now: datetime) -> None:
    """A change was stored: tell the thread, and withdraw the rollback offers of earlier
    failed changes of the connector (their secrets are erased: this change supersedes them)."""
    assert row.managed_id is not None  # noqa: S101 - a change always names its connector
    for earlier in cq.offered_rollbacks(session=session, managed_id=row.managed_id):
        if earlier != row.id and cq.erase_secrets(session=session, request_id=earlier, now=now):
            queries.add_audit(
                session=session,
                action=AuditAction.SECRETS_ERASED,
                request_id=earlier,
                actor=None,
                detail={"superseded_by": row.reference},
            )
    tell(
        session,
        deps,
        row,
        LifecycleEvent.CHANGE_REQUESTED,
        message=row.reference,
        actor=row.requested_by_slack_id,
    )
