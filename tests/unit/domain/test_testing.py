"""The `_execute` params of each connector test, and reading the answer of a successful test."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.domain import connector_types, testing
from bot.domain.connector_types import read_test_data
from bot.domain.enums import Provider
from bot.domain.providers import provider_spec
from bot.domain.testing import GREETING, REPLY_PREVIEW
from tests.fakes.kibana_schemas import validate_execute_params
from tests.unit.domain import samples as s

# Renamed: pytest would collect names like `test_params` and `TestReading`.
params_for = connector_types.test_params
Reading = testing.TestReading


def _config(provider: Provider, **overrides: str | None) -> dict[str, Any]:
    return s.config_of(provider_spec(provider), s.valid_values(provider, **overrides))


def _body(params: dict[str, Any]) -> Any:
    body = params["subActionParams"]["body"]
    assert isinstance(body, str), "the test sub-action takes the body as a JSON string"
    return json.loads(body)


# --------------------------------------------------------------------------- test_params


@pytest.mark.parametrize(
    ("provider", "overrides"),
    [
        (Provider.OPENAI, {}),
        (Provider.AZURE_OPENAI, {}),
        (Provider.AZURE_OPENAI, {"api_url": s.APIM_URL, "model": "gpt-4o"}),
    ],
    ids=["openai", "azure", "azure-apim"],
)
def test_gen_ai_openai_and_azure_send_no_model(
    provider: Provider, overrides: dict[str, str | None]
) -> None:
    params = params_for(".gen-ai", _config(provider, **overrides))
    assert validate_execute_params(".gen-ai", params) == []
    assert params["subAction"] == "test"
    assert set(params["subActionParams"]) == {"body"}
    assert _body(params) == {"messages": [{"role": "user", "content": "Hello world"}]}


@pytest.mark.parametrize(
    "provider", [Provider.VLLM, Provider.LM_STUDIO, Provider.OPENAI_COMPATIBLE]
)
def test_gen_ai_other_sends_the_default_model(provider: Provider) -> None:
    config = _config(provider)
    params = params_for(".gen-ai", config)
    assert validate_execute_params(".gen-ai", params, connector_id="llm-x-abcdef") == []
    assert _body(params) == {
        "messages": [{"role": "user", "content": GREETING}],
        "model": config["defaultModel"],
    }


def test_bedrock_test_body_is_the_kibana_ui_default() -> None:
    params = params_for(".bedrock", _config(Provider.BEDROCK))
    assert validate_execute_params(".bedrock", params) == []
    assert params["subAction"] == "test"
    assert _body(params) == {
        "anthropic_version": "bedrock-2023-05-31",
        "messages": [{"content": "Hello world", "role": "user"}],
        "max_tokens": 8191,
        "stop_sequences": ["\n\nHuman:"],
    }
    assert "model" not in params["subActionParams"], "the connector uses defaultModel"


def test_gemini_test_body_is_the_kibana_ui_default() -> None:
    params = params_for(".gemini", _config(Provider.VERTEX))
    assert validate_execute_params(".gemini", params) == []
    assert params["subAction"] == "test"
    assert _body(params) == {
        "contents": [{"role": "user", "parts": [{"text": "Hello world!"}]}],
        "generation_config": {"temperature": 0, "maxOutputTokens": 8192},
    }


def test_inference_is_tested_with_unified_completion_and_an_object_body() -> None:
    config = {
        "provider": "elastic",
        "taskType": "chat_completion",
        "inferenceId": ".rainbow-sprinkles-elastic",
    }
    params = params_for(".inference", config)
    assert validate_execute_params(".inference", params) == []
    assert params == {
        "subAction": "unified_completion",
        "subActionParams": {"body": {"messages": [{"role": "user", "content": "Hello world"}]}},
    }
    # Why: .inference registers no `test` sub-action.
    wrong = {"subAction": "test", "subActionParams": {"body": "{}"}}
    assert 'Sub action "test" is not registered' in validate_execute_params(".inference", wrong)[0]


def test_unknown_connector_type_has_no_test() -> None:
    with pytest.raises(ValueError, match=r"no test for connector type \.slack"):
        params_for(".slack", {})


# --------------------------------------------------------------------------- read_test_data

OPENAI_COMPLETION = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion",
    "created": 1_750_000_000,
    "model": "gpt-4.1-2025-04-14",
    "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21},
    "choices": [
        {
            "message": {"role": "assistant", "content": "Hello! How can I help you today?"},
            "finish_reason": "stop",
            "index": 0,
        }
    ],
}


@pytest.mark.parametrize("connector_type_id", [".gen-ai", ".inference"])
def test_reads_an_openai_chat_completion(connector_type_id: str) -> None:
    reading = read_test_data(connector_type_id, OPENAI_COMPLETION, default_model="gpt-4.1")
    assert reading == Reading(
        model="gpt-4.1-2025-04-14",
        reply="Hello! How can I help you today?",
        prompt_tokens=9,
        completion_tokens=12,
        total_tokens=21,
    )


def test_openai_model_falls_back_to_the_default_model() -> None:
    data = {**OPENAI_COMPLETION, "model": None}
    assert read_test_data(".gen-ai", data, default_model="gpt-4.1").model == "gpt-4.1"
    assert read_test_data(".gen-ai", data, default_model=None).model is None


def test_reads_a_bedrock_messages_answer() -> None:
    data = {
        "completion": "Hello! How can I assist you today?",
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 41, "output_tokens": 64},
    }
    reading = read_test_data(".bedrock", data, default_model=s.BEDROCK_MODEL)
    assert reading == Reading(
        model=s.BEDROCK_MODEL,
        reply="Hello! How can I assist you today?",
        prompt_tokens=41,
        completion_tokens=64,
        total_tokens=105,
    )


def test_reads_a_legacy_bedrock_answer_without_usage() -> None:
    data = {"completion": " Hi there", "stop_reason": "stop_sequence"}
    reading = read_test_data(".bedrock", data, default_model="anthropic.claude-v2")
    assert reading == Reading(model="anthropic.claude-v2", reply="Hi there")


def test_bedrock_total_needs_both_counts() -> None:
    data = {"completion": "x", "usage": {"input_tokens": 41}}
    reading = read_test_data(".bedrock", data, default_model=None)
    assert (reading.prompt_tokens, reading.completion_tokens, reading.total_tokens) == (
        41,
        None,
        None,
    )


def test_reads_a_gemini_answer() -> None:
    data = {
        "completion": "Hello world! How can I help?",
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 8, "totalTokenCount": 11},
    }
    reading = read_test_data(".gemini", data, default_model="gemini-2.5-pro")
    assert reading == Reading(
        model="gemini-2.5-pro",
        reply="Hello world! How can I help?",
        prompt_tokens=3,
        completion_tokens=8,
        total_tokens=11,
    )


def test_long_reply_is_truncated_to_the_preview_length() -> None:
    text = " ".join(f"word{n}" for n in range(200))
    reply = read_test_data(".gemini", {"completion": text}, default_model=None).reply
    assert reply is not None
    assert len(reply) == REPLY_PREVIEW == 300
    assert reply.endswith("…")
    assert reply[:-1] == text[: REPLY_PREVIEW - 1]


def test_reply_of_exactly_the_preview_length_is_kept_whole() -> None:
    text = "x" * REPLY_PREVIEW
    assert read_test_data(".bedrock", {"completion": text}, default_model=None).reply == text


def test_reply_whitespace_is_collapsed() -> None:
    data = {"choices": [{"message": {"content": "  Line one.\n\n  Line\ttwo.  "}}]}
    assert read_test_data(".gen-ai", data, default_model=None).reply == "Line one. Line two."


@pytest.mark.parametrize("connector_type_id", [".gen-ai", ".inference", ".bedrock", ".gemini"])
@pytest.mark.parametrize(
    "data",
    [None, {}, [], "not json", 42, {"usage": None, "usageMetadata": "x", "completion": None}],
    ids=["none", "empty", "list", "string", "number", "wrong-types"],
)
def test_missing_or_malformed_fields_are_tolerated(connector_type_id: str, data: Any) -> None:
    reading = read_test_data(connector_type_id, data, default_model="m")
    assert reading == Reading(model="m")


@pytest.mark.parametrize(
    "data",
    [
        {"choices": []},
        {"choices": None},
        {"choices": [None]},
        {"choices": [{"message": "text"}]},
        {"choices": [{"message": {"content": None}}]},
        {"choices": [{"message": {"content": "   "}}]},
        {"choices": [{"message": {"content": ["part"]}}]},
        {"usage": [1, 2, 3]},
        {"usage": {"prompt_tokens": "9", "completion_tokens": True, "total_tokens": 2.5}},
    ],
)
def test_gen_ai_partial_answers_are_tolerated(data: dict[str, Any]) -> None:
    reading = read_test_data(".gen-ai", data, default_model="m")
    assert reading == Reading(model="m")


def test_unknown_connector_type_reads_only_the_model() -> None:
    assert read_test_data(".slack", OPENAI_COMPLETION, default_model="m") == Reading(model="m")


@pytest.mark.parametrize("choices", [{"message": {"content": "hi"}}, 5], ids=["object", "number"])
def test_non_list_choices_are_tolerated(choices: Any) -> None:
    reading = read_test_data(".gen-ai", {"choices": choices}, default_model="m")
    assert reading.model == "m"
