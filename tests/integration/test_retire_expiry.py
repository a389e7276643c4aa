"""Retire, extend and expiry of managed connectors, driven as Slack drives the bot: the
`retire`/`extend` words and buttons, their modals, the approval card (same policy as a new
request), the jobs against the fake Kibana and Elasticsearch, and the expiry warnings and
deletion from the lifecycle sweep (time moved by sweeping with a later clock, no sleeps)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.db import lifecycle_queries as lq
from bot.db.models import AuditEvent, ConnectorRequest
from bot.db.session import session_scope
from bot.domain.policy.model import AutoApprove, Lifecycle, Match, PolicyDocument, Rule
from bot.domain.targets import DEFAULT_TARGET, Target
from bot.services.lifecycle.inventory import load_summary
from bot.services.lifecycle.schedule import run_lifecycle_sweep
from tests.fakes.elasticsearch import FakeElasticsearch
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.harness import (
    APPROVER,
    APPROVER_2,
    REQUESTER,
    STRANGER,
    BotHarness,
    find_button,
    make_settings,
    reference_from,
    running_bot,
    wait_until,
)
from tests.integration.lifecycle_support import (
    VALUES,
    kibana_call,
    lifecycle_bot,
    managed,
    provision,
    texts,
)


@pytest.fixture
def lbot(database_url: str, slack: FakeSlack, kibana: FakeKibana) -> Iterator[BotHarness]:
    with lifecycle_bot(database_url, slack, kibana) as bot:
        yield bot


def _thread(bot: BotHarness, resource_id: str) -> str:
    """The connector's thread: its row's, or (made before the card was posted, as an
    auto-approved one can be) its request's card thread."""
    managed_id = managed(bot, resource_id).id
    with session_scope(bot.deps.session_factory) as session:
        row = lq.get_managed(session=session, managed_id=managed_id)
        assert row is not None
        found = load_summary(session, row)
    assert found.thread_channel is not None
    assert found.thread_ts is not None
    return texts(bot.slack.thread_replies(found.thread_channel, found.thread_ts))


def _dms(bot: BotHarness, user: str) -> list[dict[str, Any]]:
    return bot.slack.messages_in(bot.slack.dm_channel_for(user))


def _opened(bot: BotHarness, before: int) -> dict[str, Any]:
    return dict(bot.slack.wait_for("views.open", count=before + 1)[-1].response["view"])


def _submit(bot: BotHarness, view: dict[str, Any], values: dict[str, Any], user: str) -> Any:
    submitted = {**view, "state": {"values": values}}
    return bot.interact({"type": "view_submission", "user": {"id": user}, "view": submitted})


def _reason_state(reason: str) -> dict[str, Any]:
    return {
        "lifecycle.retire_reason": {
            "approval.reason": {"type": "plain_text_input", "value": reason}
        }
    }


def _days_state(days: str) -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": days}, "value": days}
    return {
        "lifecycle.extend_days": {
            "connector_request.value": {"type": "static_select", "selected_option": option}
        }
    }


def _latest_request(bot: BotHarness, kind: str) -> ConnectorRequest:
    with session_scope(bot.deps.session_factory) as session:
        row = session.scalars(
            select(ConnectorRequest)
            .where(ConnectorRequest.kind == kind)
            .order_by(ConnectorRequest.id.desc())
        ).first()
        assert row is not None
        session.expunge(row)
        return row


def _ask_retire(bot: BotHarness, resource_id: str, *, user: str, reason: str) -> Any:
    before = len(bot.slack.calls_for("views.open"))
    assert bot.command(f"retire {resource_id}", user=user).status_code == 200
    view = _opened(bot, before)
    assert view["callback_id"] == "lifecycle.retire"
    return _submit(bot, view, _reason_state(reason), user)


def _sweep_at(bot: BotHarness, at: datetime) -> None:
    run_lifecycle_sweep(dataclasses.replace(bot.deps, clock=lambda: at))
    bot.wait_idle()


def test_retire_through_approval_deletes_it_and_tells_the_thread_and_owner(
    lbot: BotHarness,
) -> None:
    connector_id = provision(lbot)
    answer = _ask_retire(lbot, connector_id, user=REQUESTER, reason="Project over")
    assert answer.json()["response_action"] == "update"
    retire = _latest_request(lbot, "retire")
    assert retire.status == "pending"
    card = lbot.card_for(retire.reference)
    assert "Retire an existing connector" in texts([card])
    lbot.wait_idle()
    assert "asked to retire" in _thread(lbot, connector_id)
    assert (
        kibana_call(lbot.kibana, "GET", f"/api/actions/connector/{connector_id}").status_code == 200
    )

    assert lbot.click(retire.reference, "approval.approve", user=APPROVER).status_code == 200
    done = lbot.wait_status(retire.reference, "completed")
    lbot.wait_idle()
    assert done.finished_at is not None
    assert (
        kibana_call(lbot.kibana, "GET", f"/api/actions/connector/{connector_id}").status_code == 404
    )
    row = managed(lbot, connector_id)
    assert row.state == "retired"
    assert row.state_reason == f"retired by <@{REQUESTER}>"
    assert "*retired* by" in _thread(lbot, connector_id)
    assert any("*retired* by" in texts([message]) for message in _dms(lbot, REQUESTER))
    with session_scope(lbot.deps.session_factory) as session:
        actions = set(session.scalars(select(AuditEvent.action)))
    assert "retired" in actions


def test_a_stranger_cannot_retire_or_extend(lbot: BotHarness) -> None:
    connector_id = provision(lbot)
    for word in ("retire", "extend"):
        response = lbot.command(f"{word} {connector_id}", user=STRANGER)
        assert response.status_code == 200
        assert f"Only its owner and the approvers can {word}" in response.json()["text"]
    assert managed(lbot, connector_id).state == "active"


def test_an_unknown_id_is_told_so(lbot: BotHarness) -> None:
    response = lbot.command("retire no-such-connector", user=APPROVER)
    assert "manages no connector with that id" in response.json()["text"]
    assert "Say which connector" in lbot.command("retire", user=APPROVER).json()["text"]


def test_a_one_day_connector_is_warned_once_then_deleted_at_expiry(lbot: BotHarness) -> None:
    connector_id = provision(lbot, {**VALUES, "lifetime": "1"})
    row = managed(lbot, connector_id)
    assert row.expires_at is not None
    assert row.expires_at - row.created_at == timedelta(days=1)
    # A 1-day lifetime has no 3-day warning: the 1-day one is due at creation.
    assert row.next_expiry_warning_at == row.created_at
    now = lbot.deps.clock()
    _sweep_at(lbot, now)
    _sweep_at(lbot, now + timedelta(hours=1))
    warnings = [m for m in _dms(lbot, REQUESTER) if "expires in 1 day" in texts([m])]
    assert len(warnings) == 1
    find_button(warnings[0], "lifecycle.extend_button")
    find_button(warnings[0], "lifecycle.retire_button")
    assert "expires in 1 day" in _thread(lbot, connector_id)
    assert managed(lbot, connector_id).next_expiry_warning_at is None

    _sweep_at(lbot, row.expires_at + timedelta(seconds=1))
    wait_until(lambda: managed(lbot, connector_id).state == "expired", what="the expiry")
    lbot.wait_idle()
    assert (
        kibana_call(lbot.kibana, "GET", f"/api/actions/connector/{connector_id}").status_code == 404
    )
    assert "*expired*" in _thread(lbot, connector_id)
    assert any("*expired*" in texts([m]) for m in _dms(lbot, REQUESTER))
    with session_scope(lbot.deps.session_factory) as session:
        actions = list(session.scalars(select(AuditEvent.action)))
    assert actions.count("connector_expired") == 1
    assert actions.count("expiry_warned") == 1


def test_a_seven_day_connector_gets_both_warnings(lbot: BotHarness) -> None:
    connector_id = provision(lbot, {**VALUES, "lifetime": "7"})
    row = managed(lbot, connector_id)
    assert row.expires_at is not None
    assert row.next_expiry_warning_at == row.expires_at - timedelta(days=3)
    _sweep_at(lbot, row.expires_at - timedelta(days=3))
    assert managed(lbot, connector_id).next_expiry_warning_at == row.expires_at - timedelta(days=1)
    _sweep_at(lbot, row.expires_at - timedelta(hours=20))
    said = texts(_dms(lbot, REQUESTER))
    assert "expires in 3 days" in said
    assert "expires in 1 day" in said


def test_extend_from_the_warning_through_approval_moves_the_expiry(lbot: BotHarness) -> None:
    connector_id = provision(lbot, {**VALUES, "lifetime": "1"})
    ends = managed(lbot, connector_id).expires_at
    assert ends is not None
    _sweep_at(lbot, lbot.deps.clock())
    warning = next(m for m in _dms(lbot, REQUESTER) if "expires in 1 day" in texts([m]))
    button = find_button(warning, "lifecycle.extend_button")
    before = len(lbot.slack.calls_for("views.open"))
    clicked = lbot.interact(
        {
            "type": "block_actions",
            "user": {"id": REQUESTER},
            "trigger_id": lbot.slack.issue_trigger_id(),
            "response_url": lbot.slack.response_url(),
            "channel": {"id": lbot.slack.dm_channel_for(REQUESTER)},
            "message": warning,
            "actions": [{**button, "block_id": "x", "action_ts": "1"}],
        }
    )
    assert clicked.status_code == 200
    view = _opened(lbot, before)
    assert view["callback_id"] == "lifecycle.extend"
    assert _submit(lbot, view, _days_state("7"), REQUESTER).status_code == 200
    extend = _latest_request(lbot, "extend")
    assert (extend.status, extend.lifetime_days) == ("pending", 7)
    assert lbot.click(extend.reference, "approval.approve", user=APPROVER).status_code == 200
    lbot.wait_status(extend.reference, "completed")
    lbot.wait_idle()
    row = managed(lbot, connector_id)
    assert row.expires_at == ends + timedelta(days=7)
    assert row.next_expiry_warning_at == row.expires_at - timedelta(days=3)
    assert "extended by 7 days" in _thread(lbot, connector_id)
    # Past the old end, nothing is deleted.
    _sweep_at(lbot, ends + timedelta(seconds=1))
    assert managed(lbot, connector_id).state == "active"


def test_extend_word_with_days_and_refusal_without_expiry(lbot: BotHarness) -> None:
    forever = provision(lbot)
    answer = lbot.command(f"extend {forever} 7", user=REQUESTER)
    assert answer.status_code == 200
    said = texts(wait_until(lambda: lbot.slack.responses() or None, what="answer"))
    assert "has no expiry" in said


def test_retire_now_from_the_warning_opens_the_confirmation(lbot: BotHarness) -> None:
    connector_id = provision(lbot, {**VALUES, "lifetime": "1"})
    _sweep_at(lbot, lbot.deps.clock())
    warning = next(m for m in _dms(lbot, REQUESTER) if "expires in 1 day" in texts([m]))
    button = find_button(warning, "lifecycle.retire_button")
    before = len(lbot.slack.calls_for("views.open"))
    lbot.interact(
        {
            "type": "block_actions",
            "user": {"id": REQUESTER},
            "trigger_id": lbot.slack.issue_trigger_id(),
            "response_url": lbot.slack.response_url(),
            "channel": {"id": lbot.slack.dm_channel_for(REQUESTER)},
            "message": warning,
            "actions": [{**button, "block_id": "x", "action_ts": "1"}],
        }
    )
    view = _opened(lbot, before)
    assert view["callback_id"] == "lifecycle.retire"
    assert connector_id in texts([view])


def test_two_replicas_send_one_warning_and_queue_one_expiry(
    database_url: str, slack: FakeSlack, kibana: FakeKibana
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share PostgreSQL; one process owns a SQLite database")
    settings = make_settings(database_url, slack, kibana, lifecycle_sweep_seconds=3600.0)
    with ExitStack() as stack:
        first = stack.enter_context(running_bot(settings, slack, kibana))
        second = stack.enter_context(running_bot(settings, slack, kibana))
        connector_id = provision(first, {**VALUES, "lifetime": "1"})
        ends = managed(first, connector_id).expires_at
        assert ends is not None
        for at in (first.deps.clock(), ends + timedelta(seconds=1)):
            sweeps = [
                threading.Thread(
                    target=run_lifecycle_sweep,
                    args=(dataclasses.replace(bot.deps, clock=lambda at=at: at),),
                )
                for bot in (first, second, first, second)
            ]
            for thread in sweeps:
                thread.start()
            for thread in sweeps:
                thread.join(30)
            first.wait_idle()
            second.wait_idle()
        wait_until(lambda: managed(first, connector_id).state == "expired", what="the expiry")
        first.wait_idle()
        warnings = [m for m in _dms(first, REQUESTER) if "expires in 1 day" in texts([m])]
        assert len(warnings) == 1
        expired = [m for m in _dms(first, REQUESTER) if "*expired*" in texts([m])]
        assert len(expired) == 1
        deletes = [r for r in kibana.requests if r.method == "DELETE"]
        assert len(deletes) == 1


def test_an_inference_endpoint_is_retired_with_delete_inference(
    database_url: str, slack: FakeSlack, kibana: FakeKibana, elasticsearch: FakeElasticsearch
) -> None:
    kibana.version = elasticsearch.version
    settings = make_settings(
        database_url,
        slack,
        kibana,
        elasticsearch_url=elasticsearch.url,
        elasticsearch_api_key=elasticsearch.api_key,
        lifecycle_sweep_seconds=3600.0,
    )
    with running_bot(settings, slack, kibana) as bot:
        endpoint = provision(bot)
        assert managed(bot, endpoint).backend == "inference"
        assert endpoint in elasticsearch.endpoints()
        _ask_retire(bot, endpoint, user=APPROVER, reason="Moving to EIS")
        retire = _latest_request(bot, "retire")
        assert bot.click(retire.reference, "approval.approve", user=APPROVER_2).status_code == 200
        bot.wait_status(retire.reference, "completed")
        bot.wait_idle()
        assert endpoint not in elasticsearch.endpoints()
        assert managed(bot, endpoint).state == "retired"


def _policy_bot(
    database_url: str, slack: FakeSlack, kibana: FakeKibana, *rules: Rule
) -> BotHarness:
    target = Target(key=DEFAULT_TARGET, kibana_url=kibana.url, label="Production")
    return BotHarness(
        settings=make_settings(database_url, slack, kibana, lifecycle_sweep_seconds=3600.0),
        slack=slack,
        kibana=kibana,
        governance=PolicyDocument(targets=(target,), rules=rules),
    ).start()


def test_an_auto_approve_rule_extends_at_once(
    database_url: str, slack: FakeSlack, kibana: FakeKibana
) -> None:
    rule = Rule(index=0, auto_approve=AutoApprove(max_per_requester_per_day=5))
    bot = _policy_bot(database_url, slack, kibana, rule)
    try:
        reference = reference_from(bot.request_via_form({**VALUES, "lifetime": "7"}))
        bot.wait_status(reference, "tested_ok")
        bot.wait_idle()
        connector_id = bot.request_row(reference).kibana_connector_id
        assert connector_id is not None
        ends = managed(bot, connector_id).expires_at
        assert ends is not None
        bot.command(f"extend {connector_id} 30", user=REQUESTER)
        extend = wait_until(lambda: _latest_or_none(bot, "extend"), what="the extension")
        done = bot.wait_status(extend.reference, "completed")
        assert done.auto_approved_at is not None
        bot.wait_idle()
        assert managed(bot, connector_id).expires_at == ends + timedelta(days=30)
        assert "the policy approved it" in texts(bot.slack.responses())
    finally:
        bot.stop()


def test_a_rules_maximum_lifetime_is_checked_at_submit_and_caps_an_extension(
    database_url: str, slack: FakeSlack, kibana: FakeKibana
) -> None:
    short = Rule(
        index=0,
        match=Match(spaces=frozenset({"security"})),
        auto_approve=AutoApprove(max_per_requester_per_day=5),
        lifecycle=Lifecycle(max_lifetime_days=3),
    )
    anything = Rule(index=1, auto_approve=AutoApprove(max_per_requester_per_day=5))
    bot = _policy_bot(database_url, slack, kibana, short, anything)
    try:
        kibana.add_space("security")
        view = bot.open_form()
        refused = bot.submit_form(view, {**VALUES, "space": "security", "lifetime": "7"})
        assert refused.json()["errors"] == {
            "field.lifetime": "The policy allows at most 3 days: pick 3 days or less."
        }
        reference = reference_from(
            bot.request_via_form({**VALUES, "space": "security", "lifetime": "1"})
        )
        bot.wait_status(reference, "tested_ok")
        bot.wait_idle()
        connector_id = bot.request_row(reference).kibana_connector_id
        assert connector_id is not None
        bot.command(f"extend {connector_id} 30", user=REQUESTER)
        extend = wait_until(lambda: _latest_or_none(bot, "extend"), what="the extension")
        bot.wait_status(extend.reference, "completed")
        bot.wait_idle()
        row = managed(bot, connector_id)
        assert row.expires_at is not None
        assert row.expires_at - bot.deps.clock() <= timedelta(days=3)
        assert row.expires_at - bot.deps.clock() > timedelta(days=2, hours=23)
        assert "capped at the policy's maximum of 3 days" in _thread(bot, connector_id)
    finally:
        bot.stop()


def _latest_or_none(bot: BotHarness, kind: str) -> ConnectorRequest | None:
    try:
        return _latest_request(bot, kind)
    except AssertionError:
        return None


def test_a_rejected_retire_keeps_it_and_tells_its_thread(lbot: BotHarness) -> None:
    connector_id = provision(lbot)
    _ask_retire(lbot, connector_id, user=REQUESTER, reason="Not needed")
    retire = _latest_request(lbot, "retire")
    assert lbot.reject(retire.reference, "Still used by the SOC").status_code == 200
    lbot.wait_status(retire.reference, "rejected")
    lbot.wait_idle()
    assert managed(lbot, connector_id).state == "active"
    assert (
        kibana_call(lbot.kibana, "GET", f"/api/actions/connector/{connector_id}").status_code == 200
    )
    thread = _thread(lbot, connector_id)
    assert "rejected the request" in thread
    assert "Still used by the SOC" in thread
    # A second ask while one is open is refused with its reference.
    _ask_retire(lbot, connector_id, user=REQUESTER, reason="Again")
    again = _latest_request(lbot, "retire")
    answer = _ask_retire(lbot, connector_id, user=REQUESTER, reason="Thrice")
    assert f"{again.reference} already asks to retire it" in texts([answer.json()])
