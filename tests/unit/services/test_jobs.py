"""Retry policies of job kinds, and the still-trying notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.deps import Policy
from bot.domain.enums import JobKind, Provider, RequestStatus
from bot.domain.schemas import KibanaRetrying, RequestSnapshot
from bot.services.jobs import RetryPolicy
from bot.services.worker import job_specs
from bot.slack.views.common import to_dicts
from bot.slack.views.results import kibana_retrying_message

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(base_seconds=2, cap_seconds=60)
    assert [policy.backoff(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert policy.backoff(10_000) == 60  # no overflow for very long outages


def test_a_window_keeps_retrying_until_its_deadline_and_the_last_try_lands_on_it() -> None:
    policy = RetryPolicy(base_seconds=2, cap_seconds=60, window_seconds=600)
    assert policy.next_delay(attempt=1, asked=0, since=NOW, now=NOW) == 2
    assert policy.next_delay(attempt=9, asked=0, since=NOW, now=NOW) == 60
    late = NOW + timedelta(seconds=590)
    assert policy.next_delay(attempt=20, asked=0, since=NOW, now=late) == 10
    assert (
        policy.next_delay(attempt=21, asked=0, since=NOW, now=NOW + timedelta(seconds=600)) is None
    )
    assert policy.deadline(NOW) == NOW + timedelta(minutes=10)


def test_max_attempts_caps_a_window_and_asked_delays_are_honoured() -> None:
    policy = RetryPolicy(base_seconds=1, cap_seconds=300, max_attempts=3, window_seconds=600)
    assert policy.next_delay(attempt=2, asked=30, since=NOW, now=NOW) == 30
    assert policy.next_delay(attempt=3, asked=0, since=NOW, now=NOW) is None


def test_kibana_jobs_retry_for_the_configured_window_and_slack_jobs_for_attempts() -> None:
    policy = Policy(
        approvers=frozenset(),
        approval_channel="C1",
        notify_channel=None,
        kibana_retry_window_seconds=123,
    )
    specs = job_specs(policy)
    for kind in (JobKind.PROVISION, JobKind.TEST_CONNECTOR):
        assert specs[kind].retry.window_seconds == 123
        assert specs[kind].retry.max_attempts is None
        assert specs[kind].retry.cap_seconds == 60
        assert specs[kind].on_first_failure is not None
    assert specs[JobKind.REFRESH_CARD].retry.max_attempts == policy.notify_max_attempts
    assert specs[JobKind.REFRESH_CARD].retry.window_seconds is None


def _snapshot(name: str) -> RequestSnapshot:
    return RequestSnapshot(
        id=1,
        reference="REQ-ABCDEF",
        status=RequestStatus.PROVISIONING,
        provider=Provider.OPENAI,
        provider_label="OpenAI",
        connector_type_id=".gen-ai",
        connector_name=name,
        space_id="default",
        kibana_connector_id="llm-x-abcdef",
        config={},
        justification="j",
        warnings=[],
        requested_by="U1",
        card_channel="C1",
        card_ts="1.2",
        decided_by="U2",
        decided_at=NOW,
        decision_reason=None,
        outcome=None,
        failure_message=None,
        created_at=NOW,
        finished_at=None,
    )


def test_the_still_trying_notice_says_what_failed_and_until_when_and_escapes_text() -> None:
    retrying = KibanaRetrying(
        stage="create",
        reason="Kibana answered 503: <!channel> down",
        until=NOW + timedelta(minutes=10),
    )
    text, blocks = kibana_retrying_message(
        _snapshot("<!here> <https://evil.example|x>"), retrying, in_thread=True
    )
    rendered = str(to_dicts(blocks))
    assert "503" in rendered
    assert "keeps trying" in rendered
    assert f"<!date^{int((NOW + timedelta(minutes=10)).timestamp())}^" in rendered
    assert "2026-12-04 12:10 UTC" in rendered
    for hostile in ("<!channel>", "<!here>", "<https://evil"):
        assert hostile not in rendered
        assert hostile not in text


def test_the_retry_window_is_read_from_the_environment_and_the_attempt_cap_is_optional(
    monkeypatch,
) -> None:
    from bot.config import Settings
    from bot.runtime import policy_from

    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    values = {
        "SLACK_BOT_TOKEN": "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx",
        "SLACK_SIGNING_SECRET": "8f14e45fceea167a5a36dedd4bea2543",
        "KIBANA_URL": "https://kibana.example.com:5601",
        "KIBANA_API_KEY": "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
        "APPROVERS": "U012ABCDEF",
        "APPROVAL_CHANNEL": "C012ABCDEF",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    defaults = policy_from(Settings())
    assert defaults.kibana_retry_window_seconds == 600
    assert defaults.kibana_max_attempts is None
    monkeypatch.setenv("KIBANA_RETRY_WINDOW_SECONDS", "90")
    monkeypatch.setenv("KIBANA_MAX_ATTEMPTS", "40")
    policy = policy_from(Settings())
    assert policy.kibana_retry_window_seconds == 90
    assert policy.kibana_max_attempts == 40
