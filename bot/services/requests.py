"""Use cases of a request before provisioning: submit, decide, cancel, expire."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.db import queries
from bot.db.models import ConnectorRequest, ManagedConnector
from bot.db.session import session_scope
from bot.deps import Deps
from bot.domain.backends import Backend, BackendChoice
from bot.domain.devtools import DELIVERED_REASON, EndpointDelivery, endpoint_delivery
from bot.domain.enums import AuditAction, Decision, JobKind, Notice, RequestKind, RequestStatus
from bot.domain.lifecycle import LifecycleEvent, LifecycleNotice
from bot.domain.policy.approval import Outcome, Vote
from bot.domain.policy.model import Rule
from bot.domain.providers import provider_spec
from bot.domain.providers.spec import CONNECTOR, INFERENCE, BackendKey, ProviderDraft
from bot.domain.refs import new_connector_id, new_reference
from bot.domain.rule_snapshot import rule_snapshot
from bot.domain.schemas import AuditEntry, RequestSnapshot
from bot.errors import BotError, InvalidTransitionError, NotAuthorizedError, RequestNotFoundError
from bot.services import admission, approvers, ballot, drafts, home, reminders, stack
from bot.services.ballot import already_decided_text, load
from bot.services.changes import notices as change_notices
from bot.services.lifecycle.notices import queue_notice
from bot.services.snapshots import to_snapshot
from bot.services.transitions import announce, move

log = logging.getLogger(__name__)
S = RequestStatus


@dataclass(frozen=True)
class ChangeOf:
    """A request that changes a managed connector: its kind, the inventory row, the row's
    back-end, and the connector as it was (``name``, form ``settings``, ``resource_id``)."""

    kind: RequestKind
    managed_id: int
    backend: Backend
    before: dict[str, Any]


def submit_request(
    deps: Deps,
    draft: ProviderDraft[Any, Any],
    *,
    warnings: list[str],
    requested_by: str,
    target: str,
    backend: BackendChoice | None = None,
    lifetime_days: int | None = None,
    change: ChangeOf | None = None,
) -> RequestSnapshot:
    """Store a checked request for ``target`` as pending, its secrets sealed; queue the
    approval card.

    ``change``: the request rotates or changes a managed connector (same policy, same card,
    with the diff); it names no new resource id, and the connector's thread is told.

    ``lifetime_days`` is how long the connector lives once created (None: no expiry), already
    checked against the policy (`intake.vet_request`).

    ``backend`` is the back-end chosen for it (`stack.request_backend`); when not given it is
    chosen here. The resource id is chosen now for either back-end (a connector id is also a
    valid inference id), so a retry after a crash finds what it created.
    """
    spec = provider_spec(draft.provider)
    rule = admission.rule_for(deps, draft, requester=requested_by, target=target)
    if change is not None:
        backend = BackendChoice(change.backend, "")
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
    if change is not None:
        reason = None
    sealed = deps.secret_box.seal(drafts.sealable_secrets(draft))
    now = deps.clock()
    plan = reminders.rule_plan(deps, rule)
    request = ConnectorRequest(
        reference="",
        status=S.PENDING.value,
        provider=draft.provider.value,
        connector_type_id=type_id,
        connector_name=draft.name,
        space_id=draft.space_id,
        target=target,
        kibana_connector_id=None if change else new_connector_id(draft.name),
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
        lifetime_days=lifetime_days,
        **reminders.schedule(plan, now),
        rule_index=rule.index,
        approval_rule=rule_snapshot(rule),
        kind=(change.kind if change else RequestKind.CREATE).value,
        managed_id=change.managed_id if change else None,
        change_before=change.before if change else None,
    )

    def change_requested(session: Session, row: ConnectorRequest) -> None:
        change_notices.requested(session, deps, row, now=now)

    snapshot = _store_and_route(
        deps,
        request,
        rule=rule,
        now=now,
        on_stored=change_requested if change else None,
        one_change_of=change.managed_id if change else None,
    )
    deps.wake_workers()
    log.info("request %s submitted by %s", snapshot.reference, requested_by)
    return snapshot


def _store_and_route(
    deps: Deps,
    request: ConnectorRequest,
    *,
    rule: Rule,
    now: datetime,
    on_stored: Callable[[Session, ConnectorRequest], None] | None = None,
    one_change_of: int | None = None,
) -> RequestSnapshot:
    """Store a pending request (any kind) and route it by its rule: the approval card, then
    approved at once by auto_approve or the requester told it waits for approvers.
    ``one_change_of``: refused while that managed connector has another change open."""
    requested_by = request.requested_by_slack_id
    with session_scope(deps.session_factory) as session:
        if one_change_of is not None:
            change_notices.one_at_a_time(session, one_change_of)
        auto = admission.auto_approval(session, rule, requester=requested_by, now=now)
        request.reference = _unused_reference(session)
        row = queries.add_request(session=session, request=request)
        detail: dict[str, Any] = {
            "provider": row.provider,
            "space": row.space_id,
            "rule": rule.label,
            "target": row.target,
        }
        if row.kind != RequestKind.CREATE.value:
            detail.update(kind=row.kind, managed_id=row.managed_id)
        queries.add_audit(
            session=session,
            action=AuditAction.SUBMITTED,
            request_id=row.id,
            actor=requested_by,
            detail=detail,
        )
        queries.enqueue(session=session, kind=JobKind.POST_CARD, request_id=row.id)
        if on_stored is not None:
            on_stored(session, row)
        if auto is not None:
            _auto_approve(session, deps, row.id, rule=rule, auto=auto, now=now)
        else:
            queries.enqueue(
                session=session,
                kind=JobKind.DM_REQUESTER,
                request_id=row.id,
                payload={"notice": Notice.SUBMITTED.value},
            )
        home.refresh_for_request(session, row.id)
        return to_snapshot(load(session, row.id), deps.governance)


def submit_managed_request(
    deps: Deps,
    *,
    kind: RequestKind,
    managed: ManagedConnector,
    requested_by: str,
    reason: str,
    days: int | None = None,
    on_stored: Callable[[Session, ConnectorRequest], None] | None = None,
) -> RequestSnapshot:
    """Store a request to retire or extend (by ``days``) a managed connector, decided by the
    rule its facts match for this requester, as a new request for it would be."""
    rule = admission.rule_matching(
        deps,
        target=managed.target,
        space=managed.space_id,
        provider=managed.provider,
        requester=requested_by,
        model=managed.model,
    )
    now = deps.clock()
    request = ConnectorRequest(
        reference="",
        status=S.PENDING.value,
        kind=kind.value,
        managed_id=managed.id,
        provider=managed.provider,
        connector_type_id=managed.type_id if managed.backend == "connector" else None,
        connector_name=managed.name,
        space_id=managed.space_id,
        target=managed.target,
        kibana_connector_id=None,  # the managed row names the resource; ids stay unique
        config={"resource_id": managed.resource_id, "type_id": managed.type_id},
        settings={"model": managed.model} if managed.model else None,
        backend=managed.backend,
        justification=reason,
        warnings=[],
        requested_by_slack_id=requested_by,
        created_at=now,
        updated_at=now,
        lifetime_days=days,
        **reminders.schedule(reminders.rule_plan(deps, rule), now),
        rule_index=rule.index,
        approval_rule=rule_snapshot(rule),
    )
    snapshot = _store_and_route(deps, request, rule=rule, now=now, on_stored=on_stored)
    deps.wake_workers()
    log.info("%s request %s submitted by %s", kind.value, snapshot.reference, requested_by)
    return snapshot


def _auto_approve(
    session: Session,
    deps: Deps,
    request_id: int,
    *,
    rule: Rule,
    auto: admission.AutoApproval,
    now: datetime,
) -> None:
    """Approve a just-stored request by policy (no decider) and queue its provisioning."""
    moved = move(
        session,
        request_id=request_id,
        sources=[S.PENDING],
        target=S.APPROVED,
        now=now,
        action=AuditAction.AUTO_APPROVED,
        detail={"rule": rule.label, "count": auto.count, "limit": auto.limit},
        values={"decided_at": now, "decision_reason": auto.reason, "auto_approved_at": now},
    )
    if not moved:  # the row was stored in this very transaction
        raise RuntimeError("a request stored just now was not pending")
    _queue_decision_notices(session, request_id, approved=True, deps=deps)


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
    """Make sure ``actor`` may reject this pending request now; record a refused attempt."""
    return ballot.guarded_vote(
        deps, request_id=request_id, vote=Vote(approver=actor, approve=False), apply=None
    )


def approve_request(deps: Deps, *, request_id: int, actor: str) -> RequestSnapshot:
    """Count ``actor``'s approval; once the rule has enough, approve the request exactly once
    and queue its provisioning. BreakGlassNeededError: the requester's own, reason needed."""
    return _vote(deps, request_id=request_id, vote=Vote(approver=actor, approve=True))


def break_glass_approve(deps: Deps, *, request_id: int, actor: str, reason: str) -> RequestSnapshot:
    """Approve one's own request at once under a break-glass rule, with a reason; every other
    approver of the rule is told by DM."""
    vote = Vote(approver=actor, approve=True, break_glass=True, reason=reason)
    return _vote(deps, request_id=request_id, vote=vote)


def reject_request(deps: Deps, *, request_id: int, actor: str, reason: str) -> RequestSnapshot:
    """Reject a pending request exactly once, with the approver's reason; erase its secrets.
    One reject ends it, whatever approvals came before."""
    return _vote(
        deps, request_id=request_id, vote=Vote(approver=actor, approve=False, reason=reason)
    )


def _vote(deps: Deps, *, request_id: int, vote: Vote) -> RequestSnapshot:
    def apply(
        session: Session, now: datetime, row: ConnectorRequest, ballot: ballot.Ballot
    ) -> bool:
        queries.add_decision(
            session=session,
            request_id=request_id,
            decision=(Decision.APPROVED if vote.approve else Decision.REJECTED).value,
            actor=vote.approver,
            reason=vote.reason,
            break_glass=vote.break_glass,
        )
        result = ballot.tally(vote)
        label = ballot.rule.label
        if result.outcome is Outcome.WAITING:
            queries.add_audit(
                session=session,
                action=AuditAction.APPROVAL_COUNTED,
                request_id=request_id,
                actor=vote.approver,
                detail={"rule": label, "approvals": result.summary},
            )
            queries.enqueue(session=session, kind=JobKind.REFRESH_CARD, request_id=request_id)
            # No state change (move() refreshes Home on those): the voter's queue changed.
            home.refresh_for_request(session, request_id)
            return True
        approved = result.outcome is Outcome.APPROVED
        if vote.break_glass:
            action = AuditAction.BREAK_GLASS
        else:
            action = AuditAction.APPROVED if approved else AuditAction.REJECTED
        detail: dict[str, Any] = {"reason": vote.reason} if vote.reason else {}
        if ballot.rule.approvals > 1:
            detail.update(rule=label, approved_by=list(result.approved_by))
        changed = move(
            session,
            request_id=request_id,
            sources=[S.PENDING],
            target=S.APPROVED if approved else S.REJECTED,
            now=now,
            action=action,
            actor=vote.approver,
            detail=detail,
            values={
                "decided_by_slack_id": vote.approver,
                "decided_at": now,
                "decision_reason": vote.reason,
            },
        )
        if not changed:  # the row is locked and was pending: roll the vote back
            raise InvalidTransitionError(already_decided_text(to_snapshot(row, deps.governance)))
        _queue_decision_notices(session, request_id, approved=approved, deps=deps)
        if not approved and row.managed_id is not None:
            _tell_managed_thread_rejected(session, deps, row, vote)
        if vote.break_glass:
            for approver in sorted(ballot.eligible - {vote.approver}):
                queries.enqueue(
                    session=session,
                    kind=JobKind.DM_APPROVER,
                    request_id=request_id,
                    payload={"user": approver, "notice": Notice.BREAK_GLASS.value},
                )
        return True

    snapshot = ballot.guarded_vote(deps, request_id=request_id, vote=vote, apply=apply)
    log.info(
        "request %s: %s by %s (%s)",
        snapshot.reference,
        "approval" if vote.approve else "rejection",
        vote.approver,
        snapshot.status.value,
    )
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
        queries.enqueue(
            session=session, kind=_work_after_approval(session, request_id), request_id=request_id
        )


def _tell_managed_thread_rejected(
    session: Session, deps: Deps, row: ConnectorRequest, vote: Vote
) -> None:
    """A rejected retire or extend request is told in the connector's own thread too."""
    notice = LifecycleNotice(
        event=LifecycleEvent.ASK_REJECTED,
        actor=vote.approver,
        message=vote.reason,
        reference=row.reference,
    )
    queue_notice(session, deps, managed_id=row.managed_id or 0, notice=notice)


def _work_after_approval(session: Session, request_id: int) -> JobKind:
    """The job an approved request needs: create it, or retire / extend the managed one."""
    row = queries.get_request(session=session, request_id=request_id)
    kind = RequestKind(row.kind) if row is not None else RequestKind.CREATE
    return {RequestKind.RETIRE: JobKind.RETIRE, RequestKind.EXTEND: JobKind.EXTEND}.get(
        kind, JobKind.PROVISION
    )


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
        stored = load(session, request_id).backend
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
            raise InvalidTransitionError(already_decided_text(to_snapshot(row, deps.governance)))
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

    def apply(
        session: Session, now: datetime, row: ConnectorRequest, _ballot: ballot.Ballot
    ) -> bool:
        if row.kind != RequestKind.CREATE.value:
            raise InvalidTransitionError(
                f"{row.reference} changes an existing connector in place: approve it instead."
            )
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

    return ballot.guarded_vote(
        deps,
        request_id=request_id,
        vote=Vote(approver=actor, approve=True),
        apply=apply,
        ask_break_glass=False,
        check=_single_approval,
    )


def _single_approval(row: ConnectorRequest, ballot: ballot.Ballot) -> str | None:
    """Delivery is one approver's full approval: refused when the rule needs more."""
    if ballot.rule.approvals <= 1:
        return None
    return (
        f"{row.reference} needs {ballot.rule.approvals} approvals ({ballot.rule.label}): "
        "delivering it counts as one approver's, so approve it instead."
    )


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
        snapshot = to_snapshot(load(session, row.id), deps.governance)
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
        allowed = viewer == row.requested_by_slack_id or approvers.is_approver(deps, viewer)
        if not allowed and viewer not in approvers.eligible_for(
            deps, to_snapshot(row, deps.governance)
        ):
            raise NotAuthorizedError(
                f"Only the person who asked for {reference} and the approvers can see it."
            )
        events = [
            AuditEntry(action=event.action, actor=event.actor_slack_id, at=event.created_at)
            for event in queries.list_audit(session=session, request_id=row.id)
        ]
        return to_snapshot(row, deps.governance), events
