"""`.gen-ai`: OpenAI, Azure OpenAI and OpenAI-compatible servers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.domain.connector_types.spec import ConnectorType, hint
from bot.domain.testing import GREETING, TestReading, as_int, as_mapping, preview

TYPE_ID = ".gen-ai"

AZURE_DEPLOYMENT = hint(
    r"DeploymentNotFound|deployment for this resource does not exist|api-version"
    r"|Resource not found",
    "Azure did not find the deployment or the api-version: copy the URL from Azure AI "
    "Foundry → deployment → View code.",
)
NOT_OPENAI_COMPATIBLE = hint(
    r"Response validation failed",
    "The endpoint's answer is not OpenAI-compatible (no usage/choices): check the server "
    "really speaks /v1/chat/completions, and use the “Other OpenAI-compatible” provider.",
)


def build_test(config: Mapping[str, Any]) -> dict[str, Any]:
    """The `test` sub-action with a chat body; apiProvider Other needs the model in it."""
    body: dict[str, Any] = {"messages": [{"role": "user", "content": GREETING}]}
    if config.get("apiProvider") == "Other" and config.get("defaultModel"):
        body["model"] = config["defaultModel"]
    return {"subAction": "test", "subActionParams": {"body": json.dumps(body)}}


def read_chat_completion(data: Mapping[str, Any], default_model: str | None) -> TestReading:
    """Read an OpenAI chat completion: model, first choice's content, usage."""
    choices = data.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else {}
    message = as_mapping(as_mapping(first).get("message"))
    usage = as_mapping(data.get("usage"))
    return TestReading(
        model=str(data.get("model") or default_model or "") or None,
        reply=preview(message.get("content")),
        prompt_tokens=as_int(usage.get("prompt_tokens")),
        completion_tokens=as_int(usage.get("completion_tokens")),
        total_tokens=as_int(usage.get("total_tokens")),
    )


TYPE = ConnectorType(
    type_id=TYPE_ID,
    build_test=build_test,
    read_test=read_chat_completion,
    hints=(AZURE_DEPLOYMENT, NOT_OPENAI_COMPATIBLE),
)
