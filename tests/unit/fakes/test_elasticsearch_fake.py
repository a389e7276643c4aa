"""Self-tests of the fake Elasticsearch (tests/fakes/elasticsearch.py), over plain httpx."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes import elasticsearch_services as svc
from tests.fakes.elasticsearch import BOM, FakeElasticsearch, encode_api_key

CHAT = "/_inference/chat_completion"
HELLO = {"messages": [{"role": "user", "content": "Hello world"}]}


@pytest.fixture
def es(elasticsearch: FakeElasticsearch) -> FakeElasticsearch:
    return elasticsearch


@pytest.fixture
def http(es: FakeElasticsearch) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=es.url, headers={"Authorization": f"ApiKey {es.api_key}"}, timeout=10
    ) as client:
        yield client


def _body(name: str) -> dict[str, Any]:
    return copy.deepcopy(svc.EXAMPLES[name])


def _error(response: httpx.Response) -> tuple[str, str]:
    error = response.json()["error"]
    return error["type"], error["reason"]


def _events(text: str) -> list[tuple[str, str]]:
    """(event, data) pairs of a raw SSE body, checking the BOM before every event."""
    assert text.endswith("\n\n")
    found = []
    for block in text[:-2].split("\n\n"):
        assert block.startswith(BOM), block
        name_line, data_line = block[1:].split("\n")
        assert name_line.startswith("event: ")
        assert data_line.startswith("data: ")
        found.append((name_line[7:], data_line[6:]))
    return found


# ---------------------------------------------------------------- transport and auth


def test_missing_credentials_get_es_401(es: FakeElasticsearch) -> None:
    response = httpx.get(f"{es.url}/_inference/_all")
    assert response.status_code == 401
    assert response.headers["x-elastic-product"] == "Elasticsearch"
    assert "ApiKey" in response.headers["www-authenticate"]
    body = response.json()
    assert body["status"] == 401
    assert body["error"]["type"] == "security_exception"
    assert body["error"]["reason"] == (
        "missing authentication credentials for REST request [/_inference/_all]"
    )
    assert body["error"]["root_cause"][0]["type"] == "security_exception"


@pytest.mark.parametrize(
    "header",
    [
        "ApiKey " + encode_api_key("other", "key"),
        "Bearer whatever",
        "apikey-missing-space",
    ],
)
def test_wrong_credentials_get_es_401(es: FakeElasticsearch, header: str) -> None:
    response = httpx.get(f"{es.url}/", headers={"Authorization": header})
    assert response.status_code == 401
    assert _error(response) == (
        "security_exception",
        "unable to authenticate with provided credentials and anonymous access is not allowed "
        "for this request",
    )


def test_missing_privileges_get_403(es: FakeElasticsearch, http: httpx.Client) -> None:
    es.privileges = {"monitor_inference"}
    assert http.get("/_inference/_all").status_code == 200
    put = http.put(f"{CHAT}/bot-x", json=_body("openai"))
    assert put.status_code == 403
    kind, reason = _error(put)
    assert kind == "security_exception"
    assert reason.startswith("action [cluster:admin/xpack/inference/put] is unauthorized for API")
    assert "fake-es-key-id" in reason
    assert http.get("/").status_code == 403  # GET / needs monitor
    es.privileges = {"monitor"}
    assert http.get("/").status_code == 200
    assert http.get("/_inference/_all").status_code == 403


def test_licence_below_enterprise_refuses_all_but_eis(
    es: FakeElasticsearch, http: httpx.Client
) -> None:
    es.license = "platinum"
    es.eis_enabled = True
    response = http.put(f"{CHAT}/bot-x", json=_body("openai"))
    assert response.status_code == 403
    assert response.json()["error"]["license.expired.feature"] == "inference"
    assert http.put(f"{CHAT}/bot-eis", json=_body("elastic")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", f"{CHAT}/bot-x/_update", "PUT"),
        ("GET", f"{CHAT}/bot-x/_stream", "POST"),
        ("PUT", "/_inference/_all", "GET"),
    ],
)
def test_wrong_method_is_405(http: httpx.Client, method: str, path: str, allowed: str) -> None:
    response = http.request(method, path)
    assert response.status_code == 405
    assert response.json() == {
        "error": f"Incorrect HTTP method for uri [{path}] and method [{method}], "
        f"allowed: [{allowed}]",
        "status": 405,
    }


def test_unknown_task_type_is_400(http: httpx.Client) -> None:
    response = http.get("/_inference/chatting/x")
    assert response.status_code == 400
    assert _error(response) == ("status_exception", "Unknown task_type [chatting]")
    assert http.get("/_inference/CHAT_COMPLETION/_all").status_code == 200  # case-insensitive


# ---------------------------------------------------------------- GET /


@pytest.mark.parametrize(
    ("version", "serverless", "flavor"),
    [
        ("8.19.3", False, "default"),
        ("9.3.2", False, "default"),
        ("9.4.0", False, "default"),
        ("9.6.1", False, "default"),
        ("8.11.0", True, "serverless"),
    ],
)
def test_info_reports_version_and_flavor(version: str, serverless: bool, flavor: str) -> None:
    with FakeElasticsearch(version=version, serverless=serverless) as es:
        response = httpx.get(f"{es.url}/", headers={"Authorization": f"ApiKey {es.api_key}"})
    assert response.status_code == 200
    assert response.headers["x-elastic-product"] == "Elasticsearch"
    assert response.json()["version"]["number"] == version
    assert response.json()["version"]["build_flavor"] == flavor
    assert response.json()["tagline"] == "You Know, for Search"


# ---------------------------------------------------------------- PUT


@pytest.mark.parametrize("name", sorted(svc.EXAMPLES))
def test_every_service_example_is_created_without_its_secrets(
    es: FakeElasticsearch, http: httpx.Client, name: str
) -> None:
    es.eis_enabled = True
    body = _body(name)
    response = http.put(f"{CHAT}/bot-{name.replace('_', '-')}", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    service = svc.SERVICES[body["service"]]
    assert answer["task_type"] == "chat_completion"
    assert answer["service"] == body["service"]
    assert not service.secrets() & set(answer["service_settings"])
    for key, value in body["service_settings"].items():
        if key not in service.secrets():
            assert answer["service_settings"][key] == value
    if service.default_rpm is not None:
        assert answer["service_settings"]["rate_limit"] == {
            "requests_per_minute": service.default_rpm
        }
    else:
        assert "rate_limit" not in answer["service_settings"]
    assert answer.get("task_settings", {}) == body.get("task_settings", {})
    stored = es.endpoints()[answer["inference_id"]]
    assert stored["service_settings"] == body["service_settings"]  # secrets kept inside
    assert es.validation_calls == [(answer["inference_id"], body["service"])]


@pytest.mark.parametrize(
    "inference_id", ["Upper", "-lead", "trail-", "_under", "a b", "_all", ".dot", "é"]
)
def test_invalid_ids_are_refused(http: httpx.Client, inference_id: str) -> None:
    response = http.put(f"{CHAT}/{inference_id}", json=_body("openai"))
    assert response.status_code == 400
    kind, reason = _error(response)
    assert kind == "action_request_validation_exception"
    assert reason == (
        f"Validation Failed: 1: Invalid inference_id; '{inference_id}' can contain lowercase "
        "alphanumeric (a-z and 0-9), hyphens or underscores; must start and end with "
        "alphanumeric;"
    )


@pytest.mark.parametrize("inference_id", ["a", "0", "a.b-c_d", "llm-openai-x7k2m9"])
def test_valid_ids_are_accepted(http: httpx.Client, inference_id: str) -> None:
    assert http.put(f"{CHAT}/{inference_id}", json=_body("openai")).status_code == 200


@pytest.mark.parametrize(
    ("name", "where"),
    [
        (name, where)
        for name in sorted(svc.EXAMPLES)
        for where in ("top", "service_settings", "task_settings", "rate_limit")
        if (name, where) != ("elastic", "rate_limit")  # EIS refuses rate_limit: tested below
    ],
)
def test_unknown_keys_are_refused_per_service(
    es: FakeElasticsearch, http: httpx.Client, name: str, where: str
) -> None:
    es.eis_enabled = True
    body = _body(name)
    service = body["service"]
    if where == "top":
        body["surprise"] = {"a": 1}
    elif where == "service_settings":
        body["service_settings"]["surprise"] = 1
    elif where == "task_settings":
        body.setdefault("task_settings", {})["surprise"] = True
    else:
        body["service_settings"]["rate_limit"] = {"requests_per_minute": 5, "surprise": 1}
    response = http.put(f"{CHAT}/bot-x", json=body)
    assert response.status_code == 400
    expected = {
        "top": "{surprise={a=1}}",
        "service_settings": "{surprise=1}",
        "task_settings": "{surprise=true}",
        "rate_limit": "{surprise=1}",
    }[where]
    assert _error(response) == (
        "status_exception",
        f"Configuration contains settings [{expected}] unknown to the [{service}] service",
    )
    assert "bot-x" not in es.endpoints()
    assert es.validation_calls == []  # refused before the provider is called


def test_chunking_settings_are_refused_for_chat(http: httpx.Client) -> None:
    body = _body("openai") | {"chunking_settings": {"strategy": "word"}}
    response = http.put(f"{CHAT}/bot-x", json=body)
    assert response.status_code == 400
    assert "unknown to the [openai] service" in _error(response)[1]


def test_eis_refuses_rate_limit(es: FakeElasticsearch, http: httpx.Client) -> None:
    es.eis_enabled = True
    body = _body("elastic")
    body["service_settings"]["rate_limit"] = {"requests_per_minute": 10}
    response = http.put(f"{CHAT}/bot-x", json=body)
    assert response.status_code == 400
    assert "rate limit settings are not permitted for service [elastic]" in _error(response)[1]


_REQUIRED = "does not contain the required setting"


@pytest.mark.parametrize(
    ("name", "remove", "expected"),
    [
        ("openai", "model_id", f"[service_settings] {_REQUIRED} [model_id]"),
        ("openai", "api_key", f"[secret_settings] {_REQUIRED} [api_key]"),
        ("mistral", "model", f"[service_settings] {_REQUIRED} [model]"),
        ("amazonbedrock", "secret_key", f"[secret_settings] {_REQUIRED} [secret_key]"),
        ("amazonbedrock", "provider", f"[service_settings] {_REQUIRED} [provider]"),
        ("googlevertexai", "location", f"[service_settings] {_REQUIRED} [location]"),
        (
            "googlevertexai",
            "service_account_json",
            f"[secret_settings] {_REQUIRED} [service_account_json]",
        ),
        ("anthropic", "api_key", f"[secret_settings] {_REQUIRED} [api_key]"),
        ("elastic", "model_id", f"[service_settings] {_REQUIRED} [model_id]"),
        (
            "azureopenai",
            "api_key",
            "[secret_settings] must have exactly one of [api_key], [entra_id], or "
            "[client_secret] field set",
        ),
    ],
)
def test_missing_fields_are_one_validation_exception(
    http: httpx.Client, name: str, remove: str, expected: str
) -> None:
    body = _body(name)
    del body["service_settings"][remove]
    response = http.put(f"{CHAT}/bot-x", json=body)
    assert response.status_code == 400
    assert _error(response) == ("validation_exception", f"Validation Failed: 1: {expected};")


def test_field_errors_are_collected_and_come_before_unknown_keys(http: httpx.Client) -> None:
    body = _body("anthropic")
    body["service_settings"]["model_id"] = ""
    body["service_settings"]["surprise"] = 1
    del body["task_settings"]
    response = http.put(f"{CHAT}/bot-x", json=body)
    assert _error(response) == (
        "validation_exception",
        "Validation Failed: 1: [service_settings] Invalid value empty string. [model_id] must "
        "be a non-empty string;2: [task_settings] does not contain the required setting "
        "[max_tokens];",
    )


def test_azure_secrets_exactly_one(http: httpx.Client) -> None:
    body = _body("azureopenai")
    body["service_settings"]["entra_id"] = "token"
    response = http.put(f"{CHAT}/bot-x", json=body)
    assert _error(response)[1].endswith(
        "or [client_secret] field set, received: [api_key, entra_id];"
    )


def test_body_and_path_task_types_must_agree(http: httpx.Client) -> None:
    body = _body("openai") | {"task_type": "completion"}
    response = http.put(f"{CHAT}/bot-x", json=body)
    assert _error(response) == (
        "status_exception",
        "Cannot resolve conflicting task_type parameter in the request URL [chat_completion] "
        "and the request body [completion]",
    )


def test_service_missing_and_unknown(http: httpx.Client) -> None:
    missing = http.put(f"{CHAT}/bot-x", json={"service_settings": {}})
    assert _error(missing) == (
        "status_exception",
        "Inference endpoint configuration is missing the [service] setting",
    )
    unknown = http.put(f"{CHAT}/bot-x", json={"service": "skynet", "service_settings": {}})
    assert _error(unknown) == ("status_exception", "Unknown service [skynet]")


@pytest.mark.parametrize(
    ("name", "version", "accepted"),
    [
        ("anthropic", "9.4.0", False),
        ("anthropic", "9.5.0", True),
        ("amazonbedrock", "9.3.0", False),
        ("amazonbedrock", "9.4.0", True),
        ("azureopenai", "9.2.0", False),
        ("azureopenai", "9.3.0", True),
        ("mistral", "8.19.0", False),
        ("mistral", "9.1.0", True),
        ("openai", "8.17.0", False),
        ("openai", "8.18.0", True),
    ],
)
def test_chat_support_follows_the_version(name: str, version: str, accepted: bool) -> None:
    with FakeElasticsearch(version=version) as es:
        response = httpx.put(
            f"{es.url}{CHAT}/bot-x",
            json=_body(name),
            headers={"Authorization": f"ApiKey {es.api_key}"},
        )
    if accepted:
        assert response.status_code == 200, response.text
    else:
        service = svc.EXAMPLES[name]["service"]
        assert _error(response) == (
            "status_exception",
            f"The [{service}] service does not support task type [chat_completion]",
        )


def test_anthropic_completion_exists_before_chat() -> None:
    with FakeElasticsearch(version="9.4.0") as es:
        response = httpx.put(
            f"{es.url}/_inference/completion/bot-claude",
            json=_body("anthropic"),
            headers={"Authorization": f"ApiKey {es.api_key}"},
        )
    assert response.status_code == 200
    assert response.json()["task_type"] == "completion"


@pytest.mark.parametrize(
    ("version", "serverless", "accepted"),
    [("9.4.0", False, False), ("9.5.0", False, True), ("8.11.0", True, True)],
)
def test_openai_oauth_needs_9_5_or_serverless(
    version: str, serverless: bool, accepted: bool
) -> None:
    body = _body("openai")
    del body["service_settings"]["api_key"]
    body["service_settings"] |= {
        "client_id": "id",
        "client_secret": "secret",
        "scopes": ["chat"],
        "token_url": "https://auth.example.com/token",
    }
    with FakeElasticsearch(version=version, serverless=serverless) as es:
        response = httpx.put(
            f"{es.url}{CHAT}/bot-x",
            json=body,
            headers={"Authorization": f"ApiKey {es.api_key}"},
        )
    if accepted:
        assert response.status_code == 200, response.text
        assert "client_secret" not in response.json()["service_settings"]
    else:
        assert _error(response) == (
            "validation_exception",
            "Validation Failed: 1: [secret_settings] does not contain the required setting "
            "[api_key];",
        )


def test_duplicate_id_is_already_exists_after_the_provider_call(
    es: FakeElasticsearch, http: httpx.Client
) -> None:
    assert http.put(f"{CHAT}/bot-x", json=_body("openai")).status_code == 200
    again = http.put(f"{CHAT}/bot-x", json=_body("mistral"))
    assert again.status_code == 400
    assert _error(again) == (
        "resource_already_exists_exception",
        "Inference endpoint [bot-x] already exists",
    )
    assert es.validation_calls == [("bot-x", "openai"), ("bot-x", "mistral")]
    assert es.endpoints()["bot-x"]["service"] == "openai"


@pytest.mark.parametrize(
    ("name", "secret", "status"),
    [
        ("openai", "api_key", 401),
        ("azureopenai", "api_key", 401),
        ("amazonbedrock", "access_key", 403),
        ("amazonbedrock", "secret_key", 403),
        ("googlevertexai", "service_account_json", 401),
        ("anthropic", "api_key", 401),
        ("mistral", "api_key", 401),
    ],
)
def test_bad_key_fails_at_put_as_the_provider_would(
    es: FakeElasticsearch, http: httpx.Client, name: str, secret: str, status: int
) -> None:
    body = _body(name)
    if secret == "service_account_json":
        account = json.loads(body["service_settings"][secret])
        account["private_key_id"] = "bad-key-id"
        body["service_settings"][secret] = json.dumps(account)
    else:
        body["service_settings"][secret] = "bad-" + body["service_settings"][secret]
    response = http.put(f"{CHAT}/bot-x", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "status_exception"
    assert error["reason"] == (
        "Could not complete inference endpoint creation as validation call to service threw "
        "an exception."
    )
    cause = error["caused_by"]
    assert cause["type"] == "unified_chat_completion_exception"
    assert cause["reason"].startswith("Received a")
    assert (
        f"for request from inference entity id [bot-x] status [{status}]. Error message: ["
        in (cause["reason"])
    )
    assert error["root_cause"] == [cause]
    assert "bot-x" not in es.endpoints()
    if name == "openai":
        assert "bad-sk-test-123456" not in response.text  # the provider masks keys


def test_provider_failure_knob_and_5xx_stays_400(es: FakeElasticsearch, http: httpx.Client) -> None:
    es.set_provider_failure(503, "overloaded")
    response = http.put(f"{CHAT}/bot-x", json=_body("openai"))
    assert response.status_code == 400
    assert "Received a server error status code" in response.json()["error"]["caused_by"]["reason"]
    es.set_provider_failure(404, "The model `gpt-9` does not exist")
    reason = http.put(f"{CHAT}/bot-x", json=_body("openai")).json()["error"]["caused_by"]["reason"]
    assert reason.startswith("Resource not found at [")
    es.set_provider_failure(None)
    assert http.put(f"{CHAT}/bot-x", json=_body("openai")).status_code == 200


def test_put_timeout_bounds_the_provider_call(es: FakeElasticsearch, http: httpx.Client) -> None:
    es.provider_delay = 0.5
    started = time.monotonic()
    response = http.put(f"{CHAT}/bot-x", json=_body("openai"), params={"timeout": "100ms"})
    assert response.status_code == 400
    assert "Timed out" in response.json()["error"]["caused_by"]["reason"]
    assert time.monotonic() - started < 0.5
    bad = http.put(f"{CHAT}/bot-x", json=_body("openai"), params={"timeout": "soon"})
    assert bad.status_code == 400
    assert _error(bad)[0] == "illegal_argument_exception"


# ---------------------------------------------------------------- GET, DELETE, _update


def test_get_one_all_and_by_task(es: FakeElasticsearch, http: httpx.Client) -> None:
    http.put(f"{CHAT}/bot-chat", json=_body("openai"))
    http.put("/_inference/completion/bot-done", json=_body("openai"))
    one = http.get(f"{CHAT}/bot-chat").json()["endpoints"]
    assert [e["inference_id"] for e in one] == ["bot-chat"]
    assert "api_key" not in one[0]["service_settings"]
    by_id = http.get("/_inference/bot-chat").json()["endpoints"]
    assert by_id == one
    everything = {e["inference_id"] for e in http.get("/_inference/_all").json()["endpoints"]}
    assert everything == {"bot-chat", "bot-done"}
    assert {e["inference_id"] for e in http.get("/_inference").json()["endpoints"]} == everything
    chats = http.get(f"{CHAT}/_all").json()["endpoints"]
    assert [e["inference_id"] for e in chats] == ["bot-chat"]


def test_get_unknown_and_wrong_task(http: httpx.Client) -> None:
    missing = http.get(f"{CHAT}/nope")
    assert missing.status_code == 404
    assert _error(missing) == (
        "resource_not_found_exception",
        "Inference endpoint not found [nope]",
    )
    http.put(f"{CHAT}/bot-chat", json=_body("openai"))
    wrong = http.get("/_inference/completion/bot-chat")
    assert wrong.status_code == 400
    assert _error(wrong)[1] == (
        "Requested task type [completion] does not match the inference endpoint's task type "
        "[chat_completion]"
    )


def test_eis_preconfigured_endpoints_appear_when_enabled(
    es: FakeElasticsearch, http: httpx.Client
) -> None:
    assert http.get(f"{CHAT}/_all").json()["endpoints"] == []
    es.eis_enabled = True
    found = http.get(f"{CHAT}/_all").json()["endpoints"]
    assert {e["inference_id"] for e in found} == set(svc.EIS_PRECONFIGURED)
    assert all(e["service"] == "elastic" for e in found)
    assert all(e["metadata"]["display"]["name"] for e in found)
    deleted = http.delete(f"{CHAT}/.rainbow-sprinkles-elastic")
    assert deleted.status_code == 400
    assert "is a reserved inference endpoint" in _error(deleted)[1]


def test_delete_with_references_force_and_dry_run(
    es: FakeElasticsearch, http: httpx.Client
) -> None:
    http.put(f"{CHAT}/bot-x", json=_body("openai"))
    es.set_references("bot-x", pipelines=["p1"])
    refused = http.delete(f"{CHAT}/bot-x")
    assert refused.status_code == 409
    assert _error(refused)[1].startswith(
        "Inference endpoint bot-x is referenced by pipelines: [p1]."
    )
    dry = http.delete(f"{CHAT}/bot-x", params={"dry_run": "true"}).json()
    assert dry["acknowledged"] is False
    assert dry["pipelines"] == ["p1"]
    assert "error_message" in dry
    assert "bot-x" in es.endpoints()
    forced = http.delete(f"{CHAT}/bot-x", params={"force": "true"})
    assert forced.json() == {"acknowledged": True, "pipelines": [], "indexes": []}
    assert http.delete(f"{CHAT}/bot-x").status_code == 404


def test_update_rotates_secrets_and_refuses_other_keys(
    es: FakeElasticsearch, http: httpx.Client
) -> None:
    http.put(f"{CHAT}/bot-x", json=_body("openai"))
    rotated = http.put(f"{CHAT}/bot-x/_update", json={"service_settings": {"api_key": "sk-new"}})
    assert rotated.status_code == 200
    assert "api_key" not in rotated.json()["service_settings"]
    assert es.endpoints()["bot-x"]["service_settings"]["api_key"] == "sk-new"
    refused = http.put(f"{CHAT}/bot-x/_update", json={"service": "openai"})
    assert _error(refused) == (
        "status_exception",
        "Request contained fields which cannot be updated, remove these fields and try again "
        "[{service=openai}]",
    )
    empty = http.put(f"{CHAT}/bot-x/_update")
    assert empty.status_code == 400
    assert _error(empty)[1] == "Request body is empty"
    missing = http.put(f"{CHAT}/nope/_update", json={"service_settings": {"api_key": "k"}})
    assert missing.status_code == 404
    assert (
        _error(missing)[1] == "The inference endpoint [nope] does not exist and cannot be updated"
    )
    bad = http.put(f"{CHAT}/bot-x/_update", json={"service_settings": {"api_key": "bad-key"}})
    assert bad.status_code == 400  # newest ES validates on update too
    assert es.endpoints()["bot-x"]["service_settings"]["api_key"] == "sk-new"


def test_update_needs_the_complete_secret_set(http: httpx.Client) -> None:
    http.put(f"{CHAT}/bot-b", json=_body("amazonbedrock"))
    half = http.put(f"{CHAT}/bot-b/_update", json={"service_settings": {"access_key": "AKIANEW"}})
    assert half.status_code == 400
    assert "[secret_key]" in _error(half)[1]


# ---------------------------------------------------------------- _stream


def _stream(http: httpx.Client, inference_id: str, body: Any = HELLO) -> httpx.Response:
    return http.post(f"{CHAT}/{inference_id}/_stream", json=body)


def test_stream_wire_format(es: FakeElasticsearch, http: httpx.Client) -> None:
    http.put(f"{CHAT}/bot-x", json=_body("openai"))
    es.set_stream(reply="pong back", usage=(14, 2))
    response = _stream(http, "bot-x")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["x-elastic-product"] == "Elasticsearch"
    events = _events(response.text)
    assert all(name == "message" for name, _ in events)
    assert events[-1] == ("message", "[DONE]")
    chunks = [json.loads(data) for _, data in events[:-1]]
    for (_, data), chunk in zip(events, chunks, strict=False):
        assert data == json.dumps(chunk, separators=(",", ":"))  # compact, one line
        assert chunk["object"] == "chat.completion.chunk"
        assert "chat_completion" not in chunk
        assert chunk["model"] == "gpt-4o"
    assert chunks[0]["choices"] == [{"delta": {"content": "", "role": "assistant"}, "index": 0}]
    text = "".join(c["choices"][0]["delta"]["content"] for c in chunks if c["choices"])
    assert text == "pong back"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"completion_tokens": 2, "prompt_tokens": 14, "total_tokens": 16}


@pytest.mark.parametrize(
    ("mode", "last"),
    [("no_usage", "[DONE]"), ("length", "[DONE]"), ("single", "[DONE]"), ("tool_call", "[DONE]")],
)
def test_stream_modes_end_with_done(
    es: FakeElasticsearch, http: httpx.Client, mode: str, last: str
) -> None:
    http.put(f"{CHAT}/bot-x", json=_body("openai"))
    es.set_stream(mode=mode)
    events = _events(_stream(http, "bot-x").text)
    assert events[-1] == ("message", last)
    chunks = [json.loads(d) for _, d in events[:-1]]
    if mode == "no_usage":
        assert not any("usage" in c for c in chunks)
    if mode == "length":
        assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    if mode == "single":
        assert len(chunks) == 1
    if mode == "tool_call":
        assert any("tool_calls" in c["choices"][0]["delta"] for c in chunks if c["choices"])


def test_error_inside_the_stream(es: FakeElasticsearch, http: httpx.Client) -> None:
    http.put(f"{CHAT}/bot-x", json=_body("openai"))
    es.set_stream(mode="mid_error", error_message="context length exceeded")
    response = _stream(http, "bot-x")
    assert response.status_code == 200
    events = _events(response.text)
    assert events[-1][0] == "error"
    assert "[DONE]" not in [d for _, d in events]
    error = json.loads(events[-1][1])["error"]
    assert error["message"] == (
        "Received an error response for request from inference entity id [bot-x]. Error "
        "message: [context length exceeded]"
    )
    assert set(error) == {"code", "message", "type"}


def test_error_before_the_stream(es: FakeElasticsearch, http: httpx.Client) -> None:
    http.put(f"{CHAT}/bot-x", json=_body("openai"))
    es.set_stream(mode="pre_error", error_status=429, error_code="rate_limit_exceeded")
    response = _stream(http, "bot-x")
    assert response.status_code == 429
    assert response.headers["content-type"] == "text/event-stream"
    [(name, data)] = _events(response.text)
    assert name == "error"
    assert json.loads(data)["error"]["code"] == "rate_limit_exceeded"
    assert "status" not in json.loads(data)


def test_stream_of_a_stored_bad_key_fails_with_the_provider_401(
    es: FakeElasticsearch, http: httpx.Client
) -> None:
    body = _body("openai")
    body["service_settings"]["api_key"] = "bad-key"
    es.add_endpoint("bot-x", body)
    response = _stream(http, "bot-x")
    assert response.status_code == 401
    [(name, data)] = _events(response.text)
    assert name == "error"
    error = json.loads(data)["error"]
    assert error["code"] == "invalid_api_key"
    assert "status [401]" in error["message"]


def test_stream_of_unknown_endpoint_is_an_sse_404(http: httpx.Client) -> None:
    response = _stream(http, "nope")
    assert response.status_code == 404
    [(name, data)] = _events(response.text)
    assert name == "error"
    assert json.loads(data) == {
        "error": {
            "code": "not_found",
            "message": "Inference endpoint not found [nope]",
            "type": "resource_not_found_exception",
        }
    }


@pytest.mark.parametrize("extra", ["stream", "n", "max_tokens", "stream_options"])
def test_stream_body_is_parsed_strictly(http: httpx.Client, extra: str) -> None:
    http.put(f"{CHAT}/bot-x", json=_body("openai"))
    response = _stream(http, "bot-x", HELLO | {extra: True})
    assert response.status_code == 400
    [(name, data)] = _events(response.text)
    assert name == "error"
    error = json.loads(data)["error"]
    assert error["type"] == "x_content_parse_exception"
    assert error["message"].endswith(f"[UnifiedCompletionRequest] unknown field [{extra}]")
    missing = _stream(http, "bot-x", {"model": "x"})
    assert "Required [messages]" in _events(missing.text)[0][1]
    no_role = _stream(http, "bot-x", {"messages": [{"content": "hi"}]})
    assert "Required [role]" in _events(no_role.text)[0][1]


def test_stream_task_type_rules(http: httpx.Client) -> None:
    http.put("/_inference/completion/bot-done", json=_body("openai"))
    http.put(f"{CHAT}/bot-chat", json=_body("openai"))
    wrong = _stream(http, "bot-done")
    assert wrong.status_code == 400
    assert "Incompatible task_type for unified API" in _events(wrong.text)[0][1]
    plain = http.post(f"{CHAT}/bot-chat", json=HELLO)
    assert plain.status_code == 400
    assert "only supports streaming" in plain.json()["error"]["message"]
    done = http.post("/_inference/completion/bot-done", json={"input": "hi"})
    assert done.json()["completion"][0]["result"]


def test_slow_first_token(es: FakeElasticsearch, http: httpx.Client) -> None:
    http.put(f"{CHAT}/bot-x", json=_body("openai"))
    es.set_stream(first_token_delay=1.0)
    started = time.monotonic()
    with http.stream("POST", f"{CHAT}/bot-x/_stream", json=HELLO) as response:
        headers_at = time.monotonic() - started
        first = next(response.iter_bytes())
        first_at = time.monotonic() - started
    assert headers_at < 0.9  # the headers come at once, the first event after the delay
    assert first_at >= 1.0
    assert first.startswith(BOM.encode())


def test_never_ending_stream_holds_until_the_client_leaves(
    es: FakeElasticsearch, http: httpx.Client
) -> None:
    http.put(f"{CHAT}/bot-x", json=_body("openai"))
    es.set_stream(mode="never_end")
    received: list[bytes] = []

    def read_all() -> None:
        with http.stream(
            "POST", f"{CHAT}/bot-x/_stream", json=HELLO, timeout=httpx.Timeout(5, read=0.3)
        ) as response:
            received.extend(response.iter_bytes())

    with pytest.raises(httpx.ReadTimeout):
        read_all()
    received_bytes = b"".join(received)
    assert b"[DONE]" not in received_bytes
    assert b"content" in received_bytes


def test_cut_stream_has_no_end(es: FakeElasticsearch, http: httpx.Client) -> None:
    http.put(f"{CHAT}/bot-x", json=_body("openai"))
    es.set_stream(mode="cut")
    with pytest.raises(httpx.RemoteProtocolError):
        _stream(http, "bot-x")


def test_malformed_mode_sends_an_event_that_is_not_json(
    es: FakeElasticsearch, http: httpx.Client
) -> None:
    http.put(f"{CHAT}/bot-x", json=_body("openai"))
    es.set_stream(mode="malformed")
    datas = [d for _, d in _events(_stream(http, "bot-x").text)]
    with pytest.raises(ValueError):  # noqa: PT011 - json's own error
        json.loads(datas[1])


# ---------------------------------------------------------------- faults and records


def test_faults_delays_and_records(es: FakeElasticsearch, http: httpx.Client) -> None:
    es.fail_next(status=503, path_contains="_all")
    assert http.get("/_inference/_all").status_code == 503
    assert http.get("/_inference/_all").status_code == 200
    es.drop_next(method="GET")
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("/")
    es.set_delay(0.2, method="GET")
    started = time.monotonic()
    http.get("/")
    assert time.monotonic() - started >= 0.2
    es.set_delay(0, method="GET")
    recorded = es.wait_for_request("GET", "/", count=2)
    assert [r.status for r in recorded] == [0, 200]
    assert recorded[-1].headers["authorization"] == f"ApiKey {es.api_key}"
    put = http.put(f"{CHAT}/bot-x", json=_body("openai"), params={"timeout": "90s"})
    assert put.status_code == 200
    [record] = es.requests_to("PUT", "/bot-x")
    assert record.query == {"timeout": "90s"}
    assert record.body == _body("openai")


# --- documents: POST /<index>/_doc (the AUDIT_INDEX data stream) -------------------------------

STREAM = "logs-bot.audit-default"


def test_a_data_stream_takes_created_documents_with_a_timestamp(
    es: FakeElasticsearch, http: httpx.Client
) -> None:
    es.add_data_stream(STREAM)
    document = {"@timestamp": "2026-11-01T00:00:00Z", "action": "submitted"}
    response = http.post(f"/{STREAM}/_doc", params={"op_type": "create"}, json=document)
    assert response.status_code == 201
    assert response.json()["result"] == "created"
    assert response.json()["_index"].startswith(f".ds-{STREAM}-")
    assert es.documents(STREAM) == [document]


def test_a_data_stream_refuses_other_writes(es: FakeElasticsearch, http: httpx.Client) -> None:
    es.add_data_stream(STREAM)
    plain = http.post(f"/{STREAM}/_doc", json={"@timestamp": "2026-11-01T00:00:00Z"})
    assert plain.status_code == 400
    assert "op_type of create" in _error(plain)[1]
    untimed = http.post(f"/{STREAM}/_doc", params={"op_type": "create"}, json={"a": 1})
    assert untimed.status_code == 400
    assert _error(untimed)[0] == "document_parsing_exception"
    assert es.documents(STREAM) == []


def test_documents_need_a_key_a_good_name_and_the_privilege(
    es: FakeElasticsearch, http: httpx.Client
) -> None:
    body = {"@timestamp": "2026-11-01T00:00:00Z"}
    anonymous = httpx.post(f"{es.url}/{STREAM}/_doc", params={"op_type": "create"}, json=body)
    assert anonymous.status_code == 401
    bad = http.post("/Audit/_doc", params={"op_type": "create"}, json=body)
    assert bad.status_code == 400
    assert _error(bad)[0] == "invalid_index_name_exception"
    es.can_write_documents = False
    refused = http.post(f"/{STREAM}/_doc", params={"op_type": "create"}, json=body)
    assert refused.status_code == 403
    assert http.get(f"/{STREAM}/_doc").status_code == 405
