"""Structured logs: one JSON object per line, with known secrets and key shapes masked."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import quote, quote_plus, unquote

MASK = "[redacted]"
# Every logged field (message, exception) is cut to this many characters.
MAX_FIELD_CHARS = 4096
# Redaction looks this far, so that a secret cut by the bound is still masked whole.
_SCAN_CHARS = 2 * MAX_FIELD_CHARS
# A space, raw or URL-encoded; a quote or separator, raw, JSON-escaped or URL-encoded.
_SP = r"(?:[ +]|%20)"
_SEP = r"(?:[\"':= +]|\\\"|%2[02]|%27|%3[AaDd])+"
_VALUE = r"(?:[A-Za-z0-9+/=._-]|%2[BbFf]|%3[Dd]){8,}"
# Shapes of credentials that must never reach a log line, whoever wrote it, raw, URL-encoded
# (a form body) or JSON-escaped (a payload).
SECRET_SHAPES = re.compile(
    r"xox[abprs]-[A-Za-z0-9-]{6,}|xapp-[A-Za-z0-9-]{6,}|sk-[A-Za-z0-9_-]{8,}"
    r"|AKIA[A-Z0-9]{16}"
    rf"|-----BEGIN{_SP}(?:[A-Z]|{_SP})*PRIVATE{_SP}KEY-----[\s\S]*?"
    rf"(?:-----END{_SP}(?:[A-Z]|{_SP})*PRIVATE{_SP}KEY-----|\Z)"
    rf"|(?i:(authorization|api_?key|api-key){_SEP}(ApiKey{_SP}|Bearer{_SP})?){_VALUE}"
    rf"|(?i:(Bearer|ApiKey){_SP}){_VALUE}"
)
# An AWS secret access key: 40 characters of base64's alphabet, mixed case with a digit,
# raw or inside URL-encoded text (where it may be glued to %22 and the like).
_ENCODED_RUN = re.compile(r"(?:[A-Za-z0-9/+]|%[0-9A-Fa-f]{2})+")
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])")


def _is_aws_secret(candidate: str) -> bool:
    return bool(
        re.search(r"[a-z]", candidate)
        and re.search(r"[A-Z]", candidate)
        and re.search(r"[0-9/+]", candidate)
        and not re.fullmatch(r"[0-9a-fA-F]{40}", candidate)  # a SHA-1, not a key
    )


def _mask_aws_secrets(match: re.Match[str]) -> str:
    run = match.group(0)
    if len(run) < 40:
        return run
    for text in (run, unquote(run)) if "%" in run else (run,):
        if any(_is_aws_secret(found.group(0)) for found in _AWS_SECRET.finditer(text)):
            return MASK
    return run


def bound(text: str, limit: int = MAX_FIELD_CHARS, *, dropped: int = 0) -> str:
    """Cut ``text`` to ``limit`` characters, saying how much was left out (with ``dropped``,
    characters already cut before)."""
    if len(text) <= limit and not dropped:
        return text
    left_out = max(0, len(text) - limit) + dropped
    return f"{text[:limit]}… [truncated {left_out} characters]"


def _encodings(secret: str) -> set[str]:
    """The forms a secret takes in a log line: raw, JSON-escaped, URL-encoded, both."""
    escaped = json.dumps(secret)[1:-1]
    return {
        secret,
        escaped,
        quote(secret, safe=""),
        quote_plus(secret),
        quote_plus(escaped),
        quote_plus(json.dumps(escaped)[1:-1]),  # escaped twice: JSON in a JSON string
    }


class RedactingFilter(logging.Filter):
    """Masks the configured secrets and anything shaped like a credential."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        forms = {form for s in secrets if len(s) >= 6 for form in _encodings(s)}
        self._secrets = sorted(forms, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """Mask secrets and credential shapes, and bound the result to MAX_FIELD_CHARS."""
        dropped = max(0, len(text) - _SCAN_CHARS)
        text = text[:_SCAN_CHARS]
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        text = SECRET_SHAPES.sub(MASK, text)
        text = _ENCODED_RUN.sub(_mask_aws_secrets, text)
        return bound(text, dropped=dropped)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a log call whose arguments don't fit its format
            message = f"{record.msg} (unformattable arguments)"
        exception = None
        if record.exc_info:
            exception = logging.Formatter().formatException(record.exc_info)
        elif record.exc_text:
            exception = record.exc_text
        if record.name.startswith("slack_bolt"):
            message, exception = _without_bodies(message, exception)
        record.msg = self.redact(message)
        record.args = None
        record.exc_info = None
        record.exc_text = self.redact(exception) if exception else None
        record.stack_info = None
        return True


# Bolt puts whole request bodies in some of its lines ("Invalid request signature detected
# (signature: …, body: …)", "Unhandled request ({…})", listener middleware responses…). Its
# lines keep their first words only: the part before any detail in brackets or after "body".
_BOLT_DETAIL = re.compile(r"\s*(?:\(|\{|\[|body\b|:\s*\{).*", re.DOTALL)


def _without_bodies(message: str, exception: str | None) -> tuple[str, str | None]:
    first_line = message.split("\n", 1)[0]
    kept = _BOLT_DETAIL.sub("", first_line)[:200]
    if kept != message:
        kept += " (details withheld: they may quote the request)"
    if exception:
        # Bolt's tracebacks are of our listeners; only the exception's type is kept, since
        # its message may quote the payload.
        last = exception.rstrip().rsplit("\n", 1)[-1]
        exception = last.split(":", 1)[0][:200]
    return kept, exception


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "thread": record.threadName,
            "message": bound(record.getMessage()),
        }
        if record.exc_text:
            entry["exception"] = bound(record.exc_text)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO", *, secrets: Iterable[str] = ()) -> RedactingFilter:
    """Send JSON lines to stderr through the redacting filter."""
    redactor = RedactingFilter(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # Bolt logs a failed signature check with the whole body: never let it through. A filter,
    # not a level: Bolt copies its base logger's level onto this one when an App is built.
    verification = logging.getLogger("slack_bolt.RequestVerification")
    if not any(isinstance(f, _DropAll) for f in verification.filters):
        verification.addFilter(_DropAll())
    return redactor


class _DropAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:  # noqa: ARG002 - logging's signature
        return False
