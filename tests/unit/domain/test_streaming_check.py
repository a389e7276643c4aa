"""The second connector check (invokeAI for .gen-ai): its params, and reading its answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.domain.streaming_check import (
    NO_CONTENT_HINT,
    NOT_PROVEN,
    PROVES,
    REPLY_PREVIEW,
    read_second_check,
    second_check_params,
)
from bot.kibana.client import KibanaClient, make_http_client
from bot.kibana.errors import KibanaUnavailableError
from tests.fakes.kibana import GEN_AI_UNRECOGNIZED_FORMAT, FakeKibana
from tests.fakes.kibana_schemas import validate_execute_params

OPENAI = {"apiProvider": "OpenAI", "apiUrl": "https://api.openai.com/v1/chat/completions"}
AZURE = {
    "apiProvider": "Azure OpenAI",
    "apiUrl": "https://my-res.openai.azure.com/openai/deployments/gpt-4o/chat/completions"
    "?api-version=2024-10-21",
}
OTHER = {
    "apiProvider": "Other",
    "apiUrl": "https://llm.example.com/v1/chat/completions",
    "defaultModel": "mistralai/Mistral-Small",
}
MESSAGES = [{"role": "user", "content": "Hello world"}]
USAGE = {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}


# --------------------------------------------------------------------------- params


@pytest.mark.parametrize("config", [OPENAI, AZURE], ids=["openai", "azure"])
def test_gen_ai_second_check_is_invoke_ai_without_a_model(config: dict[str, Any]) -> None:
    params = second_check_params(".gen-ai", config)
    assert params == {"subAction": "invokeAI", "subActionParams": {"messages": MESSAGES}}
    assert validate_execute_params(".gen-ai", params) == []


def test_gen_ai_other_second_check_sends_the_default_model() -> None:
    params = second_check_params(".gen-ai", OTHER)
    assert params == {
        "subAction": "invokeAI",
        "subActionParams": {"messages": MESSAGES, "model": "mistralai/Mistral-Small"},
    }
    assert validate_execute_params(".gen-ai", params, connector_id="llm-x-abcdef") == []


@pytest.mark.parametrize("type_id", [".bedrock", ".gemini", ".inference", ".webhook"])
def test_no_second_check_for_other_types(type_id: str) -> None:
    assert second_check_params(type_id, {"apiUrl": "https://x.example.com"}) is None


def test_the_second_check_never_asks_for_a_stream() -> None:
    params = second_check_params(".gen-ai", OTHER)
    assert params is not None
    assert params["subAction"] not in {"stream", "invokeStream", "invokeAsyncIterator"}
    assert "stream" not in params["subActionParams"]


# --------------------------------------------------------------------------- reading


def test_read_ok_answer() -> None:
    result = read_second_check(
        status="ok", data={"message": "  Hello!\n How can I help?  ", "usage": USAGE}
    )
    assert result.ok
    assert result.sub_action == "invokeAI"
    assert result.message is None
    assert result.hint is None
    assert result.reply == "Hello! How can I help?"
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (12, 9, 21)
    assert result.proves == PROVES
    assert "not checked" in result.not_proven
    assert result.not_proven == NOT_PROVEN


def test_read_ok_answer_with_a_long_reply_and_no_usage() -> None:
    result = read_second_check(status="ok", data={"message": "word " * 200})
    assert result.ok
    assert result.reply is not None
    assert len(result.reply) == REPLY_PREVIEW
    assert result.reply.endswith("…")
    assert result.total_tokens is None


def test_read_unrecognized_format_is_a_failure_although_kibana_says_ok() -> None:
    result = read_second_check(
        status="ok", data={"message": GEN_AI_UNRECOGNIZED_FORMAT, "usage": USAGE}
    )
    assert not result.ok
    assert result.message is not None
    assert "choices[0].message.content" in result.message
    assert "unrecognized format" in result.message
    assert result.hint == NO_CONTENT_HINT
    assert result.reply is None


@pytest.mark.parametrize("data", [None, {}, {"message": "   "}, {"message": 3}, ["x"]])
def test_read_ok_answer_without_a_reply_is_a_failure(data: Any) -> None:
    result = read_second_check(status="ok", data=data)
    assert not result.ok
    assert result.message == "Kibana's invokeAI answered without a reply from the model"


def test_read_error_answer_keeps_kibanas_message_and_a_hint() -> None:
    result = read_second_check(
        status="error",
        message="an error occurred while running the action",
        service_message="Status code: 401. Message: Unauthorized API Error - Incorrect API key",
    )
    assert not result.ok
    assert result.message == (
        "Status code: 401. Message: Unauthorized API Error - Incorrect API key"
    )
    assert result.hint is not None
    assert "rejected the key" in result.hint
    bare = read_second_check(status="error", message="boom")
    assert (bare.ok, bare.message, bare.hint) == (False, "boom", None)
    silent = read_second_check(status="error")
    assert silent.message == "Kibana reported an error without a message"


# --------------------------------------------------------------------------- over HTTP


@pytest.fixture
def kibana() -> Iterator[FakeKibana]:
    with FakeKibana() as fake:
        yield fake


@pytest.fixture
def client(kibana: FakeKibana) -> Iterator[KibanaClient]:
    kibana_client = KibanaClient(make_http_client(kibana.url, kibana.api_key, timeout=5))
    yield kibana_client
    kibana_client.close()


def _create(kibana: FakeKibana, connector_id: str, config: dict[str, Any]) -> None:
    kibana.add_connector(
        "default",
        connector_id,
        {
            "name": connector_id,
            "connector_type_id": ".gen-ai",
            "config": config,
            "secrets": {"apiKey": "sk-test"},
        },
    )


def _run(client: KibanaClient, connector_id: str, config: dict[str, Any]) -> Any:
    params = second_check_params(".gen-ai", config)
    assert params is not None
    answer = client.execute_connector("default", connector_id, params)
    return read_second_check(
        status=answer.status,
        data=answer.data,
        message=answer.message,
        service_message=answer.service_message,
    )


@pytest.mark.parametrize("config", [OPENAI, AZURE, OTHER], ids=["openai", "azure", "other"])
def test_second_check_passes_against_kibana(
    kibana: FakeKibana, client: KibanaClient, config: dict[str, Any]
) -> None:
    _create(kibana, "llm-check-abcdef", config)
    result = _run(client, "llm-check-abcdef", config)
    assert result.ok, result
    assert result.reply == "Hello! How can I help you today?"
    assert result.total_tokens == 21
    (sent,) = kibana.requests_to("POST", "/_execute")
    assert sent.body["params"]["subAction"] == "invokeAI"


def test_second_check_fails_where_test_passes_behind_a_gateway_without_reply_content(
    kibana: FakeKibana, client: KibanaClient
) -> None:
    _create(kibana, "llm-gw-abcdef", OTHER)
    kibana.set_gen_ai_gateway("llm-gw-abcdef", reply_content=False)
    body = '{"messages":[{"role":"user","content":"Hello world"}]}'
    plain_test = {"subAction": "test", "subActionParams": {"body": body}}
    assert client.execute_connector("default", "llm-gw-abcdef", plain_test).status == "ok"
    result = _run(client, "llm-gw-abcdef", OTHER)
    assert not result.ok
    assert result.hint == NO_CONTENT_HINT


def test_second_check_reports_an_upstream_error(kibana: FakeKibana, client: KibanaClient) -> None:
    _create(kibana, "llm-bad-abcdef", OPENAI)
    kibana.set_execute_result(
        "llm-bad-abcdef",
        status="error",
        service_message="Status code: 404. Message: API Error: Not Found - The model `x` does "
        "not exist",
        retry=True,
        error_source="user",
    )
    result = _run(client, "llm-bad-abcdef", OPENAI)
    assert not result.ok
    assert result.message is not None
    assert result.message.startswith("Status code: 404.")
    assert result.hint is not None
    assert "model name is unknown" in result.hint


def test_why_not_stream_the_http_api_answers_500_for_a_stream(
    kibana: FakeKibana, client: KibanaClient
) -> None:
    """`stream` with `stream: true` cannot be read over HTTP, with or without SSE upstream."""
    _create(kibana, "llm-sse-abcdef", OPENAI)
    streamed = {
        "subAction": "stream",
        "subActionParams": {
            "body": '{"messages":[{"role":"user","content":"Hi"}]}',
            "stream": True,
        },
    }
    for sse in (True, False):
        kibana.set_gen_ai_gateway(sse=sse)
        if sse:
            with pytest.raises(KibanaUnavailableError) as raised:
                client.execute_connector("default", "llm-sse-abcdef", streamed)
            assert raised.value.status == 500
        else:
            refused = client.execute_connector("default", "llm-sse-abcdef", streamed)
            assert refused.status == "error"
        # invokeAI is answered the same whichever way the upstream handles streaming
        assert _run(client, "llm-sse-abcdef", OPENAI).ok
