"""Issue 6 item 3: nothing from a request body reaches the logs, whatever the request."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus, urlencode

import pytest
from slack_bolt import BoltRequest

from bot.logs import configure_logging
from tests.harness import REQUESTER, SIGNING_SECRET, BotHarness

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
# Not shaped like any credential: only keeping bodies out of the logs can hide it.
PLAIN_SECRET = "correct-horse-battery-staple-typed-in-the-form"


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The bot's own JSON log lines, as `python -m bot` writes them to stderr."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("DEBUG", secrets=[SIGNING_SECRET])
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _submission(callback_id: str = "connector_request.submit") -> str:
    state = {
        "field.secret_key": {
            "connector_request.value": {"type": "plain_text_input", "value": AWS_SECRET}
        },
        "field.justification": {
            "connector_request.value": {"type": "plain_text_input", "value": PLAIN_SECRET}
        },
    }
    payload = {
        "type": "view_submission",
        "team": {"id": "T0001"},
        "user": {"id": REQUESTER},
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": json.dumps({"provider": "bedrock"}),
            "state": {"values": state},
            "blocks": [],
        },
    }
    return urlencode({"payload": json.dumps(payload)})


def _signed_with(secret: str, body: str, timestamp: int | None = None) -> dict[str, Any]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": f"v0={digest}",
    }


def _assert_clean(stream: io.StringIO) -> list[dict[str, str]]:
    text = stream.getvalue()
    for secret in (AWS_SECRET, PLAIN_SECRET):
        for form in (secret, quote_plus(secret), quote_plus(json.dumps(secret)), secret[:20]):
            assert form not in text, form
    entries = [json.loads(line) for line in text.splitlines()]
    for entry in entries:
        assert len(entry["message"]) <= 4200
        assert len(entry.get("exception", "")) <= 4200
    return entries


def test_a_wrongly_signed_form_submission_logs_nothing_of_its_body(
    bot: BotHarness, captured: io.StringIO
) -> None:
    body = _submission()
    # A rotated signing secret, clock skew, a forged signature, none at all.
    for headers in (
        _signed_with("the-old-signing-secret-0123456789", body),
        _signed_with(SIGNING_SECRET, body, timestamp=int(time.time()) - 3600),
        {**_signed_with(SIGNING_SECRET, body), "x-slack-signature": "v0=" + "0" * 64},
        {"content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": "x"},
    ):
        assert bot.post(body, headers).status_code == 401
    entries = _assert_clean(captured)
    refusals = [e for e in entries if "refused an unverified Slack request" in e["message"]]
    assert len(refusals) == 4
    assert all(len(e["message"]) < 120 for e in refusals)


def test_bolts_own_signature_failure_line_is_never_written(
    bot: BotHarness, captured: io.StringIO
) -> None:
    """Behind the front, Bolt would log 'Invalid request signature detected' with the body."""
    assert bot.runtime is not None
    body = _submission()
    request = BoltRequest(body=body, headers=_signed_with("rotated-secret-0123456789", body))
    assert bot.runtime.app.dispatch(request).status == 401
    entries = _assert_clean(captured)
    assert not [e for e in entries if "signature" in e["message"].lower()]


def test_an_unhandled_signed_request_does_not_log_its_body(
    bot: BotHarness, captured: io.StringIO
) -> None:
    """Bolt's 'Unhandled request (…)' warning quotes the body: it keeps its first words only."""
    response = bot.post_signed(_submission(callback_id="someone.elses.form"))
    assert response.status_code == 404
    entries = _assert_clean(captured)
    assert any("Unhandled request" in e["message"] for e in entries)


def test_a_five_megabyte_body_is_refused_unread_and_not_logged(
    bot: BotHarness, captured: io.StringIO
) -> None:
    body = "payload=" + quote_plus(PLAIN_SECRET) + "A" * (5 * 1024 * 1024)
    response = bot.post(body, {"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    entries = _assert_clean(captured)
    assert all(len(json.dumps(e)) < 1000 for e in entries)
