"""Socket Mode: the real bot process, connected over a WebSocket, driven as Slack drives it.

The bot runs as ``python -m bot`` with SLACK_APP_TOKEN set and no signing secret. Its
SocketModeHandler asks FakeSlack for a URL (``apps.connections.open``, with the app token) and
connects to FakeSocketMode, which pushes slash command and interaction envelopes and records the
acks. Everything the bot does in Slack and Kibana is then observed in the fakes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.fakes.socket_mode import FakeSocketMode
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    REQUESTER,
    TEAM,
    bot_environment,
    bot_process,
    fill_state,
    find_button,
    free_port,
    make_settings,
    wait_until,
)
from tests.integration.test_happy_path import OPENAI_KEY, VALUES

APP_ID = "A0001"


@pytest.fixture
def socket() -> Iterator[FakeSocketMode]:
    with FakeSocketMode(app_id=APP_ID) as fake:
        yield fake


@pytest.fixture
def app_slack(slack: FakeSlack, socket: FakeSocketMode) -> FakeSlack:
    """FakeSlack with Socket Mode turned on: apps.connections.open hands out the socket's URL."""
    slack.socket_url = socket.url
    return slack


def socket_environment(
    database_url: str, slack: FakeSlack, kibana: FakeKibana, *, app_token: str | None = None
) -> dict[str, str]:
    """The runtime contract for Socket Mode: an app token and no signing secret."""
    settings = make_settings(database_url, slack, kibana)
    env = bot_environment(settings, [Fernet.generate_key()], port=free_port())
    env.pop("SLACK_SIGNING_SECRET")
    env["SLACK_APP_TOKEN"] = app_token or slack.app_token
    return env


@contextmanager
def socket_bot(env: dict[str, str], socket: FakeSocketMode, log: Path) -> Iterator[Any]:
    """Run `python -m bot` in Socket Mode; yields the Popen once it is connected and ready.

    In Socket Mode /healthz answers 200 only while the WebSocket is connected, so bot_process
    waiting for /healthz also waits for the connection.
    """
    with bot_process(env, log_path=str(log)) as process:
        socket.wait_connected(timeout=10)
        yield process


def healthz(env: dict[str, str]) -> int:
    return httpx.get(f"http://{env['HOST']}:{env['PORT']}/healthz", timeout=5).status_code


def log_lines(log: Path) -> list[dict[str, Any]]:
    lines = []
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            entry = {"message": line}
        lines.append(entry if isinstance(entry, dict) else {"message": line})
    return lines


# --- payloads, as Slack puts them in envelopes -------------------------------------------------
def slash_command(slack: FakeSlack, text: str = "", *, user: str = REQUESTER) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "team_domain": "fake",
        "channel_id": "CREQUESTS1",
        "channel_name": "requests",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/llm-connector",
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": slack.response_url(),
        "trigger_id": slack.issue_trigger_id(),
    }


def interaction(payload: dict[str, Any]) -> dict[str, Any]:
    return {"team": {"id": TEAM, "domain": "fake"}, "api_app_id": APP_ID, "token": "x", **payload}


def view_submission(
    slack: FakeSlack, view: dict[str, Any], values: dict[str, str]
) -> dict[str, Any]:
    submitted = {**view, "state": {"values": fill_state(view, values)}}
    return interaction(
        {
            "type": "view_submission",
            "user": {"id": REQUESTER, "team_id": TEAM},
            "trigger_id": slack.issue_trigger_id(),
            "view": submitted,
        }
    )


def card_of(slack: FakeSlack, reference: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        for message in slack.messages_in(APPROVAL_CHANNEL):
            top_level = message.get("thread_ts", message["ts"]) == message["ts"]
            if top_level and reference in json.dumps(message):
                return message
        return None

    return dict(wait_until(find, what=f"the approval card of {reference}"))


def click(slack: FakeSlack, card: dict[str, Any], action_id: str, *, user: str) -> dict[str, Any]:
    button = find_button(card, action_id)
    return interaction(
        {
            "type": "block_actions",
            "user": {"id": user, "team_id": TEAM},
            "trigger_id": slack.issue_trigger_id(),
            "response_url": slack.response_url(),
            "container": {
                "type": "message",
                "channel_id": APPROVAL_CHANNEL,
                "message_ts": card["ts"],
            },
            "channel": {"id": APPROVAL_CHANNEL},
            "message": card,
            "actions": [{**button, "block_id": "approval.actions", "action_ts": str(time.time())}],
        }
    )


# --- tests -------------------------------------------------------------------------------------
def test_a_request_is_made_approved_provisioned_and_tested_over_socket_mode(
    database_url: str,
    app_slack: FakeSlack,
    kibana: FakeKibana,
    socket: FakeSocketMode,
    tmp_path: Path,
) -> None:
    slack = app_slack
    env = socket_environment(database_url, slack, kibana)
    assert "SLACK_SIGNING_SECRET" not in env
    log = tmp_path / "bot.log"
    with socket_bot(env, socket, log) as process:
        # The URL came from apps.connections.open, asked with the app token (not the bot token).
        opened = slack.calls_for("apps.connections.open")
        assert [call.response for call in opened] == [{"ok": True, "url": socket.url}]
        assert socket.paths[0].startswith("/link")
        assert healthz(env) == 200

        # /llm-connector with no text: acked at once, then the form opens.
        envelope = socket.send_envelope("slash_commands", slash_command(slack))
        assert socket.wait_ack(envelope)["envelope_id"] == envelope
        form = slack.wait_for("views.open")[-1].response["view"]
        assert form["type"] == "modal"

        # The form is submitted: the ack carries Bolt's answer, the "submitted" view.
        envelope = socket.send_envelope("interactive", view_submission(slack, form, VALUES))
        ack = socket.wait_ack(envelope)
        payload = ack.get("payload")
        assert isinstance(payload, dict), ack
        assert payload.get("response_action") == "update", ack
        text = json.dumps(payload["view"])
        assert "REQ-" in text
        reference = text[text.index("REQ-") : text.index("REQ-") + 10]

        # The approval card reaches the approvers; an approver clicks Approve.
        card = card_of(slack, reference)
        assert "Security GPT" in json.dumps(card)
        assert OPENAI_KEY not in json.dumps(card)
        envelope = socket.send_envelope(
            "interactive", click(slack, card, "approval.approve", user=APPROVER)
        )
        assert socket.wait_ack(envelope).get("payload") in (None, {})

        # The connector is created in Kibana and tested; the results are reported.
        created = wait_until(
            lambda: kibana.connectors("default"), timeout=30, what="the connector in Kibana"
        )
        [connector] = created.values()
        assert connector["connector_type_id"] == ".gen-ai"
        assert connector["secrets"] == {"apiKey": OPENAI_KEY}
        wait_until(
            lambda: any(
                "tested" in json.dumps(reply)
                for reply in slack.thread_replies(APPROVAL_CHANNEL, card["ts"])
            ),
            timeout=30,
            what="the test result in the card's thread",
        )
        wait_until(
            lambda: "Hello" in json.dumps(slack.messages_in(slack.dm_channel_for(REQUESTER))),
            timeout=30,
            what="the requester's DM with the test reply",
        )
        assert socket.connected == 1
        assert socket.connections_made == 1

        # SIGTERM stops the bot cleanly.
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0, log.read_text()[-4000:]

    assert OPENAI_KEY not in slack.all_text()
    output = log.read_text()
    assert OPENAI_KEY not in output
    assert slack.app_token not in output


def test_no_signing_secret_is_needed_and_slack_is_not_served_over_http(
    database_url: str,
    app_slack: FakeSlack,
    kibana: FakeKibana,
    socket: FakeSocketMode,
    tmp_path: Path,
) -> None:
    """Socket Mode trusts the authenticated socket: no signatures, and no HTTP door for Slack."""
    slack = app_slack
    env = socket_environment(database_url, slack, kibana)
    with socket_bot(env, socket, tmp_path / "bot.log"):
        opens = [
            socket.send_envelope("slash_commands", slash_command(slack, user=user))
            for user in (REQUESTER, APPROVER)
        ]
        for envelope in opens:
            assert socket.wait_ack(envelope) == {"envelope_id": envelope}
        slack.wait_for("views.open", count=2)
        assert [call.response["ok"] for call in slack.calls_for("views.open")] == [True, True]

        # An unsigned (or forged) HTTP request to the Slack path reaches nothing.
        body = "command=%2Fllm-connector&text=&user_id=" + REQUESTER
        answer = httpx.post(
            f"http://{env['HOST']}:{env['PORT']}/slack/events",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
            timeout=5,
        )
        assert answer.status_code == 404
        assert len(slack.calls_for("views.open")) == 2


def test_the_bot_follows_slacks_disconnect_to_a_new_connection(
    database_url: str,
    app_slack: FakeSlack,
    kibana: FakeKibana,
    socket: FakeSocketMode,
    tmp_path: Path,
) -> None:
    """Slack recycles Socket Mode connections with a "disconnect" message every few hours."""
    slack = app_slack
    env = socket_environment(database_url, slack, kibana)
    with socket_bot(env, socket, tmp_path / "bot.log"):
        socket.send_disconnect("refresh_requested")
        socket.wait_connected(count=2, timeout=15)
        assert len(slack.calls_for("apps.connections.open")) == 2
        wait_until(lambda: socket.connected == 1, what="the old connection to be closed")
        envelope = socket.send_envelope("slash_commands", slash_command(slack))
        assert socket.wait_ack(envelope) == {"envelope_id": envelope}
        slack.wait_for("views.open")
        assert healthz(env) == 200


def test_readiness_follows_the_connection_and_the_bot_reconnects(
    database_url: str,
    app_slack: FakeSlack,
    kibana: FakeKibana,
    socket: FakeSocketMode,
    tmp_path: Path,
) -> None:
    slack = app_slack
    env = socket_environment(database_url, slack, kibana)
    with socket_bot(env, socket, tmp_path / "bot.log") as process:
        socket.stop()  # Slack's end goes away
        wait_until(lambda: healthz(env) == 503, what="/healthz to report the lost connection")
        with FakeSocketMode(app_id=APP_ID) as replacement:
            slack.socket_url = replacement.url
            # slack_sdk's monitor reconnects every ping_interval (10 s in SocketModeHandler).
            replacement.wait_connected(timeout=30)
            wait_until(lambda: healthz(env) == 200, what="/healthz to recover")
            envelope = replacement.send_envelope("slash_commands", slash_command(slack))
            assert replacement.wait_ack(envelope) == {"envelope_id": envelope}
            slack.wait_for("views.open")
            assert process.poll() is None


def test_a_wrong_app_token_stops_the_bot_with_a_clear_error(
    database_url: str,
    app_slack: FakeSlack,
    kibana: FakeKibana,
    socket: FakeSocketMode,
    tmp_path: Path,
) -> None:
    """A token Slack refuses is a configuration error: exit 2, the variable named."""
    slack = app_slack
    wrong = "xapp-1-A0001-revoked-token"
    env = socket_environment(database_url, slack, kibana, app_token=wrong)
    log = tmp_path / "bot.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "bot"], env=env, stdout=out, stderr=out)
        try:
            returncode = process.wait(30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
    output = log.read_text()
    assert returncode == 2, output
    assert "configuration error: SLACK_APP_TOKEN: Slack rejected it (invalid_auth)" in output
    assert "Traceback" not in output
    assert wrong not in output
    assert [call.response["error"] for call in slack.calls_for("apps.connections.open")] == [
        "invalid_auth"
    ]
    assert socket.connections_made == 0


def test_fake_slack_hands_out_the_socket_url_only_for_the_app_token(
    app_slack: FakeSlack, socket: FakeSocketMode
) -> None:
    client = WebClient(token="xoxb-test-token", base_url=app_slack.base_url)
    assert client.apps_connections_open(app_token=app_slack.app_token)["url"] == socket.url
    for token, error in (
        ("xoxb-test-token", "not_allowed_token_type"),
        ("xapp-1-A0001-other", "invalid_auth"),
    ):
        with pytest.raises(SlackApiError) as raised:
            client.apps_connections_open(app_token=token)
        assert raised.value.response["error"] == error
    with pytest.raises(SlackApiError) as raised:
        WebClient(token=app_slack.app_token, base_url=app_slack.base_url).auth_test()
    assert raised.value.response["error"] == "not_allowed_token_type"
    assert client.auth_test()["ok"] is True
    app_slack.socket_url = None
    with pytest.raises(SlackApiError) as raised:
        client.apps_connections_open(app_token=app_slack.app_token)
    assert raised.value.response["error"] == "not_allowed_token_type"


def test_fake_socket_mode_says_hello_and_records_acks(socket: FakeSocketMode) -> None:
    """The fake's own contract, checked with a plain websockets client."""
    from websockets.sync.client import connect

    with pytest.raises(AssertionError, match="no app is connected"):
        socket.send_envelope("events_api", {"type": "event_callback"})
    with connect(socket.url) as client:
        hello = json.loads(client.recv(timeout=5))
        assert hello["type"] == "hello"
        assert hello["connection_info"] == {"app_id": APP_ID}
        socket.wait_connected(timeout=5)
        envelope = socket.send_envelope("events_api", {"type": "event_callback"}, retry_attempt=1)
        received = json.loads(client.recv(timeout=5))
        assert received == {
            "envelope_id": envelope,
            "type": "events_api",
            "payload": {"type": "event_callback"},
            "accepts_response_payload": False,
            "retry_attempt": 1,
            "retry_reason": "",
        }
        with pytest.raises(AssertionError, match="timed out"):
            socket.wait_ack(envelope, timeout=0.05)
        client.send(json.dumps({"envelope_id": envelope, "payload": {"ok": 1}}))
        assert socket.wait_ack(envelope) == {"envelope_id": envelope, "payload": {"ok": 1}}
    wait_until(lambda: socket.connected == 0, what="the fake to see the client leave")
    with pytest.raises(ValueError, match="unknown envelope type"):
        socket.send_envelope("block_actions", {})  # type: ignore[arg-type]
