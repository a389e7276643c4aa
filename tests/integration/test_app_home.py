"""The App Home tab, driven the way Slack drives it: app_home_opened events and clicks on the
Home view (no response_url, no message), against real SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from bot.db.models import AuditEvent, HomeViewer, Job
from bot.db.session import session_scope
from bot.domain.enums import JobKind
from bot.services import home
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack, validate_view
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    APPROVER_2,
    REQUESTER,
    STRANGER,
    BotHarness,
    make_settings,
    reference_from,
    running_bot,
    wait_until,
)

GOOD = {
    "name": "Home GPT",
    "space": "security",
    "model": "gpt-4.1",
    "api_key": "sk-proj-apphomeflow0123456789",
    "justification": "Security AI Assistant for the SOC",
}


def _pending(bot: BotHarness, user: str = REQUESTER) -> str:
    reference = reference_from(bot.request_via_form(GOOD, user=user))
    bot.card_for(reference)
    return reference


def _publishes(bot: BotHarness, user: str) -> int:
    return sum(1 for c in bot.slack.calls_for("views.publish") if c.args.get("user_id") == user)


def _sections(view: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]


def _refusals(bot: BotHarness, reference: str) -> list[str | None]:
    request_id = bot.request_row(reference).id
    with session_scope(bot.deps.session_factory) as session:
        return list(
            session.scalars(
                select(AuditEvent.actor_slack_id).where(
                    AuditEvent.request_id == request_id, AuditEvent.action == "decision_refused"
                )
            )
        )


def test_opening_home_publishes_each_persons_sections(bot: BotHarness) -> None:
    reference = _pending(bot)
    response = bot.open_home(REQUESTER)
    assert response.status_code == 200, response.text
    mine = bot.home(REQUESTER, lambda text: reference in text)
    assert validate_view(mine, kinds=("home",)) == []
    # REQUESTER is an approver too (see the harness), but their own request never waits for
    # their decision: it is under "Your open requests", with a Cancel button.
    assert "Your open requests" in _sections(mine)
    assert "home.cancel" in json.dumps(mine)
    assert "approval.approve" not in json.dumps(mine)

    assert bot.open_home(APPROVER).status_code == 200
    theirs = bot.home(APPROVER, lambda text: reference in text)
    assert _sections(theirs) == [
        "LLM connectors",
        "Your open requests",
        "Waiting for your decision",
        "Your connectors",
        "Recent decisions",
    ]
    assert "approval.approve" in json.dumps(theirs)
    assert GOOD["api_key"] not in json.dumps(theirs)

    assert bot.open_home(STRANGER).status_code == 200
    stranger = bot.home(STRANGER)
    assert "Waiting for your decision" not in _sections(stranger)
    assert reference not in json.dumps(stranger)


def test_approve_from_home_works_exactly_like_the_card(bot: BotHarness) -> None:
    reference = _pending(bot)
    bot.open_home(APPROVER)
    bot.open_home(REQUESTER)
    view = bot.home(APPROVER, lambda text: "approval.approve" in text)
    response = bot.click_home(APPROVER, "approval.approve", reference, view=view)
    assert response.status_code == 200, response.text
    row = bot.wait_status(reference, "tested_ok")
    assert row.decided_by_slack_id == APPROVER
    bot.wait_idle()
    # Provisioned once, the card updated to the decision, nothing sent to a response_url.
    creates = bot.kibana.requests_to("POST", f"/api/actions/connector/{row.kibana_connector_id}")
    assert len(creates) == 1
    card = bot.card_for(reference)
    assert "approval.approve" not in json.dumps(card)
    assert "Approved" in json.dumps(card)
    assert bot.slack.responses() == []
    # Both Homes were republished: the queue is empty, the decision and the connector show.
    approver = bot.home(APPROVER, lambda text: "Nothing waits for you" in text)
    assert reference in json.dumps(approver)  # under "Recent decisions"
    bot.home(REQUESTER, lambda text: "Last test passed" in text, what="the requester's Home")


def test_a_refused_click_on_home_is_told_on_home(bot: BotHarness) -> None:
    reference = _pending(bot)
    bot.open_home(APPROVER)
    approver_view = bot.home(APPROVER, lambda text: "approval.approve" in text)
    # Someone who is not an approver clicks (a view of another person's Home, as a forged or
    # stale client would send): refused, recorded, and told at the top of their own Home.
    bot.open_home(STRANGER)
    bot.home(STRANGER)
    response = bot.click_home(STRANGER, "approval.approve", reference, view=approver_view)
    assert response.status_code == 200, response.text
    told = bot.home(STRANGER, lambda text: "Only the configured approvers" in text)
    assert told["blocks"][1]["text"]["text"].startswith(":information_source:")
    # The requester (an approver) clicks Approve on their own request.
    response = bot.click_home(REQUESTER, "approval.approve", reference, view=approver_view)
    assert response.status_code == 200, response.text
    bot.home(REQUESTER, lambda text: "decide your own request" in text)
    assert bot.request_row(reference).status == "pending"
    assert sorted(map(str, _refusals(bot, reference))) == sorted([STRANGER, REQUESTER])
    assert bot.slack.responses() == []
    # The notice is shown once: the next refresh no longer carries it.
    bot.open_home(STRANGER)
    bot.home(STRANGER, lambda text: "Only the configured approvers" not in text)


def test_reject_from_home_opens_the_reason_form(bot: BotHarness) -> None:
    reference = _pending(bot)
    bot.open_home(APPROVER)
    opened = len(bot.slack.calls_for("views.open"))
    assert bot.click_home(APPROVER, "approval.reject", reference).status_code == 200
    form = bot.slack.wait_for("views.open", count=opened + 1)[-1].response["view"]
    response = bot.submit_form(form, {"__reason": "Use the shared one"}, user=APPROVER)
    assert response.status_code == 200, response.text
    bot.wait_status(reference, "rejected")
    bot.home(APPROVER, lambda text: "Use the shared one" in text and "Nothing waits" in text)


def test_cancel_from_home(bot: BotHarness) -> None:
    reference = _pending(bot)
    bot.open_home(REQUESTER)
    bot.home(REQUESTER, lambda text: "home.cancel" in text)
    response = bot.click_home(REQUESTER, "home.cancel", reference)
    assert response.status_code == 200, response.text
    bot.wait_status(reference, "cancelled")
    shown = bot.home(REQUESTER, lambda text: "is cancelled" in text and "Nothing under way" in text)
    assert "home.cancel" not in json.dumps(shown)
    assert bot.request_row(reference).secrets_ciphertext is None
    # The card says so too.
    wait_until(
        lambda: "Cancelled by the requester" in json.dumps(bot.card_for(reference)),
        what="the card to show the cancel",
    )


def test_someone_else_cannot_cancel_from_home(bot: BotHarness) -> None:
    reference = _pending(bot)
    bot.open_home(REQUESTER)
    view = bot.home(REQUESTER, lambda text: "home.cancel" in text)
    bot.open_home(STRANGER)
    assert bot.click_home(STRANGER, "home.cancel", reference, view=view).status_code == 200
    bot.home(STRANGER, lambda text: "Only the person who asked" in text)
    assert bot.request_row(reference).status == "pending"


def test_a_decision_on_the_card_republishes_the_requesters_home(bot: BotHarness) -> None:
    reference = _pending(bot)
    bot.open_home(REQUESTER)
    bot.home(REQUESTER, lambda text: "Waiting for an approver" in text)
    before = _publishes(bot, REQUESTER)
    assert bot.click(reference, "approval.approve", user=APPROVER_2).status_code == 200
    bot.wait_status(reference, "tested_ok")
    shown = bot.home(REQUESTER, lambda text: "Last test passed" in text)
    assert "Nothing under way" in json.dumps(shown)
    assert _publishes(bot, REQUESTER) > before


def test_nobody_who_never_opened_home_gets_it_published(bot: BotHarness) -> None:
    reference = _pending(bot)
    assert bot.click(reference, "approval.approve", user=APPROVER).status_code == 200
    bot.wait_status(reference, "tested_ok")
    bot.wait_idle()
    assert bot.slack.calls_for("views.publish") == []
    bot.open_home(STRANGER)
    bot.home(STRANGER)
    assert {c.args["user_id"] for c in bot.slack.calls_for("views.publish")} == {STRANGER}


def test_the_messages_tab_publishes_nothing(bot: BotHarness) -> None:
    response = bot.open_home(REQUESTER, tab="messages")
    assert response.status_code == 200, response.text
    _pending(bot)
    bot.wait_idle()
    assert bot.slack.calls_for("views.publish") == []
    with session_scope(bot.deps.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(HomeViewer)) == 0


def test_an_unsigned_event_is_refused_and_does_nothing(bot: BotHarness) -> None:
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0001",
            "event": {"type": "app_home_opened", "user": REQUESTER, "tab": "home"},
        }
    )
    headers = bot.signed_headers(body, content_type="application/json")
    headers["x-slack-signature"] = "v0=" + "0" * 64
    assert bot.post(body, headers).status_code == 401
    bot.wait_idle()
    assert bot.slack.calls_for("views.publish") == []
    with session_scope(bot.deps.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(HomeViewer)) == 0


def test_a_burst_of_refreshes_queues_one_publish_per_person(
    database_url: str, slack: FakeSlack, kibana: FakeKibana
) -> None:
    settings = make_settings(database_url, slack, kibana)
    with running_bot(settings, slack, kibana, workers=False) as bot:
        for user in (REQUESTER, APPROVER):
            home.home_opened(bot.deps, user)
        for _ in range(5):
            with session_scope(bot.deps.session_factory) as session:
                home.queue_publish(session, users=[REQUESTER, APPROVER, STRANGER])
                home.queue_publish(session, approvers=True)
        with session_scope(bot.deps.session_factory) as session:
            jobs = session.scalars(
                select(Job.payload).where(Job.kind == JobKind.PUBLISH_HOME.value)
            ).all()
        assert sorted(payload["user"] for payload in jobs) == [APPROVER, REQUESTER]
        assert bot.runtime is not None
        assert bot.runtime.runner.run_once()
        assert bot.runtime.runner.run_once()
        assert not bot.runtime.runner.run_once()
        assert {c.args["user_id"] for c in slack.calls_for("views.publish")} == {
            REQUESTER,
            APPROVER,
        }
        # Published once each; a later change queues again.
        with session_scope(bot.deps.session_factory) as session:
            assert home.queue_publish(session, users=[REQUESTER]) == 1
    assert APPROVAL_CHANNEL  # the fixture channels are in place


def test_an_expired_request_leaves_the_requesters_home_and_the_queue(bot: BotHarness) -> None:
    from sqlalchemy import update

    from bot.db.models import ConnectorRequest
    from bot.services import requests

    reference = _pending(bot)
    bot.open_home(REQUESTER)
    bot.open_home(APPROVER)
    bot.home(REQUESTER, lambda text: reference in text)
    bot.home(APPROVER, lambda text: "approval.approve" in text)
    with session_scope(bot.deps.session_factory) as session:
        session.execute(
            update(ConnectorRequest)
            .where(ConnectorRequest.reference == reference)
            .values(expires_at=bot.deps.clock())
        )
    assert requests.expire_due_requests(bot.deps) == 1
    bot.home(REQUESTER, lambda text: "Nothing under way" in text)
    bot.home(APPROVER, lambda text: "Nothing waits for you" in text)
