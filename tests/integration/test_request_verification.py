"""Issue 6 item 1: a request that is not verified is 401 and causes nothing at all."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from bot.db.base import Base
from bot.db.session import session_scope
from tests.fakes.recorder import RecordingServer
from tests.harness import REQUESTER, SIGNING_SECRET, BotHarness


@pytest.fixture
def target() -> Iterator[RecordingServer]:
    server = RecordingServer().start()
    yield server
    server.stop()


def row_counts(bot: BotHarness) -> dict[str, int]:
    with session_scope(bot.deps.session_factory) as session:
        return {
            table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


def command_body(response_url: str) -> str:
    return urlencode(
        {
            "command": "/llm-connector",
            "text": "help",
            "user_id": "UX",
            "trigger_id": "1.2.3",
            "response_url": response_url,
        }
    )


def action_body(response_url: str) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": REQUESTER},
        "trigger_id": "1.2.3",
        "response_url": response_url,
        "container": {"type": "message", "channel_id": "CAPPROVALS", "message_ts": "1.1"},
        "actions": [{"action_id": "approval.approve", "value": '{"request_id": 1}'}],
    }
    return urlencode({"payload": json.dumps(payload)})


def _valid_signature(timestamp: str, body: str) -> str:
    import hashlib
    import hmac

    digest = hmac.new(
        SIGNING_SECRET.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256
    ).hexdigest()
    return f"v0={digest}"


NOW = "{now}"  # formatted with the time of the request, when it is sent
# (timestamp header, signature header); None leaves the header out. "good" is replaced by a
# correct signature over the body for that timestamp: only the timestamp is wrong then.
BAD_HEADERS: dict[str, tuple[str | None, str | None]] = {
    "no headers": (None, None),
    "non-numeric timestamp": ("abc", None),
    "non-numeric timestamp, signed": ("abc", "good"),
    "negative timestamp": ("-1", "good"),
    "huge timestamp": ("9" * 40, "good"),
    "float timestamp": ("{now}.5", "good"),
    "timestamp with spaces": (" {now} ", "good"),
    "unicode digits": ("١٢٣٤٥٦٧٨٩٠", "good"),
    "stale timestamp": ("{stale}", "good"),
    "future timestamp": ("{future}", "good"),
    "no signature": (NOW, None),
    "empty signature": (NOW, ""),
    "short signature": (NOW, "v0=" + "a" * 63),
    "long signature": (NOW, "v0=" + "a" * 65),
    "non-hex signature": (NOW, "v0=" + "g" * 64),
    "upper-case hex": (NOW, "GOOD-UPPER"),
    "other version": (NOW, "v1=" + "a" * 64),
    "wrong signature": (NOW, "v0=" + "0" * 64),
    "non-ascii signature": (NOW, "v0=" + "é" * 64),
}


def _headers(case: str, body: str) -> dict[str, str]:
    timestamp, signature = BAD_HEADERS[case]
    now = int(time.time())
    if timestamp is not None:
        timestamp = timestamp.format(now=now, stale=now - 301, future=now + 301)
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if timestamp is not None:
        headers["x-slack-request-timestamp"] = timestamp
    if signature == "good":
        signature = _valid_signature(timestamp or "", body)
    elif signature == "GOOD-UPPER":
        signature = _valid_signature(timestamp or "", body).upper().replace("V0=", "v0=")
    if signature is not None:
        headers["x-slack-signature"] = signature
    return headers


def _post_raw(bot: BotHarness, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """Send header values as raw bytes (httpx would refuse non-ASCII ones)."""
    import http.client

    host, port = bot.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest("POST", "/slack/events")
        for name, value in headers.items():
            connection.putheader(name, value.encode())
        connection.putheader("content-length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("kind", ["command", "block_actions"])
def test_unverified_requests_get_401_and_cause_nothing(
    bot: BotHarness, target: RecordingServer, kind: str
) -> None:
    before_rows = row_counts(bot)
    for case in BAD_HEADERS:
        body = (command_body if kind == "command" else action_body)(target.url(f"/{case}"))
        status, answer = _post_raw(bot, body.encode(), _headers(case, body))
        assert status == 401, (case, answer)
        assert json.loads(answer) == {"error": "invalid request"}, case
    # respond() and the error handler's answer run before the old code answered 200, so
    # anything sent would be recorded by now; the workers are running and would show a job.
    bot.wait_idle()
    assert target.requests == []
    assert bot.slack.calls == []
    assert row_counts(bot) == before_rows


def test_an_empty_body_is_401_even_when_signed(bot: BotHarness, target: RecordingServer) -> None:
    before = row_counts(bot)
    response = bot.post_signed("")
    assert response.status_code == 401
    assert target.requests == []
    assert bot.slack.calls == []
    assert row_counts(bot) == before


def test_the_reported_request_no_longer_reaches_the_response_url(
    bot: BotHarness, target: RecordingServer
) -> None:
    """The issue's reproduction: timestamp 'abc', no signature, a command with help."""
    body = command_body(target.url())
    response = bot.post(
        body,
        {"content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": "abc"},
    )
    assert response.status_code == 401
    assert target.requests == []


def test_a_verified_request_still_reaches_its_listener(
    bot: BotHarness, target: RecordingServer
) -> None:
    """The same command, properly signed, is served: the refusal above is about the signature."""
    response = bot.post_signed(command_body(target.url()))
    assert response.status_code == 200
    assert "asks for an LLM connector" in response.text


def test_the_error_handler_never_responds_to_an_unverified_request(
    bot: BotHarness, target: RecordingServer
) -> None:
    """Behind the front, Bolt's own dispatch of an unverified request that raises inside the
    signature check (a non-numeric timestamp) must not answer through its response_url."""
    from slack_bolt import BoltRequest

    assert bot.runtime is not None
    body = command_body(target.url())
    request = BoltRequest(
        body=body,
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": "abc",
            "x-slack-signature": "v0=" + "0" * 64,
        },
    )
    response = bot.runtime.app.dispatch(request)
    assert response.status == 401
    assert target.requests == []


def test_the_error_handler_still_answers_a_verified_request(bot: BotHarness) -> None:
    """Over HTTP, an unexpected error in a listener is still told to the user privately."""
    assert bot.runtime is not None

    @bot.runtime.app.command("/boom")
    def boom(ack: Any) -> None:
        raise RuntimeError("listener bug")

    body = urlencode(
        {
            "command": "/boom",
            "user_id": REQUESTER,
            "trigger_id": "1.2.3",
            "response_url": bot.slack.response_url(),
        }
    )
    assert bot.post_signed(body).status_code < 500
    (answer,) = bot.slack.wait_for("response_url")
    assert "Something went wrong" in answer.args["text"]


def test_the_error_handler_answers_socket_mode_requests(bot: BotHarness) -> None:
    """Socket Mode requests come over Slack's authenticated socket: they count as verified."""
    from slack_bolt import BoltRequest

    assert bot.runtime is not None

    @bot.runtime.app.command("/boom")
    def boom(ack: Any) -> None:
        raise RuntimeError("listener bug")

    body = {
        "command": "/boom",
        "user_id": REQUESTER,
        "trigger_id": "1.2.3",
        "response_url": bot.slack.response_url(),
    }
    bot.runtime.app.dispatch(BoltRequest(body=body, mode="socket_mode"))
    (answer,) = bot.slack.wait_for("response_url")
    assert "Something went wrong" in answer.args["text"]
