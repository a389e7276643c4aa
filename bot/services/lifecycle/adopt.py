"""Adopt a connector (or inference endpoint) made outside the bot into its inventory."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from bot.db import lifecycle_queries as lq
from bot.db import queries
from bot.db.models import ManagedConnector
from bot.db.session import session_scope
from bot.domain.enums import AuditAction, JobKind, Provider
from bot.domain.fields import SPACE_ID
from bot.domain.lifecycle import ManagedState, ManagedSummary, adoptable_provider, visible
from bot.domain.lifecycle import next_test_at as scheduled_at
from bot.domain.policy.matching import RequestFacts
from bot.domain.resources import Resource, Target
from bot.errors import BotError, NotAuthorizedError
from bot.services.backends.base import BackendError, BackendUnavailableError
from bot.services.backends.connector import ConnectorBackend
from bot.services.backends.inference import InferenceBackend
from bot.services.lifecycle.inventory import (
    clients,
    effective_lifecycle,
    is_approver,
    known_targets,
    seed_for,
    summary,
)
from bot.services.lifecycle.retests import queue_retest

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger(__name__)
RESOURCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def adopt_connector(
    deps: Deps,
    *,
    actor: str,
    target: str | None,
    space_id: str,
    resource_id: str,
    owner: str | None,
) -> ManagedSummary:
    """Read the connector (or endpoint), check the bot can manage it, and add it to the
    inventory with its owner; its thread message and first re-test are queued.

    Raises BotError with what the approver sees when it cannot be adopted."""
    if not is_approver(deps, actor):
        raise NotAuthorizedError("Only approvers can adopt connectors.")
    key = _target_key(deps, target)
    if not SPACE_ID.match(space_id):
        raise BotError(f"“{space_id}” is not a space id (lower-case letters, digits, _ and -).")
    if not RESOURCE_ID.match(resource_id):
        raise BotError(f"“{resource_id}” is not a connector or inference endpoint id.")
    with session_scope(deps.session_factory) as session:
        if lq.managed_resource_taken(session=session, target=key, resource_id=resource_id):
            raise BotError(_already(resource_id))
    resource = _find(deps, key, space_id, resource_id)
    provider = adoptable_provider(resource.backend, resource.type_id, dict(resource.config))
    if not isinstance(provider, Provider):
        raise BotError(f"{resource.name} cannot be adopted: {provider}.")
    if resource.preconfigured:
        raise BotError(
            f"{resource.name} is preconfigured (kibana.yml or Elastic's own): Kibana manages it."
        )
    return _insert(deps, key, space_id, resource, provider.value, owner=owner or actor, actor=actor)


def _target_key(deps: Deps, target: str | None) -> str:
    keys = known_targets(deps)
    if target is None:
        if len(keys) > 1:
            raise BotError("Say which target: " + ", ".join(keys) + ".")
        return keys[0]
    if target not in keys:
        raise BotError(f"There is no target “{target}”; the targets are: " + ", ".join(keys) + ".")
    return target


def _already(resource_id: str) -> str:
    return f"{resource_id} is already managed by the bot."


def _find(deps: Deps, target: str, space_id: str, resource_id: str) -> Resource:
    found = clients(deps, target)
    probe = Target(space_id=space_id, resource_id=resource_id, name=resource_id, type_id="")
    try:
        resource = ConnectorBackend(found.kibana).get(probe)
        if resource is None and found.elasticsearch is not None:
            resource = InferenceBackend(found.elasticsearch).get(probe)
    except BackendUnavailableError as error:
        raise BotError(f"Kibana or Elasticsearch could not be reached: {error.message}") from None
    except BackendError as error:
        raise BotError(f"Could not read {resource_id}: {error.message}") from None
    if resource is None:
        where = f"space {space_id} of {target}"
        also = " nor an inference endpoint" if found.elasticsearch is not None else ""
        raise BotError(f"There is no connector {resource_id} in {where}{also}.")
    return resource


def _insert(
    deps: Deps,
    target: str,
    space_id: str,
    resource: Resource,
    provider: str,
    *,
    owner: str,
    actor: str,
) -> ManagedSummary:
    now = deps.clock()
    settings = effective_lifecycle(
        deps,
        RequestFacts(
            target=target,
            space=space_id,
            provider=provider,
            requester=owner,
            model=resource.model,
        ),
    )
    try:
        with session_scope(deps.session_factory) as session:
            row = lq.add_managed(
                session=session,
                row=ManagedConnector(
                    target=target,
                    space_id=space_id,
                    resource_id=resource.id,
                    backend=resource.backend,
                    type_id=resource.type_id,
                    name=resource.name,
                    provider=provider,
                    model=resource.model,
                    owner_slack_id=owner,
                    approvers=[actor],
                    created_at=now,
                    updated_at=now,
                    state=ManagedState.ACTIVE.value,
                    consecutive_failures=0,
                    retest_every_seconds=int(settings.retest_every.total_seconds()),
                    failing_after=settings.failing_after,
                    settings_snapshot=visible(dict(resource.config)),
                    version=1,
                ),
            )
            row.next_test_at = scheduled_at(now, settings.retest_every, seed=seed_for(row.id, now))
            queries.add_audit(
                session=session,
                action=AuditAction.ADOPTED,
                request_id=None,
                actor=actor,
                detail={"managed_id": row.id, "resource_id": resource.id, "owner": owner},
            )
            queries.enqueue(
                session=session,
                kind=JobKind.ADOPTED_MESSAGE,
                request_id=None,
                payload={"managed_id": row.id, "actor": actor},
            )
            # The first re-test right away (after the thread message, which it waits for).
            queue_retest(session, managed_id=row.id, target=target)
            session.flush()
            adopted = summary(row)
    except IntegrityError:  # adopted by someone else at the same moment
        raise BotError(_already(resource.id)) from None
    deps.wake_workers()
    log.info("adopted %s (%s) in %s/%s", resource.id, provider, target, space_id)
    return adopted
