"""Job handlers that tell people about a request through the Notifier."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from bot.db import lifecycle_queries as lq
from bot.db import queries
from bot.db.session import session_scope
from bot.deps import Deps
from bot.domain.enums import Decision, JobKind, Notice, RequestKind, RequestStatus
from bot.domain.schemas import ApprovalProgress, KibanaRetrying, RequestSnapshot
from bot.services import approvers
from bot.services.jobs import GiveUpError, JobContext, RetryLaterError
from bot.services.lifecycle.inventory import load_summary
from bot.services.ports import NotificationFailedError, NotificationRetryableError
from bot.services.snapshots import to_snapshot

log = logging.getLogger(__name__)
CARD_WAIT_SECONDS = 1.0
T = TypeVar("T")


def _snapshot(deps: Deps, job: JobContext) -> RequestSnapshot:
    with session_scope(deps.session_factory) as session:
        row = queries.get_request(session=session, request_id=job.request_id or 0)
        if row is None:
            raise GiveUpError("request vanished")
        return to_snapshot(row, deps.governance)


def _card_snapshot(deps: Deps, job: JobContext) -> RequestSnapshot:
    """The snapshot with where its approvals stand (the card shows it)."""
    with session_scope(deps.session_factory) as session:
        row = queries.get_request(session=session, request_id=job.request_id or 0)
        if row is None:
            raise GiveUpError("request vanished")
        snapshot = to_snapshot(row, deps.governance)
        approved = tuple(
            vote.decided_by_slack_id
            for vote in queries.list_decisions(session=session, request_id=row.id)
            if vote.decision == Decision.APPROVED.value
        )
    rule = approvers.rule_of(deps, snapshot)
    progress = ApprovalProgress(
        needed=rule.approvals,
        approved_by=approved,
        unresolved=tuple(approvers.unresolved_groups(deps, rule.approvers)),
    )
    return snapshot.model_copy(update={"progress": progress})


def _with_card(deps: Deps, job: JobContext) -> RequestSnapshot:
    snapshot = _card_snapshot(deps, job)
    if snapshot.card_ts is None:
        raise RetryLaterError(CARD_WAIT_SECONDS, "the approval card is not posted yet")
    return snapshot


def _with_connector(deps: Deps, snapshot: RequestSnapshot, notice: Notice) -> RequestSnapshot:
    """An outcome with the connector it created, so the message carries its buttons."""
    if notice is not Notice.OUTCOME or snapshot.kind is not RequestKind.CREATE:
        return snapshot
    with session_scope(deps.session_factory) as session:
        row = lq.get_managed_by_request(session=session, request_id=snapshot.id)
        if row is None:
            return snapshot
        return snapshot.model_copy(update={"managed": load_summary(session, row)})


def _notice(job: JobContext) -> Notice:
    return Notice(job.payload.get("notice", Notice.OUTCOME.value))


def _deliver(action: str, send: Callable[..., T], *args: object) -> T:
    try:
        return send(*args)
    except NotificationRetryableError as error:
        raise RetryLaterError(error.retry_after or 2.0, f"{action}: {error}") from None
    except NotificationFailedError as error:
        raise GiveUpError(f"{action}: {error}") from None


def post_card(deps: Deps, job: JobContext) -> None:
    snapshot = _card_snapshot(deps, job)
    if snapshot.card_ts is not None:
        return
    try:
        channel, ts = deps.notifier.post_card(snapshot)
    except NotificationRetryableError as error:
        raise RetryLaterError(error.retry_after or 2.0, f"post card: {error}") from None
    except NotificationFailedError as error:
        # Approvers will never see it: tell the requester instead of leaving them waiting.
        log.error("approval card of %s could not be posted: %s", snapshot.reference, error)
        with session_scope(deps.session_factory) as session:
            queries.enqueue(
                session=session,
                kind=JobKind.DM_REQUESTER,
                request_id=snapshot.id,
                payload={"notice": Notice.UNDELIVERED.value},
            )
        deps.wake_workers()
        raise GiveUpError(f"post card: {error}") from None
    with session_scope(deps.session_factory) as session:
        queries.update_request(
            session=session, request_id=snapshot.id, values={"card_channel": channel, "card_ts": ts}
        )
    # The card was posted from a snapshot that may predate a fast decision: bring it up to date.
    latest = _card_snapshot(deps, job)
    if latest.status is not snapshot.status or latest.progress != snapshot.progress:
        _deliver("refresh card", deps.notifier.refresh_card, latest)


def refresh_card(deps: Deps, job: JobContext) -> None:
    _deliver("refresh card", deps.notifier.refresh_card, _with_card(deps, job))


def thread_reply(deps: Deps, job: JobContext) -> None:
    if _notice(job) is Notice.KIBANA_RETRYING:
        _tell_kibana_retrying(deps, job, _with_card(deps, job), in_thread=True)
        return
    notice = _notice(job)
    snapshot = _with_connector(deps, _with_card(deps, job), notice)
    _deliver("thread reply", deps.notifier.reply_in_thread, snapshot, notice)


def dm_approver(deps: Deps, job: JobContext) -> None:
    """Tell one approver about a request (break-glass: another approver self-approved)."""
    user = job.payload.get("user")
    if not isinstance(user, str) or not user:
        raise GiveUpError("no approver to tell")
    _deliver("DM approver", deps.notifier.dm_approver, _snapshot(deps, job), user, _notice(job))


def dm_requester(deps: Deps, job: JobContext) -> None:
    if _notice(job) is Notice.KIBANA_RETRYING:
        _tell_kibana_retrying(deps, job, _snapshot(deps, job), in_thread=False)
        return
    notice = _notice(job)
    snapshot = _with_connector(deps, _snapshot(deps, job), notice)
    _deliver("DM", deps.notifier.dm_requester, snapshot, notice)


# The step a "Kibana failed, still trying" notice is about is still under way in these states;
# once the request moved on, the result (or the failure) has been told instead.
RETRYING_STATES = {"create": RequestStatus.PROVISIONING, "test": RequestStatus.PROVISIONED}


def _tell_kibana_retrying(
    deps: Deps, job: JobContext, snapshot: RequestSnapshot, *, in_thread: bool
) -> None:
    retrying = KibanaRetrying.model_validate(
        {key: job.payload.get(key) for key in ("stage", "reason", "until")}
    )
    if snapshot.status is not RETRYING_STATES[retrying.stage]:
        log.info("request %s moved on: the retry notice is not sent", snapshot.reference)
        return
    try:
        deps.notifier.kibana_retrying(snapshot, retrying, in_thread=in_thread)
    except NotificationRetryableError as error:
        raise RetryLaterError(error.retry_after or 2.0, f"retry notice: {error}") from None
    except NotificationFailedError as error:
        raise GiveUpError(f"retry notice: {error}") from None


def notify_channel(deps: Deps, job: JobContext) -> None:
    _deliver("notify channel", deps.notifier.notify_channel, _snapshot(deps, job))
