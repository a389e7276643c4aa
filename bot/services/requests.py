"""Use cases of a request before provisioning: submit, decide, cancel, expire."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.db import queries
from bot.db.models import ConnectorRequest
from bot.db.session import session_scope
from bot.deps import Deps
from bot.domain.backends import Backend, BackendChoice
from bot.domain.devtools import DELIVERED_REASON, EndpointDelivery, endpoint_delivery
from bot.domain.enums import AuditAction, Decision, JobKind, Notice, RequestStatus
from bot.domain.providers import provider_spec
from bot.domain.providers.spec import CONNECTOR, INFERENCE, BackendKey, ProviderDraft
from bot.domain.refs import new_connector_id, new_reference
from bot.domain.rules import REFUSAL_TEXT, decision_refusal
from bot.domain.schemas import AuditEntry, RequestSnapshot
from bot.errors import BotError, InvalidTransitionError, NotAuthorizedError, RequestNotFoundError
from bot.services import drafts, home, stack
from bot.services.snapshots import to_snapshot
from bot.services.transitions import announce, move

log = logging.getLogger(__name__)
S = RequestStatus


def submit_request(
    deps: Deps,
    draft: ProviderDraft[Any, Any],
    *,
    warnings: list[str],
    requested_by: str,
    target: str,
    backend: BackendChoice | None = None,
    lifetime_days: int | None = None,
) -> RequestSnapshot:
    """Store a checked request for ``target`` as pending, its secrets sealed; queue the
    approval card.

    ``lifetime_days`` is how long the connector lives once created (None: no expiry), already
    checked against the policy (`intake.vet_request`).

    ``backend`` is the back-end chosen for it (`stack.request_backend`); when not given it is
    chosen here. The resource id is chosen now for either back-end (a connector id is also a
    valid inference id), so a retry after a crash finds what it created.
    """
    spec = provider_spec(draft.provider)
    choice = backend or stack.request_backend(deps, spec.supported_backends, target)
    if choice is None:
        raise BotError(f"{spec.label} cannot be provisioned on this stack.")
    type_id: str | None
    if choice.backend is Backend.INFERENCE:
        inference = spec.inference_payload(draft)
        secret_keys = inference.secret_settings
        type_id = None
        config: dict[str, Any] = {
            "service": inference.service,
            **{k: v for k, v in inference.service_settings.items() if k not in secret_keys},
        }
    else:
        payload = spec.connector_payload(draft)
        type_id, config = payload.type_id, payload.config
    # With no Elasticsearch there is no choice to explain: the request looks as it always did.
    reason = choice.reason if stack.inference_configured(deps, target) else None
    sealed = deps.secret_box.seal(drafts.sealable_secrets(draft))
    now = deps.clock()
    with session_scope(deps.session_factory) as session:
        row = queries.add_request(
            session=session,
            request=ConnectorRequest(
                reference=_unused_reference(session),
                status=S.PENDING.value,
                provider=draft.provider.value,
                connector_type_id=type_id,
                connector_name=draft.name,
                space_id=draft.space_id,
                target=target,
                kibana_connector_id=new_connector_id(draft.name),
                config=config,
                settings=drafts.stored_settings(draft),
                backend=choice.backend.value,
                backend_reason=reason,
                secrets_ciphertext=sealed,
                justification=draft.justification,
                warnings=warnings,
                requested_by_slack_id=requested_by,
                created_at=now,
                updated_at=now,
                expires_at=now + deps.policy.request_ttl,
                lifetime_days=lifetime_days,
            ),
        )
        queries.add_audit(
            session=session,
            action=AuditAction.SUBMITTED,
            request_id=row.id,
            actor=requested_by,
            detail={"provider": draft.provider.value, "space": draft.space_id, "target": target},
        )
        queries.enqueue(session=session, kind=JobKind.POST_CARD, request_id=row.id)
        queries.enqueue(
            session=session,
            kind=JobKind.DM_REQUESTER,
            request_id=row.id,
            payload={"notice": Notice.SUBMITTED.value},
        )
        home.refresh_for_request(session, row.id)
        snapshot = to_snapshot(row, deps.governance)
    deps.wake_workers()
    log.info("request %s submitted by %s", snapshot.reference, requested_by)
    return snapshot


def _unused_reference(session: Session) -> str:
    for _ in range(10):
        reference = new_reference()
        if not queries.reference_exists(session=session, reference=reference):
            return reference
    raise RuntimeError("could not find an unused request reference")


def name_in_use(deps: Deps, *, target: str, space_id: str, name: str) -> bool:
    """True when another open request already asks for this connector name in the target's
    space."""
    with session_scope(deps.session_factory) as session:
        return queries.connector_name_taken(
            session=session, target=target, space_id=space_id, name=name
        )


def check_decider(deps: Deps, *, request_id: int, actor: str) -> RequestSnapshot:
    """Make sure ``actor`` may decide this pending request now; record a refused attempt."""
    with session_scope(deps.session_factory) as session:
        row = _load(session, request_id)
        refusal = decision_refusal(actor, row.requested_by_slack_id, deps.policy.approvers)
        if refusal is not None:
            _record_refusal(session, row, actor, refusal.value)
        snapshot = to_snapshot(row)
    if refusal is not None:
        raise NotAuthorizedError(REFUSAL_TEXT[refusal])
    if snapshot.status is not S.PENDING:
        raise InvalidTransitionError(already_decided_text(snapshot))
    return snapshot


def approve_request(deps: Deps, *, request_id: int, actor: str) -> RequestSnapshot:
    """Approve a pending request exactly once and queue its provisioning."""
    return _decide(
        deps, request_id=request_id, actor=actor, decision=Decision.APPROVED, reason=None
    )


def reject_request(deps: Deps, *, request_id: int, actor: str, reason: str) -> RequestSnapshot:
    """Reject a pending request exactly once, with the approver's reason; erase its secrets."""
    return _decide(
        deps, request_id=request_id, actor=actor, decision=Decision.REJECTED, reason=reason
    )


def _decide(
    deps: Deps, *, request_id: int, actor: str, decision: Decision, reason: str | None
) -> RequestSnapshot:
    approved = decision is Decision.APPROVED

    def apply(session: Session, now: datetime) -> bool:
        changed = move(
            session,
            request_id=request_id,
            sources=[S.PENDING],
            target=S.APPROVED if approved else S.REJECTED,
            now=now,
            action=AuditAction.APPROVED if approved else AuditAction.REJECTED,
            actor=actor,
            detail={"reason": reason} if reason else {},
            values={"decided_by_slack_id": actor, "decided_at": now, "decision_reason": reason},
        )
        if changed:
            queries.add_decision(
                session=session,
                request_id=request_id,
                decision=decision.value,
                actor=actor,
                reason=reason,
            )
            _queue_decision_notices(session, request_id, approved=approved, deps=deps)
        return changed

    snapshot = _guarded_decision(deps, request_id=request_id, actor=actor, apply=apply)
    log.info("request %s %s by %s", snapshot.reference, decision.value, actor)
    return snapshot


def _guarded_decision(
    deps: Deps,
    *,
    request_id: int,
    actor: str,
    apply: Callable[[Session, datetime], bool],
) -> RequestSnapshot:
    """Run ``apply`` (a compare-and-set) only for someone allowed to decide; a refusal is
    recorded, and a late click is told what already happened."""
    with session_scope(deps.session_factory) as session:
        row = _load(session, request_id)
        refusal = decision_refusal(actor, row.requested_by_slack_id, deps.policy.approvers)
        changed = False
        if refusal is not None:
            _record_refusal(session, row, actor, refusal.value)
        else:
            changed = apply(session, deps.clock())
        snapshot = to_snapshot(_load(session, request_id), deps.governance)
    if refusal is not None:
        raise NotAuthorizedError(REFUSAL_TEXT[refusal])
    if not changed:
        raise InvalidTransitionError(already_decided_text(snapshot))
    deps.wake_workers()
    return snapshot


def _queue_decision_notices(
    session: Session, request_id: int, *, approved: bool, deps: Deps
) -> None:
    announce(
        session,
        request_id=request_id,
        requester=Notice.DECIDED,
        notify_channel=None if approved else deps.policy.notify_channel,
    )
    if approved:
        queries.enqueue(session=session, kind=JobKind.PROVISION, request_id=request_id)


def deliver_as_yaml(
    deps: Deps, *, request_id: int, actor: str
) -> tuple[RequestSnapshot, list[str]]:
    """Approve a pending request as a kibana.yml entry instead of an API call.

    Returns the snapshot and the names of the secrets the approver must put in the keystore;
    the secrets themselves are erased, never handed out.
    """
    secret_names: list[str] = []

    def read(row: ConnectorRequest) -> None:
        if row.secrets_ciphertext is not None:
            payload = drafts.connector_payload(
                drafts.stored_request(row), deps.secret_box.open(row.secrets_ciphertext)
            )
            secret_names.extend(sorted(payload.secrets))

    snapshot = _deliver(
        deps,
        request_id=request_id,
        actor=actor,
        read=read,
        reason="delivered as a kibana.yml preconfigured connector",
        action=AuditAction.DELIVERED_AS_YAML,
        decision_reason="delivered as kibana.yml",
    )
    return snapshot, secret_names


def delivery_backend(deps: Deps, *, request_id: int) -> BackendKey:
    """Which back-end a request's delivery is for: the one stored on its row."""
    with session_scope(deps.session_factory) as session:
        stored = _load(session, request_id).backend
    return INFERENCE if stored == INFERENCE else CONNECTOR


def deliver_as_devtools(
    deps: Deps, *, request_id: int, actor: str
) -> tuple[RequestSnapshot, EndpointDelivery]:
    """Approve a pending request as the Dev Tools request that creates its inference endpoint
    (under the id stored at submission) instead of creating it.

    Returns the snapshot and the endpoint's body with every secret replaced by a placeholder;
    the secrets themselves are erased, never handed out.
    """
    delivered: list[EndpointDelivery] = []

    def read(row: ConnectorRequest) -> None:
        if row.secrets_ciphertext is None or row.kibana_connector_id is None:
            raise InvalidTransitionError(already_decided_text(to_snapshot(row)))
        stored = drafts.stored_request(row)
        draft = drafts.restore_draft(stored, deps.secret_box.open(row.secrets_ciphertext))
        payload = provider_spec(draft.provider).inference_payload(draft)
        delivered.append(endpoint_delivery(row.kibana_connector_id, payload))

    snapshot = _deliver(
        deps,
        request_id=request_id,
        actor=actor,
        read=read,
        reason=DELIVERED_REASON,
        action=AuditAction.DELIVERED_AS_DEVTOOLS,
        decision_reason="delivered as a Dev Tools request",
    )
    return snapshot, delivered[0]


def _deliver(
    deps: Deps,
    *,
    request_id: int,
    actor: str,
    read: Callable[[ConnectorRequest], None],
    reason: str,
    action: AuditAction,
    decision_reason: str,
) -> RequestSnapshot:
    """Approve and deliver a pending request in one step (its secrets are erased); ``read``
    takes what the approver is handed from the row first."""

    def apply(session: Session, now: datetime) -> bool:
        row = _load(session, request_id)
        if row.status != S.PENDING.value:
            return False
        read(row)
        decided = {"decided_by_slack_id": actor, "decided_at": now, "decision_reason": reason}
        changed = move(
            session,
            request_id=request_id,
            sources=[S.PENDING],
            target=S.APPROVED,
            now=now,
            action=AuditAction.APPROVED,
            actor=actor,
            values=decided,
        ) and move(
            session,
            request_id=request_id,
            sources=[S.APPROVED],
            target=S.DELIVERED,
            now=now,
            action=action,
            actor=actor,
        )
        if changed:
            queries.add_decision(
                session=session,
                request_id=request_id,
                decision=Decision.APPROVED.value,
                actor=actor,
                reason=decision_reason,
            )
            announce(
                session,
                request_id=request_id,
                requester=Notice.OUTCOME,
                notify_channel=deps.policy.notify_channel,
            )
        return changed

    return _guarded_decision(deps, request_id=request_id, actor=actor, apply=apply)


def cancel_request(deps: Deps, *, reference: str, actor: str) -> RequestSnapshot:
    """Let the requester withdraw a pending request; its secrets are erased."""
    now = deps.clock()
    with session_scope(deps.session_factory) as session:
        row = queries.get_request_by_reference(session=session, reference=reference)
        if row is None:
            raise RequestNotFoundError(f"There is no request {reference}.")
        if row.requested_by_slack_id != actor:
            raise NotAuthorizedError(f"Only the person who asked for {reference} can cancel it.")
        changed = move(
            session,
            request_id=row.id,
            sources=[S.PENDING],
            target=S.CANCELLED,
            now=now,
            action=AuditAction.CANCELLED,
            actor=actor,
        )
        if changed:
            _queue_closing_notices(session, row.id, notify_requester=False)
        snapshot = to_snapshot(_load(session, row.id))
    if not changed:
        raise InvalidTransitionError(already_decided_text(snapshot))
    deps.wake_workers()
    return snapshot


def expire_due_requests(deps: Deps) -> int:
    """Expire pending requests past their deadline; return how many were expired."""
    now = deps.clock()
    expired = 0
    with session_scope(deps.session_factory) as session:
        for request_id in queries.expired_pending_ids(session=session, now=now):
            if move(
                session,
                request_id=request_id,
                sources=[S.PENDING],
                target=S.EXPIRED,
                now=now,
                action=AuditAction.EXPIRED,
            ):
                _queue_closing_notices(session, request_id, notify_requester=True)
                expired += 1
    if expired:
        deps.wake_workers()
    return expired


def _queue_closing_notices(session: Session, request_id: int, *, notify_requester: bool) -> None:
    announce(
        session,
        request_id=request_id,
        thread=Notice.CLOSED,
        requester=Notice.CLOSED if notify_requester else None,
    )


def request_history(
    deps: Deps, *, reference: str, viewer: str
) -> tuple[RequestSnapshot, list[AuditEntry]]:
    """A request and its audit trail, for its requester or an approver."""
    with session_scope(deps.session_factory) as session:
        row = queries.get_request_by_reference(session=session, reference=reference)
        if row is None:
            raise RequestNotFoundError(f"There is no request {reference}.")
        if viewer != row.requested_by_slack_id and viewer not in deps.policy.approvers:
            raise NotAuthorizedError(
                f"Only the person who asked for {reference} and the approvers can see it."
            )
        events = [
            AuditEntry(action=event.action, actor=event.actor_slack_id, at=event.created_at)
            for event in queries.list_audit(session=session, request_id=row.id)
        ]
        return to_snapshot(row, deps.governance), events


def _load(session: Session, request_id: int) -> ConnectorRequest:
    row = queries.get_request(session=session, request_id=request_id)
    if row is None:
        raise RequestNotFoundError("That request no longer exists.")
    return row


def _record_refusal(session: Session, row: ConnectorRequest, actor: str, why: str) -> None:
    queries.add_audit(
        session=session,
        action=AuditAction.DECISION_REFUSED,
        request_id=row.id,
        actor=actor,
        detail={"why": why},
    )
    log.warning("refused decision on %s by %s (%s)", row.reference, actor, why)


def already_decided_text(snapshot: RequestSnapshot) -> str:
    """Explain to a late clicker what already happened to the request."""
    who = f" by <@{snapshot.decided_by}>" if snapshot.decided_by else ""
    if snapshot.status is S.REJECTED:
        return f"{snapshot.reference} was already rejected{who}."
    if snapshot.status in {S.CANCELLED, S.EXPIRED}:
        return f"{snapshot.reference} was {snapshot.status.value}; there is nothing to decide."
    if snapshot.status is S.PENDING:
        return f"{snapshot.reference} is still pending."
    return f"{snapshot.reference} was already approved{who}."
