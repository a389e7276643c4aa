"""Asking to rotate or change a managed connector: who may, which connector a command
names, what the modal shows, and the submission (through the same policy as a new request).
Rolling a failed change back is claimed here too."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot.db import change_queries as cq
from bot.db import lifecycle_queries as lq
from bot.db import queries
from bot.db.models import ConnectorRequest, ManagedConnector
from bot.db.session import session_scope
from bot.deps import Deps
from bot.domain.backends import Backend
from bot.domain.changes import (
    NAME_KEY,
    ChangeKind,
    ChangeResult,
    Current,
    parse_change,
    parse_rotation,
    rotatable,
)
from bot.domain.enums import AuditAction, JobKind, Provider, RequestKind
from bot.domain.fields import FormValues
from bot.domain.lifecycle import CHANGEABLE_STATES
from bot.domain.providers.spec import CONNECTOR, INFERENCE
from bot.domain.schemas import RequestSnapshot
from bot.errors import BotError, InvalidTransitionError, NotAuthorizedError, RequestNotFoundError
from bot.services import approvers, requests

log = logging.getLogger(__name__)
KINDS: dict[ChangeKind, RequestKind] = {"rotate": RequestKind.ROTATE, "change": RequestKind.CHANGE}


@dataclass(frozen=True)
class Changeable:
    """A connector someone may ask to rotate or change, as its modal needs it."""

    managed_id: int
    resource_id: str
    current: Current


def find_managed(deps: Deps, words: list[str], *, command: str, verb: str) -> int:
    """The inventory row that `[<target>] <id>` names; BotError with what to type instead."""
    usage = f"Say which connector: `{command} {verb} [<target>] <connector or endpoint id>`."
    if len(words) not in (1, 2):
        raise BotError(usage)
    target, resource_id = (words[0], words[1]) if len(words) == 2 else (None, words[0])
    with session_scope(deps.session_factory) as session:
        rows = cq.managed_by_resource_id(
            session=session, resource_id=resource_id[:200], target=target
        )
        if not rows:
            raise RequestNotFoundError(
                f"The bot manages no connector {resource_id[:200]}"
                + (f" in {target[:100]}." if target else ".")
                + f" `{command} connectors` lists yours."
            )
        if len(rows) > 1:
            where = ", ".join(sorted({f"{row.target}/{row.space_id}" for row in rows}))
            raise BotError(
                f"{resource_id[:200]} names several connectors ({where}): say which target, "
                f"`{command} {verb} <target> {resource_id[:200]}`."
            )
        return rows[0].id


def _current(session: Any, row: ManagedConnector) -> tuple[Current, bool]:
    """The connector's name and form settings as the bot last set them, and whether the bot
    has them at all (not for an adopted connector, nor one requested before they were kept)."""
    stored = row.current_settings
    if stored is None and row.request_id is not None:
        request = session.get(ConnectorRequest, row.request_id)
        if request is not None and request.settings is not None:
            stored = {NAME_KEY: request.connector_name, "settings": dict(request.settings)}
    known = stored is not None
    stored = stored or {}
    current = Current(
        provider=Provider(row.provider),
        backend=INFERENCE if row.backend == INFERENCE else CONNECTOR,
        name=str(stored.get(NAME_KEY) or row.name),
        space_id=row.space_id,
        settings=dict(stored.get("settings") or {}),
    )
    return current, known


def _check(deps: Deps, session: Any, row: ManagedConnector, actor: str, kind: ChangeKind) -> None:
    if actor != row.owner_slack_id and not approvers.is_approver(deps, actor):
        raise NotAuthorizedError(
            f"Only the owner of {row.resource_id} or an approver can ask to "
            f"{'rotate its key' if kind == 'rotate' else 'change it'}."
        )
    if row.state not in CHANGEABLE_STATES:
        raise InvalidTransitionError(
            f"{row.resource_id} is {row.state}: there is nothing to "
            f"{'rotate' if kind == 'rotate' else 'change'} any more."
        )
    pending = cq.open_change(session=session, managed_id=row.id)
    if pending is not None:
        raise InvalidTransitionError(
            f"A {pending.kind} of {row.resource_id} is already under way ({pending.reference}, "
            f"{pending.status}): wait for it to finish."
        )


def open_change(deps: Deps, *, managed_id: int, actor: str, kind: ChangeKind) -> Changeable:
    """What the rotate or change modal shows, once ``actor`` may ask for it."""
    with session_scope(deps.session_factory) as session:
        row = lq.get_managed(session=session, managed_id=managed_id)
        if row is None:
            raise RequestNotFoundError("That connector is no longer in the bot's inventory.")
        _check(deps, session, row, actor, kind)
        current, known = _current(session, row)
        if kind == "rotate" and not rotatable(current.spec):
            raise BotError(f"{current.spec.label} has no key to rotate: change it instead.")
        if not known and current.backend == INFERENCE:
            raise BotError(
                f"The bot has no record of {row.resource_id}'s settings (it was adopted): an "
                "inference endpoint changes only its key and task settings, which the bot "
                "cannot rebuild. Change it in Dev Tools, or retire it and request a new one."
            )
        if kind == "rotate" and not known:
            # Rotating would send the form's defaults as its settings: they must be typed once.
            raise BotError(
                f"The bot has no record of {row.resource_id}'s settings (it was adopted, or "
                "requested before they were kept): ask for a change first, with its settings "
                "and the new key."
            )
        return Changeable(managed_id=row.id, resource_id=row.resource_id, current=current)


def submit_change(
    deps: Deps, *, managed_id: int, actor: str, kind: ChangeKind, values: FormValues
) -> ChangeResult | RequestSnapshot:
    """Check a rotate or change submission against the connector as it is now, and store it
    as a request through the policy (PolicyRefusedError when a rule denies it). Returns the
    form errors, or the stored request."""
    found = open_change(deps, managed_id=managed_id, actor=actor, kind=kind)
    current = found.current
    result = parse_rotation(current, values) if kind == "rotate" else parse_change(current, values)
    if result.draft is None or not result.ok:
        return result
    with session_scope(deps.session_factory) as session:
        row = lq.get_managed(session=session, managed_id=managed_id)
        assert row is not None  # noqa: S101 - rows are never deleted
        target = row.target
    change = requests.ChangeOf(
        kind=KINDS[kind],
        managed_id=managed_id,
        backend=Backend(current.backend),
        before={
            NAME_KEY: current.name,
            "settings": dict(current.settings),
            "resource_id": found.resource_id,
        },
    )
    snapshot = requests.submit_request(
        deps,
        result.draft.draft,
        warnings=result.warnings,
        requested_by=actor,
        target=target,
        change=change,
    )
    log.info("%s of managed connector %s asked as %s", kind, managed_id, snapshot.reference)
    return snapshot


def request_rollback(deps: Deps, *, request_id: int, actor: str) -> str:
    """Claim the rollback of a failed change (owner or approver, once) and queue it; returns
    what to tell the person who clicked."""
    now = deps.clock()
    with session_scope(deps.session_factory) as session:
        row = queries.get_request(session=session, request_id=request_id)
        if row is None or row.managed_id is None:
            raise RequestNotFoundError("That change is gone.")
        managed = lq.get_managed(session=session, managed_id=row.managed_id)
        owner = managed.owner_slack_id if managed is not None else row.requested_by_slack_id
        if actor not in {owner, row.requested_by_slack_id} and not approvers.is_approver(
            deps, actor
        ):
            raise NotAuthorizedError("Only the connector's owner or an approver can roll it back.")
        if not cq.claim_rollback(session=session, request_id=request_id, now=now):
            raise InvalidTransitionError(
                f"{row.reference} cannot be rolled back any more (already rolled back, or "
                "superseded by a later change)."
            )
        queries.add_audit(
            session=session,
            action=AuditAction.ROLLBACK_REQUESTED,
            request_id=request_id,
            actor=actor,
        )
        queries.enqueue(
            session=session,
            kind=JobKind.ROLLBACK_CHANGE,
            request_id=request_id,
            payload={"actor": actor},
        )
        reference = row.reference
    deps.wake_workers()
    return f"Rolling {reference} back: the result follows in the connector's thread."
