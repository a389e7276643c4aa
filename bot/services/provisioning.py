"""Create the approved connector, then test it: states, retries, outcomes and notices.

The calls themselves go through the request's `ProvisioningBackend` (bot/services/backends).
Runs from the job queue.
"""

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
from bot.domain.enums import AuditAction, JobKind, Notice, RequestStatus
from bot.domain.resources import Resource, Target
from bot.domain.schemas import Outcome
from bot.services import backends, drafts
from bot.services.backends.base import (
    BackendError,
    BackendUnavailableError,
    ProvisioningBackend,
)
from bot.services.changes import applying
from bot.services.jobs import GiveUpError, JobContext, RetryLaterError
from bot.services.lifecycle import inventory
from bot.services.transitions import announce, move, start_work

log = logging.getLogger(__name__)
S = RequestStatus


@dataclass(frozen=True)
class _Work:
    request_id: int
    reference: str
    stored: drafts.StoredRequest
    target: Target
    ciphertext: bytes | None
    backend: str = "connector"
    stack: str = "default"  # the policy target (deployment) whose clients it uses
    kind: str = "create"  # or a change of a managed connector ("rotate", "change")
    before: dict[str, Any] | None = None  # a change: the connector as it was

    @property
    def connector_type_id(self) -> str:
        return self.target.type_id


def _work(row: ConnectorRequest) -> _Work:
    # A change updates the managed connector in place: its id is the one it had.
    resource_id = (
        str((row.change_before or {}).get("resource_id") or "")
        if applying.is_change(row.kind)
        else row.kibana_connector_id
    )
    assert resource_id  # noqa: S101 - set at submission
    backend = row.backend or "connector"
    # A connector's type, or an inference endpoint's service (kept in its stored config).
    type_id = row.connector_type_id if backend == "connector" else row.config.get("service")
    assert type_id is not None  # noqa: S101 - set at submission
    return _Work(
        request_id=row.id,
        reference=row.reference,
        stored=drafts.stored_request(row),
        target=Target(
            space_id=row.space_id,
            resource_id=resource_id,
            name=row.connector_name,
            type_id=str(type_id),
            config=dict(row.config),
        ),
        ciphertext=row.secrets_ciphertext,
        backend=backend,
        stack=row.target,
        kind=row.kind,
        before=dict(row.change_before) if row.change_before is not None else None,
    )


def _backend(deps: Deps, work: _Work) -> ProvisioningBackend[Any]:
    """The back-end module the request row names, on its target's clients."""
    return backends.backend_for(deps, work.backend, work.stack)


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
    started = time.monotonic()
    operation = "update" if applying.is_change(work.kind) else "create"
    try:
        backend = _backend(deps, work)
        secrets = deps.secret_box.open(work.ciphertext)
        if work.before is not None:  # a rotation or change: updated in place
            change = applying.change_draft(
                work.stored, work.before, work.backend, secrets, work.kind
            )
            resource = backend.update(work.target, applying.update_payload(change))
        else:
            resource = backend.create(work.target, backend.payload(work.stored, secrets))
    except BackendError as error:
        outcome = _failure_outcome("create", error, started)
        _record(deps, work, operation, job.attempt, outcome)
        if isinstance(error, BackendUnavailableError):
            raise KibanaRetryError(work, outcome) from None
        else:
            _fail(deps, work, job, outcome)
        return
    outcome = Outcome(stage="create", ok=True, duration_ms=_ms(started), http_status=200)
    _record(deps, work, operation, job.attempt, outcome)
    _mark_provisioned(deps, work, resource)


def _start_provisioning(deps: Deps, request_id: int | None) -> _Work | None:
    assert request_id is not None  # noqa: S101 - provisioning jobs always name a request
    with session_scope(deps.session_factory) as session:
        row = start_work(
            session,
            request_id=request_id,
            now=deps.clock(),
            detail=lambda row: {"connector_id": row.kibana_connector_id},
        )
        return None if row is None else _work(row)


def _mark_provisioned(deps: Deps, work: _Work, resource: Resource) -> None:
    warnings: list[str] = []
    if resource.type_deprecated:
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
            detail={"connector_id": resource.id, "space": work.target.space_id},
            values={"warnings": [*row.warnings, *warnings]},
            keep_secrets=work.before is not None,
        )
        if changed:
            if work.before is not None:
                applying.record_updated(session, deps, row, resource, deps.clock())
            else:
                inventory.record_provisioned(session, deps, row, resource, deps.clock())
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
    started = time.monotonic()
    try:
        run = _backend(deps, work).test(work.target)
    except BackendError as error:
        outcome = _failure_outcome("test", error, started)
        _record(deps, work, "test", job.attempt, outcome)
        if isinstance(error, BackendUnavailableError):
            raise KibanaRetryError(work, outcome) from None
        else:
            _finish_test(deps, work, outcome)
        return
    outcome = Outcome(
        stage="test",
        ok=run.ok,
        duration_ms=_ms(started),
        reading=run.reading,
        message=run.message,
        service_message=run.service_message,
        http_status=200,
        hint=run.hint,
        second_check=run.second_check,
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
            row = queries.get_request(session=session, request_id=work.request_id)
            if row is not None and work.before is not None:
                applying.record_tested(session, deps, row, outcome, deps.clock())
                announce(session, request_id=work.request_id)
            else:
                inventory.record_first_test(
                    session, request_id=work.request_id, outcome=outcome, now=deps.clock()
                )
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
            "message": f"{_side(work)} could not be reached after {job.attempt} attempts over "
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


def _side(work: _Work) -> str:
    """Who the step talks to: Elasticsearch for an inference endpoint, else Kibana."""
    return "Elasticsearch" if work.backend == "inference" else "Kibana"


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
            row = queries.get_request(session=session, request_id=work.request_id)
            if row is not None and work.before is not None:
                applying.record_failed(session, deps, row, outcome)
                announce(session, request_id=work.request_id)
            else:
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


def _failure_outcome(stage: str, error: BackendError, started: float) -> Outcome:
    return Outcome(
        stage="create" if stage == "create" else "test",
        ok=False,
        duration_ms=_ms(started),
        message=error.message,
        http_status=error.status,
        unreachable=isinstance(error, BackendUnavailableError),
        hint=error.hint,
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
