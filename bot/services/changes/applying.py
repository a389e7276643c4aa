"""Carrying out an approved rotation or change: the payload of the update, what the
inventory row learns from it and from its test, and the rollback of a failed change.

The update and its test run as the request's PROVISION and TEST_CONNECTOR jobs
(`provisioning` calls in here for a change); the rollback is its own Kibana-lane job.

Secrets: a rotation's are erased once the connector is updated; a change's are kept
(sealed) after a failed test, because Kibana needs the full secrets to put the previous
settings back, and erased when the rollback runs, a later change of the connector supersedes
it, or the change's test passed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.db import change_queries as cq
from bot.db import lifecycle_queries as lq
from bot.db import queries
from bot.db.models import ConnectorRequest, ManagedConnector
from bot.db.session import session_scope
from bot.domain.changes import NAME_KEY, ChangeDraft
from bot.domain.enums import AuditAction, RequestKind
from bot.domain.lifecycle import LifecycleEvent, ManagedState, after_change_test, visible
from bot.domain.providers import provider_spec
from bot.domain.providers.spec import CONNECTOR, INFERENCE, ConnectorPayload, InferencePayload
from bot.domain.resources import Resource, Target
from bot.domain.schemas import Outcome
from bot.services import drafts, home
from bot.services.backends.base import BackendError, BackendUnavailableError
from bot.services.changes import notices
from bot.services.jobs import JobContext, RetryLaterError
from bot.services.lifecycle import inventory

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.deps import Deps

log = logging.getLogger(__name__)
CAS_TRIES = 5


def is_change(kind: str) -> bool:
    return kind in {RequestKind.ROTATE.value, RequestKind.CHANGE.value}


def change_draft(
    stored: drafts.StoredRequest,
    before: Mapping[str, Any],
    backend: str,
    secrets: Mapping[str, str],
    kind: str,
) -> ChangeDraft:
    """The change a request row holds, its secrets unsealed."""
    return ChangeDraft(
        kind="rotate" if kind == RequestKind.ROTATE.value else "change",
        backend=INFERENCE if backend == INFERENCE else CONNECTOR,
        draft=drafts.restore_draft(stored, secrets),
        before_name=str(before.get(NAME_KEY) or stored.name),
        before_settings=dict(before.get("settings") or {}),
        diff=(),
    )


def update_payload(change: ChangeDraft) -> ConnectorPayload | InferencePayload:
    """What the back-end's `update` takes for this change. Without the settings it had
    (adopted), the new draft's config goes over Kibana's as it is (nothing is removed)."""
    if change.backend == INFERENCE:
        return change.inference_payload()
    if not change.before_settings:
        return provider_spec(change.draft.provider).connector_payload(change.draft)
    return change.connector_payload()


def _update_row(session: Session, managed_id: int, values: dict[str, Any]) -> None:
    """Write the inventory row by compare-and-set, re-reading when a re-test wrote first."""
    for _ in range(CAS_TRIES):
        row = lq.get_managed(session=session, managed_id=managed_id)
        if row is None:
            return
        if lq.update_managed(
            session=session, managed_id=managed_id, version=row.version, values=values
        ):
            return
    raise RuntimeError(f"managed connector {managed_id} kept changing under the change")


def _applied_values(row: ConnectorRequest, resource: Resource, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "model": resource.model,
        "settings_snapshot": visible(dict(resource.config)),
        "current_settings": {NAME_KEY: name, "settings": dict(row.settings or {})},
    }


def record_updated(
    session: Session, deps: Deps, row: ConnectorRequest, resource: Resource, now: datetime
) -> None:
    """The update was made (same transaction as `provisioned`): the inventory row takes the
    new name, model and settings (its drift baseline too); a rotation's secrets are erased."""
    assert row.managed_id is not None  # noqa: S101 - a change always names its connector
    _update_row(session, row.managed_id, _applied_values(row, resource, row.connector_name))
    queries.add_audit(
        session=session,
        action=AuditAction.CHANGE_APPLIED,
        request_id=row.id,
        actor=None,
        detail={"kind": row.kind, "resource_id": resource.id},
    )
    if row.kind == RequestKind.ROTATE.value:
        _erase(session, row.id, now)
    del deps


def _erase(session: Session, request_id: int, now: datetime) -> None:
    if cq.erase_secrets(session=session, request_id=request_id, now=now):
        queries.add_audit(
            session=session, action=AuditAction.SECRETS_ERASED, request_id=request_id, actor=None
        )


def _test_values(outcome: Outcome, managed: ManagedConnector, now: datetime) -> dict[str, Any]:
    state = after_change_test(ManagedState(managed.state), ok=outcome.ok)
    return {
        "state": state.value,
        "state_reason": None if state is ManagedState.ACTIVE else managed.state_reason,
        "last_test_at": now,
        "last_test_ok": outcome.ok,
        "last_test_latency_ms": outcome.duration_ms,
        "last_test_message": (outcome.message or "")[:2000] or None,
        "consecutive_failures": 0 if outcome.ok else managed.consecutive_failures + 1,
    }


def record_tested(
    session: Session, deps: Deps, row: ConnectorRequest, outcome: Outcome, now: datetime
) -> None:
    """The changed connector's test ran (same transaction as its final state): the row's
    last test and state; the thread and the owner are told; a passing test erases the
    secrets, a failing one keeps a change's for the rollback it offers."""
    assert row.managed_id is not None  # noqa: S101 - a change always names its connector
    managed = lq.get_managed(session=session, managed_id=row.managed_id)
    if managed is not None:
        _update_row(session, managed.id, _test_values(outcome, managed, now))
    if outcome.ok or row.kind != RequestKind.CHANGE.value:
        _erase(session, row.id, now)
    event = LifecycleEvent.CHANGED if outcome.ok else LifecycleEvent.CHANGE_TEST_FAILED
    notices.tell(session, deps, row, event, message=outcome.message, hint=outcome.hint)


def record_failed(session: Session, deps: Deps, row: ConnectorRequest, outcome: Outcome) -> None:
    """Kibana or Elasticsearch refused the update (the request is `failed`, its secrets
    erased): the thread and the owner are told that nothing changed."""
    notices.tell(
        session, deps, row, LifecycleEvent.CHANGE_FAILED, message=outcome.message, hint=outcome.hint
    )


# The rollback job.


def run_rollback(deps: Deps, job: JobContext) -> None:
    """Put a failed change's previous non-secret settings back (with its secrets), test,
    tell, erase the secrets. An update twice is harmless, so a retry starts over."""
    with session_scope(deps.session_factory) as session:
        row = queries.get_request(session=session, request_id=job.request_id or 0)
        if row is None or row.rollback_at is None or row.secrets_ciphertext is None:
            return  # done already, or superseded
        managed = lq.get_managed(session=session, managed_id=row.managed_id or 0)
        if managed is None or row.change_before is None:
            return
        stored = drafts.stored_request(row)
        ciphertext, kind, before = row.secrets_ciphertext, row.kind, dict(row.change_before)
        stack, backend_key = managed.target, managed.backend
        space_id, resource_id, type_id = managed.space_id, managed.resource_id, managed.type_id
    secrets = deps.secret_box.open(ciphertext)
    back = change_draft(stored, before, backend_key, secrets, kind).rollback()
    target = Target(
        space_id=space_id, resource_id=resource_id, name=back.draft.name, type_id=type_id
    )
    actor = str(job.payload.get("actor") or "") or None
    try:
        backend = inventory.backend_of(deps, stack, backend_key)
        resource = backend.update(target, update_payload(back))
    except BackendUnavailableError as error:
        raise RetryLaterError(0.0, error.message) from None
    except BackendError as error:
        _finish_rollback(deps, job, None, _failed(error), actor=actor, settings=None)
        return
    tested = target.model_copy(update={"type_id": resource.type_id, "config": resource.config})
    try:
        run = backend.test(tested)
        outcome = Outcome(stage="test", ok=run.ok, message=run.message, hint=run.hint)
    except BackendUnavailableError as error:
        raise RetryLaterError(0.0, error.message) from None
    except BackendError as error:
        outcome = _failed(error)
    settings = {NAME_KEY: back.draft.name, "settings": drafts.stored_settings(back.draft)}
    _finish_rollback(deps, job, resource, outcome, actor=actor, settings=settings)


def _failed(error: BackendError) -> Outcome:
    return Outcome(stage="test", ok=False, message=error.message, hint=error.hint)


def _finish_rollback(
    deps: Deps,
    job: JobContext,
    resource: Resource | None,
    outcome: Outcome,
    *,
    actor: str | None,
    settings: dict[str, Any] | None,
) -> None:
    now = deps.clock()
    with session_scope(deps.session_factory) as session:
        row = queries.get_request(session=session, request_id=job.request_id or 0)
        if row is None or row.secrets_ciphertext is None:
            return
        _erase(session, row.id, now)
        queries.add_audit(
            session=session,
            action=AuditAction.ROLLED_BACK,
            request_id=row.id,
            actor=actor,
            detail={"updated": resource is not None, "test_ok": outcome.ok},
        )
        managed = lq.get_managed(session=session, managed_id=row.managed_id or 0)
        if managed is not None and resource is not None and settings is not None:
            values = {
                "name": settings[NAME_KEY],
                "model": resource.model,
                "settings_snapshot": visible(dict(resource.config)),
                "current_settings": settings,
                **_test_values(outcome, managed, now),
            }
            _update_row(session, managed.id, values)
        ok = resource is not None and outcome.ok
        event = LifecycleEvent.ROLLED_BACK if ok else LifecycleEvent.ROLLBACK_FAILED
        message = outcome.message
        if resource is not None and not outcome.ok:
            message = f"The previous settings are back, but the test still fails: {message}"
        notices.tell(session, deps, row, event, message=message, hint=outcome.hint, actor=actor)
        home.refresh_for_request(session, row.id)
    deps.wake_workers()


def rollback_unreachable(
    deps: Deps, job: JobContext, retry: RetryLaterError, since: datetime
) -> None:
    """The retries are spent: the rollback failed; its secrets are erased all the same."""
    del since
    outcome = Outcome(
        stage="test",
        ok=False,
        message=f"Kibana or Elasticsearch could not be reached: {retry.reason}",
    )
    _finish_rollback(deps, job, None, outcome, actor=None, settings=None)


def rollback_abandoned(deps: Deps, job: JobContext, reason: str) -> None:
    """The rollback kept failing inside the bot: end it visibly (the log has the reference)."""
    outcome = Outcome(stage="test", ok=False, message=f"internal error ({reason})")
    _finish_rollback(deps, job, None, outcome, actor=None, settings=None)
