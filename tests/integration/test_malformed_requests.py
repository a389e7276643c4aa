"""Issue 6 item 5: a signed but malformed request is a 4xx and one short log line, never a 5xx.

Every request here is correctly signed: only its content is wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any
from urllib.parse import quote_plus, urlencode

import httpx
import pytest

from tests.harness import APPROVAL_CHANNEL, APPROVER, REQUESTER, SIGNING_SECRET, BotHarness
from tests.integration.test_request_verification import row_counts

FORM = "application/x-www-form-urlencoded"


def post_signed_bytes(bot: BotHarness, body: bytes, content_type: str = FORM) -> httpx.Response:
    ts = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256)
    headers = {
        "content-type": content_type,
        "x-slack-request-timestamp": ts,
        "x-slack-signature": f"v0={digest.hexdigest()}",
    }
    return bot.http.post(f"{bot.url}/slack/events", content=body, headers=headers)


def _payload(value: Any) -> bytes:
    text = value if isinstance(value, str) else json.dumps(value)
    return urlencode({"payload": text}).encode()


def _actions(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": APPROVER},
        "trigger_id": "1.2.3",
        "container": {"type": "message", "channel_id": APPROVAL_CHANNEL, "message_ts": "1.1"},
        "actions": [{"action_id": "approval.approve", "value": '{"request_id": 1}'}],
    }
    payload.update(overrides)
    return payload


def _submission(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "view_submission",
        "user": {"id": REQUESTER},
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": "connector_request.submit",
            "state": {"values": {}},
            "blocks": [],
        },
    }
    payload.update(overrides)
    return payload


def _command(**fields: str | None) -> bytes:
    values: dict[str, str | None] = {
        "command": "/llm-connector",
        "text": "help",
        "user_id": REQUESTER,
        "trigger_id": "1.2.3",
    }
    values.update(fields)
    return urlencode({k: v for k, v in values.items() if v is not None}).encode()


MALFORMED: dict[str, tuple[bytes, str]] = {
    "truncated payload JSON": (_payload(json.dumps(_actions())[:-7]), FORM),
    "payload not UTF-8 (percent-encoded)": (b"payload=%7B%22type%22%3A%22%FF%FE%22%7D", FORM),
    "body not UTF-8": (b"payload=\xff\xfe\xfd{}", FORM),
    "payload a list": (_payload([1, 2]), FORM),
    "payload a number": (_payload("12"), FORM),
    "payload a string": (_payload('"block_actions"'), FORM),
    "payload null": (_payload("null"), FORM),
    "payload without type": (_payload({"user": {"id": "U1"}}), FORM),
    "payload type not a string": (_payload({**_actions(), "type": 7}), FORM),
    "block_actions without user": (_payload({**_actions(), "user": None}), FORM),
    "block_actions with a string user": (_payload({**_actions(), "user": "U1"}), FORM),
    "block_actions user without id": (_payload(_actions(user={})), FORM),
    "block_actions without actions": (_payload(_actions(actions=[])), FORM),
    "block_actions actions not a list": (_payload(_actions(actions={"a": 1})), FORM),
    "action without action_id": (_payload(_actions(actions=[{"value": "x"}])), FORM),
    "action value not a string": (
        _payload(_actions(actions=[{"action_id": "approval.approve", "value": 5}])),
        FORM,
    ),
    "provider switch without its view": (
        _payload(_actions(actions=[{"action_id": "connector_request.provider", "block_id": "b"}])),
        FORM,
    ),
    "view_submission without view": (_payload({**_submission(), "view": None}), FORM),
    "view_submission view without id": (
        _payload(_submission(view={"type": "modal", "callback_id": "connector_request.submit"})),
        FORM,
    ),
    "view_submission state values not objects": (
        _payload(
            _submission(
                view={
                    "id": "V1",
                    "type": "modal",
                    "callback_id": "connector_request.submit",
                    "state": {"values": {"field.name": ["x"]}},
                }
            )
        ),
        FORM,
    ),
    "view_submission selected_option a string": (
        _payload(
            _submission(
                view={
                    "id": "V1",
                    "type": "modal",
                    "callback_id": "connector_request.submit",
                    "state": {
                        "values": {"b": {"a": {"type": "static_select", "selected_option": "x"}}}
                    },
                }
            )
        ),
        FORM,
    ),
    "view_submission private_metadata not a string": (
        _payload(
            _submission(
                view={
                    "id": "V1",
                    "type": "modal",
                    "callback_id": "connector_request.submit",
                    "private_metadata": {"provider": "openai"},
                }
            )
        ),
        FORM,
    ),
    "event_callback event not an object": (
        json.dumps({"type": "event_callback", "event": "x"}).encode(),
        "application/json",
    ),
    "event null (found by tests/integration/test_http_fuzz.py)": (
        _payload({"type": "event_callback", "user": {"id": "U1"}, "event": None}),
        FORM,
    ),
    "JSON body truncated": (b'{"type": "event_callback", "event": {', "application/json"),
    "JSON body a list": (b"[1, 2]", "application/json"),
    "command without user_id": (_command(user_id=None), FORM),
    "command without trigger_id": (_command(trigger_id=None), FORM),
    "command with an empty user_id": (_command(user_id=""), FORM),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_signed_malformed_requests_are_400_with_one_short_log_line(
    bot: BotHarness, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    body, content_type = MALFORMED[case]
    before = row_counts(bot)
    with caplog.at_level(logging.DEBUG):
        response = post_signed_bytes(bot, body, content_type)
    assert response.status_code == 400, (case, response.status_code, response.text)
    assert response.json() == {"error": "malformed request"}
    refusals = [r for r in caplog.records if "refused a signed Slack request" in r.getMessage()]
    assert len(refusals) == 1, [r.getMessage() for r in caplog.records]
    assert len(refusals[0].getMessage()) < 120
    assert all(r.exc_info is None for r in caplog.records), case
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert bot.slack.calls == []
    assert row_counts(bot) == before


def _card_reference(bot: BotHarness) -> str:
    from tests.harness import reference_from

    return reference_from(
        bot.request_via_form(
            {
                "name": "Malformed GPT",
                "space": "default",
                "model": "gpt-4.1",
                "api_key": "sk-proj-malformed0123456789",
                "justification": "malformed",
            }
        )
    )


@pytest.mark.parametrize(
    "value",
    [
        json.dumps({"request_id": 2**63}),
        json.dumps({"request_id": 2**31}),
        json.dumps({"request_id": -1}),
        json.dumps({"request_id": 0}),
        json.dumps({"request_id": 10**400}),
        json.dumps({"request_id": "1e309"}),
        '{"request_id": 1',
        "x" * 2500,
        "",
    ],
)
def test_a_button_value_out_of_range_or_broken_is_a_stale_button_message(
    bot: BotHarness, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    reference = _card_reference(bot)
    card = bot.card_for(reference)
    with caplog.at_level(logging.DEBUG):
        for action_id in ("approval.approve", "approval.reject", "approval.deliver_yaml"):
            response = bot.interact(
                {
                    "type": "block_actions",
                    "user": {"id": APPROVER},
                    "trigger_id": bot.slack.issue_trigger_id(),
                    "response_url": bot.slack.response_url(),
                    "container": {
                        "type": "message",
                        "channel_id": APPROVAL_CHANNEL,
                        "message_ts": card["ts"],
                    },
                    "channel": {"id": APPROVAL_CHANNEL},
                    "message": card,
                    "actions": [
                        {
                            "type": "button",
                            "action_id": action_id,
                            "block_id": "approval.actions",
                            "value": value,
                            "action_ts": str(time.time()),
                        }
                    ],
                }
            )
            assert response.status_code == 200, response.text
    texts = [r.args["text"] for r in bot.slack.wait_for("response_url", count=3)]
    assert all("old message" in text for text in texts), texts
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert bot.request_row(reference).status == "pending"


def test_a_reject_reason_form_with_an_out_of_range_request_id_is_refused_in_the_form(
    bot: BotHarness,
) -> None:
    view = {
        "id": "V9",
        "type": "modal",
        "callback_id": "approval.reject_reason",
        "private_metadata": json.dumps({"request_id": 2**63}),
        "state": {
            "values": {
                "approval.reject_reason": {
                    "approval.reason": {"type": "plain_text_input", "value": "no"}
                }
            }
        },
        "blocks": [],
    }
    response = bot.interact({"type": "view_submission", "user": {"id": APPROVER}, "view": view})
    assert response.status_code == 200
    assert response.json()["response_action"] == "errors"
    assert "old message" in json.dumps(response.json())


def test_an_unknown_action_gets_a_clear_private_answer(bot: BotHarness) -> None:
    response = bot.interact(
        {
            "type": "block_actions",
            "user": {"id": APPROVER},
            "trigger_id": bot.slack.issue_trigger_id(),
            "response_url": bot.slack.response_url(),
            "container": {"type": "message", "channel_id": APPROVAL_CHANNEL, "message_ts": "1.1"},
            "actions": [{"type": "button", "action_id": "approval.retired_button", "value": "1"}],
        }
    )
    assert response.status_code == 200
    (answer,) = bot.slack.wait_for("response_url")
    assert "old message" in answer.args["text"]
    assert answer.args["response_type"] == "ephemeral"


def test_a_content_length_that_is_not_a_number_is_400(bot: BotHarness) -> None:
    import socket

    host, port = bot.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\npayload=%7B%7D"
        )
        answer = sock.recv(1024)
    assert answer.startswith(b"HTTP/1.1 400"), answer


def test_a_body_over_the_limit_is_413_and_never_dispatched(bot: BotHarness) -> None:
    from bot.server import MAX_BODY_BYTES

    body = "payload=" + quote_plus("x") * (MAX_BODY_BYTES + 1)
    response = bot.post(body, bot.signed_headers(body))
    assert response.status_code == 413
    assert bot.slack.calls == []
