"""Queries of rotations and changes of managed connectors."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.orm import Session

from bot.db.models import ConnectorRequest, ManagedConnector
from bot.domain.enums import RequestKind, RequestStatus

CHANGE_KINDS = (RequestKind.ROTATE.value, RequestKind.CHANGE.value)
OPEN_STATES = (
    RequestStatus.PENDING.value,
    RequestStatus.APPROVED.value,
    RequestStatus.PROVISIONING.value,
    RequestStatus.PROVISIONED.value,
)


def managed_by_resource_id(
    *, session: Session, resource_id: str, target: str | None
) -> list[ManagedConnector]:
    """The inventory rows with this connector or endpoint id (in any space), of ``target``
    when given."""
    query = select(ManagedConnector).where(ManagedConnector.resource_id == resource_id)
    if target is not None:
        query = query.where(ManagedConnector.target == target)
    return list(session.scalars(query.order_by(ManagedConnector.id)))


def lock_managed(*, session: Session, managed_id: int) -> ManagedConnector | None:
    """Read the inventory row under a row lock (PostgreSQL), so two changes of one connector
    submitted at once are stored one after the other."""
    return session.scalars(
        select(ManagedConnector).where(ManagedConnector.id == managed_id).with_for_update()
    ).one_or_none()


def open_change(*, session: Session, managed_id: int) -> ConnectorRequest | None:
    """A rotate or change of this row that is not finished yet (a rollback under way
    counts: it still holds its secrets)."""
    rolling_back = and_(
        ConnectorRequest.status == RequestStatus.TEST_FAILED.value,
        ConnectorRequest.rollback_at.is_not(None),
        ConnectorRequest.secrets_ciphertext.is_not(None),
    )
    return session.scalars(
        select(ConnectorRequest).where(
            ConnectorRequest.managed_id == managed_id,
            ConnectorRequest.kind.in_(CHANGE_KINDS),
            or_(ConnectorRequest.status.in_(OPEN_STATES), rolling_back),
        )
    ).first()


def offered_rollbacks(*, session: Session, managed_id: int) -> list[int]:
    """The failed changes of this row still holding their secrets for a rollback."""
    return list(
        session.scalars(
            select(ConnectorRequest.id).where(
                ConnectorRequest.managed_id == managed_id,
                ConnectorRequest.kind == RequestKind.CHANGE.value,
                ConnectorRequest.status == RequestStatus.TEST_FAILED.value,
                ConnectorRequest.rollback_at.is_(None),
                ConnectorRequest.secrets_ciphertext.is_not(None),
            )
        )
    )


def claim_rollback(*, session: Session, request_id: int, now: datetime) -> bool:
    """Compare-and-set: True for the one caller that claims the rollback of a failed change
    that still holds its secrets."""
    result = session.execute(
        update(ConnectorRequest)
        .where(
            ConnectorRequest.id == request_id,
            ConnectorRequest.kind == RequestKind.CHANGE.value,
            ConnectorRequest.status == RequestStatus.TEST_FAILED.value,
            ConnectorRequest.rollback_at.is_(None),
            ConnectorRequest.secrets_ciphertext.is_not(None),
        )
        .values(rollback_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)  # noqa: S101 - UPDATE always yields a cursor result
    return result.rowcount == 1


def erase_secrets(*, session: Session, request_id: int, now: datetime) -> bool:
    """Erase a finished change's secrets; True when it still held some."""
    result = session.execute(
        update(ConnectorRequest)
        .where(ConnectorRequest.id == request_id, ConnectorRequest.secrets_ciphertext.is_not(None))
        .values(secrets_ciphertext=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)  # noqa: S101 - UPDATE always yields a cursor result
    return result.rowcount == 1
