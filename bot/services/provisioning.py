"""Create the approved connector in Kibana, then test it. Runs from the job queue."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.db import queries
from bot.db.models import ConnectorRequest, ProvisioningAttempt
from bot.db.session import session_scope
from bot.deps import Deps
from bot.domain.connector_types import read_test_data, test_params
from bot.domain.enums import AuditAction, JobKind, Notice, RequestStatus
from bot.domain.hints import explain_failure
from bot.domain.schemas import Outcome
from bot.kibana.errors import (
    KibanaConflictError,
    KibanaError,
    KibanaRequestError,
    KibanaUnavailableError,
)
from bot.kibana.models import Connector, CreateConnector
from bot.services import drafts
from bot.services.jobs import GiveUpError, JobContext, RetryLaterError
from bot.services.transitions import announce, move

log = logging.getLogger(__name__)
S = RequestStatus


@dataclass(frozen=True)
class _Work:
    request_id: int
    reference: str
    provider: str
    space_id: str
    connector_id: str
    connector_type_id: str
    name: str
    justification: str
    config: dict[str, Any]
    settings: dict[str, Any] | None
    ciphertext: bytes | None


def _work(row: ConnectorRequest) -> _Work:
    assert row.kibana_connector_id is not None  # noqa: S101 - set at submission
    assert row.connector_type_id is not None  # noqa: S101 - only connector requests get here
    return _Work(
        request_id=row.id,
        reference=row.reference,
        provider=row.provider,
        space_id=row.space_id,
        connector_id=row.kibana_connector_id,
        connector_type_id=row.connector_type_id,
        name=row.connector_name,
        justification=row.justification,
        config=dict(row.config),
        settings=dict(row.settings) if row.settings is not None else None,
        ciphertext=row.secrets_ciphertext,
    )


def provision_connector(deps: Deps, job: JobContext) -> None:
    """Create the connector under its stored id; a 409 on a retry means it already exists."""
    work = _start_provisioning(deps, job.request_id)
    if work is None:
        return
    if work.ciphertext is None:
        _fail(
            deps,
            work,
            job,
            Outcome(
                stage="create",
                ok=False,
                message="The request's "
                "secrets are gone (erased or never stored); ask the requester to submit again.",
            ),
        )
        return
    payload = drafts.connector_payload(
        provider=work.provider,
        name=work.name,
        space_id=work.space_id,
        justification=work.justification,
        connector_type_id=work.connector_type_id,
        config=work.config,
        settings=work.settings,
        secrets=deps.secret_box.open(work.ciphertext),
    )
    body = CreateConnector(
        name=work.name,
        connector_type_id=payload.type_id,
        config=payload.config,
        secrets=payload.secrets,
    )
    started = time.monotonic()
    try:
        connector = _create_or_find(deps, work, body)
    except KibanaError as error:
        outcome = _failure_outcome("create", error, work, started)
        _record(deps, work, "create", job.attempt, outcome)
        if isinstance(error, KibanaUnavailableError):
            raise KibanaRetryError(work, outcome) from None
        else:
            _fail(deps, work, job, outcome)
        return
    outcome = Outcome(stage="create", ok=True, duration_ms=_ms(started), http_status=200)
    _record(deps, work, "create", job.attempt, outcome)
    _mark_provisioned(deps, work, connector)


def _start_provisioning(deps: Deps, request_id: int | None) -> _Work | None:
    assert request_id is not None  # noqa: S101 - provisioning jobs always name a request
    with session_scope(deps.session_factory) as session:
        row = queries.get_request(session=session, request_id=request_id)
        if row is None:
            return None
        if row.status == S.APPROVED.value:
            move(
                session,
                request_id=row.id,
                sources=[S.APPROVED],
                target=S.PROVISIONING,
                now=deps.clock(),
                action=AuditAction.PROVISIONING_STARTED,
                detail={"connector_id": row.kibana_connector_id},
            )
        elif row.status != S.PROVISIONING.value:
            return None  # finished already (a duplicate or stale job)
        return _work(row)


def _create_or_find(deps: Deps, work: _Work, body: CreateConnector) -> Connector:
    try:
        return deps.kibana.create_connector(work.space_id, work.connector_id, body)
    except KibanaConflictError:
        existing = deps.kibana.get_connector(work.space_id, work.connector_id)
        if existing.connector_type_id != work.connector_type_id or existing.name != work.name:
            raise KibanaRequestError(
                f"Connector id {work.connector_id} is already used by “{existing.name}” "
                f"({existing.connector_type_id}) in space {work.space_id}.",
                status=409,
            ) from None
        log.info("request %s: connector %s already existed", work.reference, work.connector_id)
        return existing


def _mark_provisioned(deps: Deps, work: _Work, connector: Connector) -> None:
    warnings: list[str] = []
    if connector.is_connector_type_deprecated:
        warnings.append(
            f"Kibana marks {work.connector_type_id} connectors deprecated (9.5+): created "
            "through the API, which still works; plan a move to inference endpoints."
        )
    with session_scope(deps.session_factory) as session:
        row = queries.get_request(session=session, request_id=work.request_id)
        assert row is not None  # noqa: S101 - rows are never deleted
        changed = move(
            session,
            request_id=work.request_id,
            sources=[S.PROVISIONING],
            target=S.PROVISIONED,
            now=deps.clock(),
            action=AuditAction.PROVISIONED,
            detail={"connector_id": connector.id, "space": work.space_id},
            values={"warnings": [*row.warnings, *warnings]},
        )
        if changed:
            announce(session, request_id=work.request_id)
            queries.enqueue(
                session=session, kind=JobKind.TEST_CONNECTOR, request_id=work.request_id
            )
    deps.wake_workers()


def run_connector_test(deps: Deps, job: JobContext) -> None:
    """Run the type's test through `_execute`; a 200 with status error is a failed test."""
    with session_scope(deps.session_factory) as session:
        row = queries.get_request(session=session, request_id=job.request_id or 0)
        if row is None or row.status != S.PROVISIONED.value:
            return
        work = _work(row)
    params = test_params(work.connector_type_id, work.config)
    started = time.monotonic()
    try:
        result = deps.kibana.execute_connector(work.space_id, work.connector_id, params)
    except KibanaError as error:
        outcome = _failure_outcome("test", error, work, started)
        _record(deps, work, "test", job.attempt, outcome)
        if isinstance(error, KibanaUnavailableError):
            raise KibanaRetryError(work, outcome) from None
        else:
            _finish_test(deps, work, outcome)
        return
    if result.status == "ok":
        reading = read_test_data(
            work.connector_type_id, result.data, default_model=work.config.get("defaultModel")
        )
        outcome = Outcome(
            stage="test", ok=True, duration_ms=_ms(started), reading=reading, http_status=200
        )
    else:
        outcome = Outcome(
            stage="test",
            ok=False,
            duration_ms=_ms(started),
            message=result.message,
            service_message=result.service_message,
            http_status=200,
            hint=explain_failure(work.connector_type_id, result.message, result.service_message),
        )
    _record(deps, work, "test", job.attempt, outcome)
    _finish_test(deps, work, outcome)


def _finish_test(deps: Deps, work: _Work, outcome: Outcome) -> None:
    with session_scope(deps.session_factory) as session:
        if move(
            session,
            request_id=work.request_id,
            sources=[S.PROVISIONED],
            target=S.TESTED_OK if outcome.ok else S.TEST_FAILED,
            now=deps.clock(),
            action=AuditAction.TESTED,
            detail={"ok": outcome.ok},
            values={"result": outcome.model_dump(mode="json")},
        ):
            _queue_outcome_notices(session, deps, work.request_id)
    deps.wake_workers()


class KibanaRetryError(RetryLaterError):
    """Kibana could not be reached for this step; the job's retry policy decides what next."""

    def __init__(self, work: _Work, outcome: Outcome) -> None:
        super().__init__(0.0, outcome.message or "Kibana unavailable")
        self.work = work
        self.outcome = outcome


def tell_kibana_retrying(
    session: Session,
    _deps: Deps,
    job: JobContext,
    retry: RetryLaterError,
    until: datetime | None,
) -> None:
    """On the first failed attempt of a step: tell the card's thread and the requester what
    failed, that the bot keeps trying, and until when."""
    if job.request_id is None:
        return
    payload = {
        "notice": Notice.KIBANA_RETRYING.value,
        "stage": "test" if job.kind is JobKind.TEST_CONNECTOR else "create",
        "reason": retry.reason[:500],
        "until": until.isoformat() if until is not None else None,
    }
    for kind in (JobKind.THREAD_REPLY, JobKind.DM_REQUESTER):
        queries.enqueue(session=session, kind=kind, request_id=job.request_id, payload=payload)
    log.info("request %s: Kibana failed (%s); retrying", job.request_id, retry.reason)


def give_up(deps: Deps, job: JobContext, retry: RetryLaterError, since: datetime) -> None:
    """The retries are spent: end the step as unreachable, with the last error."""
    if not isinstance(retry, KibanaRetryError):
        raise GiveUpError(retry.reason)
    work, outcome = retry.work, retry.outcome
    elapsed = max(0.0, (deps.clock() - since).total_seconds())
    final = outcome.model_copy(
        update={
            "unreachable": True,
            "message": f"Kibana could not be reached after {job.attempt} attempts over "
            f"{_duration(elapsed)}. Last error: {outcome.message}",
        }
    )
    if outcome.stage == "create":
        _fail(deps, work, job, final)
    else:
        _finish_test(deps, work, final)


def abandon(deps: Deps, job: JobContext, reason: str) -> None:
    """The step kept failing inside the bot (a bug, not Kibana): end the request instead of
    leaving it stuck, and tell people as for any failure; the log has the error reference."""
    with session_scope(deps.session_factory) as session:
        row = queries.get_request(session=session, request_id=job.request_id or 0)
        if row is None or row.status not in {S.PROVISIONING.value, S.PROVISIONED.value}:
            return
        work = _work(row)
    stage = "create" if row.status == S.PROVISIONING.value else "test"
    outcome = Outcome(
        stage=stage,
        ok=False,
        message=f"The bot could not finish this step after {job.attempt} tries because of an "
        f"internal error ({reason}); an operator can look the reference up in the bot's logs.",
    )
    if stage == "create":
        _fail(deps, work, job, outcome)
    else:
        _finish_test(deps, work, outcome)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} minutes"


def _fail(deps: Deps, work: _Work, job: JobContext, outcome: Outcome) -> None:
    with session_scope(deps.session_factory) as session:
        if move(
            session,
            request_id=work.request_id,
            sources=[S.PROVISIONING],
            target=S.FAILED,
            now=deps.clock(),
            action=AuditAction.PROVISIONING_FAILED,
            detail={"status": outcome.http_status, "attempt": job.attempt},
            values={"result": outcome.model_dump(mode="json"), "failure_message": outcome.message},
        ):
            _queue_outcome_notices(session, deps, work.request_id)
    deps.wake_workers()


def _queue_outcome_notices(session: Session, deps: Deps, request_id: int) -> None:
    announce(
        session,
        request_id=request_id,
        thread=Notice.OUTCOME,
        requester=Notice.OUTCOME,
        notify_channel=deps.policy.notify_channel,
    )


def _failure_outcome(stage: str, error: KibanaError, work: _Work, started: float) -> Outcome:
    return Outcome(
        stage="create" if stage == "create" else "test",
        ok=False,
        duration_ms=_ms(started),
        message=error.message,
        http_status=error.status,
        unreachable=isinstance(error, KibanaUnavailableError),
        hint=explain_failure(work.connector_type_id, error.message),
    )


def _record(deps: Deps, work: _Work, operation: str, attempt: int, outcome: Outcome) -> None:
    if outcome.ok:
        result = "ok"
    elif outcome.unreachable:
        result = "unavailable"
    else:
        result = "refused" if outcome.stage == "create" else "failed"
    with session_scope(deps.session_factory) as session:
        queries.add_attempt(
            session=session,
            attempt=ProvisioningAttempt(
                request_id=work.request_id,
                operation=operation,
                attempt=attempt,
                started_at=deps.clock(),
                duration_ms=outcome.duration_ms or 0,
                http_status=outcome.http_status,
                outcome=result,
                message=(outcome.message or outcome.service_message or "")[:2000] or None,
            ),
        )


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
