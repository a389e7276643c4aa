"""Handing a managed connector to a new owner (the person DM'd about it and who may change it)."""

from __future__ import annotations

import logging

from bot.db import lifecycle_queries as lq
from bot.db import queries
from bot.db.session import session_scope
from bot.deps import Deps
from bot.domain.enums import AuditAction
from bot.domain.lifecycle import LIVE_STATES, LifecycleEvent, LifecycleNotice, ManagedState
from bot.errors import BotError, InvalidTransitionError, NotAuthorizedError, RequestNotFoundError
from bot.services import approvers
from bot.services.lifecycle.notices import queue_notice

log = logging.getLogger(__name__)


def transfer_owner(deps: Deps, *, managed_id: int, actor: str, new_owner: str) -> str:
    """Make ``new_owner`` the owner; only the owner or an approver may. The thread and the new
    owner are told. Returns the connector's id."""
    with session_scope(deps.session_factory) as session:
        row = lq.get_managed(session=session, managed_id=managed_id)
        if row is None:
            raise RequestNotFoundError("That connector is no longer in the inventory.")
        if actor != row.owner_slack_id and not approvers.is_approver(deps, actor):
            raise NotAuthorizedError(
                f"Only the owner of {row.resource_id} or an approver can give it to someone else."
            )
        if ManagedState(row.state) not in LIVE_STATES:
            raise InvalidTransitionError(f"{row.resource_id} is {row.state}: it has no owner now.")
        if row.owner_slack_id == new_owner:
            raise BotError(f"<@{new_owner}> already owns {row.resource_id}.")
        before = row.owner_slack_id
        if not lq.update_managed(
            session=session,
            managed_id=row.id,
            version=row.version,
            values={"owner_slack_id": new_owner},
        ):
            raise InvalidTransitionError(
                f"{row.resource_id} changed meanwhile; look at it again and retry."
            )
        queries.add_audit(
            session=session,
            action=AuditAction.OWNER_TRANSFERRED,
            request_id=row.request_id,
            actor=actor,
            detail={"managed_id": row.id, "from": before, "to": new_owner},
            target=row.target,
            space_id=row.space_id,
            provider=row.provider,
            model=row.model,
        )
        notice = LifecycleNotice(event=LifecycleEvent.TRANSFERRED, actor=actor, message=before)
        queue_notice(session, deps, managed_id=row.id, notice=notice)
        resource_id = row.resource_id
    deps.wake_workers()
    log.info("managed connector %s transferred by %s", managed_id, actor)
    return resource_id
