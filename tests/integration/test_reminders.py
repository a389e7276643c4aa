"""Reminders, escalation and expiry by policy, driven from the database.

Time is moved by sweeping with a clock set later (`nudge_due_requests` / `expire_due_requests`
on the bot's deps with another clock); the jobs they queue run on the bot's real workers and
post through the Slack fake.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from bot.db import nudges, queries
from bot.db.session import session_scope
from bot.domain.policy.model import PolicyDocument, Reminders, Rule
from bot.runtime import governance_from
from bot.services import reminders, requests
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    APPROVER_2,
    REQUESTER,
    BotHarness,
    make_settings,
    reference_from,
    running_bot,
    wait_until,
)

ESCALATE = "UESCALATE1"
GROUP = "S0APPROVERS"
ESCALATE_GROUP = "S0ESCALATE"
S = timedelta(seconds=1)
PLAN = Reminders(
    after=30 * S,
    repeat=60 * S,
    escalate_after=300 * S,
    escalate_to=(ESCALATE, ESCALATE_GROUP),
    expire_after=3600 * S,
)


def policy_for(settings: Any, plan: Reminders = PLAN) -> PolicyDocument:
    """The environment's policy with one rule carrying its own short reminders."""
    base = governance_from(settings)
    rule = Rule(
        index=0, approvers=(APPROVER, GROUP, REQUESTER, APPROVER_2), approvals=1, reminders=plan
    )
    return dataclasses.replace(base, rules=(rule,))


@pytest.fixture
def bot(database_url: str, slack: FakeSlack, kibana: FakeKibana) -> Iterator[BotHarness]:
    slack.add_user(ESCALATE, name="escalate", real_name="Escalate")
    settings = make_settings(database_url, slack, kibana)
    with running_bot(settings, slack, kibana, governance=policy_for(settings)) as harness:
        yield harness


def submit(bot: BotHarness) -> str:
    values = {
        "name": f"Reminded {secrets.token_hex(3)}",
        "space": "default",
        "model": "gpt-4.1",
        "api_key": f"sk-proj-{secrets.token_hex(16)}",
        "justification": "reminder tests",
    }
    return reference_from(bot.request_via_form(values))


def sweep(bot: BotHarness, at: datetime) -> int:
    nudged = reminders.nudge_due_requests(dataclasses.replace(bot.deps, clock=lambda: at))
    bot.wait_idle()
    return nudged


def replies(bot: BotHarness, reference: str) -> list[str]:
    card = bot.card_for(reference)
    return [m["text"] for m in bot.slack.thread_replies(APPROVAL_CHANNEL, card["ts"])]


def reminder_texts(bot: BotHarness, reference: str) -> list[str]:
    return [t for t in replies(bot, reference) if t.startswith("Reminder:")]


def audit(bot: BotHarness, reference: str) -> list[str]:
    request_id = bot.request_row(reference).id
    with session_scope(bot.deps.session_factory) as session:
        return [e.action for e in queries.list_audit(session=session, request_id=request_id)]


def pending_with_card(bot: BotHarness) -> tuple[str, datetime]:
    reference = submit(bot)
    bot.card_for(reference)
    bot.wait_idle()
    row = bot.request_row(reference)
    return reference, row.created_at


def test_a_due_reminder_is_posted_once_in_the_thread_naming_who_still_has_to_act(
    bot: BotHarness,
) -> None:
    reference, created = pending_with_card(bot)
    row = bot.request_row(reference)
    assert row.next_nudge_at == created + 30 * S
    assert row.expires_at == created + 3600 * S

    assert sweep(bot, created + 29 * S) == 0
    assert sweep(bot, created + 31 * S) == 1
    assert sweep(bot, created + 31 * S) == 0
    assert reminder_texts(bot, reference) == [
        f"Reminder: {reference} has waited 31 seconds for 1 more approval: "
        f"<@{APPROVER}> <!subteam^{GROUP}> <@{APPROVER_2}>"
    ]
    assert audit(bot, reference).count("reminded") == 1
    assert bot.request_row(reference).reminders_sent == 1


def test_reminders_back_off_then_escalate_once_in_the_thread_and_by_dm(bot: BotHarness) -> None:
    reference, created = pending_with_card(bot)
    schedule = []
    for seconds in (31, 91, 211, 301, 302):
        sweep(bot, created + seconds * S)
        schedule.append(bot.request_row(reference).next_nudge_at)
    # reminders at 30 s, then gaps of 60, 120, 240 s…; the escalation at 300 s comes between.
    assert schedule == [created + t * S for t in (90, 210, 300, 450, 450)]
    assert len(reminder_texts(bot, reference)) == 3

    escalations = [t for t in replies(bot, reference) if t.startswith("Escalation:")]
    assert len(escalations) == 1
    assert f"<@{ESCALATE}> <!subteam^{ESCALATE_GROUP}>" in escalations[0]
    dms = bot.slack.messages_in(bot.slack.dm_channel_for(ESCALATE))
    assert [m["text"] for m in dms] == [
        f"{reference} is escalated to you: it has waited 5 minutes for approval. "
        "Its card is in the approvals channel."
    ]
    row = bot.request_row(reference)
    assert row.escalated_at == created + 301 * S
    assert audit(bot, reference).count("escalated") == 1


def test_expiry_follows_the_rule_and_ends_the_request_visibly(bot: BotHarness) -> None:
    reference, created = pending_with_card(bot)
    later = dataclasses.replace(bot.deps, clock=lambda: created + 3601 * S)
    assert requests.expire_due_requests(later) == 1
    row = bot.wait_status(reference, "expired")
    bot.wait_idle()
    assert row.secrets_ciphertext is None

    card = bot.slack.message(APPROVAL_CHANNEL, bot.card_for(reference)["ts"])
    assert not [b for b in card["blocks"] if b["type"] == "actions"]
    assert "Expired" in json.dumps(card)
    dms = bot.slack.messages_in(bot.slack.dm_channel_for(REQUESTER))
    assert any(reference in m["text"] and "Expired" in m["text"] for m in dms)
    actions = audit(bot, reference)
    assert "expired" in actions
    assert "secrets_erased" in actions
    # Whatever was still scheduled is not sent to a request that is over.
    assert sweep(bot, created + 3601 * S) == 0
    assert reminder_texts(bot, reference) == []


def test_nothing_is_scheduled_after_expiry(
    database_url: str, slack: FakeSlack, kibana: FakeKibana
) -> None:
    settings = make_settings(database_url, slack, kibana)
    short = dataclasses.replace(PLAN, after=600 * S, escalate_after=900 * S, expire_after=300 * S)
    with running_bot(settings, slack, kibana, governance=policy_for(settings, short)) as bot:
        reference, created = pending_with_card(bot)
        row = bot.request_row(reference)
        assert row.next_nudge_at is None
        assert row.expires_at == created + 300 * S


def test_a_request_that_never_expires_has_no_deadline(
    database_url: str, slack: FakeSlack, kibana: FakeKibana
) -> None:
    settings = make_settings(database_url, slack, kibana)
    never = dataclasses.replace(PLAN, expire_after=None)
    with running_bot(settings, slack, kibana, governance=policy_for(settings, never)) as bot:
        reference, created = pending_with_card(bot)
        assert bot.request_row(reference).expires_at is None
        later = dataclasses.replace(bot.deps, clock=lambda: created + timedelta(days=3650))
        assert requests.expire_due_requests(later) == 0


def test_a_decided_request_is_not_reminded(bot: BotHarness) -> None:
    reference, created = pending_with_card(bot)
    assert bot.click(reference, "approval.approve", user=APPROVER).status_code == 200
    bot.wait_status(reference, "tested_ok")
    bot.wait_idle()
    assert sweep(bot, created + 31 * S) == 0
    assert reminder_texts(bot, reference) == []
    assert "reminded" not in audit(bot, reference)


def test_a_reminder_waits_for_the_card(
    database_url: str, slack: FakeSlack, kibana: FakeKibana
) -> None:
    settings = make_settings(database_url, slack, kibana)
    with running_bot(
        settings, slack, kibana, governance=policy_for(settings), workers=False
    ) as bot:
        reference = submit(bot)
        created = bot.request_row(reference).created_at
        assert sweep_without_workers(bot, created + 31 * S) == 0
        assert bot.request_row(reference).next_nudge_at == created + 91 * S
        assert bot.runtime is not None
        bot.runtime.runner.start()
        bot.card_for(reference)
        bot.wait_idle()  # the card's ts is recorded after Slack answers the post
        assert sweep(bot, created + 92 * S) == 1
        assert len(reminder_texts(bot, reference)) == 1


def sweep_without_workers(bot: BotHarness, at: datetime) -> int:
    return reminders.nudge_due_requests(dataclasses.replace(bot.deps, clock=lambda: at))


def test_the_schedule_survives_a_restart(
    database_url: str, slack: FakeSlack, kibana: FakeKibana
) -> None:
    slack.add_user(ESCALATE, name="escalate")
    settings = make_settings(database_url, slack, kibana)
    with running_bot(settings, slack, kibana, governance=policy_for(settings)) as first:
        reference, created = pending_with_card(first)
        keys = first.keys
    with running_bot(settings, slack, kibana, governance=policy_for(settings), keys=keys) as bot:
        assert sweep(bot, created + 31 * S) == 1
        assert len(reminder_texts(bot, reference)) == 1


def test_the_sweep_loop_reminds_by_itself(
    database_url: str, slack: FakeSlack, kibana: FakeKibana
) -> None:
    settings = make_settings(database_url, slack, kibana, sweep_seconds=0.05)
    plan = dataclasses.replace(PLAN, after=S)
    with running_bot(settings, slack, kibana, governance=policy_for(settings, plan)) as bot:
        reference = submit(bot)
        wait_until(lambda: reminder_texts(bot, reference), what="the reminder", timeout=20)
        assert bot.request_row(reference).reminders_sent == 1


@pytest.mark.postgres
def test_two_replicas_send_one_reminder(
    database_url: str, slack: FakeSlack, kibana: FakeKibana
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("replicas share a PostgreSQL database")
    slack.add_user(ESCALATE, name="escalate")
    settings = make_settings(database_url, slack, kibana)
    governance = policy_for(settings)
    with (
        running_bot(settings, slack, kibana, governance=governance) as one,
        running_bot(settings, slack, kibana, governance=governance, keys=one.keys) as two,
    ):
        references = [pending_with_card(one) for _ in range(5)]
        latest = max(created for _, created in references)
        at = latest + 301 * S  # every one is due a reminder and its escalation
        barrier = threading.Barrier(2)
        counts: list[int] = []

        def run(replica: BotHarness) -> None:
            barrier.wait()
            counts.append(
                reminders.nudge_due_requests(dataclasses.replace(replica.deps, clock=lambda: at))
            )

        threads = [threading.Thread(target=run, args=(r,)) for r in (one, two)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        one.wait_idle()
        two.wait_idle()
        assert sum(counts) == 5
        for reference, _ in references:
            assert len(reminder_texts(one, reference)) == 1
            assert len([t for t in replies(one, reference) if t.startswith("Escalation:")]) == 1
            assert audit(one, reference).count("reminded") == 1
            assert audit(one, reference).count("escalated") == 1
        dms = slack.messages_in(slack.dm_channel_for(ESCALATE))
        assert len(dms) == 5


def test_the_due_reminder_query_uses_its_index(bot: BotHarness) -> None:
    pending_with_card(bot)
    with session_scope(bot.deps.session_factory) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = nudges.explain_due_nudges(session=session, now=bot.deps.clock())
    assert any(nudges.DUE_INDEX in line for line in plan), plan
