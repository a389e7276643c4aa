"""The thread story and the other lifecycle messages: queued in the transaction of the change
they tell, carried out by Slack-lane jobs through the Notifier."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.db import lifecycle_queries as lq
from bot.db import queries
from bot.db.session import session_scope
from bot.domain.enums import JobKind
from bot.domain.lifecycle import (
    Audience,
    LifecycleNotice,
    ManagedState,
    ManagedSummary,
    audiences,
)
from bot.services.jobs import GiveUpError, JobContext, RetryLaterError
from bot.services.lifecycle.inventory import load_summary
from bot.services.ports import NotificationFailedError, NotificationRetryableError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.deps import Deps

log = logging.getLogger(__name__)
THREAD_WAIT_SECONDS = 1.0


def queue_notice(session: Session, deps: Deps, *, managed_id: int, notice: LifecycleNotice) -> None:
    """Queue the messages of one event (the thread always; DM and channel as it deserves)."""
    for audience in audiences(notice.event):
        if audience is Audience.CHANNEL and not deps.policy.notify_channel:
            continue
        queries.enqueue(
            session=session,
            kind=JobKind.LIFECYCLE_NOTICE,
            request_id=None,
            payload={"managed_id": managed_id, "audience": audience.value, **notice.to_payload()},
        )


def _load(deps: Deps, job: JobContext) -> ManagedSummary:
    with session_scope(deps.session_factory) as session:
        row = lq.get_managed(session=session, managed_id=int(job.payload["managed_id"]))
        if row is None:
            raise GiveUpError("managed connector vanished")
        return load_summary(session, row)


def post_notice(deps: Deps, job: JobContext) -> None:
    """Job: tell one audience about one lifecycle event."""
    connector = _load(deps, job)
    audience = Audience(job.payload["audience"])
    dm_to = job.payload.get("dm_to")
    if audience is Audience.OWNER and isinstance(dm_to, str) and dm_to:
        # The owner's message, to someone else who must know (an approver of a change).
        connector = replace(connector, owner=dm_to)
    notice = LifecycleNotice.from_payload(job.payload)
    if audience is Audience.THREAD and connector.thread_ts is None:
        raise RetryLaterError(THREAD_WAIT_SECONDS, "the connector's thread is not posted yet")
    try:
        deps.notifier.lifecycle_notice(connector, notice, audience=audience)
    except NotificationRetryableError as error:
        raise RetryLaterError(error.retry_after or 2.0, f"lifecycle notice: {error}") from None
    except NotificationFailedError as error:
        raise GiveUpError(f"lifecycle notice: {error}") from None


def post_adopted(deps: Deps, job: JobContext) -> None:
    """Job: post the root message of an adopted connector; it becomes the connector's thread."""
    connector = _load(deps, job)
    if connector.thread_ts is not None:
        return
    try:
        channel, ts = deps.notifier.post_adopted(connector, adopted_by=str(job.payload["actor"]))
    except NotificationRetryableError as error:
        raise RetryLaterError(error.retry_after or 2.0, f"adopt message: {error}") from None
    except NotificationFailedError as error:
        raise GiveUpError(f"adopt message: {error}") from None
    with session_scope(deps.session_factory) as session:
        lq.set_thread(session=session, managed_id=connector.id, channel=channel, ts=ts)
    deps.wake_workers()


def post_digest(deps: Deps, job: JobContext) -> None:
    """Job: the daily digest of failing connectors to the notification channel (nothing when
    none is failing)."""
    del job
    with session_scope(deps.session_factory) as session:
        rows = lq.list_managed(session=session, states=[ManagedState.FAILING])
        failing = [load_summary(session, row) for row in rows]
    if not failing or not deps.policy.notify_channel:
        return
    try:
        deps.notifier.lifecycle_digest(failing)
    except NotificationRetryableError as error:
        raise RetryLaterError(error.retry_after or 2.0, f"digest: {error}") from None
    except NotificationFailedError as error:
        raise GiveUpError(f"digest: {error}") from None
