"""The approver's side: who may decide, reject with a reason, exactly one decision under races."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import select

from bot.db.models import ApprovalDecision, AuditEvent
from bot.db.session import session_scope
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    APPROVER_2,
    REQUESTER,
    STRANGER,
    BotHarness,
    find_button,
    make_settings,
    reference_from,
    running_bot,
)

GOOD = {
    "name": "Team GPT",
    "space": "security",
    "model": "gpt-4.1",
    "api_key": "sk-proj-approvalflow0123456789",
    "justification": "Observability AI Assistant",
}


def _pending(bot: BotHarness) -> str:
    reference = reference_from(bot.request_via_form(GOOD))
    bot._first_cards[reference] = bot.card_for(reference)
    return reference


def _decisions(bot: BotHarness, reference: str) -> list[ApprovalDecision]:
    request_id = bot.request_row(reference).id
    with session_scope(bot.deps.session_factory) as session:
        rows = session.scalars(
            select(ApprovalDecision).where(ApprovalDecision.request_id == request_id)
        ).all()
        session.expunge_all()
        return list(rows)


def _audit(bot: BotHarness, reference: str) -> list[tuple[str, str | None]]:
    request_id = bot.request_row(reference).id
    with session_scope(bot.deps.session_factory) as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.request_id == request_id).order_by(AuditEvent.id)
        ).all()
        return [(row.action, row.actor_slack_id) for row in rows]


def test_card_shows_the_request_and_never_the_key(bot: BotHarness) -> None:
    reference = _pending(bot)
    card = bot.card_for(reference)
    text = json.dumps(card)
    for expected in (
        reference,
        f"<@{REQUESTER}>",
        "OpenAI",
        "gpt-4.1",
        "security",
        "Observability AI Assistant",
        "https://api.openai.com/v1/chat/completions",
    ):
        assert expected in text, expected
    assert GOOD["api_key"] not in text
    assert find_button(card, "approval.approve")["style"] == "primary"
    assert find_button(card, "approval.reject")["style"] == "danger"


def test_someone_not_an_approver_is_refused_privately_and_recorded(bot: BotHarness) -> None:
    reference = _pending(bot)
    assert bot.click(reference, "approval.approve", user=STRANGER).status_code == 200
    refusal = bot.slack.wait_for("response_url")[-1].args
    assert "Only the configured approvers" in refusal["text"]
    assert refusal["response_type"] == "ephemeral"
    assert refusal["replace_original"] is False
    assert bot.request_row(reference).status == "pending"
    assert ("decision_refused", STRANGER) in _audit(bot, reference)
    assert _decisions(bot, reference) == []


def test_the_requester_cannot_decide_their_own_request_even_as_an_approver(
    bot: BotHarness,
) -> None:
    assert REQUESTER in bot.settings.approvers
    reference = _pending(bot)
    bot.click(reference, "approval.approve", user=REQUESTER)
    assert "own request" in bot.slack.wait_for("response_url")[-1].args["text"]
    bot.click(reference, "approval.reject", user=REQUESTER)
    assert "own request" in bot.slack.wait_for("response_url", count=2)[-1].args["text"]
    assert bot.slack.calls_for("views.open")[-1].args["view"]["callback_id"] != (
        "approval.reject_reason"
    )
    assert bot.request_row(reference).status == "pending"


def test_reject_asks_for_a_reason_then_updates_card_and_tells_the_requester(
    bot: BotHarness,
) -> None:
    reference = _pending(bot)
    blank = bot.reject(reference, "   ")
    assert blank.json()["response_action"] == "errors"
    assert "Give a reason" in blank.json()["errors"]["approval.reject_reason"]
    assert bot.request_row(reference).status == "pending"

    response = bot.reject(reference, "Use the shared team connector instead")
    assert response.status_code == 200
    assert response.text == ""
    row = bot.wait_status(reference, "rejected")
    assert row.secrets_ciphertext is None
    assert row.decided_by_slack_id == APPROVER
    bot.wait_idle()
    card = bot.slack.message(APPROVAL_CHANNEL, bot.card_for(reference)["ts"])
    card_text = json.dumps(card)
    assert "Rejected" in card_text
    assert "shared team connector" in card_text
    assert "approval.approve" not in card_text
    dms = bot.slack.messages_in(bot.slack.dm_channel_for(REQUESTER))
    assert any(
        "rejected" in json.dumps(m) and "shared team connector" in json.dumps(m) for m in dms
    )
    assert bot.kibana.requests_to("POST", f"/api/actions/connector/{row.kibana_connector_id}") == []


def test_approve_updates_the_card_in_place_and_removes_the_buttons(bot: BotHarness) -> None:
    reference = _pending(bot)
    ts = bot.card_for(reference)["ts"]
    bot.click(reference, "approval.approve", user=APPROVER)
    bot.wait_status(reference, "tested_ok")
    bot.wait_idle()
    card = bot.slack.message(APPROVAL_CHANNEL, ts)
    assert "approval.approve" not in json.dumps(card)
    assert f"<@{APPROVER}>" in json.dumps(card)
    top_level = [
        m for m in bot.slack.messages_in(APPROVAL_CHANNEL) if m.get("thread_ts", m["ts"]) == m["ts"]
    ]
    assert len(top_level) == 1


def test_a_second_click_is_told_it_was_already_decided(bot: BotHarness) -> None:
    reference = _pending(bot)
    bot.click(reference, "approval.approve", user=APPROVER)
    bot.click(reference, "approval.approve", user=APPROVER_2)
    assert "already approved" in bot.slack.wait_for("response_url")[-1].args["text"]
    bot.click(reference, "approval.reject", user=APPROVER_2)
    assert "already approved" in bot.slack.wait_for("response_url", count=2)[-1].args["text"]
    assert len(_decisions(bot, reference)) == 1


def _race(clicks: list[tuple[BotHarness, str, str]], reference: str) -> list[int]:
    bot_cards = clicks[0][0]._first_cards
    barrier = threading.Barrier(len(clicks))

    def one(click: tuple[BotHarness, str, str]) -> int:
        harness, action, user = click
        card = bot_cards[reference]
        button = find_button(card, action)
        payload = {
            "type": "block_actions",
            "user": {"id": user},
            "trigger_id": harness.slack.issue_trigger_id(),
            "response_url": harness.slack.response_url(),
            "container": {
                "type": "message",
                "channel_id": APPROVAL_CHANNEL,
                "message_ts": card["ts"],
            },
            "channel": {"id": APPROVAL_CHANNEL},
            "message": card,
            "actions": [{**button, "block_id": "approval.actions"}],
        }
        barrier.wait()
        return harness.interact(payload).status_code

    with ThreadPoolExecutor(len(clicks)) as pool:
        return list(pool.map(one, clicks))


def test_simultaneous_clicks_make_exactly_one_decision_and_one_connector(
    bot: BotHarness,
) -> None:
    reference = _pending(bot)
    clicks = [(bot, "approval.approve", APPROVER), (bot, "approval.approve", APPROVER_2)] * 5
    assert set(_race(clicks, reference)) == {200}
    row = bot.wait_status(reference, "tested_ok")
    bot.wait_idle()
    assert len(_decisions(bot, reference)) == 1
    assert list(bot.kibana.connectors("security")) == [row.kibana_connector_id]
    creates = bot.kibana.requests_to("POST", f"/api/actions/connector/{row.kibana_connector_id}")
    assert len(creates) == 1


def test_approve_and_reject_racing_make_one_decision(bot: BotHarness) -> None:
    reference = _pending(bot)
    _race(
        [(bot, "approval.approve", APPROVER), (bot, "approval.reject", APPROVER_2)] * 3, reference
    )
    bot.wait_idle()
    decisions = _decisions(bot, reference)
    assert len(decisions) <= 1  # a Reject click only opens the reason form
    assert bot.request_row(reference).status in {"tested_ok", "pending"}


def test_two_replicas_on_one_database_make_one_decision(bot: BotHarness) -> None:
    reference = _pending(bot)
    second_settings = make_settings(bot.settings.database_url, bot.slack, bot.kibana)
    with running_bot(second_settings, bot.slack, bot.kibana, keys=bot.keys) as replica:
        clicks = [(bot, "approval.approve", APPROVER), (replica, "approval.approve", APPROVER_2)]
        assert set(_race(clicks * 4, reference)) == {200}
        row = bot.wait_status(reference, "tested_ok")
        bot.wait_idle()
        replica.wait_idle()
    assert len(_decisions(bot, reference)) == 1
    creates = bot.kibana.requests_to("POST", f"/api/actions/connector/{row.kibana_connector_id}")
    assert len(creates) == 1
    executes = bot.kibana.requests_to(
        "POST", f"/api/actions/connector/{row.kibana_connector_id}/_execute"
    )
    # One test, then (.gen-ai) its one second check.
    assert [e.body["params"]["subAction"] for e in executes] == ["test", "invokeAI"]


def test_a_retried_click_does_not_decide_twice(bot: BotHarness) -> None:
    reference = _pending(bot)
    card = bot.card_for(reference)
    payload = {
        "type": "block_actions",
        "user": {"id": APPROVER},
        "trigger_id": bot.slack.issue_trigger_id(),
        "response_url": bot.slack.response_url(),
        "container": {"type": "message", "channel_id": APPROVAL_CHANNEL, "message_ts": card["ts"]},
        "channel": {"id": APPROVAL_CHANNEL},
        "message": card,
        "actions": [{**find_button(card, "approval.approve"), "block_id": "approval.actions"}],
    }
    from urllib.parse import urlencode

    body = urlencode({"payload": json.dumps({"team": {"id": "T0001"}, **payload})})
    headers = bot.signed_headers(body)
    first = bot.post(body, headers)
    again = bot.post(
        body, {**headers, "x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"}
    )
    assert (first.status_code, again.status_code) == (200, 200)
    bot.wait_status(reference, "tested_ok")
    assert len(_decisions(bot, reference)) == 1


def test_decision_is_stored_before_slack_is_answered(bot: BotHarness) -> None:
    reference = _pending(bot)
    bot.kibana.set_delay(3.0)
    response = bot.click(reference, "approval.approve", user=APPROVER)
    assert response.status_code == 200
    # No waiting: by the time Slack got its 200 the decision was committed.
    assert bot.request_row(reference).status in {"approved", "provisioning"}
    assert len(_decisions(bot, reference)) == 1
    bot.kibana.set_delay(0)
    bot.wait_status(reference, "tested_ok")
    _ = httpx


def test_status_shows_the_requester_and_approvers_the_history(bot: BotHarness) -> None:
    reference = _pending(bot)
    bot.click(reference, "approval.approve", user=APPROVER)
    bot.wait_status(reference, "tested_ok")
    bot.command(f"status {reference}", user=REQUESTER)
    answer = json.dumps(bot.slack.wait_for("response_url")[-1].args)
    for expected in (
        "submitted",
        f"approved by <@{APPROVER}>",
        "connector created in Kibana",
        "secrets erased",
        "connector tested",
        "test passed",
    ):
        assert expected in answer, expected
    bot.command(f"status {reference}", user=APPROVER_2)
    assert reference in json.dumps(bot.slack.wait_for("response_url", count=2)[-1].args)
    bot.command(f"status {reference}", user=STRANGER)
    assert (
        "Only the person who asked" in bot.slack.wait_for("response_url", count=3)[-1].args["text"]
    )
    bot.command("status REQ-000000", user=REQUESTER)
    assert "no request" in bot.slack.wait_for("response_url", count=4)[-1].args["text"]
