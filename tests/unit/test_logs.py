"""Structured logs: JSON lines on stderr, secrets and credential shapes masked on the way out."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import datetime

import pytest

from bot.logs import MASK, JsonFormatter, RedactingFilter, configure_logging
from tests.unit.domain import samples

CONFIGURED = "my-signing-secret-0123456789"
SHAPES = {
    "bot token": "xoxb-1234567890-0987654321-AbCdEfGhIjKl",
    "user token": "xoxp-1234567890-0987654321-AbCdEfGhIjKl",
    "app token": "xapp-1-A0123456789-1234567890123-abcdef012345",
    "openai key": "sk-proj-AbCdEfGh0123456789_-xyz",
    "aws access key id": "AKIAIOSFODNN7EXAMPLE",
}


def _record(
    msg: object, *args: object, exc_info: logging._SysExcInfoType | None = None
) -> logging.LogRecord:
    return logging.LogRecord(
        "bot.test", logging.WARNING, __file__, 1, msg, args or None, exc_info, func="f"
    )


def _filtered(record: logging.LogRecord, secrets: tuple[str, ...] = (CONFIGURED,)) -> str:
    assert RedactingFilter(secrets).filter(record) is True
    out = record.getMessage()
    if record.exc_text:
        out += "\n" + record.exc_text
    return out


def _exc_info(message: str) -> logging._SysExcInfoType:
    try:
        raise RuntimeError(message)
    except RuntimeError:
        return sys.exc_info()


# --- what is masked ---------------------------------------------------------------------------


def test_configured_secrets_are_masked_in_the_message() -> None:
    out = _filtered(_record(f"signing with {CONFIGURED} now"))
    assert CONFIGURED not in out
    assert out == f"signing with {MASK} now"


def test_configured_secrets_are_masked_in_the_args() -> None:
    out = _filtered(_record("signing with %s and %r", CONFIGURED, {"s": CONFIGURED}))
    assert CONFIGURED not in out
    assert out.count(MASK) == 2


def test_configured_secrets_are_masked_in_exception_text() -> None:
    record = _record("failed", exc_info=_exc_info(f"bad secret {CONFIGURED}"))
    out = _filtered(record)
    assert CONFIGURED not in out
    assert "RuntimeError" in out
    assert "Traceback" in out
    assert record.exc_info is None  # nothing downstream can format the raw exception again


def test_overlapping_configured_secrets_mask_the_longer_one_whole() -> None:
    longer = CONFIGURED + "-and-more"
    out = _filtered(_record(f"a {longer} b"), secrets=(CONFIGURED, longer))
    assert out == f"a {MASK} b"


def test_very_short_configured_values_are_not_masked_everywhere() -> None:
    assert _filtered(_record("abc and abcde"), secrets=("abc", "abcde")) == "abc and abcde"


@pytest.mark.parametrize("kind", list(SHAPES))
def test_credential_shapes_are_masked_wherever_they_are(kind: str) -> None:
    value = SHAPES[kind]
    for record in (
        _record(f"token {value} used"),
        _record("token %s used", value),
        _record("call with %r", {"headers": {"x": value}}),
        _record("failed", exc_info=_exc_info(f"rejected {value}")),
    ):
        out = _filtered(record, secrets=())
        assert value not in out, (kind, out)
        assert MASK in out


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
        'headers={"Authorization": "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWky"}',
        "{'authorization': 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig'}",
        "apiKey=0123456789abcdef0123456789abcdef",
        "api-key: 0123456789abcdef0123456789abcdef",
    ],
)
def test_authorization_headers_and_api_keys_are_masked(text: str) -> None:
    secret = text.split()[-1].strip("\"'}=").split("=")[-1]
    for record in (_record(text), _record("sent %s", text), _record("x", exc_info=_exc_info(text))):
        out = _filtered(record, secrets=())
        assert secret not in out, out
        assert MASK in out


def test_a_pem_private_key_is_masked_raw_and_json_escaped() -> None:
    pem = samples.private_key_pem()
    body_lines = [line for line in pem.splitlines() if not line.startswith("-----")]
    document = samples.service_account_json()
    for record in (
        _record(f"key:\n{pem}\nend"),
        _record("credentials %s", document),
        _record("credentials %s", json.dumps({"credentialsJson": document})),
        _record("body %r", json.loads(document)),
        _record("x", exc_info=_exc_info(f"bad json {document}")),
    ):
        out = _filtered(record, secrets=())
        for line in body_lines:
            assert line not in out
        assert MASK in out


def test_a_truncated_pem_at_the_end_of_a_message_is_masked() -> None:
    pem = samples.private_key_pem()
    truncated = pem[:300]
    out = _filtered(_record("input was %s", truncated), secrets=())
    assert pem.splitlines()[1] not in out


def test_a_truncated_pem_inside_quotes_is_masked() -> None:
    pem = samples.private_key_pem()
    escaped = json.dumps(pem[:300])  # "-----BEGIN PRIVATE KEY-----\nMIIE…"
    out = _filtered(_record("input_value=%s, input_type=str", escaped), secrets=())
    assert pem.splitlines()[1] not in out


def test_ordinary_text_is_left_alone() -> None:
    text = "request REQ-AB12CD approved by <@U012ABCDEF>: kibana POST /api/actions -> 200"
    assert _filtered(_record(text), secrets=()) == text


def test_a_malformed_log_call_does_not_raise_into_the_caller() -> None:
    logger = logging.getLogger("tests.logs.malformed")
    handler = logging.StreamHandler(io.StringIO())
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.propagate = False
    previous_raise = logging.raiseExceptions
    logging.raiseExceptions = False
    try:
        logger.warning("two values %s %s", "only one")
    finally:
        logging.raiseExceptions = previous_raise
        logger.removeHandler(handler)
        logger.propagate = True
        handler.close()


# --- JSON lines -------------------------------------------------------------------------------


def test_json_formatter_writes_one_object_with_the_fields() -> None:
    record = _record("hello %s", "world")
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["message"] == "hello world"
    assert entry["level"] == "warning"
    assert entry["logger"] == "bot.test"
    assert datetime.fromisoformat(entry["time"]).utcoffset() is not None
    assert "\n" not in line


def test_json_formatter_keeps_multi_line_messages_and_exceptions_on_one_line() -> None:
    record = _record("line one\nline two", exc_info=_exc_info("boom"))
    RedactingFilter().filter(record)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "line one\nline two"
    assert "RuntimeError: boom" in entry["exception"]


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Put the root logger back as it was after configure_logging replaced its handlers."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        if handler not in handlers:
            handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def test_configure_logging_writes_redacted_json_lines_to_stderr(
    root_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("DEBUG", secrets=[CONFIGURED])
    log = logging.getLogger("bot.somewhere")
    log.debug("debug %s", "shown")
    log.info("secret %s and %s", CONFIGURED, SHAPES["bot token"])
    try:
        raise ValueError(f"with {SHAPES['openai key']}")
    except ValueError:
        log.exception("it failed")
    logging.getLogger("httpx").info("HTTP Request: hidden at INFO")
    lines = stream.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["message"] for e in entries] == [
        "debug shown",
        f"secret {MASK} and {MASK}",
        "it failed",
    ]
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= set(entry)
        assert entry["logger"] == "bot.somewhere"
    assert [e["level"] for e in entries] == ["debug", "info", "error"]
    assert "ValueError" in entries[2]["exception"]
    text = stream.getvalue()
    assert CONFIGURED not in text
    for value in SHAPES.values():
        assert value not in text


def test_configure_logging_honours_the_level(
    root_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("WARNING")
    logging.getLogger("bot").info("not shown")
    logging.getLogger("bot").warning("shown")
    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == ["shown"]


# --- issue 6 item 3: encoded forms, Bolt's bodies, bounded fields ---------------------------

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _encoded_forms(value: str) -> dict[str, str]:
    from urllib.parse import quote, quote_plus

    escaped = json.dumps(value)[1:-1]
    return {
        "raw": value,
        "json-escaped": escaped,
        "url-encoded": quote(value, safe=""),
        "form-encoded": quote_plus(value),
        "json in a form": quote_plus(json.dumps({"value": value})),
        "json in json in a form": quote_plus(json.dumps({"payload": json.dumps({"v": value})})),
    }


@pytest.mark.parametrize("form", list(_encoded_forms("x")))
def test_configured_secrets_are_masked_url_encoded_and_json_escaped(form: str) -> None:
    secret = 'sign/ing+secret "quoted" é 0123456789'
    encoded = _encoded_forms(secret)[form]
    out = _filtered(_record("body was payload=%s&x=1", encoded), secrets=(secret,))
    assert encoded not in out, out
    assert MASK in out


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        *SHAPES.items(),
        ("aws secret access key", AWS_SECRET),
        ("pem", samples.private_key_pem()),
        ("bearer", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"),
    ],
)
@pytest.mark.parametrize("form", list(_encoded_forms("x")))
def test_credential_shapes_are_masked_in_every_encoding(kind: str, value: str, form: str) -> None:
    encoded = _encoded_forms(value)[form]
    out = _filtered(_record("body=%s", encoded), secrets=())
    # The secret part (the value after "Bearer", a PEM's base64 lines) must be gone.
    secret = value.split()[-1] if kind == "bearer" else value
    parts = [line for line in secret.splitlines() if line and not line.startswith("-----")]
    for part in parts or [secret]:
        for shown in _encoded_forms(part).values():
            assert shown not in out, (kind, form, out[:300])
    assert MASK in out


def test_forty_character_hex_and_ordinary_words_are_not_taken_for_aws_secrets() -> None:
    text = "commit 0123456789abcdef0123456789abcdef01234567 in connector_request_service_name_x"
    assert _filtered(_record(text), secrets=()) == text


def test_every_field_is_bounded() -> None:
    huge = "payload=" + "A" * 5_000_000
    record = _record("unsigned body %s", huge, exc_info=_exc_info("x" * 1_000_000))
    out_message = _filtered(record, secrets=())
    assert len(record.getMessage()) < 4200
    assert "[truncated" in record.getMessage()
    assert record.exc_text is not None
    assert len(record.exc_text) < 4200
    assert "[truncated" in record.exc_text
    line = JsonFormatter().format(record)
    assert len(line) < 10_000
    assert out_message.startswith("unsigned body payload=AAAA")


def test_the_json_formatter_bounds_fields_even_without_the_filter() -> None:
    line = JsonFormatter().format(_record("x" * 100_000))
    assert len(json.loads(line)["message"]) < 4200


def test_a_secret_cut_by_the_bound_is_still_masked() -> None:
    from bot.logs import MAX_FIELD_CHARS

    for offset in range(-45, 5, 7):
        text = "x" * (MAX_FIELD_CHARS + offset) + f" {AWS_SECRET} " + "y" * 100
        out = _filtered(_record(text), secrets=())
        assert AWS_SECRET[:20] not in out, offset


@pytest.mark.parametrize(
    "message",
    [
        "Invalid request signature detected (signature: v0=abc, timestamp: 1, body: "
        "payload=%7B%22secret%22%3A+%22{secret}%22%7D)",
        "Unhandled request ({{'type': 'view_submission', 'secret': '{secret}'}})",
        "Responding with listener middleware's response - listener: f, status: 200, "
        "body: {secret} (3 millis)",
        "Failed to run a middleware (error: {secret})",
    ],
)
def test_bolt_lines_never_carry_what_follows_their_first_words(message: str) -> None:
    secret = "plain-looking-value-typed-in-a-form-42"
    record = _record(message.format(secret=secret))
    record.name = "slack_bolt"
    out = _filtered(record, secrets=())
    assert secret not in out
    assert "withheld" in out


def test_bolt_exceptions_keep_only_their_type() -> None:
    secret = "plain-looking-value-typed-in-a-form-42"
    record = _record("listener failed", exc_info=_exc_info(f"bad input {secret}"))
    record.name = "slack_bolt.App"
    out = _filtered(record, secrets=())
    assert secret not in out
    assert record.exc_text == "RuntimeError"


def test_configure_logging_drops_bolts_signature_failure_line(
    root_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("DEBUG")
    verification = logging.getLogger("slack_bolt.RequestVerification")
    verification.setLevel(logging.NOTSET)  # what Bolt does when an App is built
    verification.info("Invalid request signature detected (body: %s)", AWS_SECRET)
    logging.getLogger("bot").info("still shown")
    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == [
        "still shown"
    ]
