"""What a connector or endpoint test reports, and the helpers that read providers' answers.

Each connector type's test request and how its answer is read live in
`bot.domain.connector_types`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

GREETING = "Hello world"
REPLY_PREVIEW = 300


class TestReading(BaseModel):
    """What a successful test says: who answered, the start of the reply, token usage."""

    model: str | None = None
    reply: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    first_token_ms: int | None = None  # streamed tests: time to the first token


def preview(text: Any) -> str | None:
    """The reply on one line, cut to REPLY_PREVIEW characters; None when there is none."""
    if not isinstance(text, str) or not text.strip():
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= REPLY_PREVIEW else flat[: REPLY_PREVIEW - 1] + "…"


def as_mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def as_int(value: Any) -> int | None:
    """``value`` if it is an integer (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
