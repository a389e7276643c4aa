"""Descriptions of the form fields a provider asks for, and the checks they share."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit


class FieldKind(StrEnum):
    TEXT = "text"
    MULTILINE = "multiline"
    URL = "url"
    SELECT = "select"
    CHECKBOX = "checkbox"


@dataclass(frozen=True)
class FieldSpec:
    """One input of the request form. ``secret`` values are encrypted and never shown."""

    key: str
    label: str
    hint: str
    kind: FieldKind = FieldKind.TEXT
    required: bool = True
    secret: bool = False
    placeholder: str | None = None
    initial: str | None = None
    max_length: int = 500
    options: tuple[tuple[str, str], ...] = ()


FormValues = dict[str, str]


@dataclass
class Validation:
    """Inline errors by field key, and warnings that travel with the request to its card."""

    errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def error(self, key: str, message: str) -> None:
        self.errors.setdefault(key, message)

    @property
    def ok(self) -> bool:
        return not self.errors


NAME_MAX = 80
JUSTIFICATION_MAX = 1000
SPACE_ID = re.compile(r"^[a-z0-9_-]{1,100}$")
SPACE_ID_RULE = (
    "Kibana space ids use only lowercase letters, digits, - and _ "
    "(e.g. security-team), at most 100 characters."
)
WHITESPACE = re.compile(r"\s")

COMMON_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        key="name",
        label="Connector name",
        hint="How the connector appears in Kibana, e.g. “Security team GPT-4.1”.",
        placeholder="Security team GPT-4.1",
        max_length=NAME_MAX,
    ),
    FieldSpec(
        key="space",
        label="Kibana space",
        hint="The space id (lowercase letters, digits, - and _), e.g. default or security-team.",
        initial="default",
        max_length=100,
    ),
)

JUSTIFICATION_FIELD = FieldSpec(
    key="justification",
    label="Why do you need it?",
    hint="What the connector is for (AI Assistant, Attack Discovery…); approvers read this.",
    kind=FieldKind.MULTILINE,
    max_length=JUSTIFICATION_MAX,
)


# Characters that reorder how text is displayed (Trojan Source): a name or reason could show
# approvers something other than what is stored.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Letters that render as nothing (Hangul fillers, braille blank) besides categories Cf/Z*/C*.
INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def _is_invisible(char: str) -> bool:
    return char in INVISIBLE_LETTERS or unicodedata.category(char)[0] in {"C", "Z", "M"}


def check_text_safety(fields: Iterable[FieldSpec], values: FormValues, result: Validation) -> None:
    """Refuse, under its field, text that can't be stored or shown faithfully: bidi overrides,
    unpaired surrogates and control characters other than tabs and line breaks."""
    for spec in fields:
        value = values.get(spec.key, "")
        if not value:
            continue
        if any(char in BIDI_CONTROLS for char in value):
            result.error(
                spec.key,
                "Remove the bidirectional override characters (U+202A to U+202E, U+2066 to "
                "U+2069): they make text display differently from what it says.",
            )
        elif any(0xD800 <= ord(char) <= 0xDFFF for char in value):
            result.error(spec.key, "The text contains broken characters: type or paste it again.")
        elif any(
            unicodedata.category(char) == "Cc" and char != "\t" and char not in LINE_BREAKS
            for char in value
        ):
            result.error(spec.key, "Remove the control characters (invisible bytes) from it.")


def check_limits(fields: Iterable[FieldSpec], values: FormValues, result: Validation) -> None:
    """Refuse what the form itself would not let through (Slack enforces it in the client, a
    forged submission need not): more than the field's length, a line break in a one-line
    field, or a select value that is not one of its options."""
    for spec in fields:
        value = values.get(spec.key, "")
        if len(value) > spec.max_length:
            result.error(
                spec.key, f"Keep it to {spec.max_length} characters (it has {len(value)})."
            )
        elif spec.kind is not FieldKind.MULTILINE and any(char in LINE_BREAKS for char in value):
            result.error(spec.key, "Keep it on one line: remove the line breaks.")
        elif value and spec.kind is FieldKind.SELECT and value not in dict(spec.options):
            result.error(spec.key, "Choose one of the options.")


REASON_MAX = 1000
REASON_FIELD = FieldSpec(
    key="reason",
    label="Reason",
    hint="The requester sees this in their DM.",
    kind=FieldKind.MULTILINE,
    max_length=REASON_MAX,
)


def reason_problem(reason: str) -> str | None:
    """What is wrong with an approver's reject reason (the requester reads it), or None."""
    result = Validation()
    values = {REASON_FIELD.key: reason}
    check_text_safety((REASON_FIELD,), values, result)
    check_limits((REASON_FIELD,), values, result)
    return result.errors.get(REASON_FIELD.key)


def check_common(values: FormValues, result: Validation) -> None:
    """Check the fields every provider has: name, space and justification."""
    name = values.get("name", "").strip()
    if not name:
        result.error("name", "Give the connector a name.")
    elif any(char in LINE_BREAKS for char in name):
        result.error("name", "Keep the name on one line: remove the line breaks.")
    elif all(_is_invisible(char) for char in name):
        result.error(
            "name",
            "The name has no visible characters (only zero-width, blank or control "
            "characters): type a name people can read.",
        )
    elif any(unicodedata.category(char) == "Cc" for char in name):
        result.error("name", "Remove the control characters (tabs, invisible bytes) from the name.")
    elif len(name) > NAME_MAX:
        result.error("name", f"Keep the name to {NAME_MAX} characters (it has {len(name)}).")
    space = values.get("space", "").strip()
    if not space:
        result.error("space", "Give the Kibana space id (default for the default space).")
    elif not SPACE_ID.match(space):
        result.error("space", SPACE_ID_RULE)
    justification = values.get("justification", "").strip()
    if not justification:
        result.error("justification", "Say why you need this connector: approvers decide on it.")
    elif len(justification) > JUSTIFICATION_MAX:
        result.error("justification", f"Keep it to {JUSTIFICATION_MAX} characters.")


Scheme = Literal["https-only", "http-warn"]


@dataclass(frozen=True)
class ParsedUrl:
    parts: SplitResult
    host: str

    @property
    def is_https(self) -> bool:
        return self.parts.scheme == "https"


def check_url(
    values: FormValues, result: Validation, *, key: str = "api_url", scheme: Scheme = "https-only"
) -> ParsedUrl | None:
    """Check an absolute http(s) URL; returns it parsed, or None after recording an error."""
    raw = values.get(key, "").strip()
    if not raw:
        result.error(key, "Give the API URL.")
        return None
    if WHITESPACE.search(raw):
        result.error(key, "The URL contains spaces or line breaks: paste it again.")
        return None
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").lower()
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        result.error(key, "That is not a valid URL (check the host and port).")
        return None
    if parts.scheme not in {"http", "https"} or not host:
        result.error(key, "Give a full URL starting with https://, e.g. https://host/v1/chat/…")
        return None
    if "@" in parts.netloc:
        result.error(
            key, f"Don't put credentials in the URL (remove the user@ part): {PLAIN_CONFIG}"
        )
        return None
    secret = next((name for name, _ in query_params(parts.query) if is_secret_param(name)), None)
    if secret is not None:
        result.error(
            key,
            f"Don't put credentials in the URL (remove {secret}=…): {PLAIN_CONFIG}",
        )
        return None
    if parts.fragment:
        result.error(key, "Remove the #fragment from the URL.")
        return None
    parsed = ParsedUrl(parts=parts, host=host)
    if not parsed.is_https:
        if scheme == "https-only":
            result.error(key, "Use https:// — this provider is only reachable over TLS.")
            return None
        result.warnings.append(f"The API URL uses plain http ({raw}): the key travels unencrypted.")
    if is_private_host(host):
        result.warnings.append(
            f"The API URL points at a local or private address ({host}): Kibana, not the bot, "
            "must be able to reach it."
        )
    return parsed


PLAIN_CONFIG = (
    "Kibana stores the API URL as plain config, visible to anyone who can read connectors; "
    "put the key in the key field."
)
# Query parameters that carry credentials, compared lowercased without "-", "_" and ".".
SECRET_PARAMS = frozenset(
    {"key", "sig", "code", "pwd", "pass", "auth", "jwt", "sas", "session", "bearer", "apikey"}
)
SECRET_PARAM_ENDINGS = (
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "signature",
    "sig",
    "credential",
    "credentials",
    "auth",
    "authorization",
)
REDACTED = "[redacted]"
USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
PARAMETER = re.compile(r"([?&;#])([^=&#;]*)=([^&#;]*)")
URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s<>\"'`|]+")


def query_params(query: str) -> list[tuple[str, str]]:
    """The name/value pairs of a URL's query, blank values kept."""
    return parse_qsl(query, keep_blank_values=True)


def is_secret_param(name: str) -> bool:
    """True for a query parameter that carries a credential (api_key, token, sig, code…);
    api-version and other plain settings are not."""
    normalised = re.sub(r"[-_.\s]", "", name.lower())
    return normalised in SECRET_PARAMS or normalised.endswith(SECRET_PARAM_ENDINGS)


def redact_url(url: str) -> str:
    """The URL with any user name/password and credential-carrying parameter values redacted.

    Pattern-based rather than parsed, so that a URL too broken to parse is redacted too."""
    url = USERINFO.sub(lambda match: match.group(1) + REDACTED + "@", url)
    return PARAMETER.sub(
        lambda match: (
            f"{match.group(1)}{match.group(2)}={REDACTED}"
            if is_secret_param(unquote(match.group(2)))
            else match.group(0)
        ),
        url,
    )


def redact_urls(text: str) -> str:
    """``text`` with every URL in it passed through :func:`redact_url`."""
    if "://" not in text:
        return text
    return URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)


def is_private_host(host: str) -> bool:
    """True for localhost, loopback, private and link-local addresses and LAN-only names."""
    if host in {"localhost", "host.docker.internal"} or host.endswith(
        (".localhost", ".local", ".lan", ".internal", ".home.arpa")
    ):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return "." not in host
    return address.is_private or address.is_loopback or address.is_link_local


def check_secret(
    values: FormValues, result: Validation, key: str, *, missing: str, required: bool = True
) -> str:
    """Check a pasted single-line secret; returns it stripped ('' when absent)."""
    value = values.get(key, "").strip()
    if not value:
        if required:
            result.error(key, missing)
        return ""
    if WHITESPACE.search(value):
        result.error(key, "The value contains spaces or line breaks: paste it again.")
    return value


def check_required_text(
    values: FormValues, result: Validation, key: str, *, missing: str, max_length: int = 200
) -> str:
    """Check a required single-line value; returns it stripped."""
    value = values.get(key, "").strip()
    if not value:
        result.error(key, missing)
    elif len(value) > max_length:
        result.error(key, f"Keep it to {max_length} characters.")
    elif WHITESPACE.search(value):
        result.error(key, "Remove the spaces: this value is a single token.")
    return value
