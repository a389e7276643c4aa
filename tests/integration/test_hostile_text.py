"""End to end through the real bot: a hostile requester, approver and Kibana can't make any
message or view the bot sends ping a channel, mention someone, disguise a link or show a URL
credential."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import func, select

from bot.db.models import AuditEvent, ConnectorRequest, Job
from bot.db.session import session_scope
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    NOTIFY_CHANNEL,
    REQUESTER,
    BotHarness,
    reference_from,
)
from tests.unit.views.hostile import HOSTILE, problems

NAME = "<!channel> urgent <https://evil.example/login|Kibana SSO>"
RENDERED = ("chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "views.update")


def _form(name: str) -> dict[str, str]:
    return {
        "name": name,
        "space": "default",
        "model": "<!here>|<@UEVIL0001>",
        "api_key": "sk-proj-abcdefghijklmnop0123456789",
        "justification": HOSTILE,
    }


def _shown(args: dict[str, Any]) -> dict[str, Any]:
    """What Slack renders of a call: its text, blocks, view (not channel ids or metadata)."""
    return {key: args[key] for key in ("text", "blocks", "view") if key in args}


def _assert_nothing_unescaped(bot: BotHarness, answers: list[httpx.Response]) -> None:
    people = (REQUESTER, APPROVER)
    found: list[str] = []
    calls = [c for c in bot.slack.calls if c.method in (*RENDERED, "response_url")]
    for call in calls:
        found += [f"{call.method}: {p}" for p in problems(_shown(call.args), people=people)]
    for answer in answers:
        if answer.content:
            body = answer.json()
            shown = {"text": body.get("text"), "view": body.get("view")}
            found += [f"ack: {p}" for p in problems(shown, people=people)]
    assert not found, "\n".join(found)


def test_hostile_text_from_requester_approver_and_kibana_is_never_interpreted(
    bot: BotHarness,
) -> None:
    bot.kibana.add_connector(
        "default",
        "evil-existing",
        {
            "name": HOSTILE[:200],
            "connector_type_id": ".gen-ai",
            "config": {"apiProvider": "OpenAI", "apiUrl": "https://api.openai.com/v1"},
            "secrets": {"apiKey": "x"},
        },
    )
    bot.kibana.set_execute_result(status="error", message=HOSTILE, service_message=HOSTILE)
    answers: list[httpx.Response] = []

    rejected = bot.request_via_form(_form(NAME))
    answers.append(rejected)
    rejected_ref = reference_from(rejected)
    approved = bot.request_via_form(_form(NAME + " 2"))
    answers.append(approved)
    approved_ref = reference_from(approved)
    delivered = bot.request_via_form(_form(NAME + " 3"))
    answers.append(delivered)
    delivered_ref = reference_from(delivered)

    answers.append(bot.reject(rejected_ref, HOSTILE))
    answers.append(bot.click(approved_ref, "approval.approve", user=APPROVER))
    answers.append(bot.click(delivered_ref, "approval.deliver_yaml", user=APPROVER))
    bot.wait_status(rejected_ref, "rejected")
    bot.wait_status(approved_ref, "test_failed")
    bot.wait_status(delivered_ref, "delivered")
    for text in ("list default", f"list {NAME}", NAME, f"status {rejected_ref}", "help"):
        answers.append(bot.command(text))
    # `list default` and `status` answer through response_url; `list <hostile>` is refused
    # in the ack itself (not a space id), without asking Kibana.
    bot.slack.wait_for("response_url", count=2)
    bot.wait_idle()
    _assert_nothing_unescaped(bot, answers)

    # Not vacuous: the hostile text reached every surface, shown escaped.
    notify = bot.slack.messages_in(NOTIFY_CHANNEL)
    assert len(notify) >= 2
    assert (
        "&lt;!channel&gt; urgent &lt;https://evil.example/login|Kibana SSO&gt;" in notify[0]["text"]
    )
    card = bot.slack.message(APPROVAL_CHANNEL, bot.card_for(approved_ref)["ts"])
    assert "&lt;!here&gt;" in json.dumps(card)
    thread = bot.slack.thread_replies(APPROVAL_CHANNEL, card["ts"])
    assert "&lt;!channel&gt;" in json.dumps(thread)  # Kibana's message, in its code block
    assert "&lt;!channel&gt;" in json.dumps(
        bot.slack.messages_in(bot.slack.dm_channel_for(APPROVER))
    )
    dm = json.dumps(bot.slack.messages_in(bot.slack.dm_channel_for(REQUESTER)))
    assert "&lt;#CEVIL0001|x&gt;" in dm  # the reject reason
    assert any("&lt;!channel&gt;" in json.dumps(r) for r in bot.slack.responses())


def test_a_secret_in_the_api_url_is_refused_and_nothing_is_stored(bot: BotHarness) -> None:
    url = "https://api.openai.com/v1/chat/completions?api_key=sk-proj-LEAKED0123456789"
    body = bot.request_via_form({**_form("SOC assistant"), "api_url": url}).json()
    assert body["response_action"] == "errors"
    [(block_id, message)] = body["errors"].items()
    assert block_id.startswith("field.api_url")
    assert "plain config" in message
    assert "LEAKED" not in json.dumps(body)
    with session_scope(bot.deps.session_factory) as session:
        for model in (ConnectorRequest, Job, AuditEvent):
            assert session.scalar(select(func.count()).select_from(model)) == 0
    assert "LEAKED" not in bot.slack.all_text()


def test_a_reject_reason_with_bidi_overrides_or_control_bytes_is_refused(bot: BotHarness) -> None:
    reference = reference_from(bot.request_via_form(_form("SOC assistant")))
    body = bot.reject(reference, "Budget \u202egnp.exe\u202c reasons").json()
    assert body["response_action"] == "errors"
    assert "bidirectional" in body["errors"]["approval.reject_reason"]
    opened = len(bot.slack.calls_for("views.open"))
    body = bot.reject(reference, "Budget\x00").json()
    assert "control characters" in body["errors"]["approval.reject_reason"]
    assert len(bot.slack.calls_for("views.open")) == opened + 1
    assert bot.request_row(reference).status == "pending"
    assert bot.reject(reference, "Budget: use the shared connector.").status_code == 200
    bot.wait_status(reference, "rejected")
