"""One way to move a request between states: compare-and-set, audit, and the secrets rule."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.db import queries
from bot.db.models import ConnectorRequest
from bot.domain.enums import AuditAction, JobKind, Notice, RequestStatus
from bot.domain.rules import FINAL_STATES, SECRET_HOLDING_STATES, can_transition
from bot.services import home


def move(
    session: Session,
    *,
    request_id: int,
    sources: Collection[RequestStatus],
    target: RequestStatus,
    now: datetime,
    action: AuditAction | None,
    actor: str | None = None,
    detail: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    keep_secrets: bool = False,
) -> bool:
    """Compare-and-set the status; True for the single caller whose source state matched.

    Leaving the states that hold secrets erases them in the same write (and audits it),
    unless ``keep_secrets`` (a change keeps them for its rollback: `changes.applying`);
    reaching a final state stamps ``finished_at``.
    """
    illegal = [source for source in sources if not can_transition(source, target)]
    if illegal:
        raise ValueError(f"the flow has no transition from {illegal} to {target}")
    update = dict(values or {})
    erases = (
        not keep_secrets
        and target not in SECRET_HOLDING_STATES
        and bool(set(sources) & SECRET_HOLDING_STATES)
    )
    if erases:
        update["secrets_ciphertext"] = None
    if target in FINAL_STATES:
        update.setdefault("finished_at", now)
    changed = queries.transition(
        session=session, request_id=request_id, sources=sources, target=target, values=update
    )
    if changed:
        if action is not None:
            queries.add_audit(
                session=session, action=action, request_id=request_id, actor=actor, detail=detail
            )
        if erases:
            queries.add_audit(
                session=session,
                action=AuditAction.SECRETS_ERASED,
                request_id=request_id,
                actor=None,
            )
    return changed


def start_work(
    session: Session,
    *,
    request_id: int,
    now: datetime,
    detail: Callable[[ConnectorRequest], dict[str, Any]],
) -> ConnectorRequest | None:
    """Move an approved request to provisioning for the job that carries it out; the row when
    that job should go on (it was approved, or a retry finds it provisioning), else None (it
    finished already: a duplicate or stale job)."""
    row = queries.get_request(session=session, request_id=request_id)
    if row is None:
        return None
    if row.status == RequestStatus.APPROVED.value:
        move(
            session,
            request_id=row.id,
            sources=[RequestStatus.APPROVED],
            target=RequestStatus.PROVISIONING,
            now=now,
            action=AuditAction.PROVISIONING_STARTED,
            detail=detail(row),
        )
    elif row.status != RequestStatus.PROVISIONING.value:
        return None
    return row


def announce(
    session: Session,
    *,
    request_id: int,
    thread: Notice | None = None,
    requester: Notice | None = None,
    notify_channel: str | None = None,
) -> None:
    """Queue what people are told after a transition: the card always shows the new state;
    optionally a thread reply, a DM to the requester and the notify-channel line; and the
    Home tabs that show the request are republished."""
    queries.enqueue(session=session, kind=JobKind.REFRESH_CARD, request_id=request_id)
    if thread is not None:
        queries.enqueue(
            session=session,
            kind=JobKind.THREAD_REPLY,
            request_id=request_id,
            payload={"notice": thread.value},
        )
    if requester is not None:
        queries.enqueue(
            session=session,
            kind=JobKind.DM_REQUESTER,
            request_id=request_id,
            payload={"notice": requester.value},
        )
    if notify_channel:
        queries.enqueue(session=session, kind=JobKind.NOTIFY_CHANNEL, request_id=request_id)
    # What people see on their Home tab changed with it.
    home.refresh_for_request(session, request_id)
