"""The inventory's state machine, jittered scheduling, drift and the adoptable types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.enums import Provider
from bot.domain.lifecycle import (
    Change,
    LifecycleEvent,
    LifecycleNotice,
    ManagedState,
    adoptable_provider,
    apply_test,
    audiences,
    can_move,
    drift,
    next_test_at,
    visible,
)

S = ManagedState
E = LifecycleEvent
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_failing_after_n_consecutive_failures_and_told_once() -> None:
    first = apply_test(S.ACTIVE, 0, ok=False, failing_after=2)
    assert (first.state, first.consecutive_failures, first.event) == (S.ACTIVE, 1, E.RETEST_FAILED)
    second = apply_test(first.state, first.consecutive_failures, ok=False, failing_after=2)
    assert (second.state, second.consecutive_failures, second.event) == (S.FAILING, 2, E.FAILING)
    third = apply_test(second.state, 2, ok=False, failing_after=2)
    assert third.state is S.FAILING
    assert third.event is E.RETEST_FAILED  # a thread line, not a second "failing" alarm


def test_a_pass_recovers_once_and_resets_the_count() -> None:
    recovered = apply_test(S.FAILING, 5, ok=True, failing_after=2)
    assert (recovered.state, recovered.consecutive_failures, recovered.event) == (
        S.ACTIVE,
        0,
        E.RECOVERED,
    )
    again = apply_test(S.ACTIVE, 0, ok=True, failing_after=2)
    assert again.event is None
    assert apply_test(S.ACTIVE, 1, ok=True, failing_after=2).consecutive_failures == 0


def test_drifted_stays_drifted_on_a_pass_but_fails_like_active() -> None:
    assert apply_test(S.DRIFTED, 0, ok=True, failing_after=2).state is S.DRIFTED
    assert apply_test(S.DRIFTED, 1, ok=False, failing_after=2).state is S.FAILING


@pytest.mark.parametrize("state", [S.RETIRED, S.EXPIRED])
def test_retired_and_expired_rows_are_not_tested(state: ManagedState) -> None:
    effect = apply_test(state, 0, ok=False, failing_after=1)
    assert (effect.state, effect.event) == (state, None)


def test_one_failure_is_enough_when_the_policy_says_so() -> None:
    assert apply_test(S.ACTIVE, 0, ok=False, failing_after=1).state is S.FAILING


def test_transitions() -> None:
    assert can_move(S.ACTIVE, S.FAILING)
    assert can_move(S.FAILING, S.ACTIVE)
    assert can_move(S.DRIFTED, S.RETIRED)
    assert can_move(S.EXPIRED, S.RETIRED)
    assert not can_move(S.DRIFTED, S.ACTIVE)
    assert not any(can_move(S.RETIRED, target) for target in S)


def test_next_test_is_jittered_within_ten_percent_and_deterministic() -> None:
    every = timedelta(hours=24)
    times = [next_test_at(NOW, every, seed=seed) for seed in range(200)]
    assert all(NOW + every * 0.9 <= t <= NOW + every * 1.1 for t in times)
    assert len(set(times)) > 150  # spread, not one instant
    assert next_test_at(NOW, every, seed=7) == next_test_at(NOW, every, seed=7)


def test_drift_lists_changed_non_secret_settings_only() -> None:
    old = {"apiUrl": "https://a/v1", "defaultModel": "gpt-4o", "apiKey": "x", "rate_limit": 1}
    new = {"apiUrl": "https://b/v1", "defaultModel": "gpt-4o", "apiKey": "y", "extra": True}
    assert drift(old, new) == [
        Change("apiUrl", "https://a/v1", "https://b/v1"),
        Change("extra", None, True),
    ]
    assert drift(old, dict(old)) == []
    assert visible({"apiProvider": "OpenAI", "secret_key": "s", "access_token": "t"}) == {
        "apiProvider": "OpenAI"
    }


def test_adoptable_types() -> None:
    gen_ai = {"apiProvider": "Azure OpenAI"}
    assert adoptable_provider("connector", ".gen-ai", gen_ai) is Provider.AZURE_OPENAI
    assert adoptable_provider("connector", ".bedrock", {}) is Provider.BEDROCK
    assert adoptable_provider("inference", "anthropic", {}) is Provider.ANTHROPIC
    assert "not an LLM connector type" in str(adoptable_provider("connector", ".slack", {}))
    assert isinstance(adoptable_provider("inference", "hugging_face", {}), str)


def test_notice_round_trips_through_a_job_payload_and_reaches_the_right_people() -> None:
    notice = LifecycleNotice(
        event=E.DRIFTED, changes=(Change("apiUrl", "a", "b"),), failures=1, failing_after=2
    )
    assert LifecycleNotice.from_payload(notice.to_payload()) == notice
    assert [a.value for a in audiences(E.FAILING)] == ["thread", "owner", "channel"]
    assert [a.value for a in audiences(E.RETEST_FAILED)] == ["thread"]
    assert [a.value for a in audiences(E.DRIFTED)] == ["thread", "owner"]
