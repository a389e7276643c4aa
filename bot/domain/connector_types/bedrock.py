"""`.bedrock`: models on Amazon Bedrock, signed with an IAM access key."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.domain.connector_types.spec import ConnectorType, hint
from bot.domain.testing import GREETING, TestReading, as_int, as_mapping, preview

TYPE_ID = ".bedrock"

HINTS = (
    hint(
        r"Credential should be scoped to a valid region",
        "The access key is being used for another region: make the URL's region the one where "
        "model access is enabled.",
    ),
    hint(
        r"on-demand throughput isn.t supported|inference profile",
        "This model must be called through an inference profile: use the us./eu./apac. model id "
        "(e.g. us.anthropic.claude-sonnet-4-5-20250929-v1:0).",
    ),
    hint(
        r"security token included in the request is invalid|signature we calculated does not"
        r"|InvalidSignatureException|UnrecognizedClientException",
        "AWS rejected the access key or secret: check both were copied whole (the secret is "
        "40 characters), and that the key is active.",
    ),
    hint(
        r"Model access is denied|AccessDenied|not authorized to perform: bedrock",
        "Enable access to this model in the Bedrock console, and grant the IAM user "
        "bedrock:InvokeModel and bedrock:InvokeModelWithResponseStream.",
    ),
    hint(
        r"operation is not recognized by the service",
        "The URL points at the wrong Bedrock host: use https://bedrock-runtime.{region}"
        ".amazonaws.com.",
    ),
)


def build_test(_config: Mapping[str, Any]) -> dict[str, Any]:
    """The `test` sub-action with an Anthropic Messages body."""
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "messages": [{"content": GREETING, "role": "user"}],
        "max_tokens": 8191,
        "stop_sequences": ["\n\nHuman:"],
    }
    return {"subAction": "test", "subActionParams": {"body": json.dumps(body)}}


def read_test(data: Mapping[str, Any], default_model: str | None) -> TestReading:
    """Read the completion text and input/output token counts."""
    usage = as_mapping(data.get("usage"))
    prompt, completion = as_int(usage.get("input_tokens")), as_int(usage.get("output_tokens"))
    total = prompt + completion if prompt is not None and completion is not None else None
    return TestReading(
        model=default_model,
        reply=preview(data.get("completion")),
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total,
    )


TYPE = ConnectorType(type_id=TYPE_ID, build_test=build_test, read_test=read_test, hints=HINTS)
