"""The `.gen-ai` second check: invokeAI after a passing `test`, reported in the result."""

from __future__ import annotations

import json

from bot.domain.enums import Provider
from bot.domain.streaming_check import NO_CONTENT_HINT, NOT_PROVEN
from tests.harness import APPROVER, REQUESTER, BotHarness, reference_from
from tests.unit.domain import samples


def _approve(bot: BotHarness, provider: Provider, name: str) -> str:
    values = samples.valid_values(provider, space="default", name=name)
    form = {key: value for key, value in values.items() if value is not None}
    reference = reference_from(bot.request_via_form(form, provider=provider.value))
    bot.click(reference, "approval.approve", user=APPROVER)
    return reference


def _sub_actions(bot: BotHarness, connector_id: str) -> list[str]:
    sent = bot.kibana.requests_to("POST", f"/api/actions/connector/{connector_id}/_execute")
    return [request.body["params"]["subAction"] for request in sent]


def test_a_passing_gen_ai_test_is_followed_by_invoke_ai_and_both_are_reported(
    bot: BotHarness,
) -> None:
    reference = _approve(bot, Provider.OPENAI, "Second check OK")
    row = bot.wait_status(reference, "tested_ok", "test_failed", "failed")
    assert row.status == "tested_ok", row.result
    assert row.kibana_connector_id is not None
    assert _sub_actions(bot, row.kibana_connector_id) == ["test", "invokeAI"]
    assert row.result is not None
    check = row.result["second_check"]
    assert check["ok"] is True
    assert check["sub_action"] == "invokeAI"
    assert check["reply"]
    assert check["total_tokens"] == 21
    bot.wait_idle()
    dm = json.dumps(bot.slack.messages_in(bot.slack.dm_channel_for(REQUESTER)))
    assert "Second check (invokeAI)" in dm
    assert "21 total" in dm
    assert "Streaming (server-sent events) through a proxy is not checked" in dm


def test_a_gateway_without_message_content_fails_the_second_check_and_so_the_test(
    bot: BotHarness,
) -> None:
    bot.kibana.set_gen_ai_gateway(reply_content=False)
    reference = _approve(bot, Provider.OPENAI, "Second check fails")
    row = bot.wait_status(reference, "tested_ok", "test_failed", "failed")
    assert row.status == "test_failed", row.result
    assert row.result is not None
    assert row.result["ok"] is False
    assert "invokeAI" in row.result["message"]
    assert row.result["hint"] == NO_CONTENT_HINT
    assert row.result["second_check"]["ok"] is False
    bot.wait_idle()
    dm = json.dumps(bot.slack.messages_in(bot.slack.dm_channel_for(REQUESTER)))
    assert "Second check (invokeAI)* failed" in dm
    assert NOT_PROVEN.split(":")[0] in dm


def test_other_connector_types_have_no_second_check(bot: BotHarness) -> None:
    reference = _approve(bot, Provider.BEDROCK, "Bedrock no second check")
    row = bot.wait_status(reference, "tested_ok", "test_failed", "failed")
    assert row.status == "tested_ok", row.result
    assert row.kibana_connector_id is not None
    assert _sub_actions(bot, row.kibana_connector_id) == ["test"]
    assert row.result is not None
    assert row.result.get("second_check") is None
