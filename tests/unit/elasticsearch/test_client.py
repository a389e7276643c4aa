"""The Elasticsearch client against the fake Elasticsearch (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import copy
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.elasticsearch.client import ElasticsearchClient, make_http_client
from bot.elasticsearch.errors import (
    ElasticsearchAuthError,
    ElasticsearchConflictError,
    ElasticsearchError,
    ElasticsearchNotFoundError,
    ElasticsearchRequestError,
    ElasticsearchUnavailableError,
    ProviderRejectedError,
)
from bot.elasticsearch.models import PutEndpoint, UpdateEndpoint
from tests.fakes import elasticsearch_services as svc
from tests.fakes.elasticsearch import FakeElasticsearch, encode_api_key
from tests.fakes.recorder import RecordingServer

CHAT = "chat_completion"


_OPEN: list[ElasticsearchClient] = []


def _client(
    es: FakeElasticsearch | str, *, api_key: str | None = None, **kwargs: Any
) -> ElasticsearchClient:
    url = es if isinstance(es, str) else es.url
    key = api_key or ("k" if isinstance(es, str) else es.api_key)
    http = make_http_client(url, key, timeout=kwargs.pop("timeout", 5.0))
    made = ElasticsearchClient(http, put_timeout=kwargs.pop("put_timeout", 5.0), **kwargs)
    _OPEN.append(made)
    return made


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


@pytest.fixture
def client(elasticsearch: FakeElasticsearch) -> ElasticsearchClient:
    return _client(elasticsearch)


def _put(name: str) -> PutEndpoint:
    return PutEndpoint.model_validate(copy.deepcopy(svc.EXAMPLES[name]))


def _secretless(error: BaseException, key: str) -> None:
    assert key not in str(error)
    assert key not in repr(error)
    assert isinstance(error, ElasticsearchError)
    assert key not in error.message
    assert all(key not in r for r in error.root_causes)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- info


@pytest.mark.parametrize(
    ("version", "serverless", "at_94"),
    [
        ("8.19.3", False, False),
        ("9.3.2", False, False),
        ("9.4.0", False, True),
        ("10.0.0", False, True),
        ("8.11.0", True, True),
    ],
)
def test_info_reads_version_and_flavor(version: str, serverless: bool, at_94: bool) -> None:
    with FakeElasticsearch(version=version, serverless=serverless) as es:
        info = _client(es).info()
    assert info.number == version
    assert info.serverless is serverless
    assert info.at_least(9, 4) is at_94


def test_a_server_that_is_not_elasticsearch_is_refused() -> None:
    server = RecordingServer().start()
    try:
        with pytest.raises(ElasticsearchRequestError, match="X-elastic-product"):
            _client(server.url("")).info()
    finally:
        server.stop()


# ---------------------------------------------------------------- endpoints


@pytest.mark.parametrize("name", sorted(svc.EXAMPLES))
def test_put_get_list_update_delete(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient, name: str
) -> None:
    elasticsearch.eis_enabled = True
    inference_id = f"bot-{name.replace('_', '-')}"
    created = client.put_endpoint(CHAT, inference_id, _put(name))
    assert created.inference_id == inference_id
    assert created.service == svc.EXAMPLES[name]["service"]
    assert created.model is not None
    assert not created.preconfigured
    assert client.get_endpoint(CHAT, inference_id) == created
    listed = {e.inference_id: e for e in client.list_endpoints(CHAT)}
    assert inference_id in listed
    assert set(svc.EIS_PRECONFIGURED) <= set(listed)
    eis = listed[".rainbow-sprinkles-elastic"]
    assert eis.preconfigured
    assert eis.display_name == "Elastic Managed LLM"
    assert {e.inference_id for e in client.list_endpoints()} == set(listed)
    if svc.SERVICES[created.service].task_settings and name != "googlevertexai":
        key, spec = next(iter(svc.SERVICES[created.service].task_settings.items()))
        value: Any = {"str": "x", "int": 7, "num": 0.5, "object": {}}.get(spec.kind, "x")
        if spec.kind in ("str", "int", "num"):
            updated = client.update_endpoint(
                CHAT, inference_id, UpdateEndpoint(task_settings={key: value})
            )
            assert updated.task_settings[key] == value
    deleted = client.delete_endpoint(CHAT, inference_id)
    assert deleted.acknowledged
    with pytest.raises(ElasticsearchNotFoundError):
        client.get_endpoint(CHAT, inference_id)


def test_put_sends_the_body_and_a_timeout(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient
) -> None:
    client.put_endpoint(CHAT, "bot-x", _put("openai"))
    [request] = elasticsearch.requests_to("PUT", "/_inference/chat_completion/bot-x")
    assert request.body == svc.EXAMPLES["openai"]
    assert request.query == {"timeout": "5s"}
    assert request.headers["authorization"] == f"ApiKey {elasticsearch.api_key}"


def test_update_rotates_a_key(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient
) -> None:
    client.put_endpoint(CHAT, "bot-x", _put("openai"))
    client.update_endpoint(CHAT, "bot-x", UpdateEndpoint(service_settings={"api_key": "sk-new"}))
    assert elasticsearch.endpoints()["bot-x"]["service_settings"]["api_key"] == "sk-new"


def test_delete_dry_run_and_force(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient
) -> None:
    client.put_endpoint(CHAT, "bot-x", _put("openai"))
    elasticsearch.set_references("bot-x", indexes=["docs"])
    with pytest.raises(ElasticsearchConflictError, match="being used in the mapping") as caught:
        client.delete_endpoint(CHAT, "bot-x")
    assert caught.value.status == 409
    dry = client.delete_endpoint(CHAT, "bot-x", dry_run=True)
    assert dry.acknowledged is False
    assert dry.indexes == ["docs"]
    assert client.delete_endpoint(CHAT, "bot-x", force=True).acknowledged


# ---------------------------------------------------------------- the error tree


def test_connection_refused_is_unavailable() -> None:
    with pytest.raises(ElasticsearchUnavailableError, match="could not be reached") as caught:
        _client(f"http://127.0.0.1:{_free_port()}").info()
    assert caught.value.status is None


def test_timeout_is_unavailable(elasticsearch: FakeElasticsearch) -> None:
    elasticsearch.set_delay(1.0, method="GET")
    with pytest.raises(ElasticsearchUnavailableError, match="did not answer in time"):
        _client(elasticsearch, timeout=0.2).info()


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_429_and_5xx_are_unavailable(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient, status: int
) -> None:
    elasticsearch.fail_next(status=status)
    with pytest.raises(ElasticsearchUnavailableError) as caught:
        client.list_endpoints()
    assert caught.value.status == status
    assert caught.value.error_type == "status_exception"


def test_dropped_connection_is_unavailable(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient
) -> None:
    elasticsearch.drop_next()
    with pytest.raises(ElasticsearchUnavailableError):
        client.list_endpoints()


def test_wrong_key_is_auth_error(elasticsearch: FakeElasticsearch) -> None:
    wrong = encode_api_key("someone", "else-entirely")
    with pytest.raises(ElasticsearchAuthError) as caught:
        _client(elasticsearch, api_key=wrong).list_endpoints()
    error = caught.value
    assert error.status == 401
    assert error.error_type == "security_exception"
    assert error.reason is not None
    assert error.reason.startswith("unable to authenticate")
    assert error.root_causes[0].startswith("security_exception: unable to authenticate")
    _secretless(error, wrong)


def test_missing_privilege_is_auth_error(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient
) -> None:
    elasticsearch.privileges = {"monitor", "monitor_inference"}
    with pytest.raises(ElasticsearchAuthError, match="is unauthorized") as caught:
        client.put_endpoint(CHAT, "bot-x", _put("openai"))
    assert caught.value.status == 403


def test_bad_request_reads_type_reason_and_root_cause(client: ElasticsearchClient) -> None:
    body = _put("mistral")
    body.task_settings = {"temperature": 0.2}
    with pytest.raises(ElasticsearchRequestError) as caught:
        client.put_endpoint(CHAT, "bot-x", body)
    error = caught.value
    assert type(error) is ElasticsearchRequestError
    assert error.status == 400
    assert error.error_type == "status_exception"
    assert error.reason == (
        "Configuration contains settings [{temperature=0.2}] unknown to the [mistral] service"
    )
    assert error.root_causes == (f"status_exception: {error.reason}",)
    assert str(error) == error.reason


def test_invalid_id_is_a_request_error(client: ElasticsearchClient) -> None:
    with pytest.raises(ElasticsearchRequestError, match="Invalid inference_id") as caught:
        client.put_endpoint(CHAT, "Not-Valid", _put("openai"))
    assert caught.value.error_type == "action_request_validation_exception"


def test_not_found(client: ElasticsearchClient) -> None:
    with pytest.raises(ElasticsearchNotFoundError, match=r"Inference endpoint not found \[nope\]"):
        client.get_endpoint(CHAT, "nope")


def test_already_exists_is_conflict(client: ElasticsearchClient) -> None:
    client.put_endpoint(CHAT, "bot-x", _put("openai"))
    with pytest.raises(ElasticsearchConflictError) as caught:
        client.put_endpoint(CHAT, "bot-x", _put("openai"))
    assert caught.value.status == 400
    assert caught.value.error_type == "resource_already_exists_exception"
    assert str(caught.value) == "Inference endpoint [bot-x] already exists"


@pytest.mark.parametrize(
    ("name", "secret", "status", "message"),
    [
        ("openai", "api_key", 401, "Incorrect API key provided"),
        ("anthropic", "api_key", 401, "invalid x-api-key"),
        ("mistral", "api_key", 401, "Unauthorized"),
        (
            "amazonbedrock",
            "access_key",
            403,
            "The security token included in the request is invalid.",
        ),
    ],
)
def test_provider_refusing_at_create_is_provider_rejected(
    elasticsearch: FakeElasticsearch,
    client: ElasticsearchClient,
    name: str,
    secret: str,
    status: int,
    message: str,
) -> None:
    body = _put(name)
    bad = "bad-" + body.service_settings[secret]
    body.service_settings[secret] = bad
    with pytest.raises(ProviderRejectedError) as caught:
        client.put_endpoint(CHAT, "bot-x", body)
    error = caught.value
    assert error.status == 400
    assert error.provider_status == status
    assert error.provider_message.startswith(message)
    assert str(error).startswith("Could not complete inference endpoint creation")
    assert f"status [{status}]" in str(error)
    assert "bot-x" not in elasticsearch.endpoints()
    _secretless(error, bad)


def test_provider_outage_at_create_keeps_its_status(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient
) -> None:
    elasticsearch.set_provider_failure(503, "upstream overloaded")
    with pytest.raises(ProviderRejectedError) as caught:
        client.put_endpoint(CHAT, "bot-x", _put("openai"))
    assert caught.value.provider_status == 503
    assert caught.value.provider_message == "upstream overloaded"


def test_secrets_quoted_back_by_es_are_hidden(client: ElasticsearchClient) -> None:
    body = _put("openai")
    secret = body.service_settings["api_key"]
    body.service_settings["apikey"] = secret  # a misspelt key: ES quotes it with its value
    with pytest.raises(ElasticsearchRequestError) as caught:
        client.put_endpoint(CHAT, "bot-x", body)
    assert "unknown to the [openai] service" in str(caught.value)
    assert "{apikey=[secret]}" in str(caught.value)
    _secretless(caught.value, secret)
    assert secret not in repr(body)
    assert secret not in str(body)


def test_the_api_key_never_shows_in_errors_or_logs(
    elasticsearch: FakeElasticsearch, caplog: pytest.LogCaptureFixture
) -> None:
    # The bot's own loggers; httpcore's DEBUG trace (headers) is kept at WARNING by bot.logs.
    caplog.set_level(logging.DEBUG, logger="bot")
    key = elasticsearch.api_key
    errors: list[ElasticsearchError] = []
    client = _client(elasticsearch)
    for provoke in (
        lambda: client.get_endpoint(CHAT, "nope"),
        lambda: client.put_endpoint(CHAT, "Bad Id", _put("openai")),
        lambda: _client(elasticsearch, api_key=key + "x").info(),
        lambda: _client(elasticsearch, api_key=key + "\nX-Injected: 1").info(),
    ):
        with pytest.raises(ElasticsearchError) as caught:
            provoke()
        errors.append(caught.value)
    elasticsearch.fail_next(status=503)
    with pytest.raises(ElasticsearchUnavailableError) as unavailable:
        client.info()
    errors.append(unavailable.value)
    assert isinstance(errors[3], ElasticsearchRequestError)
    assert "could not be built" in str(errors[3])
    for error in errors:
        _secretless(error, key)
    assert key not in caplog.text
    assert "elasticsearch GET /_inference/chat_completion/nope -> 404 in" in caplog.text


# ---------------------------------------------------------------- stream_test


@pytest.fixture
def endpoint(client: ElasticsearchClient) -> str:
    client.put_endpoint(CHAT, "bot-x", _put("openai"))
    return "bot-x"


def test_stream_normal(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient, endpoint: str
) -> None:
    elasticsearch.set_stream(model="gpt-4o-2024-08-06", usage=(14, 9))
    result = client.stream_test(endpoint, "Hello world", deadline=5)
    assert result.ok, result.error
    assert result.model == "gpt-4o-2024-08-06"
    assert result.reply == "Hello! How can I help you today?"
    assert result.usage is not None
    assert (result.usage.prompt, result.usage.completion, result.usage.total) == (14, 9, 23)
    assert result.finish_reason == "stop"
    assert result.time_to_first_token is not None
    assert 0 <= result.time_to_first_token <= result.total_time < 5
    assert result.error is None
    [request] = elasticsearch.requests_to("POST", "/bot-x/_stream")
    assert request.body == {
        "messages": [{"role": "user", "content": "Hello world"}],
        "max_completion_tokens": 64,
    }
    assert request.query == {"timeout": "5s"}


def test_stream_without_usage(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient, endpoint: str
) -> None:
    elasticsearch.set_stream(mode="no_usage")
    result = client.stream_test(endpoint, "hi", deadline=5)
    assert result.ok
    assert result.usage is None
    assert result.reply


@pytest.mark.parametrize("mode", ["single", "tool_call", "length"])
def test_stream_other_ok_shapes(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient, endpoint: str, mode: str
) -> None:
    elasticsearch.set_stream(mode=mode)
    result = client.stream_test(endpoint, "hi", deadline=5)
    assert result.ok
    assert (
        result.finish_reason
        == {"single": "stop", "tool_call": "tool_calls", "length": "length"}[mode]
    )


def test_stream_reply_is_bounded(elasticsearch: FakeElasticsearch, endpoint: str) -> None:
    elasticsearch.set_stream(reply="word " * 500)
    result = _client(elasticsearch, reply_limit=12).stream_test(endpoint, "hi", deadline=5)
    assert result.ok
    assert result.reply == "word word wo"


def test_error_inside_the_stream_is_a_failed_result(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient, endpoint: str
) -> None:
    elasticsearch.set_stream(mode="mid_error", error_message="model overloaded", error_code="503")
    result = client.stream_test(endpoint, "hi", deadline=5)
    assert not result.ok
    assert result.error is not None
    assert result.error.endswith("Error message: [model overloaded]")
    assert result.error_code == "503"
    assert result.reply  # what came before the error
    assert result.status is None


def test_provider_error_before_the_stream_is_a_failed_result(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient
) -> None:
    body = copy.deepcopy(svc.EXAMPLES["openai"])
    body["service_settings"]["api_key"] = "bad-rotated-key"
    elasticsearch.add_endpoint("bot-bad", body)
    result = client.stream_test("bot-bad", "hi", deadline=5)
    assert not result.ok
    assert result.status == 401
    assert result.error_code == "invalid_api_key"
    assert result.error is not None
    assert "status [401]" in result.error
    assert result.time_to_first_token is None


def test_provider_rate_limit_before_the_stream_is_unavailable(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient, endpoint: str
) -> None:
    elasticsearch.set_stream(
        mode="pre_error", error_status=429, error_type="rate_limit", error_message="slow down"
    )
    with pytest.raises(ElasticsearchUnavailableError, match="slow down") as caught:
        client.stream_test(endpoint, "hi", deadline=5)
    assert caught.value.status == 429


def test_stream_of_an_unknown_endpoint_raises_not_found(client: ElasticsearchClient) -> None:
    with pytest.raises(ElasticsearchNotFoundError, match=r"not found \[nope\]") as caught:
        client.stream_test("nope", "hi", deadline=5)
    assert caught.value.error_type == "resource_not_found_exception"


def test_stream_with_a_wrong_key_raises_auth(
    elasticsearch: FakeElasticsearch, endpoint: str
) -> None:
    wrong = encode_api_key("x", "y")
    with pytest.raises(ElasticsearchAuthError) as caught:
        _client(elasticsearch, api_key=wrong).stream_test(endpoint, "hi", deadline=5)
    _secretless(caught.value, wrong)


def test_stream_without_privilege_raises_auth(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient, endpoint: str
) -> None:
    elasticsearch.privileges = {"monitor"}
    with pytest.raises(ElasticsearchAuthError, match="is unauthorized") as caught:
        client.stream_test(endpoint, "hi", deadline=5)
    assert caught.value.status == 403


def test_stream_with_es_down_raises_unavailable() -> None:
    with pytest.raises(ElasticsearchUnavailableError):
        _client(f"http://127.0.0.1:{_free_port()}").stream_test("x", "hi", deadline=2)


def test_slow_first_token_is_measured(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient, endpoint: str
) -> None:
    elasticsearch.set_stream(first_token_delay=0.4)
    result = client.stream_test(endpoint, "hi", deadline=5)
    assert result.ok
    assert result.time_to_first_token is not None
    assert 0.4 <= result.time_to_first_token < 2
    assert result.total_time >= result.time_to_first_token


def test_deadline_hit_on_a_never_ending_stream(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient, endpoint: str
) -> None:
    elasticsearch.set_stream(mode="never_end")
    started = time.monotonic()
    result = client.stream_test(endpoint, "hi", deadline=0.6)
    elapsed = time.monotonic() - started
    assert 0.6 <= elapsed < 1.5
    assert not result.ok
    assert result.deadline_hit
    assert result.error == "The stream did not end within 0.6 s"
    assert result.reply  # the part that came
    assert result.time_to_first_token is not None


def test_deadline_bounds_a_trickling_stream(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient, endpoint: str
) -> None:
    elasticsearch.set_stream(reply="a b c d e f g h i j", chunk_delay=0.25)
    started = time.monotonic()
    result = client.stream_test(endpoint, "hi", deadline=0.8)
    assert time.monotonic() - started < 1.5
    assert result.deadline_hit
    assert not result.ok


def test_deadline_before_the_first_token(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient, endpoint: str
) -> None:
    elasticsearch.set_stream(first_token_delay=3.0)
    result = client.stream_test(endpoint, "hi", deadline=0.5)
    assert result.deadline_hit
    assert result.time_to_first_token is None
    assert result.reply == ""


def test_malformed_event_is_a_failed_result(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient, endpoint: str
) -> None:
    elasticsearch.set_stream(mode="malformed")
    result = client.stream_test(endpoint, "hi", deadline=5)
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("Malformed event (not JSON)")


def test_cut_stream_is_a_failed_result(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient, endpoint: str
) -> None:
    elasticsearch.set_stream(mode="cut")
    result = client.stream_test(endpoint, "hi", deadline=5)
    assert not result.ok
    assert result.error is not None
    assert "cut short" in result.error or "end marker" in result.error
    assert result.reply


def test_stream_of_a_non_sse_answer_is_a_failed_result(
    elasticsearch: FakeElasticsearch, client: ElasticsearchClient, endpoint: str
) -> None:
    elasticsearch.fail_next(status=200, body={"acknowledged": True}, path_contains="_stream")
    result = client.stream_test(endpoint, "hi", deadline=5)
    assert not result.ok
    assert result.error is not None
    assert "did not answer with a stream" in result.error
