"""The transition helper refuses moves the flow's rules don't allow, before touching the DB."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy.orm import Session

from bot.domain.enums import AuditAction, RequestStatus
from bot.services.transitions import move

S = RequestStatus


class _NoSession:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the database was touched ({name})")


@pytest.mark.parametrize(
    ("sources", "target"),
    [
        ([S.PENDING], S.PROVISIONING),
        ([S.REJECTED], S.APPROVED),
        ([S.PENDING, S.TESTED_OK], S.EXPIRED),
    ],
)
def test_a_move_the_rules_forbid_is_refused(
    sources: list[RequestStatus], target: RequestStatus
) -> None:
    with pytest.raises(ValueError, match="no transition"):
        move(
            cast(Session, _NoSession()),
            request_id=1,
            sources=sources,
            target=target,
            now=datetime.now(UTC),
            action=AuditAction.APPROVED,
        )
