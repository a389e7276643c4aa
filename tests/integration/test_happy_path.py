"""The whole flow, driven as Slack drives it: command → form → card → approve → Kibana → results."""

from __future__ import annotations

import json

from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    NOTIFY_CHANNEL,
    REQUESTER,
    BotHarness,
    reference_from,
)

OPENAI_KEY = "sk-proj-TESTKEY1234567890abcdefSECRET"
VALUES = {
    "name": "Security GPT",
    "space": "default",
    "model": "gpt-4.1",
    "api_key": OPENAI_KEY,
    "justification": "AI Assistant for the SOC team",
}


def test_request_approved_provisioned_and_tested(bot: BotHarness) -> None:
    response = bot.request_via_form(VALUES)
    assert response.status_code == 200
    reference = reference_from(response)
    row = bot.wait_status(reference, "pending")
    assert row.secrets_ciphertext is not None
    assert OPENAI_KEY.encode() not in row.secrets_ciphertext

    card = bot.card_for(reference)
    card_json = json.dumps(card)
    assert "Security GPT" in card_json
    assert "gpt-4.1" in card_json
    assert OPENAI_KEY not in card_json

    assert bot.click(reference, "approval.approve", user=APPROVER).status_code == 200
    row = bot.wait_status(reference, "tested_ok")
    assert row.secrets_ciphertext is None

    assert row.kibana_connector_id is not None
    created = bot.kibana.connectors("default")[row.kibana_connector_id]
    assert created["connector_type_id"] == ".gen-ai"
    assert created["config"]["apiProvider"] == "OpenAI"
    assert created["secrets"] == {"apiKey": OPENAI_KEY}

    bot.wait_idle()
    replies = bot.slack.thread_replies(APPROVAL_CHANNEL, card["ts"])
    assert any("tested" in json.dumps(reply) for reply in replies)
    dm = bot.slack.messages_in(bot.slack.dm_channel_for(REQUESTER))
    assert any("Hello" in json.dumps(message) for message in dm)
    assert bot.slack.messages_in(NOTIFY_CHANNEL)
    assert OPENAI_KEY not in bot.slack.all_text()
