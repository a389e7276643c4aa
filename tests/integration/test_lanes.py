"""Slack work runs in its own lane: card updates never wait behind slow Kibana calls."""

from __future__ import annotations

import time

from bot.db import queries
from bot.db.session import session_scope
from bot.domain.enums import JobKind, JobStatus
from bot.services.jobs import Lane
from bot.services.worker import job_specs, lane_threads
from tests.harness import APPROVER, make_settings, reference_from, running_bot, wait_until

REQUESTS = 20
KIBANA_DELAY = 30.0
CARD_UPDATE_BOUND = 2.0


def _form(n: int) -> dict[str, str]:
    return {
        "name": f"Lane GPT {n}",
        "space": "default",
        "model": "gpt-4.1",
        "api_key": f"sk-proj-lanes{n:04d}0123456789",
        "justification": "lane tests",
    }


def test_cards_are_updated_within_2_s_while_kibana_takes_30_s(database_url, slack, kibana) -> None:
    settings = make_settings(
        database_url, slack, kibana, kibana_timeout_seconds=KIBANA_DELAY + 30, worker_threads=4
    )
    with running_bot(settings, slack, kibana) as bot:
        try:
            references = [reference_from(bot.request_via_form(_form(n))) for n in range(REQUESTS)]
            cards = {reference: bot.card_for(reference)["ts"] for reference in references}
            bot.wait_idle()
            # Every create call now holds a Kibana worker thread for 30 s.
            kibana.set_delay(KIBANA_DELAY, method="POST", path_contains="/api/actions/connector/")
            clicked: dict[str, float] = {}
            for reference in references:
                clicked[reference] = time.monotonic()
                response = bot.click(reference, "approval.approve", user=APPROVER)
                assert response.status_code == 200, response.text

            def approved_updates() -> dict[str, float]:
                seen: dict[str, float] = {}
                for call in slack.calls_for("chat.update"):
                    for reference, ts in cards.items():
                        text = str(call.args.get("text", ""))
                        if call.args.get("ts") == ts and "Approved" in text:
                            seen.setdefault(reference, call.at)
                return seen

            def all_updated() -> dict[str, float] | None:
                seen = approved_updates()
                return seen if len(seen) == REQUESTS else None

            updated = wait_until(
                all_updated,
                timeout=KIBANA_DELAY + 20,
                what="every card to show its approval",
            )
            late = {
                reference: round(updated[reference] - clicked[reference], 2)
                for reference in references
                if updated[reference] - clicked[reference] > CARD_UPDATE_BOUND
            }
            assert not late, (
                f"cards updated more than {CARD_UPDATE_BOUND} s after the click: {late}"
            )
            # The Kibana calls were really under way (and slow) while the cards were updated.
            assert kibana.requests_in_flight(), "no create call was held by the delay"
        finally:
            kibana.stop()  # releases the held calls so the bot stops promptly


def test_each_job_kind_has_one_lane_and_kibana_work_is_kept_apart() -> None:
    from bot.deps import Policy

    specs = job_specs(Policy(approvers=frozenset(), approval_channel="C1", notify_channel=None))
    assert set(specs) == set(JobKind)
    kibana_kinds = {kind for kind, spec in specs.items() if spec.lane is Lane.KIBANA}
    # Work a person decided on: create and test, and the approved retire, extend and rollback.
    assert kibana_kinds == {
        JobKind.PROVISION,
        JobKind.TEST_CONNECTOR,
        JobKind.RETIRE,
        JobKind.EXTEND,
        JobKind.ROLLBACK_CHANGE,
    }
    assert lane_threads(4) == {Lane.SLACK: 2, Lane.KIBANA: 2, Lane.AUDIT: 1}
    assert lane_threads(1) == {Lane.SLACK: 1, Lane.KIBANA: 1, Lane.AUDIT: 1}
    assert lane_threads(5) == {Lane.SLACK: 2, Lane.KIBANA: 3, Lane.AUDIT: 1}


def test_a_lane_claims_only_its_own_kinds(bot) -> None:
    with session_scope(bot.deps.session_factory) as session:
        queries.enqueue(session=session, kind=JobKind.PROVISION, request_id=None)
    now = bot.deps.clock()
    with session_scope(bot.deps.session_factory) as session:
        slack_only = queries.claim_job(
            session=session,
            owner="t",
            now=now,
            lease_until=now,
            kinds=[JobKind.REFRESH_CARD, JobKind.DM_REQUESTER],
        )
        assert slack_only is None
        mine = queries.claim_job(
            session=session, owner="t", now=now, lease_until=now, kinds=[JobKind.PROVISION]
        )
        assert mine is not None
        assert mine.status == JobStatus.QUEUED
