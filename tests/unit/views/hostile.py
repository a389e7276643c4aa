"""Hostile text, and a walker that finds where it would ping, phish or leak in Slack output.

Slack parses ``<!…>``, ``<@…>``, ``<#…>`` and ``<http…|label>`` in every mrkdwn string (the
``text`` fallback of a message included, code spans included). Bot-made sequences are allowed:
mentions of the request's own people and ``<!date^…>``. Anything else shaped like one came from
input and was not escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

SECRET_IN_URL = "sk-proj-LEAKEDVALUE0123"
PASSWORD_IN_URL = "hunter2pass"
HOSTILE = (
    "<!channel> urgent <https://evil.example/login|Kibana SSO> <@UEVIL0001> <#CEVIL0001|x> "
    "<!here> <!subteam^S0EVIL> <mailto:x@evil.example|mail> & `<!everyone>` ```<!channel>```"
)
HOSTILE_URL = (
    f"https://admin:{PASSWORD_IN_URL}@evil.example/v1/chat/completions?api_key={SECRET_IN_URL}"
    "&api-version=2024-10-21&<!channel>"
)
# A "<" followed by what Slack would read as a control sequence, a mention or a link.
SEQUENCE = re.compile(r"<(?:!|@|#|[a-zA-Z][a-zA-Z0-9+.-]*:)")
DATE = re.compile(r"<!date\^\d+\^\{date_short_pretty\} at \{time\}\|[0-9: UTC-]+>")


def walk(value: Any, path: str = "$", *, kind: str = "mrkdwn") -> Iterator[tuple[str, str, str]]:
    """Every string in a message or view: (path, kind, text), kind mrkdwn, plain or data.

    A ``text`` object says what it is; the top-level ``text`` of a message is mrkdwn; every
    other string (ids, values, metadata) is data, never rendered."""
    if isinstance(value, str):
        yield path, kind, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, f"{path}[{index}]", kind=kind)
    elif isinstance(value, dict):
        text_kind = {"plain_text": "plain", "mrkdwn": "mrkdwn"}.get(str(value.get("type")))
        for key, item in value.items():
            if key == "text" and text_kind:
                yield from walk(item, f"{path}.text", kind=text_kind)
            elif key == "text" and path == "$" and isinstance(item, str):
                yield f"{path}.text", "mrkdwn", item
            elif key == "initial_value":
                yield from walk(item, f"{path}.{key}", kind="plain")
            else:
                yield from walk(item, f"{path}.{key}", kind="data")


def problems(value: Any, *, people: Iterable[str], groups: Iterable[str] = ()) -> list[str]:
    """What in ``value`` would ping, phish, leak a URL secret or show double escaping
    (mentions of ``people`` and of the user ``groups`` are the bot's own)."""
    allowed_mentions = {f"<@{person}>" for person in people}
    allowed_mentions |= {f"<!subteam^{group}>" for group in groups}
    found: list[str] = []
    for path, kind, text in walk(value):
        for secret in (SECRET_IN_URL, PASSWORD_IN_URL):
            if secret in text:
                found.append(f"{path}: shows a URL credential: {text[:200]!r}")
        if kind == "mrkdwn":
            scrubbed = DATE.sub("", text)
            for mention in allowed_mentions:
                scrubbed = scrubbed.replace(mention, "")
            for match in SEQUENCE.finditer(scrubbed):
                snippet = scrubbed[match.start() : match.start() + 40]
                found.append(f"{path}: unescaped {snippet!r}")
            if "&amp;lt;" in text or "&amp;gt;" in text:
                found.append(f"{path}: escaped twice: {text[:200]!r}")
        elif kind == "plain" and ("&lt;" in text or "&gt;" in text):
            found.append(f"{path}: plain_text escaped (shown as entities): {text[:200]!r}")
    return found
