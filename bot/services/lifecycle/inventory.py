"""The inventory: rows for what the bot provisioned, the lookups every lifecycle use case
shares (clients per target, effective settings, who is an approver) and the listing."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from bot.db import lifecycle_queries as lq
from bot.db.models import ApprovalDecision, ConnectorRequest, ManagedConnector
from bot.db.session import session_scope
from bot.domain import expiry
from bot.domain.lifecycle import ManagedState, ManagedSummary, next_test_at, visible
from bot.domain.policy.matching import RequestFacts, match_rule
from bot.domain.policy.model import Lifecycle
from bot.domain.resources import Resource, Target
from bot.domain.schemas import Outcome
from bot.services.backends.base import ProvisioningBackend
from bot.services.backends.connector import ConnectorBackend
from bot.services.backends.inference import InferenceBackend

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.deps import Deps
    from bot.elasticsearch.client import ElasticsearchClient
    from bot.kibana.client import KibanaClient


@dataclass(frozen=True)
class TargetClients:
    kibana: KibanaClient
    elasticsearch: ElasticsearchClient | None


def clients(deps: Deps, target: str) -> TargetClients:
    """The Kibana and Elasticsearch clients of a target (UnknownTargetError when the policy
    no longer has it)."""
    found = deps.clients_for(target)
    return TargetClients(kibana=found.kibana, elasticsearch=found.elasticsearch)


def backend_of(deps: Deps, target: str, backend: str) -> ProvisioningBackend[Any]:
    """The back-end a managed row names, on its target; BackendError when it is gone."""
    found = clients(deps, target)
    if backend == "inference":
        if found.elasticsearch is None:
            from bot.services.backends.base import BackendError

            raise BackendError("Elasticsearch is not configured for this target any more.")
        return InferenceBackend(found.elasticsearch)
    return ConnectorBackend(found.kibana)


def request_target(deps: Deps, row: ConnectorRequest) -> str:
    """The target a request was provisioned into."""
    del deps
    return row.target


def known_targets(deps: Deps) -> list[str]:
    return [target.key for target in deps.governance.targets]


def effective_lifecycle(deps: Deps, facts: RequestFacts) -> Lifecycle:
    """The lifecycle settings for a connector: those of the policy rule it matches (first
    match wins), else the top level's."""
    return deps.governance.lifecycle_for(match_rule(deps.governance, facts))


def is_approver(deps: Deps, user: str) -> bool:
    """Whether ``user`` may adopt connectors and see the whole inventory."""
    from bot.services import approvers

    return approvers.is_approver(deps, user)


def seed_for(managed_id: int, now: datetime) -> int:
    """The jitter seed of one scheduling decision (stable, so tests can predict it)."""
    return zlib.crc32(f"{managed_id}:{now.isoformat()}".encode())


def record_provisioned(
    session: Session, deps: Deps, row: ConnectorRequest, resource: Resource, now: datetime
) -> ManagedConnector:
    """Add the inventory row of a request that just reached `provisioned` (same transaction)."""
    approvers = list(
        session.scalars(
            select(ApprovalDecision.decided_by_slack_id).where(
                ApprovalDecision.request_id == row.id
            )
        )
    )
    target = request_target(deps, row)
    facts = RequestFacts(
        target=target,
        space=row.space_id,
        provider=row.provider,
        requester=row.requested_by_slack_id,
        model=resource.model,
    )
    settings = effective_lifecycle(deps, facts)
    ends = expiry.expires_at(now, row.lifetime_days, settings.max_lifetime_days)
    managed = lq.add_managed(
        session=session,
        row=ManagedConnector(
            target=target,
            space_id=row.space_id,
            resource_id=resource.id,
            backend=row.backend or "connector",
            type_id=resource.type_id,
            name=row.connector_name,
            provider=row.provider,
            model=resource.model,
            owner_slack_id=row.requested_by_slack_id,
            approvers=approvers,
            request_id=row.id,
            thread_channel=row.card_channel,
            thread_ts=row.card_ts,
            created_at=now,
            updated_at=now,
            state=ManagedState.ACTIVE.value,
            consecutive_failures=0,
            retest_every_seconds=int(settings.retest_every.total_seconds()),
            failing_after=settings.failing_after,
            settings_snapshot=visible(dict(resource.config)),
            version=1,
            expires_at=ends,
            next_expiry_warning_at=expiry.next_warning(ends, not_before=now),
        ),
    )
    managed.next_test_at = next_test_at(now, settings.retest_every, seed=seed_for(managed.id, now))
    session.flush()
    return managed


def record_first_test(
    session: Session, *, request_id: int, outcome: Outcome, now: datetime
) -> None:
    """The provisioning test's result is the row's first test."""
    managed = lq.get_managed_by_request(session=session, request_id=request_id)
    if managed is None:
        return
    lq.update_managed(
        session=session,
        managed_id=managed.id,
        version=managed.version,
        values={
            "last_test_at": now,
            "last_test_ok": outcome.ok,
            "last_test_latency_ms": outcome.duration_ms,
            "last_test_message": (outcome.message or "")[:2000] or None,
            "consecutive_failures": 0 if outcome.ok else 1,
        },
    )


def target_of(row: ManagedConnector) -> Target:
    """What the back-end tests: the row's resource with its last seen settings."""
    return Target(
        space_id=row.space_id,
        resource_id=row.resource_id,
        name=row.name,
        type_id=row.type_id,
        config=dict(row.settings_snapshot or {}),
    )


def summary(row: ManagedConnector, reference: str | None = None) -> ManagedSummary:
    return ManagedSummary(
        id=row.id,
        target=row.target,
        space_id=row.space_id,
        resource_id=row.resource_id,
        backend=row.backend,
        type_id=row.type_id,
        name=row.name,
        provider=row.provider,
        model=row.model,
        owner=row.owner_slack_id,
        state=ManagedState(row.state),
        state_reason=row.state_reason,
        reference=reference,
        last_test_at=row.last_test_at,
        last_test_ok=row.last_test_ok,
        last_test_latency_ms=row.last_test_latency_ms,
        last_test_message=row.last_test_message,
        consecutive_failures=row.consecutive_failures,
        next_test_at=row.next_test_at,
        expires_at=row.expires_at,
        thread_channel=row.thread_channel,
        thread_ts=row.thread_ts,
    )


def load_summary(session: Session, row: ManagedConnector) -> ManagedSummary:
    """The summary, with the request's reference and (for rows made before the card was
    posted) the request's thread."""
    found = summary(row)
    if row.request_id is None:
        return found
    request = session.get(ConnectorRequest, row.request_id)
    if request is None:
        return found
    found = replace(found, reference=request.reference)
    if found.thread_ts is None and request.card_ts is not None:
        found = replace(found, thread_channel=request.card_channel, thread_ts=request.card_ts)
    return found


def list_inventory(deps: Deps, *, viewer: str) -> tuple[list[ManagedSummary], bool]:
    """The connectors a person may see (approvers: all; others: their own), and whether the
    whole inventory is shown."""
    everyone = is_approver(deps, viewer)
    with session_scope(deps.session_factory) as session:
        rows = lq.list_managed(session=session, owner=None if everyone else viewer)
        return [load_summary(session, row) for row in rows], everyone


def interval(row: ManagedConnector) -> timedelta:
    return timedelta(seconds=max(1, row.retest_every_seconds))
