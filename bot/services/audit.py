"""The audit trail's use cases: who may read it, its JSON Lines export (streamed in keyset
batches), the export an approver asks for in Slack, and the copy in the AUDIT_INDEX stream."""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import IO

from bot.db import queries
from bot.db.models import AuditEvent
from bot.db.session import SessionFactory, session_scope
from bot.deps import Deps
from bot.domain.audit import AuditExport, AuditRange, AuditRangeError, AuditRecord, parse_range
from bot.domain.enums import AuditAction, JobKind
from bot.elasticsearch.errors import ElasticsearchError, ElasticsearchUnavailableError
from bot.errors import NotAuthorizedError
from bot.services.jobs import GiveUpError, JobContext, RetryLaterError
from bot.services.ports import NotificationFailedError, NotificationRetryableError

log = logging.getLogger(__name__)

BATCH = 1000
# What one export sent to Slack may hold; past it the file says where it stopped.
SLACK_EXPORT_MAX_BYTES = 50 * 1024 * 1024
EXPORT_REFUSAL = "Only approvers can export the audit trail."


def is_approver(deps: Deps, user: str) -> bool:
    """May ``user`` approve requests (and so read the audit trail)?"""
    from bot.services import approvers

    return approvers.is_approver(deps, user)


def _record(event: AuditEvent, reference: str | None) -> AuditRecord:
    return AuditRecord(
        id=event.id,
        at=event.created_at,
        action=event.action,
        actor=event.actor_slack_id,
        request=reference,
        target=event.target,
        space=event.space_id,
        provider=event.provider,
        model=event.model,
        detail=event.detail or {},
    )


def records(
    factory: SessionFactory, period: AuditRange, *, batch: int = BATCH
) -> Iterator[AuditRecord]:
    """The events of ``period`` in id order, read ``batch`` at a time (one short transaction
    each: a month of events never sits in memory or holds a transaction open)."""
    with session_scope(factory) as session:
        bounds = queries.audit_id_bounds(session=session, since=period.since, until=period.until)
    if bounds is None:
        return
    after, last = bounds[0] - 1, bounds[1]
    while True:
        with session_scope(factory) as session:
            rows = queries.audit_rows_between(
                session=session,
                since=period.since,
                until=period.until,
                after_id=after,
                last_id=last,
                limit=batch,
            )
        for row in rows:
            event_id, at, action, actor, reference, target, space, provider, model, detail = tuple(
                row
            )
            yield AuditRecord(
                id=event_id,
                at=at,
                action=action,
                actor=actor,
                request=reference,
                target=target,
                space=space,
                provider=provider,
                model=model,
                detail=detail or {},
            )
        if len(rows) < batch:
            return
        after = int(rows[-1][0])


def write_jsonl(
    factory: SessionFactory, period: AuditRange, out: IO[str], *, max_bytes: int | None = None
) -> tuple[int, bool]:
    """Write the events of ``period`` to ``out`` as JSON Lines; return how many were written
    and whether ``max_bytes`` cut the export short."""
    count = size = 0
    for record in records(factory, period):
        line = record.json_line()
        size += len(line.encode())
        if max_bytes is not None and size > max_bytes:
            return count, True
        out.write(line)
        count += 1
    return count, False


def ask_for_export(deps: Deps, *, user: str, words: list[str]) -> AuditRange:
    """An approver asked for the events between two dates: queue the file for their DM.
    Raises NotAuthorizedError (recorded) for anyone else, AuditRangeError for bad dates."""
    if not is_approver(deps, user):
        with session_scope(deps.session_factory) as session:
            queries.add_audit(
                session=session,
                action=AuditAction.COMMAND_REFUSED,
                request_id=None,
                actor=user,
                detail={"command": "audit", "why": "not_an_approver"},
            )
        log.warning("refused an audit export to %s (not an approver)", user)
        raise NotAuthorizedError(EXPORT_REFUSAL)
    if len(words) > 2:
        raise AuditRangeError("Give at most two dates: the first and the last day.")
    period = parse_range(words[0] if words else "", words[1] if len(words) > 1 else None)
    with session_scope(deps.session_factory) as session:
        queries.enqueue(
            session=session,
            kind=JobKind.EXPORT_AUDIT,
            request_id=None,
            payload={
                "user": user,
                "since": period.since.isoformat(),
                "until": period.until.isoformat(),
            },
        )
    deps.wake_workers()
    return period


def export_filename(period: AuditRange) -> str:
    until = period.until if period.until.year < 9999 else None
    stop = f"-{until:%Y%m%dT%H%M}" if until else ""
    return f"audit-{period.since:%Y%m%dT%H%M}{stop}.jsonl"


def deliver_export(deps: Deps, job: JobContext) -> None:
    """Job handler: build the export and upload it to the approver's DM (or say it's empty)."""
    user = str(job.payload["user"])
    period = AuditRange(
        since=datetime.fromisoformat(str(job.payload["since"])),
        until=datetime.fromisoformat(str(job.payload["until"])),
    )
    with tempfile.TemporaryFile("w+b") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
        count, cut = write_jsonl(
            deps.session_factory, period, text, max_bytes=SLACK_EXPORT_MAX_BYTES
        )
        text.flush()
        raw.seek(0)
        content = raw.read()
        text.detach()
    export = AuditExport(
        period=period,
        events=count,
        truncated=cut,
        max_bytes=SLACK_EXPORT_MAX_BYTES,
        filename=export_filename(period),
    )
    try:
        deps.notifier.send_audit_export(user, export, content)
    except NotificationRetryableError as error:
        raise RetryLaterError(error.retry_after or 0.0, str(error)) from None
    except NotificationFailedError as error:
        raise GiveUpError(str(error)) from None
    with session_scope(deps.session_factory) as session:
        queries.add_audit(
            session=session,
            action=AuditAction.AUDIT_EXPORTED,
            request_id=None,
            actor=user,
            detail={
                "since": period.since.isoformat(),
                "until": period.until.isoformat(),
                "events": count,
                "truncated": cut,
            },
        )


def index_event(deps: Deps, job: JobContext) -> None:
    """Job handler: copy one audit event into the AUDIT_INDEX data stream. Elasticsearch
    unreachable, 429 or 5xx: retried; any other refusal is logged once and the copy dropped
    (the database keeps the event; nothing waits on this)."""
    index = str(job.payload["index"])
    with session_scope(deps.session_factory) as session:
        event = queries.get_audit(session=session, audit_id=int(job.payload["audit_id"]))
        if event is None:
            return
        target = deps.governance.target(event.target or "") or deps.governance.default_target
        client = deps.clients_for(target.key).elasticsearch
        if client is None:  # this target has no Elasticsearch: the database keeps the event
            return
        ids = {event.request_id} if event.request_id is not None else set()
        references = queries.references_of(session=session, request_ids=ids)
        record = _record(event, references.get(event.request_id or 0))
    try:
        client.create_document(index, record.document())
    except ElasticsearchUnavailableError as error:
        raise RetryLaterError(0.0, error.message) from None
    except ElasticsearchError as error:
        log.error(
            "audit event %s dropped from %s: Elasticsearch refused it (%s)",
            record.id,
            index,
            error.message,
        )
