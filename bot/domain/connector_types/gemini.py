"""`.gemini`: Gemini models on Google Vertex AI, with a service-account key."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.domain.connector_types.spec import ConnectorType, hint
from bot.domain.testing import GREETING, TestReading, as_int, as_mapping, preview

TYPE_ID = ".gemini"

PERMISSION_DENIED = hint(
    r"PERMISSION_DENIED",
    "The service account needs the Vertex AI User role, and the Vertex AI API must be "
    "enabled in the project.",
)


def build_test(_config: Mapping[str, Any]) -> dict[str, Any]:
    """The `test` sub-action with a Gemini generateContent body."""
    body = {
        "contents": [{"role": "user", "parts": [{"text": GREETING + "!"}]}],
        "generation_config": {"temperature": 0, "maxOutputTokens": 8192},
    }
    return {"subAction": "test", "subActionParams": {"body": json.dumps(body)}}


def read_test(data: Mapping[str, Any], default_model: str | None) -> TestReading:
    """Read the completion text and Gemini's usageMetadata."""
    usage = as_mapping(data.get("usageMetadata"))
    return TestReading(
        model=default_model,
        reply=preview(data.get("completion")),
        prompt_tokens=as_int(usage.get("promptTokenCount")),
        completion_tokens=as_int(usage.get("candidatesTokenCount")),
        total_tokens=as_int(usage.get("totalTokenCount")),
    )


TYPE = ConnectorType(
    type_id=TYPE_ID,
    build_test=build_test,
    read_test=read_test,
    hints=(PERMISSION_DENIED,),
)
