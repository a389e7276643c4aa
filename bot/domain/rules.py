"""Business rules: valid status transitions and who may decide."""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from bot.domain.enums import RequestStatus

S = RequestStatus

TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    S.PENDING: frozenset({S.APPROVED, S.REJECTED, S.CANCELLED, S.EXPIRED}),
    S.APPROVED: frozenset({S.PROVISIONING, S.DELIVERED}),
    # Retire and extend requests have nothing to test: their change made, they are completed.
    S.PROVISIONING: frozenset({S.PROVISIONED, S.FAILED, S.COMPLETED}),
    S.PROVISIONED: frozenset({S.TESTED_OK, S.TEST_FAILED}),
}

FINAL_STATES = frozenset(
    {
        S.TESTED_OK,
        S.TEST_FAILED,
        S.REJECTED,
        S.CANCELLED,
        S.EXPIRED,
        S.FAILED,
        S.DELIVERED,
        S.COMPLETED,
    }
)

# States that still hold the requester's secrets: erased once the connector exists or it ends.
SECRET_HOLDING_STATES = frozenset({S.PENDING, S.APPROVED, S.PROVISIONING})


class Refusal(StrEnum):
    NOT_APPROVER = "not_approver"
    OWN_REQUEST = "own_request"


def can_transition(current: RequestStatus, target: RequestStatus) -> bool:
    """Say whether the flow allows going from ``current`` to ``target``."""
    return target in TRANSITIONS.get(current, frozenset())


def sources_of(target: RequestStatus) -> frozenset[RequestStatus]:
    """Return every state from which ``target`` may be reached."""
    return frozenset(state for state, targets in TRANSITIONS.items() if target in targets)


def decision_refusal(
    actor_id: str, requester_id: str, approvers: Collection[str]
) -> Refusal | None:
    """Return why ``actor_id`` may not decide, or None when they may."""
    if actor_id not in approvers:
        return Refusal.NOT_APPROVER
    if actor_id == requester_id:
        return Refusal.OWN_REQUEST
    return None


REFUSAL_TEXT = {
    Refusal.NOT_APPROVER: "Only the configured approvers can approve or reject connector requests.",
    Refusal.OWN_REQUEST: "You can't decide your own request: another approver has to.",
}
