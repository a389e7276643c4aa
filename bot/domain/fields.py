"""Descriptions of the form fields a provider asks for, and the checks they share."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal
from urllib.parse import SplitResult, urlsplit


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


def check_common(values: FormValues, result: Validation) -> None:
    """Check the fields every provider has: name, space and justification."""
    name = values.get("name", "").strip()
    if not name:
        result.error("name", "Give the connector a name.")
    elif len(name) > NAME_MAX:
        result.error("name", f"Keep the name to {NAME_MAX} characters (it has {len(name)}).")
    space = values.get("space", "").strip()
    if not space:
        result.error("space", "Give the Kibana space id (default for the default space).")
    elif not SPACE_ID.match(space):
        result.error(
            "space",
            "Kibana space ids use only lowercase letters, digits, - and _ "
            "(e.g. security-team), at most 100 characters.",
        )
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
    if parts.username or parts.password:
        result.error(key, "Don't put credentials in the URL; use the key field.")
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
