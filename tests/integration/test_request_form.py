"""The requester's side: the command, the form, inline errors, the stored request."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from bot.db.models import ConnectorRequest, Job
from bot.db.session import session_scope
from tests.harness import (
    REQUESTER,
    BotHarness,
    make_settings,
    reference_from,
    running_bot,
    wait_until,
)

GOOD = {
    "name": "SOC assistant",
    "space": "default",
    "model": "gpt-4.1",
    "api_key": "sk-proj-abcdefghijklmnop0123456789",
    "justification": "Attack Discovery for the SOC",
}


def _count_requests(bot: BotHarness) -> int:
    with session_scope(bot.deps.session_factory) as session:
        return int(session.scalar(select(func.count()).select_from(ConnectorRequest)) or 0)


def test_help_answers_privately_and_opens_nothing(bot: BotHarness) -> None:
    response = bot.command("help")
    assert response.status_code == 200
    assert "cancel REQ-" in response.json()["text"]
    assert response.json().get("response_type", "ephemeral") == "ephemeral"
    assert bot.slack.calls_for("views.open") == []


def test_unknown_word_answers_with_usage_and_does_nothing(bot: BotHarness) -> None:
    response = bot.command("frobnicate now")
    assert response.status_code == 200
    assert "frobnicate" in response.json()["text"]
    assert "/llm-connector help" in response.json()["text"]
    assert bot.slack.calls_for("views.open") == []
    assert _count_requests(bot) == 0


def test_command_opens_the_openai_form_at_once(bot: BotHarness) -> None:
    view = bot.open_form()
    blocks = {block.get("block_id"): block for block in view["blocks"]}
    assert view["title"]["text"] == "LLM connector request"
    url_block = next(b for k, b in blocks.items() if k and k.startswith("field.api_url"))
    assert url_block["element"]["initial_value"] == "https://api.openai.com/v1/chat/completions"
    for key in (
        "field.name",
        "field.space",
        "field.api_key",
        "field.organization_id",
        "field.project_id",
        "field.justification",
    ):
        assert key in blocks, key
    assert blocks["field.space"]["element"]["initial_value"] == "default"
    assert blocks["field.organization_id"]["optional"] is True


def test_expired_trigger_is_explained_to_the_requester(bot: BotHarness) -> None:
    trigger = bot.slack.issue_trigger_id()
    bot.slack.expire_trigger_ids()
    assert bot.command("", trigger_id=trigger).status_code == 200
    call = bot.slack.wait_for("response_url")[0]
    assert "run the command again" in call.args["text"]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("name", "   ", "Give the connector a name"),
        ("name", "x" * 81, "80 characters"),
        ("space", "Security Team", "lowercase letters"),
        ("api_url", "not a url", "spaces"),
        ("api_url", "http://api.openai.com/v1/chat/completions", "https://"),
        ("api_url", "ftp://api.openai.com/v1", "https://"),
        ("api_key", "", "Paste the OpenAI API key"),
        ("justification", "  ", "Say why"),
        ("organization_id", "acme", "org-"),
    ],
)
def test_bad_input_is_shown_under_its_field_and_nothing_is_stored(
    bot: BotHarness, field: str, value: str, expected: str
) -> None:
    response = bot.request_via_form({**GOOD, field: value})
    body = response.json()
    assert body["response_action"] == "errors"
    [(block_id, message)] = body["errors"].items()
    assert block_id.startswith(f"field.{field}")
    assert expected in message
    assert _count_requests(bot) == 0


def test_valid_request_is_stored_pending_and_the_requester_told(bot: BotHarness) -> None:
    response = bot.request_via_form(GOOD)
    reference = reference_from(response)
    assert "waiting for an approver" in json.dumps(response.json()["view"])
    row = bot.request_row(reference)
    assert row.status == "pending"
    assert row.requested_by_slack_id == REQUESTER
    assert row.config == {
        "apiProvider": "OpenAI",
        "apiUrl": "https://api.openai.com/v1/chat/completions",
        "defaultModel": "gpt-4.1",
    }
    dm = bot.slack.wait_for("chat.postMessage", lambda call: call.args["channel"] == REQUESTER)[0]
    assert reference in dm.args["text"]


def test_a_name_already_requested_in_the_space_is_refused(bot: BotHarness) -> None:
    reference_from(bot.request_via_form(GOOD))
    body = bot.request_via_form(GOOD).json()
    assert body["response_action"] == "errors"
    assert "already open" in body["errors"]["field.name"]
    assert _count_requests(bot) == 1


def test_switching_provider_keeps_shared_fields_and_resets_provider_defaults(
    bot: BotHarness,
) -> None:
    view = bot.open_form()
    view["state"] = {"values": {}}
    typed = {"name": "Claude for SOC", "space": "security", "justification": "triage"}
    from tests.harness import fill_state

    view = {**view, "state": {"values": fill_state(view, typed)}}
    updates = len(bot.slack.calls_for("views.update"))
    bot.interact(
        {
            "type": "block_actions",
            "user": {"id": REQUESTER},
            "view": view,
            "actions": [
                {
                    "type": "static_select",
                    "action_id": "connector_request.provider",
                    "block_id": "connector_request.provider",
                    "selected_option": {"value": "bedrock"},
                }
            ],
        }
    )
    bot.slack.wait_for("views.update", count=updates + 1)
    new_view = bot.current_view(view["id"])
    blocks = {block.get("block_id"): block for block in new_view["blocks"]}
    assert blocks["field.name"]["element"]["initial_value"] == "Claude for SOC"
    assert blocks["field.space"]["element"]["initial_value"] == "security"
    assert blocks["field.justification"]["element"]["initial_value"] == "triage"
    url = next(b for k, b in blocks.items() if k and k.startswith("field.api_url"))
    assert "bedrock-runtime" in url["element"]["initial_value"]
    assert "field.access_key" in blocks
    assert "field.organization_id" not in blocks


def test_cancel_withdraws_a_pending_request(bot: BotHarness) -> None:
    reference = reference_from(bot.request_via_form(GOOD))
    response = bot.command(f"cancel {reference}")
    assert "cancelled" in response.json()["text"]
    row = bot.wait_status(reference, "cancelled")
    assert row.secrets_ciphertext is None
    assert (
        "already" in bot.command(f"cancel {reference}").json()["text"]
        or "cancelled" in (bot.command(f"cancel {reference}").json()["text"])
    )


def test_someone_else_cannot_cancel(bot: BotHarness) -> None:
    reference = reference_from(bot.request_via_form(GOOD))
    text = bot.command(f"cancel {reference}", user="USTRANGER1").json()["text"]
    assert "Only the person who asked" in text
    assert bot.request_row(reference).status == "pending"


def test_no_job_is_queued_for_a_refused_form(bot: BotHarness) -> None:
    bot.request_via_form({**GOOD, "api_key": ""})
    with session_scope(bot.deps.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_a_card_slack_refuses_for_good_is_explained_to_the_requester(
    database_url: str, slack, kibana
) -> None:
    settings = make_settings(database_url, slack, kibana, approval_channel="CNOTJOINED")
    with running_bot(settings, slack, kibana) as bot:
        reference = reference_from(bot.request_via_form(GOOD))
        dm = bot.slack.wait_for(
            "chat.postMessage",
            lambda call: (
                call.args["channel"] == REQUESTER and "could not be shown" in call.args["text"]
            ),
        )[0]
        assert reference in dm.args["text"]
        assert "invite" in dm.args["text"]
        assert bot.request_row(reference).status == "pending"


def test_rate_limited_messages_are_sent_after_slacks_retry_after(bot: BotHarness) -> None:
    bot.slack.fail_next("chat.postMessage", status=429, retry_after=1)
    reference = reference_from(bot.request_via_form(GOOD))
    card = bot.card_for(reference)
    wait_until(lambda: bot.request_row(reference).card_ts == card["ts"], what="the card ts")
    dm = bot.slack.wait_for(
        "chat.postMessage", lambda call: call.args["channel"] == REQUESTER and call.status == 200
    )
    assert reference in dm[0].args["text"]
    assert [c.status for c in bot.slack.calls_for("chat.postMessage")].count(429) == 1
