"""Rotating and changing a managed connector through approval, end to end through signed
Slack requests and the fakes: the modal, the card with the diff, the update in place (the
fake Kibana records the PUT), the test, the thread lines, the rollback of a failed change,
and who and what is refused."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from bot.db.models import AuditEvent, ManagedConnector
from bot.db.session import session_scope
from bot.domain.policy.model import AutoApprove, Match, PolicyDocument, Rule
from bot.domain.targets import DEFAULT_TARGET, Target
from tests.fakes.elasticsearch import FakeElasticsearch
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    REQUESTER,
    STRANGER,
    BotHarness,
    make_settings,
    reference_from,
    running_bot,
    wait_until,
)
from tests.integration.lifecycle_support import (
    OPENAI_KEY,
    REVOKED,
    VALUES,
    lifecycle_bot,
    managed,
    provision,
    seed_managed,
    texts,
)

NEW_KEY = "sk-proj-ROTATEDKEY0987654321SECRET"


@pytest.fixture
def lbot(database_url: str, slack: FakeSlack, kibana: FakeKibana) -> Iterator[BotHarness]:
    with lifecycle_bot(database_url, slack, kibana) as bot:
        yield bot


def _ask(bot: BotHarness, text: str, *, user: str = REQUESTER) -> httpx.Response:
    return bot.command(text, user=user)


def _open(bot: BotHarness, verb: str, resource_id: str, *, user: str = REQUESTER) -> dict[str, Any]:
    before = len(bot.slack.calls_for("views.open"))
    response = _ask(bot, f"{verb} {resource_id}", user=user)
    assert response.status_code == 200, response.text
    return dict(bot.slack.wait_for("views.open", count=before + 1)[-1].response["view"])


def _thread(bot: BotHarness, resource_id: str) -> list[dict[str, Any]]:
    row = managed(bot, resource_id)
    assert row.thread_channel is not None
    assert row.thread_ts is not None
    return bot.slack.thread_replies(row.thread_channel, row.thread_ts)


def _puts(bot: BotHarness, resource_id: str) -> list[Any]:
    return [r.body for r in bot.kibana.requests_to("PUT", f"/api/actions/connector/{resource_id}")]


def _approve_change(bot: BotHarness, response: httpx.Response, *statuses: str) -> str:
    reference = reference_from(response)
    bot.wait_status(reference, "pending")
    assert bot.click(reference, "approval.approve", user=APPROVER).status_code == 200
    bot.wait_status(reference, *statuses)
    bot.wait_idle()
    return reference


def _audit(bot: BotHarness, request_id: int) -> list[str]:
    with session_scope(bot.deps.session_factory) as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.request_id == request_id)
                .order_by(AuditEvent.id)
            )
        )


def test_a_rotation_goes_through_approval_and_updates_the_key_in_place(
    lbot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    connector_id = provision(lbot)
    view = _open(lbot, "rotate", connector_id)
    shown = json.dumps(view["blocks"])
    assert "api_key" in shown
    assert "field.model" not in shown  # only the secrets (and why)

    response = lbot.submit_form(view, {"api_key": NEW_KEY, "justification": "the key leaked"})
    reference = reference_from(response)
    card = json.dumps(lbot.card_for(reference))
    assert "Key rotation" in card
    assert connector_id in card
    assert NEW_KEY not in card
    row = lbot.request_row(reference)
    assert (row.kind, row.kibana_connector_id) == ("rotate", None)
    assert row.secrets_ciphertext is not None
    assert NEW_KEY.encode() not in row.secrets_ciphertext

    _approve_change(lbot, response, "tested_ok")
    (put,) = _puts(lbot, connector_id)
    assert put["secrets"] == {"apiKey": NEW_KEY}
    assert put["config"]["defaultModel"] == VALUES["model"]  # the config as it was
    assert put["config"]["apiProvider"] == "OpenAI"
    assert put["name"] == VALUES["name"]
    assert lbot.kibana.connectors()[connector_id]["secrets"] == {"apiKey": NEW_KEY}

    row = lbot.request_row(reference)
    assert row.secrets_ciphertext is None
    assert "secrets_erased" in _audit(lbot, row.id)
    thread = texts(_thread(lbot, connector_id))
    assert "key rotation" in thread
    assert "was requested" in thread
    assert "updated in place" in thread
    assert "test passed" in thread
    dm = texts(lbot.slack.messages_in(lbot.slack.dm_channel_for(REQUESTER)))
    assert "updated in place" in dm
    assert managed(lbot, connector_id).last_test_ok is True
    for secret in (NEW_KEY, OPENAI_KEY):
        assert secret not in lbot.slack.all_text()
    assert NEW_KEY not in caplog.text
    assert any("rotate of managed connector" in r.getMessage() for r in caplog.records)


def test_a_change_of_model_shows_the_diff_and_updates_the_connector(lbot: BotHarness) -> None:
    connector_id = provision(lbot)
    view = _open(lbot, "change", connector_id)
    response = lbot.submit_form(
        view, {"model": "gpt-4o", "api_key": NEW_KEY, "justification": "a newer model"}
    )
    reference = reference_from(response)
    card = json.dumps(lbot.card_for(reference))
    assert "Change of an existing connector" in card
    assert "gpt-4.1" in card
    assert "gpt-4o" in card
    assert NEW_KEY not in card

    _approve_change(lbot, response, "tested_ok")
    (put,) = _puts(lbot, connector_id)
    assert put["config"]["defaultModel"] == "gpt-4o"
    assert put["config"]["apiUrl"] == "https://api.openai.com/v1/chat/completions"
    row = managed(lbot, connector_id)
    assert row.model == "gpt-4o"
    assert row.settings_snapshot is not None
    assert row.settings_snapshot["defaultModel"] == "gpt-4o"
    assert row.state == "active"
    assert lbot.request_row(reference).secrets_ciphertext is None
    assert "updated in place" in texts(_thread(lbot, connector_id))

    # The change modal now starts from what the connector has.
    again = _open(lbot, "change", connector_id)
    assert '"initial_value": "gpt-4o"' in json.dumps(again["blocks"])


def test_nothing_changed_is_refused_under_the_field(lbot: BotHarness) -> None:
    connector_id = provision(lbot)
    view = _open(lbot, "change", connector_id)
    response = lbot.submit_form(view, {"api_key": NEW_KEY, "justification": "same"})
    body = response.json()
    assert body["response_action"] == "errors"
    assert "Nothing changed" in json.dumps(body["errors"])


def _rollback_click(bot: BotHarness, message: dict[str, Any], *, user: str) -> httpx.Response:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == "lifecycle.rollback_button":
                return bot.interact(
                    {
                        "type": "block_actions",
                        "user": {"id": user},
                        "trigger_id": bot.slack.issue_trigger_id(),
                        "response_url": bot.slack.response_url(),
                        "container": {"type": "message", "channel_id": APPROVAL_CHANNEL},
                        "channel": {"id": APPROVAL_CHANNEL},
                        "message": message,
                        "actions": [
                            {
                                **element,
                                "block_id": block["block_id"],
                                "action_ts": str(time.time()),
                            }
                        ],
                    }
                )
    raise AssertionError("no Roll back button")


def test_a_failing_test_after_a_change_offers_a_rollback_that_restores_the_config(
    lbot: BotHarness,
) -> None:
    connector_id = provision(lbot)
    view = _open(lbot, "change", connector_id)
    response = lbot.submit_form(
        view, {"model": "gpt-5-typo", "api_key": NEW_KEY, "justification": "try gpt-5"}
    )
    lbot.kibana.set_execute_result(connector_id, status="error", message=REVOKED)
    reference = _approve_change(lbot, response, "test_failed")
    row = lbot.request_row(reference)
    assert row.secrets_ciphertext is not None  # kept for the rollback
    replies = _thread(lbot, connector_id)
    failed = next(m for m in replies if "lifecycle.rollback_button" in json.dumps(m))
    assert "failed" in texts([failed])
    for told in (REQUESTER, APPROVER):  # the owner, and the approver who let it through
        dm = lbot.slack.messages_in(lbot.slack.dm_channel_for(told))
        assert any("lifecycle.rollback_button" in json.dumps(m) for m in dm)

    refused = _rollback_click(lbot, failed, user=STRANGER)
    assert refused.status_code == 200
    lbot.wait_idle()
    assert lbot.request_row(reference).rollback_at is None

    lbot.kibana.clear_execute_result(connector_id)
    assert _rollback_click(lbot, failed, user=REQUESTER).status_code == 200
    wait_until(lambda: lbot.request_row(reference).secrets_ciphertext is None, what="the rollback")
    lbot.wait_idle()
    puts = _puts(lbot, connector_id)
    assert len(puts) == 2
    assert puts[-1]["config"]["defaultModel"] == VALUES["model"]
    assert puts[-1]["secrets"] == {"apiKey": NEW_KEY}
    assert lbot.kibana.connectors()[connector_id]["config"]["defaultModel"] == VALUES["model"]
    assert "rolled back to its previous settings" in texts(_thread(lbot, connector_id))
    actions = _audit(lbot, row.id)
    assert "rollback_requested" in actions
    assert "rolled_back" in actions
    assert managed(lbot, connector_id).model == VALUES["model"]

    # Once only: a second click is told it is done, and nothing is sent again.
    assert _rollback_click(lbot, failed, user=APPROVER).status_code == 200
    lbot.wait_idle()
    assert len(_puts(lbot, connector_id)) == 2
    assert NEW_KEY not in lbot.slack.all_text()


def test_someone_else_is_refused(lbot: BotHarness) -> None:
    connector_id = provision(lbot)
    opened = len(lbot.slack.calls_for("views.open"))
    response = _ask(lbot, f"rotate {connector_id}", user=STRANGER)
    assert response.status_code == 200
    assert "Only the owner" in response.json()["text"]
    assert len(lbot.slack.calls_for("views.open")) == opened
    unknown = _ask(lbot, "change no-such-connector")
    assert "manages no connector" in unknown.json()["text"]


def test_a_retired_connector_cannot_be_changed(lbot: BotHarness) -> None:
    connector_id = provision(lbot)
    with session_scope(lbot.deps.session_factory) as session:
        session.execute(
            update(ManagedConnector)
            .where(ManagedConnector.resource_id == connector_id)
            .values(state="retired")
        )
    response = _ask(lbot, f"change {connector_id}")
    assert "retired" in response.json()["text"]
    response = _ask(lbot, f"rotate {connector_id}")
    assert "retired" in response.json()["text"]


@pytest.fixture
def es_bot(
    database_url: str, slack: FakeSlack, kibana: FakeKibana, elasticsearch: FakeElasticsearch
) -> Iterator[BotHarness]:
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
        yield bot


def test_an_inference_endpoint_rotates_through_update(
    es_bot: BotHarness, elasticsearch: FakeElasticsearch
) -> None:
    endpoint_id = provision(es_bot)
    assert managed(es_bot, endpoint_id).backend == "inference"
    view = _open(es_bot, "rotate", endpoint_id)
    response = es_bot.submit_form(view, {"api_key": NEW_KEY, "justification": "rotate"})
    _approve_change(es_bot, response, "tested_ok")
    (call,) = [
        r for r in elasticsearch.requests_to("PUT", f"{endpoint_id}/_update") if r.status == 200
    ]
    assert call.body["service_settings"] == {"api_key": NEW_KEY}
    assert "updated in place" in texts(_thread(es_bot, endpoint_id))


def _click_message_button(
    bot: BotHarness, message: dict[str, Any], action_id: str, *, user: str, channel: str
) -> httpx.Response:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return bot.interact(
                    {
                        "type": "block_actions",
                        "user": {"id": user},
                        "trigger_id": bot.slack.issue_trigger_id(),
                        "response_url": bot.slack.response_url(),
                        "container": {"type": "message", "channel_id": channel},
                        "channel": {"id": channel},
                        "message": message,
                        "actions": [
                            {
                                **element,
                                "block_id": block["block_id"],
                                "action_ts": str(time.time()),
                            }
                        ],
                    }
                )
    raise AssertionError(f"no {action_id} button")


def test_the_outcome_dm_and_home_carry_the_connectors_buttons(lbot: BotHarness) -> None:
    connector_id = provision(lbot)
    dm_channel = lbot.slack.dm_channel_for(REQUESTER)
    outcome = next(
        m for m in lbot.slack.messages_in(dm_channel) if "lifecycle.rotate_button" in json.dumps(m)
    )
    thread = _thread(lbot, connector_id)
    assert any("lifecycle.change_button" in json.dumps(m) for m in thread)

    opened = len(lbot.slack.calls_for("views.open"))
    _click_message_button(
        lbot, outcome, "lifecycle.rotate_button", user=REQUESTER, channel=dm_channel
    )
    view = lbot.slack.wait_for("views.open", count=opened + 1)[-1].response["view"]
    assert "Rotate the key" in json.dumps(view["blocks"])

    # A stranger clicking the same button is told why, and no modal opens.
    _click_message_button(
        lbot, outcome, "lifecycle.rotate_button", user=STRANGER, channel=dm_channel
    )
    lbot.wait_idle()
    assert len(lbot.slack.calls_for("views.open")) == opened + 1

    lbot.open_home(REQUESTER)
    home = lbot.home(REQUESTER, lambda text: "Last test passed" in text)
    assert connector_id in json.dumps(home)
    row = managed(lbot, connector_id)
    assert f"connector.actions.{row.id}" in json.dumps(home)
    block = next(b for b in home["blocks"] if b.get("block_id") == f"connector.actions.{row.id}")
    button = next(e for e in block["elements"] if e["action_id"] == "lifecycle.change_button")
    lbot.interact(
        {
            "type": "block_actions",
            "user": {"id": REQUESTER},
            "trigger_id": lbot.slack.issue_trigger_id(view_id=home["id"]),
            "container": {"type": "view", "view_id": home["id"]},
            "view": home,
            "actions": [{**button, "block_id": block["block_id"], "action_ts": str(time.time())}],
        }
    )
    change = lbot.slack.wait_for("views.open", count=opened + 2)[-1].response["view"]
    assert '"initial_value": "gpt-4.1"' in json.dumps(change["blocks"])


def test_a_change_goes_through_the_same_policy(
    database_url: str, slack: FakeSlack, kibana: FakeKibana
) -> None:
    target = Target(key=DEFAULT_TARGET, kibana_url=kibana.url, label="Production")
    document = PolicyDocument(
        targets=(target,),
        rules=(
            Rule(
                index=0,
                match=Match(models=("gpt-5*",)),
                allow=False,
                message="No gpt-5 in production yet.",
            ),
            Rule(index=1, approvers=(APPROVER,), auto_approve=AutoApprove(5)),
        ),
    )
    bot = BotHarness(
        settings=make_settings(database_url, slack, kibana, lifecycle_sweep_seconds=3600.0),
        slack=slack,
        kibana=kibana,
        governance=document,
    ).start()
    try:
        created = reference_from(bot.request_via_form(VALUES))
        connector_id = bot.wait_status(created, "tested_ok").kibana_connector_id
        assert connector_id is not None
        bot.wait_idle()

        denied = bot.submit_form(
            _open(bot, "change", connector_id),
            {"model": "gpt-5", "api_key": NEW_KEY, "justification": "newer"},
        )
        assert denied.json()["response_action"] == "errors"
        assert "No gpt-5 in production yet." in json.dumps(denied.json()["errors"])

        response = bot.submit_form(
            _open(bot, "rotate", connector_id), {"api_key": NEW_KEY, "justification": "leak"}
        )
        reference = reference_from(response)
        row = bot.wait_status(reference, "tested_ok")  # approved by the policy itself
        assert row.auto_approved_at is not None
        assert row.kind == "rotate"
        bot.wait_idle()
        assert _puts(bot, connector_id)[-1]["secrets"] == {"apiKey": NEW_KEY}
    finally:
        bot.stop()


def test_an_update_kibana_refuses_changes_nothing_and_says_so(lbot: BotHarness) -> None:
    connector_id = provision(lbot)
    before = managed(lbot, connector_id)
    response = lbot.submit_form(
        _open(lbot, "change", connector_id),
        {"model": "gpt-4o", "api_key": NEW_KEY, "justification": "newer"},
    )
    card = lbot.card_for(reference_from(response))
    assert "approval.deliver_yaml" not in json.dumps(card)  # made in place, never by hand
    lbot.kibana.fail_next(
        status=400,
        body={"statusCode": 400, "error": "Bad Request", "message": "error validating secrets"},
        method="PUT",
        path_contains=connector_id,
    )
    reference = _approve_change(lbot, response, "failed")
    row = lbot.request_row(reference)
    assert row.secrets_ciphertext is None
    thread = texts(_thread(lbot, connector_id))
    assert "could not be made: nothing was changed" in thread
    assert "error validating secrets" in thread
    after = managed(lbot, connector_id)
    assert (after.model, after.settings_snapshot) == (before.model, before.settings_snapshot)
    assert "could not be updated" in json.dumps(lbot.card_for(reference))


def test_kibana_unavailable_during_an_update_is_retried_and_the_update_lands_once(
    lbot: BotHarness,
) -> None:
    connector_id = provision(lbot)
    response = lbot.submit_form(
        _open(lbot, "rotate", connector_id), {"api_key": NEW_KEY, "justification": "leak"}
    )
    # The first update reaches Kibana but its answer is lost: the retry updates again.
    lbot.kibana.fail_next(
        status=503, method="PUT", path_contains=connector_id, after_processing=True
    )
    _approve_change(lbot, response, "tested_ok")
    puts = _puts(lbot, connector_id)
    assert len(puts) == 2
    assert all(put["secrets"] == {"apiKey": NEW_KEY} for put in puts)
    told = [m for m in _thread(lbot, connector_id) if "updated in place" in texts([m])]
    assert len(told) == 1
    dm = texts(lbot.slack.messages_in(lbot.slack.dm_channel_for(REQUESTER)))
    assert "failed while updating the connector" in dm  # told at once, the bot keeps trying


def test_one_change_at_a_time(lbot: BotHarness) -> None:
    connector_id = provision(lbot)
    first = _open(lbot, "rotate", connector_id)
    second = _open(lbot, "rotate", f"default {connector_id}")  # `[target] <id>`
    reference = reference_from(
        lbot.submit_form(first, {"api_key": NEW_KEY, "justification": "leak"})
    )
    answer = _ask(lbot, f"change {connector_id}")
    assert "already under way" in answer.json()["text"]
    assert reference in answer.json()["text"]
    # A modal opened before the first was stored is refused when it is submitted.
    late = lbot.submit_form(second, {"api_key": NEW_KEY, "justification": "again"})
    assert late.json()["response_action"] == "errors"
    assert "already under way" in json.dumps(late.json()["errors"])


def test_an_adopted_connector_is_changed_before_its_key_can_be_rotated(lbot: BotHarness) -> None:
    (connector_id,) = seed_managed(lbot, 1)
    answer = _ask(lbot, f"rotate {connector_id}")
    assert "no record of" in answer.json()["text"]
    view = _open(lbot, "change", connector_id)  # opens, to be typed in full
    assert '"initial_value": "Seeded seeded-00000"' in json.dumps(view["blocks"])
    response = lbot.submit_form(
        view,
        {
            "model": "gpt-4o-mini",
            "api_url": "https://api.openai.com/v1/chat/completions",
            "api_key": NEW_KEY,
            "justification": "take it over",
        },
    )
    _approve_change(lbot, response, "tested_ok")
    (put,) = _puts(lbot, connector_id)
    assert put["config"]["defaultModel"] == "gpt-4o-mini"
    assert put["secrets"] == {"apiKey": NEW_KEY}
    assert managed(lbot, connector_id).current_settings is not None
    assert _open(lbot, "rotate", connector_id)["callback_id"]  # now it can be rotated
