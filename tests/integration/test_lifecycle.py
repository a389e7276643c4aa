"""The connector lifecycle end to end: the inventory row made at provisioning, scheduled
re-tests (failing, recovery, told once), the digest, drift and deletion, adopt and the
inventory listing, driven through signed Slack requests and the fakes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.domain.lifecycle import ManagedState
from bot.services.lifecycle.reconcile import DIGEST_TASK, RECONCILE_TASK
from tests.fakes.elasticsearch import FakeElasticsearch
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    NOTIFY_CHANNEL,
    REQUESTER,
    STRANGER,
    BotHarness,
    make_settings,
    running_bot,
    wait_until,
)
from tests.integration.lifecycle_support import (
    OPENAI_KEY,
    REVOKED,
    kibana_call,
    lifecycle_bot,
    make_task_due,
    managed,
    provision,
    retest,
    sweep_and_settle,
    texts,
)


@pytest.fixture
def lbot(database_url: str, slack: FakeSlack, kibana: FakeKibana) -> Iterator[BotHarness]:
    with lifecycle_bot(database_url, slack, kibana) as bot:
        yield bot


def _thread(bot: BotHarness, resource_id: str) -> str:
    row = managed(bot, resource_id)
    channel, ts = row.thread_channel, row.thread_ts
    assert channel is not None
    assert ts is not None
    return texts(bot.slack.thread_replies(channel, ts))


def _dm(bot: BotHarness, user: str) -> str:
    return texts(bot.slack.messages_in(bot.slack.dm_channel_for(user)))


def _dms_saying(bot: BotHarness, user: str, phrase: str) -> int:
    messages = bot.slack.messages_in(bot.slack.dm_channel_for(user))
    return sum(phrase in texts([message]) for message in messages)


def test_a_provisioned_connector_enters_the_inventory_with_its_first_test(
    lbot: BotHarness,
) -> None:
    connector_id = provision(lbot)
    row = managed(lbot, connector_id)
    assert row.state == ManagedState.ACTIVE.value
    assert (row.backend, row.type_id, row.provider) == ("connector", ".gen-ai", "openai")
    assert row.owner_slack_id == REQUESTER
    assert row.approvers == [APPROVER]
    assert row.request_id is not None
    assert row.thread_channel == APPROVAL_CHANNEL
    assert row.last_test_ok is True
    assert row.last_test_latency_ms is not None
    assert row.next_test_at is not None
    assert row.retest_every_seconds == 24 * 3600
    assert row.failing_after == 2
    assert row.settings_snapshot is not None
    assert row.settings_snapshot["apiProvider"] == "OpenAI"
    assert OPENAI_KEY not in texts([row.settings_snapshot])


def test_two_failed_retests_make_it_failing_and_a_pass_recovers_it_told_once(
    lbot: BotHarness,
) -> None:
    connector_id = provision(lbot)
    lbot.kibana.set_execute_result(connector_id, status="error", message=REVOKED)

    first = retest(lbot, connector_id)
    assert (first.state, first.consecutive_failures) == ("active", 1)
    assert "1 of 2" in _thread(lbot, connector_id)
    assert "failing" not in _dm(lbot, REQUESTER)

    second = retest(lbot, connector_id)
    assert (second.state, second.consecutive_failures) == ("failing", 2)
    assert REVOKED in (second.last_test_message or "")
    thread, dm = _thread(lbot, connector_id), _dm(lbot, REQUESTER)
    channel = texts(lbot.slack.messages_in(NOTIFY_CHANNEL))
    for told in (thread, dm, channel):
        assert "is *failing*" in told or "is failing" in told
    assert "rejected the key" in thread  # the hint
    assert "rejected the key" in dm

    third = retest(lbot, connector_id)
    assert third.state == "failing"
    assert _dms_saying(lbot, REQUESTER, "is *failing*") == 1  # told once

    lbot.kibana.clear_execute_result(connector_id)
    recovered = retest(lbot, connector_id)
    assert (recovered.state, recovered.consecutive_failures) == ("active", 0)
    assert "passes its re-test again" in _thread(lbot, connector_id)
    assert _dms_saying(lbot, REQUESTER, "passes its re-test again") == 1
    assert "passes its re-test again" in texts(lbot.slack.messages_in(NOTIFY_CHANNEL))
    retest(lbot, connector_id)
    assert _dms_saying(lbot, REQUESTER, "passes its re-test again") == 1
    assert OPENAI_KEY not in lbot.slack.all_text()


def test_the_digest_lists_failing_connectors(lbot: BotHarness) -> None:
    connector_id = provision(lbot)
    make_task_due(lbot, DIGEST_TASK)
    sweep_and_settle(lbot)
    assert "failing their re-tests" not in texts(lbot.slack.messages_in(NOTIFY_CHANNEL))

    lbot.kibana.set_execute_result(connector_id, status="error", message=REVOKED)
    retest(lbot, connector_id)
    retest(lbot, connector_id)
    make_task_due(lbot, DIGEST_TASK)
    sweep_and_settle(lbot)
    channel = texts(lbot.slack.messages_in(NOTIFY_CHANNEL))
    assert "1 managed connector(s) failing their re-tests" in channel
    assert "Lifecycle GPT" in channel
    sweep_and_settle(lbot)  # not due again for a day
    digests = [m for m in lbot.slack.messages_in(NOTIFY_CHANNEL) if "re-tests" in texts([m])]
    assert len(digests) == 1


def test_a_connector_deleted_in_kibana_is_retired(lbot: BotHarness) -> None:
    connector_id = provision(lbot)
    assert kibana_call(lbot.kibana, "DELETE", f"/api/actions/connector/{connector_id}").is_success
    make_task_due(lbot, RECONCILE_TASK)
    sweep_and_settle(lbot)
    row = managed(lbot, connector_id)
    assert (row.state, row.state_reason) == ("retired", "deleted in Kibana")
    assert row.next_test_at is None
    assert "deleted in Kibana" in _thread(lbot, connector_id)
    assert "deleted in Kibana" in _dm(lbot, REQUESTER)


def test_settings_changed_in_kibana_make_it_drifted_with_the_diff(lbot: BotHarness) -> None:
    connector_id = provision(lbot)
    stored = lbot.kibana.connectors("default")[connector_id]
    changed = {**stored["config"], "defaultModel": "gpt-4o-mini"}
    answer = kibana_call(
        lbot.kibana,
        "PUT",
        f"/api/actions/connector/{connector_id}",
        {"name": "Lifecycle GPT", "config": changed, "secrets": {"apiKey": "sk-proj-OTHERKEY99"}},
    )
    assert answer.is_success, answer.text
    make_task_due(lbot, RECONCILE_TASK)
    sweep_and_settle(lbot)
    row = managed(lbot, connector_id)
    assert row.state == "drifted"
    assert "defaultModel" in (row.state_reason or "")
    thread = _thread(lbot, connector_id)
    assert "drifted" in thread
    assert "`defaultModel`: `gpt-4.1` → `gpt-4o-mini`" in thread
    assert "drifted" in _dm(lbot, REQUESTER)
    assert "OTHERKEY" not in lbot.slack.all_text()
    assert lbot.kibana.connectors("default")[connector_id]["config"]["defaultModel"] == (
        "gpt-4o-mini"
    )  # nothing changed back
    # A passing re-test keeps it drifted: a person has to look at the change.
    assert retest(lbot, connector_id).state == "drifted"


def _adopt(bot: BotHarness, text: str, *, user: str = APPROVER) -> str:
    before = len(bot.slack.responses())
    response = bot.command(f"adopt {text}", user=user)
    assert response.status_code == 200
    if response.content and "Looking up" not in response.text:
        return response.text
    answers = wait_until(lambda: bot.slack.responses()[before:] or None, what="the adopt answer")
    return texts(answers)


def _external(kibana: FakeKibana, connector_id: str, **overrides: object) -> None:
    body = {
        "name": "Team GPT <!channel>",
        "connector_type_id": ".gen-ai",
        "config": {
            "apiProvider": "OpenAI",
            "apiUrl": "https://api.openai.com/v1/chat/completions",
            "defaultModel": "gpt-4o",
        },
        "secrets": {"apiKey": "sk-proj-EXTERNALKEY123"},
        **overrides,
    }
    kibana.add_connector("default", connector_id, body)


def test_an_approver_adopts_a_connector_made_outside_the_bot(lbot: BotHarness) -> None:
    _external(lbot.kibana, "ext-gpt-1")
    answer = _adopt(lbot, f"default ext-gpt-1 <@{STRANGER}|stranger>")
    assert "Adopted" in answer
    row = managed(lbot, "ext-gpt-1")
    assert (row.owner_slack_id, row.provider, row.request_id) == (STRANGER, "openai", None)
    assert row.approvers == [APPROVER]
    lbot.wait_idle()
    row = wait_until(lambda: (r := managed(lbot, "ext-gpt-1")).last_test_at and r, what="test")
    assert row.last_test_ok is True
    assert row.thread_channel == APPROVAL_CHANNEL
    root = texts(lbot.slack.messages_in(APPROVAL_CHANNEL))
    assert "adopted" in root
    assert "<!channel>" not in root  # the name is escaped

    again = _adopt(lbot, "default ext-gpt-1")
    assert "already managed" in again

    lbot.kibana.set_execute_result("ext-gpt-1", status="error", message=REVOKED)
    retest(lbot, "ext-gpt-1")
    assert "1 of 2" in _thread(lbot, "ext-gpt-1")


def test_adopt_refusals(lbot: BotHarness) -> None:
    _external(lbot.kibana, "ext-gpt-2")
    assert "Only approvers" in _adopt(lbot, "default ext-gpt-2", user=STRANGER)
    lbot.kibana.add_connector(
        "default",
        "slack-1",
        {"name": "Slack", "connector_type_id": ".slack", "config": {}, "secrets": {}},
    )
    assert "not an LLM connector type" in _adopt(lbot, "default slack-1")
    assert "There is no connector nope-1" in _adopt(lbot, "default nope-1")
    assert "no target" in _adopt(lbot, "prod default ext-gpt-2")
    assert "Say what to adopt" in _adopt(lbot, "")
    with pytest.raises(Exception, match="No row"):
        managed(lbot, "slack-1")


def test_connectors_lists_the_inventory_by_viewer(lbot: BotHarness) -> None:
    connector_id = provision(lbot)  # owned by the requester
    _external(lbot.kibana, "ext-gpt-3")
    _adopt(lbot, f"default ext-gpt-3 <@{STRANGER}>")
    before = len(lbot.slack.responses())
    lbot.command("connectors", user=STRANGER)  # not an approver: their own only
    mine = texts(wait_until(lambda: lbot.slack.responses()[before:] or None, what="list"))
    assert "You own 1 connector(s)" in mine
    assert "ext-gpt-3" in mine
    assert connector_id not in mine
    before = len(lbot.slack.responses())
    lbot.command("connectors", user=APPROVER)
    everything = texts(wait_until(lambda: lbot.slack.responses()[before:] or None, what="list"))
    assert "The bot manages 2 connector(s)" in everything
    assert connector_id in everything


def test_an_inference_endpoint_enters_the_inventory(
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
        resource_id = provision(bot)
        row = managed(bot, resource_id)
        assert (row.backend, row.type_id, row.state) == ("inference", "openai", "active")
        assert row.last_test_ok is True
        assert retest(bot, resource_id).last_test_ok is True


def test_the_owner_gives_a_connector_to_someone_else(lbot: BotHarness) -> None:
    connector_id = provision(lbot)
    refused = lbot.command(f"transfer {connector_id} <@{STRANGER}>", user=STRANGER)
    assert "Only the owner" in refused.json()["text"]
    assert managed(lbot, connector_id).owner_slack_id == REQUESTER
    answer = lbot.command(f"transfer {connector_id} <@{APPROVER}>", user=REQUESTER)
    assert f"<@{APPROVER}> now owns" in answer.json()["text"]
    assert managed(lbot, connector_id).owner_slack_id == APPROVER
    wait_until(
        lambda: (
            "now belongs to" in _thread(lbot, connector_id)
            and "now belongs to" in _dm(lbot, APPROVER)
        ),
        what="the thread line and the new owner's DM",
    )
    assert f"from <@{REQUESTER}>" in _thread(lbot, connector_id)
    again = lbot.command(f"transfer {connector_id} <@{APPROVER}>", user=APPROVER)
    assert "already owns" in again.json()["text"]
    unknown = lbot.command(f"transfer nope-123 <@{APPROVER}>", user=APPROVER)
    assert "manages no connector" in unknown.json()["text"]
    usage = lbot.command(f"transfer {connector_id}", user=APPROVER)
    assert "who gets it" in usage.json()["text"]
