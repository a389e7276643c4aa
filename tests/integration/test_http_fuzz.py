"""Issue 6 item 13 (HTTP half): property tests against the running bot's HTTP endpoint.

* Random bodies, headers, content types and signatures, never correctly signed: never a 5xx,
  always 401 or 413 (or 400 for a body the server cannot frame), and never an outbound call:
  the fake Slack and a response_url server record nothing, and the database gets no row.
* Correctly signed but random, malformed Slack payloads: never a 5xx.

Examples are few and derandomized, so this runs in seconds and the same way in CI.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.recorder import RecordingServer
from tests.harness import SIGNING_SECRET, BotHarness
from tests.integration.test_request_verification import row_counts

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def target() -> Iterator[RecordingServer]:
    server = RecordingServer().start()
    yield server
    server.stop()


def send(bot: BotHarness, body: bytes, headers: dict[str, str]) -> int:
    """POST raw bytes with raw header values, as a hostile client could."""
    host, port = bot.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest("POST", "/slack/events", skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value.encode("latin-1"))
        connection.putheader("content-length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def sign(body: bytes, timestamp: str) -> str:
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    return "v0=" + digest.hexdigest()


# --- strategies ------------------------------------------------------------------------------

header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=80,
)
content_types = st.one_of(
    st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "application/json",
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded; charset=latin-1",
        ]
    ),
    header_text,
)
timestamps = st.one_of(
    st.none(),
    header_text,
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True).map(str),
    st.integers(min_value=-400, max_value=400).map(lambda d: str(int(time.time()) + d)),
    st.just("{now}"),
)
signatures = st.one_of(
    st.none(),
    header_text,
    st.text("0123456789abcdef", min_size=60, max_size=70).map(lambda h: "v0=" + h),
    st.binary(min_size=32, max_size=32).map(lambda b: "v0=" + b.hex()),
    st.binary(min_size=32, max_size=32).map(lambda b: "v0=" + b.hex().upper()),
)
ACTION_IDS = [
    "connector_request.provider",
    "approval.approve",
    "approval.reject",
    "approval.deliver_yaml",
    "unknown.action",
]
CALLBACK_IDS = ["connector_request.submit", "approval.reject_reason", "connector_request.done"]
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The field's plausible value, a random JSON value in its place, or the field left out."""
    return st.one_of(strategy, json_value, st.just(...))


def _drop_missing(value: Any) -> Any:
    """Leave out the fields drawn as missing, at every depth."""
    if isinstance(value, dict):
        return {k: _drop_missing(v) for k, v in value.items() if v is not ...}
    if isinstance(value, list):
        return [_drop_missing(v) for v in value]
    return value


request_ids = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80), st.sampled_from([1, 2**31, 2**63])
)
button_values = st.one_of(
    request_ids.map(lambda n: json.dumps({"request_id": n})), st.text(max_size=40)
)
actions = st.fixed_dictionaries(
    {
        "action_id": maybe(st.sampled_from(ACTION_IDS)),
        "block_id": maybe(st.text(max_size=20)),
        "value": maybe(button_values),
        "selected_option": maybe(
            st.fixed_dictionaries({"value": maybe(st.sampled_from(["openai", "bedrock", "x"]))})
        ),
        "type": maybe(st.sampled_from(["button", "static_select"])),
    }
).map(_drop_missing)
state_element = st.fixed_dictionaries(
    {
        "type": maybe(st.sampled_from(["plain_text_input", "static_select", "checkboxes"])),
        "value": maybe(st.text(max_size=40)),
        "selected_option": maybe(st.fixed_dictionaries({"value": maybe(st.text(max_size=10))})),
        "selected_options": maybe(st.lists(json_value, max_size=2)),
    }
).map(_drop_missing)
block_ids = st.sampled_from(
    ["field.name", "field.space", "field.api_key", "field.url", "approval.reject_reason", "b"]
)
views = st.fixed_dictionaries(
    {
        "id": maybe(st.text(min_size=1, max_size=10)),
        "type": maybe(st.just("modal")),
        "callback_id": maybe(st.sampled_from(CALLBACK_IDS)),
        "hash": maybe(st.text(max_size=10)),
        "private_metadata": maybe(
            st.one_of(
                st.text(max_size=40),
                request_ids.map(lambda n: json.dumps({"request_id": n})),
                st.sampled_from(['{"provider": "openai"}', '{"provider": "nope"}']),
            )
        ),
        "state": maybe(
            st.fixed_dictionaries(
                {
                    "values": maybe(
                        st.dictionaries(
                            block_ids,
                            st.dictionaries(st.text(max_size=8), state_element, max_size=2),
                            max_size=4,
                        )
                    )
                }
            ).map(_drop_missing)
        ),
        "blocks": maybe(
            st.lists(
                st.fixed_dictionaries(
                    {"type": st.sampled_from(["input", "section"]), "block_id": block_ids}
                ),
                max_size=3,
            )
        ),
    }
).map(_drop_missing)
users = st.fixed_dictionaries({"id": maybe(st.text(min_size=1, max_size=12))}).map(_drop_missing)
payloads = st.fixed_dictionaries(
    {
        "type": maybe(
            st.sampled_from(
                ["block_actions", "view_submission", "view_closed", "shortcut", "event_callback"]
            )
        ),
        "user": maybe(users),
        "team": maybe(st.fixed_dictionaries({"id": st.text(max_size=8)})),
        "trigger_id": maybe(st.text(max_size=12)),
        "actions": maybe(st.lists(actions, max_size=2)),
        "view": maybe(views),
        "container": maybe(st.fixed_dictionaries({"type": st.sampled_from(["message", "view"])})),
        "event": maybe(json_value),
    }
).map(_drop_missing)
commands = st.fixed_dictionaries(
    {
        "command": maybe(st.sampled_from(["/llm-connector", "/other"])),
        "text": maybe(
            st.one_of(
                st.text(max_size=40),
                st.sampled_from(["help", "list", "list ../../x", "status REQ-", "cancel REQ-1"]),
            )
        ),
        "user_id": maybe(st.text(max_size=12)),
        "trigger_id": maybe(st.text(max_size=12)),
    }
).map(lambda fields: {k: str(v) for k, v in _drop_missing(fields).items()})


def form_of(payload: Any, *, truncate: int) -> bytes:
    text = json.dumps(_drop_missing(payload))
    if truncate:
        text = text[:-truncate]
    return urlencode({"payload": text}).encode()


signed_bodies = st.one_of(
    st.builds(form_of, payloads, truncate=st.sampled_from([0, 0, 0, 1, 5])),
    commands.map(lambda fields: urlencode(fields).encode()),
    json_value.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
)
unsigned_bodies = st.one_of(
    signed_bodies,
    st.builds(
        lambda url, text: urlencode(
            {"command": "/llm-connector", "text": text, "user_id": "U1", "response_url": url}
        ).encode(),
        st.just("{target}"),
        st.sampled_from(["", "help", "list"]),
    ),
)


# --- the properties --------------------------------------------------------------------------


def test_unsigned_requests_never_get_a_5xx_nor_make_the_bot_call_out(
    bot: BotHarness, target: RecordingServer
) -> None:
    before = row_counts(bot)
    statuses: set[int] = set()

    @FUZZ
    @given(
        body=unsigned_bodies,
        content_type=st.one_of(st.none(), content_types),
        timestamp=timestamps,
        signature=signatures,
        extra=st.dictionaries(
            st.sampled_from(["x-forwarded-for", "x-slack-retry-num", "accept", "x-other"]),
            header_text,
            max_size=2,
        ),
    )
    def check(
        body: bytes,
        content_type: str | None,
        timestamp: str | None,
        signature: str | None,
        extra: dict[str, str],
    ) -> None:
        body = body.replace(b"%7Btarget%7D", target.url().encode())
        headers = dict(extra)
        if content_type is not None:
            headers["content-type"] = content_type
        if timestamp is not None:
            headers["x-slack-request-timestamp"] = timestamp.replace("{now}", str(int(time.time())))
        if signature is not None:
            headers["x-slack-signature"] = signature
        status = send(bot, body, headers)
        statuses.add(status)
        sent.append(status)
        assert status in {400, 401, 413}, (status, body[:200], headers)

    sent: list[int] = []
    check()
    assert len(sent) >= 100
    bot.wait_idle()
    assert target.requests == []
    assert bot.slack.calls == []
    assert bot.kibana.requests == []
    assert row_counts(bot) == before
    assert 401 in statuses


def test_signed_malformed_payloads_never_get_a_5xx(bot: BotHarness) -> None:
    statuses: set[int] = set()

    @FUZZ
    @given(body=signed_bodies, content_type=content_types)
    def check(body: bytes, content_type: str) -> None:
        timestamp = str(int(time.time()))
        headers = {
            "content-type": content_type,
            "x-slack-request-timestamp": timestamp,
            "x-slack-signature": sign(body, timestamp),
        }
        status = send(bot, body, headers)
        statuses.add(status)
        sent.append(status)
        assert status < 500, (status, body[:300], content_type)

    sent: list[int] = []
    check()
    assert len(sent) >= 100
    assert statuses & {400, 404}, statuses  # the random shapes were refused, not served
