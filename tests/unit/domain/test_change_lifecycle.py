"""The lifecycle side of a rotation or change: the state after its test, who is told, and
the notice's round trip through a job payload."""

from __future__ import annotations

import pytest

from bot.domain.lifecycle import (
    CHANGE_OUTCOMES,
    Audience,
    LifecycleEvent,
    LifecycleNotice,
    ManagedState,
    after_change_test,
    audiences,
)

S = ManagedState


@pytest.mark.parametrize("state", [S.ACTIVE, S.FAILING, S.DRIFTED])
def test_a_passing_change_makes_it_active_and_a_failing_one_leaves_it(state: S) -> None:
    assert after_change_test(state, ok=True) is S.ACTIVE
    assert after_change_test(state, ok=False) is state


@pytest.mark.parametrize("state", [S.EXPIRED, S.RETIRED])
def test_an_ended_connector_stays_ended(state: S) -> None:
    assert after_change_test(state, ok=True) is state


def test_change_outcomes_reach_the_thread_and_the_owner_and_a_request_only_the_thread() -> None:
    for event in CHANGE_OUTCOMES:
        assert audiences(event) == (Audience.THREAD, Audience.OWNER)
    assert audiences(LifecycleEvent.CHANGE_REQUESTED) == (Audience.THREAD,)


def test_a_change_notice_survives_the_job_payload() -> None:
    notice = LifecycleNotice(
        event=LifecycleEvent.CHANGE_TEST_FAILED,
        message="401",
        hint="the key",
        actor="U1",
        request_id=42,
        kind="change",
    )
    assert LifecycleNotice.from_payload(notice.to_payload()) == notice
    old = {k: v for k, v in notice.to_payload().items() if k not in {"request_id", "kind"}}
    assert LifecycleNotice.from_payload(old).request_id is None  # queued before changes
