"""The connector test: the `_execute` body each type needs, and how to read its answer."""

from __future__ import annotations

import json
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


def test_params(connector_type_id: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Return the `_execute` params of the default test for the connector type."""
    if connector_type_id == ".gen-ai":
        body: dict[str, Any] = {"messages": [{"role": "user", "content": GREETING}]}
        if config.get("apiProvider") == "Other" and config.get("defaultModel"):
            body["model"] = config["defaultModel"]
        return {"subAction": "test", "subActionParams": {"body": json.dumps(body)}}
    if connector_type_id == ".bedrock":
        body = {
            "anthropic_version": "bedrock-2023-05-31",
            "messages": [{"content": GREETING, "role": "user"}],
            "max_tokens": 8191,
            "stop_sequences": ["\n\nHuman:"],
        }
        return {"subAction": "test", "subActionParams": {"body": json.dumps(body)}}
    if connector_type_id == ".gemini":
        body = {
            "contents": [{"role": "user", "parts": [{"text": GREETING + "!"}]}],
            "generation_config": {"temperature": 0, "maxOutputTokens": 8192},
        }
        return {"subAction": "test", "subActionParams": {"body": json.dumps(body)}}
    if connector_type_id == ".inference":
        return {
            "subAction": "unified_completion",
            "subActionParams": {"body": {"messages": [{"role": "user", "content": GREETING}]}},
        }
    raise ValueError(f"no test for connector type {connector_type_id}")


def _preview(text: Any) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= REPLY_PREVIEW else flat[: REPLY_PREVIEW - 1] + "…"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_test_data(connector_type_id: str, data: Any, *, default_model: str | None) -> TestReading:
    """Read the model, reply and token usage out of a successful test's ``data``."""
    if not isinstance(data, Mapping):
        return TestReading(model=default_model)
    if connector_type_id in {".gen-ai", ".inference"}:
        choices = data.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else {}
        message = _mapping(_mapping(first).get("message"))
        usage = _mapping(data.get("usage"))
        return TestReading(
            model=str(data.get("model") or default_model or "") or None,
            reply=_preview(message.get("content")),
            prompt_tokens=_int(usage.get("prompt_tokens")),
            completion_tokens=_int(usage.get("completion_tokens")),
            total_tokens=_int(usage.get("total_tokens")),
        )
    if connector_type_id == ".bedrock":
        usage = _mapping(data.get("usage"))
        prompt, completion = _int(usage.get("input_tokens")), _int(usage.get("output_tokens"))
        total = prompt + completion if prompt is not None and completion is not None else None
        return TestReading(
            model=default_model,
            reply=_preview(data.get("completion")),
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=total,
        )
    if connector_type_id == ".gemini":
        usage = _mapping(data.get("usageMetadata"))
        return TestReading(
            model=default_model,
            reply=_preview(data.get("completion")),
            prompt_tokens=_int(usage.get("promptTokenCount")),
            completion_tokens=_int(usage.get("candidatesTokenCount")),
            total_tokens=_int(usage.get("totalTokenCount")),
        )
    return TestReading(model=default_model)
