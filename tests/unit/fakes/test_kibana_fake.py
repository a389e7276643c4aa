"""Self-tests of the fake Kibana (tests/fakes/kibana.py) and its strict rules (kibana_schemas)."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.fakes import kibana_schemas as ks
from tests.fakes.kibana import FakeKibana

API_KEY = "test-kibana-api-key"
RULE_ONLY_MESSAGES = ("data file format:", "Invalid JSON format for credentials")
CONNECTOR = "/api/actions/connector"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


CERT = _b64("-----BEGIN CERTIFICATE-----\nMIIBfakecert\n-----END CERTIFICATE-----\n")
KEY = _b64("-----BEGIN PRIVATE KEY-----\nMIIEfakekey\n-----END PRIVATE KEY-----\n")
SERVICE_ACCOUNT = json.dumps(
    {
        "type": "service_account",
        "project_id": "my-proj",
        "private_key_id": "abc",
        "private_key": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n",
        "client_email": "bot@my-proj.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
)

BODIES: dict[str, dict[str, Any]] = {
    "openai": {
        "name": "OpenAI gpt-4.1",
        "connector_type_id": ".gen-ai",
        "config": {"apiProvider": "OpenAI", "apiUrl": "https://api.openai.com/v1/chat/completions"},
        "secrets": {"apiKey": "sk-test"},
    },
    "azure": {
        "name": "Azure OpenAI gpt-4o",
        "connector_type_id": ".gen-ai",
        "config": {
            "apiProvider": "Azure OpenAI",
            "apiUrl": "https://my-res.openai.azure.com/openai/deployments/gpt-4o/chat/completions"
            "?api-version=2024-10-21",
        },
        "secrets": {"apiKey": "azure-key"},
    },
    "other_pki": {
        "name": "vLLM Mistral",
        "connector_type_id": ".gen-ai",
        "config": {
            "apiProvider": "Other",
            "apiUrl": "https://llm.example.com/v1/chat/completions",
            "defaultModel": "mistralai/Mistral-Small",
            "verificationMode": "full",
            "enableNativeFunctionCalling": True,
        },
        "secrets": {
            "apiKey": "token",
            "certificateData": CERT,
            "privateKeyData": KEY,
            "caData": CERT,
        },
    },
    "bedrock": {
        "name": "Bedrock Claude",
        "connector_type_id": ".bedrock",
        "config": {"apiUrl": "https://bedrock-runtime.us-east-1.amazonaws.com"},
        "secrets": {"accessKey": "AKIAEXAMPLE", "secret": "s3cr3t"},
    },
    "gemini": {
        "name": "Vertex Gemini",
        "connector_type_id": ".gemini",
        "config": {
            "apiUrl": "https://us-central1-aiplatform.googleapis.com",
            "gcpRegion": "us-central1",
            "gcpProjectID": "my-proj",
        },
        "secrets": {"credentialsJson": SERVICE_ACCOUNT},
    },
    "inference": {
        "name": "AI connector",
        "connector_type_id": ".inference",
        "config": {
            "provider": "openai",
            "taskType": "chat_completion",
            "inferenceId": "bot-openai-chat",
            "providerConfig": {"model_id": "gpt-4o"},
        },
        "secrets": {"providerSecrets": {"api_key": "sk-test"}},
    },
}

GEN_AI_TEST = {
    "subAction": "test",
    "subActionParams": {"body": json.dumps({"messages": [{"role": "user", "content": "Hello"}]})},
}
BEDROCK_TEST = {
    "subAction": "test",
    "subActionParams": {
        "body": json.dumps(
            {
                "anthropic_version": "bedrock-2023-05-31",
                "messages": [{"content": "Hello world", "role": "user"}],
                "max_tokens": 8191,
                "stop_sequences": ["\n\nHuman:"],
            }
        )
    },
}
GEMINI_TEST = {
    "subAction": "test",
    "subActionParams": {
        "body": json.dumps(
            {
                "contents": [{"role": "user", "parts": [{"text": "Hello world!"}]}],
                "generation_config": {"temperature": 0, "maxOutputTokens": 8192},
            }
        )
    },
}
INFERENCE_TEST = {
    "subAction": "unified_completion",
    "subActionParams": {"body": {"messages": [{"role": "user", "content": "Hello world"}]}},
}


def body(kind: str, **changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(BODIES[kind])
    result.update(changes)
    return result


@pytest.fixture
def kibana() -> Iterator[FakeKibana]:
    with FakeKibana() as fake:
        yield fake


def _client(kibana: FakeKibana, **headers: str) -> httpx.Client:
    base = {"Authorization": f"ApiKey {API_KEY}", "kbn-xsrf": "true"}
    base.update(headers)
    return httpx.Client(base_url=kibana.url, headers=base, timeout=10, trust_env=False)


@pytest.fixture
def client(kibana: FakeKibana) -> Iterator[httpx.Client]:
    with _client(kibana) as c:
        yield c


def boom(status: int, error: str, message: str) -> dict[str, Any]:
    return {"statusCode": status, "error": error, "message": message}


# ------------------------------------------------------------------ create / ids / headers


def test_create_with_id_in_default_and_another_space(
    kibana: FakeKibana, client: httpx.Client
) -> None:
    assert not kibana.url.endswith("/")
    response = client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"])
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": "bot-openai",
        "name": "OpenAI gpt-4.1",
        "connector_type_id": ".gen-ai",
        "config": {
            "apiProvider": "OpenAI",
            "apiUrl": "https://api.openai.com/v1/chat/completions",
            "defaultModel": "gpt-4.1",
        },
        "is_preconfigured": False,
        "is_deprecated": False,
        "is_system_action": False,
        "is_missing_secrets": False,
        "is_connector_type_deprecated": False,
    }
    assert kibana.connectors()["bot-openai"]["secrets"] == {"apiKey": "sk-test"}

    kibana.add_space("marketing")
    other = client.post(f"/s/marketing{CONNECTOR}/bot-openai", json=BODIES["openai"])
    assert other.status_code == 200, other.text
    assert set(kibana.connectors("marketing")) == {"bot-openai"}
    recorded = kibana.requests_to("POST", f"{CONNECTOR}/bot-openai")
    assert [(r.space, r.path, r.status) for r in recorded] == [
        ("default", f"{CONNECTOR}/bot-openai", 200),
        ("marketing", f"{CONNECTOR}/bot-openai", 200),
    ]
    assert recorded[0].headers["kbn-xsrf"] == "true"
    assert recorded[0].body == BODIES["openai"]


def test_create_without_id_uses_a_uuid(kibana: FakeKibana, client: httpx.Client) -> None:
    response = client.post(CONNECTOR, json=BODIES["bedrock"])
    assert response.status_code == 200, response.text
    created = response.json()
    assert len(created["id"]) == 36
    assert created["config"]["defaultModel"] == "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert "secrets" not in created
    assert kibana.connectors()[created["id"]]["secrets"] == BODIES["bedrock"]["secrets"]


def test_second_create_with_the_same_id_is_a_conflict(client: httpx.Client) -> None:
    assert client.post(f"{CONNECTOR}/bot-gemini", json=BODIES["gemini"]).status_code == 200
    again = client.post(f"{CONNECTOR}/bot-gemini", json=BODIES["gemini"])
    assert again.status_code == 409
    assert again.json() == boom(409, "Conflict", "Saved object [action/bot-gemini] conflict")


def test_preconfigured_id_cannot_be_created(kibana: FakeKibana, client: httpx.Client) -> None:
    kibana.add_preconfigured("my-open-ai", name="Shared OpenAI", connector_type_id=".gen-ai")
    response = client.post(f"{CONNECTOR}/my-open-ai", json=BODIES["openai"])
    assert response.status_code == 400
    assert response.json() == boom(
        400, "Bad Request", "This my-open-ai already exists in a preconfigured action."
    )


@pytest.mark.parametrize(
    ("connector_id", "message"),
    [
        ("Bot-OpenAI", "Connector ID must contain only lowercase letters, numbers, and hyphens."),
        ("bot_openai", "Connector ID must contain only lowercase letters, numbers, and hyphens."),
        ("-bot", "Connector ID must contain only lowercase letters, numbers, and hyphens."),
        ("a" * 37, "Connector ID must be 36 characters or less."),
    ],
)
def test_bad_connector_id_is_rejected(
    kibana: FakeKibana, client: httpx.Client, connector_id: str, message: str
) -> None:
    response = client.post(f"{CONNECTOR}/{connector_id}", json=BODIES["openai"])
    assert response.status_code == 400
    assert response.json() == boom(400, "Bad Request", f"[request params.id]: {message}")
    assert kibana.connectors() == {}


def test_a_36_character_id_is_fine(client: httpx.Client) -> None:
    assert client.post(f"{CONNECTOR}/{'a' * 36}", json=BODIES["openai"]).status_code == 200


def test_missing_kbn_xsrf_header(kibana: FakeKibana) -> None:
    with httpx.Client(
        base_url=kibana.url, headers={"Authorization": f"ApiKey {API_KEY}"}, trust_env=False
    ) as client:
        response = client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"])
        assert client.get("/api/actions/connectors").status_code == 200  # GET needs none
    assert response.status_code == 400
    assert response.json() == boom(400, "Bad Request", "Request must contain a kbn-xsrf header.")
    assert kibana.connectors() == {}


@pytest.mark.parametrize("authorization", [None, "ApiKey wrong", f"Bearer {API_KEY}"])
def test_bad_api_key_is_unauthorized(kibana: FakeKibana, authorization: str | None) -> None:
    headers = {"kbn-xsrf": "true"}
    if authorization is not None:
        headers["Authorization"] = authorization
    with httpx.Client(base_url=kibana.url, headers=headers, trust_env=False) as client:
        created = client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"])
        status = client.get("/api/status")
    assert created.status_code == 401
    assert created.json() == boom(401, "Unauthorized", "Unauthorized")
    assert status.status_code == 401
    assert [r.status for r in kibana.requests] == [401, 401]


def test_body_without_json_content_type_is_415(client: httpx.Client) -> None:
    response = client.post(
        f"{CONNECTOR}/bot-openai",
        content=json.dumps(BODIES["openai"]),
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 415
    assert response.json()["error"] == "Unsupported Media Type"


def test_invalid_json_is_400(client: httpx.Client) -> None:
    response = client.post(
        f"{CONNECTOR}/bot-openai", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid request payload JSON format"


def test_unknown_space_and_unknown_route_are_404(client: httpx.Client) -> None:
    response = client.get("/s/nowhere/api/actions/connectors")
    assert response.status_code == 404
    assert response.json() == boom(404, "Not Found", "Not Found")
    assert client.get("/api/actions/nothing").status_code == 404
    assert client.get(CONNECTOR).status_code == 404


@pytest.mark.parametrize(
    ("kind", "change", "message"),
    [
        (
            "openai",
            {"config": {**BODIES["openai"]["config"], "x": 1}},
            'error validating connector type config: Unrecognized keys: "x"',
        ),
        (
            "openai",
            {"config": {**BODIES["openai"]["config"], "apiUrl": ""}},
            "[request body.config.apiUrl]: value '' is not valid",
        ),
        (
            "bedrock",
            {"secrets": {"accessKey": "  ", "secret": "s"}},
            "[request body.secrets.accessKey]: value '' is not valid",
        ),
        ("openai", {"name": " "}, "[request body.name]: value '' is not valid"),
        (
            "other_pki",
            {"config": {"apiProvider": "Other", "apiUrl": "https://llm.example.com/v1/x"}},
            'error validating connector type config: Field "defaultModel": Required',
        ),
        (
            "gemini",
            {"secrets": {"credentialsJson": json.dumps({"type": "external_account"})}},
            "error validating connector type secrets: Error configuring Google Gemini secrets: "
            'Error: Invalid credential type. Only "service_account" credentials are supported. '
            'Type was "external_account".',
        ),
        (
            "gemini",
            {"config": {}},
            "error validating connector type config: 3 errors:\n"
            ' [1]: Field "apiUrl": Required;\n'
            ' [2]: Field "gcpRegion": Required;\n'
            ' [3]: Field "gcpProjectID": Required',
        ),
        (
            "openai",
            {"extra": True},
            "[request body.extra]: definition for this key is missing",
        ),
    ],
)
def test_invalid_create_bodies_are_400(
    kibana: FakeKibana, client: httpx.Client, kind: str, change: dict[str, Any], message: str
) -> None:
    response = client.post(f"{CONNECTOR}/bot-x", json=body(kind, **change))
    assert response.status_code == 400
    assert response.json() == boom(400, "Bad Request", message)
    assert kibana.connectors() == {}


def test_basic_licence_forbids_llm_connectors() -> None:
    with FakeKibana(license="basic") as kibana, _client(kibana) as client:
        response = client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"])
        types = {t["id"]: t for t in client.get("/api/actions/connector_types").json()}
    assert response.status_code == 403
    assert response.json() == boom(
        403,
        "Forbidden",
        "Action type .gen-ai is disabled because your basic license does not support it. "
        "Please upgrade your license.",
    )
    assert types[".gen-ai"]["enabled_in_license"] is False
    assert types[".gen-ai"]["enabled"] is False
    assert types[".gen-ai"]["minimum_license_required"] == "enterprise"


def test_disabled_type_and_missing_privileges_are_403(
    kibana: FakeKibana, client: httpx.Client
) -> None:
    kibana.set_type_state(".bedrock", enabled=False)
    disabled = client.post(f"{CONNECTOR}/bot-bedrock", json=BODIES["bedrock"])
    assert disabled.status_code == 403
    assert disabled.json()["message"] == (
        'action type ".bedrock" is not enabled in the Kibana config '
        "xpack.actions.enabledActionTypes"
    )
    kibana.privileges_ok = False
    forbidden = client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"])
    assert forbidden.status_code == 403
    assert forbidden.json()["message"] == 'Unauthorized to create a ".gen-ai" action'
    assert kibana.connectors() == {}


def test_allowed_hosts(kibana: FakeKibana, client: httpx.Client) -> None:
    kibana.allowed_hosts = ["api.openai.com"]
    refused = client.post(f"{CONNECTOR}/bot-other", json=BODIES["other_pki"])
    assert refused.status_code == 400
    assert refused.json()["message"] == (
        "error validating connector type config: Error configuring OpenAI action: Error: error "
        'validating url: target url "https://llm.example.com/v1/chat/completions" is not added '
        "to the Kibana config xpack.actions.allowedHosts"
    )
    assert client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"]).status_code == 200


def test_inference_endpoint_id_must_be_new(client: httpx.Client) -> None:
    assert client.post(f"{CONNECTOR}/bot-ai", json=BODIES["inference"]).status_code == 200
    retry = client.post(f"{CONNECTOR}/bot-ai", json=BODIES["inference"])
    assert retry.status_code == 400
    assert retry.json()["message"] == (
        "Inference with id bot-openai-chat and task type chat_completion already exists."
    )


# ------------------------------------------------------------------ read / update / delete


def test_list_is_sorted_and_includes_preconfigured(
    kibana: FakeKibana, client: httpx.Client
) -> None:
    kibana.add_preconfigured(
        "Elastic-Managed-LLM",
        name="Elastic Managed LLM",
        connector_type_id=".inference",
        config={"provider": "elastic", "taskType": "chat_completion"},
        expose_config=False,
    )
    kibana.add_preconfigured(
        "my-bedrock",
        name="bedrock preconfigured",
        connector_type_id=".bedrock",
        config={"apiUrl": "https://bedrock-runtime.us-east-1.amazonaws.com"},
    )
    client.post(f"{CONNECTOR}/zeta", json=body("openai", name="Zeta"))
    client.post(f"{CONNECTOR}/alpha", json=body("openai", name="alpha"))
    listed = client.get("/api/actions/connectors").json()
    assert [c["name"] for c in listed] == [
        "alpha",
        "bedrock preconfigured",
        "Elastic Managed LLM",
        "Zeta",
    ]
    by_id = {c["id"]: c for c in listed}
    assert all(c["referenced_by_count"] == 0 for c in listed)
    assert by_id["Elastic-Managed-LLM"]["is_preconfigured"] is True
    assert "config" not in by_id["Elastic-Managed-LLM"]
    assert by_id["my-bedrock"]["config"]["apiUrl"].startswith("https://bedrock-runtime")
    assert by_id["alpha"]["is_preconfigured"] is False
    assert all("secrets" not in c for c in listed)

    kibana.add_space("ops")
    in_ops = client.get("/s/ops/api/actions/connectors").json()
    assert [c["id"] for c in in_ops] == ["my-bedrock", "Elastic-Managed-LLM"]
    assert client.get(f"/s/ops{CONNECTOR}/Elastic-Managed-LLM").status_code == 200


def test_get_update_delete(kibana: FakeKibana, client: httpx.Client) -> None:
    client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"])
    assert client.get(f"{CONNECTOR}/bot-openai").json()["name"] == "OpenAI gpt-4.1"

    update = {"name": "Renamed", "config": BODIES["openai"]["config"]}
    no_secrets = client.put(f"{CONNECTOR}/bot-openai", json=update)
    assert no_secrets.status_code == 400
    assert no_secrets.json()["message"] == (
        "error validating connector type secrets: [apiKey]: expected value of type [string] "
        "but got [undefined]"
    )
    with_type = client.put(
        f"{CONNECTOR}/bot-openai",
        json={**update, "secrets": {"apiKey": "k2"}, "connector_type_id": ".gen-ai"},
    )
    assert with_type.json()["message"] == (
        "[request body.connector_type_id]: definition for this key is missing"
    )
    updated = client.put(f"{CONNECTOR}/bot-openai", json={**update, "secrets": {"apiKey": "k2"}})
    assert updated.status_code == 200, updated.text
    assert updated.json()["name"] == "Renamed"
    assert kibana.connectors()["bot-openai"]["secrets"] == {"apiKey": "k2"}

    deleted = client.delete(f"{CONNECTOR}/bot-openai")
    assert deleted.status_code == 204
    assert deleted.content == b""
    missing = client.get(f"{CONNECTOR}/bot-openai")
    assert missing.status_code == 404
    assert missing.json() == boom(404, "Not Found", "Saved object [action/bot-openai] not found")
    assert client.delete(f"{CONNECTOR}/bot-openai").status_code == 404


def test_preconfigured_cannot_be_updated_or_deleted(
    kibana: FakeKibana, client: httpx.Client
) -> None:
    kibana.add_preconfigured("my-open-ai", name="Shared", connector_type_id=".gen-ai")
    update = {"name": "x", "config": BODIES["openai"]["config"], "secrets": {"apiKey": "k"}}
    updated = client.put(f"{CONNECTOR}/my-open-ai", json=update)
    assert updated.json() == boom(
        400, "Bad Request", "Preconfigured action my-open-ai is not allowed to update."
    )
    deleted = client.delete(f"{CONNECTOR}/my-open-ai")
    assert deleted.json() == boom(
        400, "Bad Request", "Preconfigured action my-open-ai is not allowed to delete."
    )


def test_existing_connector_can_be_seeded(kibana: FakeKibana, client: httpx.Client) -> None:
    kibana.add_connector("default", "seeded", BODIES["gemini"])
    got = client.get(f"{CONNECTOR}/seeded").json()
    assert got["config"]["defaultModel"] == "gemini-2.5-pro"
    assert kibana.connectors()["seeded"]["secrets"] == BODIES["gemini"]["secrets"]


def test_connector_types_status_and_deprecation() -> None:
    with FakeKibana(version="9.5.0") as kibana, _client(kibana) as client:
        types = client.get("/api/actions/connector_types").json()
        security = client.get(
            "/api/actions/connector_types", params={"feature_id": "generativeAIForSecurity"}
        ).json()
        status = client.get("/api/status").json()
        created = client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"]).json()
    by_id = {t["id"]: t for t in types}
    assert by_id[".gen-ai"]["name"] == "OpenAI"
    assert by_id[".bedrock"]["name"] == "Amazon Bedrock"
    assert by_id[".gemini"]["name"] == "Google Gemini"
    assert by_id[".inference"]["name"] == "AI Connector"
    assert {".email", ".slack"} <= set(by_id)
    assert by_id[".gen-ai"]["is_deprecated"] is True
    assert by_id[".email"]["is_deprecated"] is False
    assert set(by_id[".email"]) >= {
        "id",
        "name",
        "enabled",
        "enabled_in_config",
        "enabled_in_license",
        "minimum_license_required",
        "supported_feature_ids",
        "is_system_action_type",
        "is_deprecated",
        "source",
    }
    assert {t["id"] for t in security} == {".gen-ai", ".bedrock", ".gemini", ".inference"}
    assert status["version"]["number"] == "9.5.0"
    assert status["status"]["overall"]["level"] == "available"
    assert created["is_connector_type_deprecated"] is True


def test_set_type_state_deprecation_override(kibana: FakeKibana, client: httpx.Client) -> None:
    kibana.set_type_state(".gemini", is_deprecated=True)
    created = client.post(f"{CONNECTOR}/bot-gemini", json=BODIES["gemini"]).json()
    assert created["is_connector_type_deprecated"] is True


# ------------------------------------------------------------------ _execute


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("openai", GEN_AI_TEST),
        ("bedrock", BEDROCK_TEST),
        ("gemini", GEMINI_TEST),
        ("inference", INFERENCE_TEST),
    ],
)
def test_execute_canned_success(client: httpx.Client, kind: str, params: dict[str, Any]) -> None:
    client.post(f"{CONNECTOR}/bot-{kind}", json=BODIES[kind])
    response = client.post(f"{CONNECTOR}/bot-{kind}/_execute", json={"params": params})
    assert response.status_code == 200
    result = response.json()
    assert result["status"] == "ok", result
    assert result["connector_id"] == f"bot-{kind}"
    data = result["data"]
    if kind == "openai":
        assert data["model"] == "gpt-4.1"
        assert data["choices"][0]["message"] == {
            "role": "assistant",
            "content": "Hello! How can I help you today?",
        }
        assert data["choices"][0]["finish_reason"] == "stop"
        assert set(data["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
        assert data["object"] == "chat.completion"
    elif kind == "bedrock":
        assert data["stop_reason"] == "end_turn"
        assert set(data["usage"]) == {"input_tokens", "output_tokens"}
        assert data["completion"]
    elif kind == "gemini":
        assert data["completion"]
        assert set(data["usageMetadata"]) == {
            "promptTokenCount",
            "candidatesTokenCount",
            "totalTokenCount",
        }
    else:
        assert data["model"] == "gpt-4o"
        assert data["choices"][0]["message"]["role"] == "assistant"


def test_execute_uses_the_model_of_the_body(client: httpx.Client) -> None:
    client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"])
    params = {
        "subAction": "test",
        "subActionParams": {
            "body": json.dumps(
                {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
            )
        },
    }
    data = client.post(f"{CONNECTOR}/bot-openai/_execute", json={"params": params}).json()["data"]
    assert data["model"] == "gpt-4o-mini"


def test_execute_configured_error_result(kibana: FakeKibana, client: httpx.Client) -> None:
    client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"])
    kibana.set_execute_result(
        "bot-openai",
        status="error",
        service_message="Status code: 401. Message: Unauthorized API Error - Incorrect API key",
        retry=True,
        error_source="user",
    )
    result = client.post(f"{CONNECTOR}/bot-openai/_execute", json={"params": GEN_AI_TEST}).json()
    assert result == {
        "status": "error",
        "connector_id": "bot-openai",
        "message": "an error occurred while running the action",
        "service_message": "Status code: 401. Message: Unauthorized API Error - Incorrect API key",
        "retry": True,
        "errorSource": "user",
    }
    kibana.set_execute_result(status="error", message="boom")  # default for all, keys omitted
    kibana.clear_execute_result("bot-openai")
    result = client.post(f"{CONNECTOR}/bot-openai/_execute", json={"params": GEN_AI_TEST}).json()
    assert result == {"status": "error", "connector_id": "bot-openai", "message": "boom"}
    kibana.set_execute_result(status="ok", data={"custom": 1})
    result = client.post(f"{CONNECTOR}/bot-openai/_execute", json={"params": GEN_AI_TEST}).json()
    assert result == {"status": "ok", "connector_id": "bot-openai", "data": {"custom": 1}}


def test_execute_inference_test_sub_action_is_not_registered(client: httpx.Client) -> None:
    client.post(f"{CONNECTOR}/bot-ai", json=BODIES["inference"])
    result = client.post(f"{CONNECTOR}/bot-ai/_execute", json={"params": GEN_AI_TEST}).json()
    assert result == {
        "status": "error",
        "connector_id": "bot-ai",
        "message": "an error occurred while running the action",
        "service_message": 'Sub action "test" is not registered. Connector id: bot-ai. '
        "Connector name: AI Connector. Connector type: .inference",
        "retry": True,
        "errorSource": "framework",
    }


def test_execute_param_errors(client: httpx.Client) -> None:
    client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"])
    empty = client.post(f"{CONNECTOR}/bot-openai/_execute", json={"params": {}}).json()
    assert empty == {
        "status": "error",
        "connector_id": "bot-openai",
        "message": 'error validating action params: Field "subAction": Required',
        "retry": False,
        "errorSource": "user",
    }
    extra_key = {"subAction": "test", "subActionParams": {"body": "{}", "stream": True}}
    bad = client.post(f"{CONNECTOR}/bot-openai/_execute", json={"params": extra_key}).json()
    assert bad["status"] == "error"
    assert (
        bad["service_message"] == 'Request validation failed (Error: Unrecognized keys: "stream")'
    )
    no_params = client.post(f"{CONNECTOR}/bot-openai/_execute", json={})
    assert no_params.status_code == 400
    missing = client.post(f"{CONNECTOR}/nope/_execute", json={"params": GEN_AI_TEST})
    assert missing.status_code == 404
    assert missing.json()["message"] == "Saved object [action/nope] not found"


def test_execute_body_that_is_not_json_fails_upstream(client: httpx.Client) -> None:
    client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"])
    params = {"subAction": "test", "subActionParams": {"body": "Hello"}}
    result = client.post(f"{CONNECTOR}/bot-openai/_execute", json={"params": params}).json()
    assert result["status"] == "error"
    assert result["service_message"].startswith("Status code: 400.")


def _gen_ai_stream(stream: bool, **extra: Any) -> dict[str, Any]:
    body = json.dumps({"messages": [{"role": "user", "content": "Hello world"}]})
    return {"subAction": "stream", "subActionParams": {"body": body, "stream": stream, **extra}}


INVOKE_AI = {
    "subAction": "invokeAI",
    "subActionParams": {"messages": [{"role": "user", "content": "Hello world"}]},
}


def test_execute_gen_ai_stream_true_is_a_500_whether_the_upstream_streams_or_not(
    kibana: FakeKibana, client: httpx.Client
) -> None:
    client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"])
    url = f"{CONNECTOR}/bot-openai/_execute"
    streamed = client.post(url, json={"params": _gen_ai_stream(True)})
    assert streamed.status_code == 500
    assert streamed.json() == boom(
        500, "Internal Server Error", "An internal server error occurred"
    )
    kibana.set_gen_ai_gateway("bot-openai", sse=True)
    assert client.post(url, json={"params": _gen_ai_stream(True)}).status_code == 500
    not_streamed = client.post(url, json={"params": _gen_ai_stream(False)})
    assert not_streamed.status_code == 200
    data = not_streamed.json()["data"]
    assert data["object"] == "chat.completion"
    assert data["choices"][0]["message"]["content"] == "Hello! How can I help you today?"


def test_execute_gen_ai_stream_upstream_error_is_reported_before_the_stream(
    kibana: FakeKibana, client: httpx.Client
) -> None:
    client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"])
    kibana.set_execute_result(
        "bot-openai",
        status="error",
        service_message="Status code: 401. Message: Unauthorized API Error - Incorrect API key",
        retry=True,
        error_source="user",
    )
    answer = client.post(f"{CONNECTOR}/bot-openai/_execute", json={"params": _gen_ai_stream(True)})
    assert answer.status_code == 200
    assert answer.json()["service_message"].startswith("Status code: 401.")


def test_execute_gen_ai_gateway_without_sse_fails_only_the_streamed_call(
    kibana: FakeKibana, client: httpx.Client
) -> None:
    client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"])
    kibana.set_gen_ai_gateway(sse=False)  # default for every .gen-ai connector
    url = f"{CONNECTOR}/bot-openai/_execute"
    refused = client.post(url, json={"params": _gen_ai_stream(True)})
    assert refused.status_code == 200
    assert refused.json() == {
        "status": "error",
        "connector_id": "bot-openai",
        "message": "an error occurred while running the action",
        "service_message": "Status code: 400. Message: API Error: Bad Request - "
        "Streaming is not supported",
        "retry": True,
        "errorSource": "user",
    }
    assert client.post(url, json={"params": GEN_AI_TEST}).json()["status"] == "ok"
    assert client.post(url, json={"params": INVOKE_AI}).json()["data"]["message"] == (
        "Hello! How can I help you today?"
    )
    kibana.clear_gen_ai_gateway()
    assert client.post(url, json={"params": _gen_ai_stream(True)}).status_code == 500


def test_execute_gen_ai_gateway_without_reply_content(
    kibana: FakeKibana, client: httpx.Client
) -> None:
    client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"])
    client.post(f"{CONNECTOR}/bot-bedrock", json=BODIES["bedrock"])
    kibana.set_gen_ai_gateway("bot-openai", reply_content=False)
    kibana.set_gen_ai_gateway(reply_content=False)  # .gen-ai only: Bedrock is unaffected
    url = f"{CONNECTOR}/bot-openai/_execute"
    tested = client.post(url, json={"params": GEN_AI_TEST}).json()
    assert tested["status"] == "ok"
    assert tested["data"]["choices"][0]["message"] == {"role": "assistant", "content": None}
    invoked = client.post(url, json={"params": INVOKE_AI}).json()
    assert invoked == {
        "status": "ok",
        "connector_id": "bot-openai",
        "data": {
            "message": "An error occurred sending your message. \n\nAPI Error: The response "
            "from OpenAI was in an unrecognized format.",
            "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
        },
    }
    bedrock = client.post(f"{CONNECTOR}/bot-bedrock/_execute", json={"params": BEDROCK_TEST})
    assert bedrock.json()["data"]["completion"] == "Hello! How can I help you today?"
    kibana.clear_gen_ai_gateway("bot-openai")
    kibana.clear_gen_ai_gateway()
    plain = client.post(url, json={"params": INVOKE_AI}).json()
    assert plain["data"]["message"] == "Hello! How can I help you today?"


def test_execute_gen_ai_stream_params_are_strict(client: httpx.Client) -> None:
    assert ks.validate_execute_params(".gen-ai", _gen_ai_stream(True, timeout=60000)) == []
    assert Draft202012Validator(ks.EXECUTE_PARAMS_SCHEMAS[".gen-ai"]).is_valid(_gen_ai_stream(True))
    client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"])
    bad = _gen_ai_stream(True, messages=[])
    result = client.post(f"{CONNECTOR}/bot-openai/_execute", json={"params": bad}).json()
    assert result["status"] == "error"
    assert result["service_message"] == (
        'Request validation failed (Error: Unrecognized keys: "messages")'
    )
    not_boolean = {"subAction": "stream", "subActionParams": {"body": "{}", "stream": "yes"}}
    assert ks.validate_execute_params(".gen-ai", not_boolean) != []


# ------------------------------------------------------------------ faults and records


def test_fail_next_then_success(kibana: FakeKibana, client: httpx.Client) -> None:
    kibana.fail_next(method="POST", path_contains="/connector/")
    failed = client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"])
    assert failed.status_code == 503
    assert failed.json() == boom(503, "Service Unavailable", "Service Unavailable")
    assert kibana.connectors() == {}
    assert client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"]).status_code == 200
    assert [r.status for r in kibana.requests_to("POST", "/bot-openai")] == [503, 200]


def test_fail_next_with_body_and_after_processing(kibana: FakeKibana, client: httpx.Client) -> None:
    kibana.fail_next(status=502, body={"oops": True}, after_processing=True)
    lost = client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"])
    assert lost.status_code == 502
    assert lost.json() == {"oops": True}
    assert "bot-openai" in kibana.connectors()  # it was created anyway
    assert client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"]).status_code == 409


def test_drop_next_closes_the_connection(kibana: FakeKibana, client: httpx.Client) -> None:
    kibana.drop_next(method="GET")
    with pytest.raises(httpx.TransportError):
        client.get("/api/actions/connectors")
    assert client.get("/api/actions/connectors").status_code == 200
    assert [r.status for r in kibana.requests_to("GET", "/connectors")] == [0, 200]


def test_pause_refuses_connections_until_resume(kibana: FakeKibana, client: httpx.Client) -> None:
    url = kibana.url
    client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"])
    kibana.pause()
    with pytest.raises(httpx.ConnectError):
        client.get("/api/actions/connectors")
    kibana.resume()
    assert kibana.url == url
    listed = client.get("/api/actions/connectors")
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()] == ["bot-openai"]


def _held_together(kibana: FakeKibana, count: int, timeout: float = 10.0) -> bool:
    """True once ``count`` requests are held by the fake at the same moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(kibana.requests_in_flight()) >= count:
            return True
        time.sleep(0.01)
    return False


def test_delay_keeps_the_server_concurrent(kibana: FakeKibana) -> None:
    kibana.set_delay(2.0, path_contains="/connectors")
    with _client(kibana) as client, ThreadPoolExecutor(max_workers=10) as pool:
        futures = [pool.submit(client.get, "/api/actions/connectors") for _ in range(10)]
        # All ten are inside the fake at once: it does not answer them one by one.
        assert _held_together(kibana, 10)
        assert [f.result().status_code for f in futures] == [200] * 10


def test_fifty_concurrent_slow_requests(kibana: FakeKibana) -> None:
    kibana.set_delay(2.0, method="POST")
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    with (
        httpx.Client(
            base_url=kibana.url,
            headers={"Authorization": f"ApiKey {API_KEY}", "kbn-xsrf": "true"},
            limits=limits,
            timeout=20,
            trust_env=False,
        ) as client,
        ThreadPoolExecutor(max_workers=50) as pool,
    ):
        futures = [
            pool.submit(client.post, f"{CONNECTOR}/bot-{n}", json=BODIES["openai"])
            for n in range(50)
        ]
        assert _held_together(kibana, 50)
        assert [f.result().status_code for f in futures] == [200] * 50
    assert len(kibana.connectors()) == 50
    kibana.set_delay(0, method="POST")
    kibana.set_delay(30.0, method="GET")
    with _client(kibana) as client, ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(client.get, "/api/actions/connectors")
        assert _held_together(kibana, 1)
        # With the POST delay removed, a create is answered while the GET is still held.
        assert client.post(f"{CONNECTOR}/fast", json=BODIES["openai"]).status_code == 200
        assert len(kibana.requests_in_flight()) == 1
        kibana.stop()  # releases the held GET; its answer no longer matters
        with contextlib.suppress(httpx.HTTPError):
            held.result()


def test_wait_for_request(kibana: FakeKibana, client: httpx.Client) -> None:
    def later() -> None:
        time.sleep(0.2)
        client.post(f"{CONNECTOR}/bot-openai", json=BODIES["openai"])

    worker = threading.Thread(target=later)
    worker.start()
    found = kibana.wait_for_request("post", "/connector/bot-openai", timeout=5)
    worker.join()
    assert found[0].status == 200
    with pytest.raises(AssertionError, match="expected 2 request"):
        kibana.wait_for_request("POST", "/connector/bot-openai", timeout=0.2, count=2)


# ------------------------------------------------------------------ kibana_schemas


def test_every_schema_is_a_valid_json_schema() -> None:
    for name, schema in ks.all_schemas().items():
        Draft202012Validator.check_schema(schema)
        assert schema, name


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_valid_bodies_pass(kind: str) -> None:
    assert ks.validate_create_body(BODIES[kind]) == []
    assert Draft202012Validator(ks.CREATE_BODY_SCHEMA).is_valid(BODIES[kind])
    update = {k: v for k, v in BODIES[kind].items() if k != "connector_type_id"}
    assert ks.validate_update_body(BODIES[kind]["connector_type_id"], update) == []


def test_rsa_private_key_and_other_without_ca_are_valid() -> None:
    rsa = _b64("-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n")
    secrets = {"certificateData": CERT, "privateKeyData": rsa}
    assert ks.validate_create_body(body("other_pki", secrets=secrets)) == []


@pytest.mark.parametrize(
    ("kind", "change", "message"),
    [
        (
            "openai",
            {
                "config": {
                    "apiProvider": "OpenAI",
                    "apiUrl": "https://x.test",
                    "certificateData": CERT,
                }
            },
            'error validating connector type config: Unrecognized keys: "certificateData"',
        ),
        (
            "openai",
            {"config": {"apiProvider": "OpenAI"}},
            'error validating connector type config: Field "apiUrl": Required',
        ),
        (
            "openai",
            {"config": {"apiUrl": "https://x.test"}},
            'error validating connector type config: Field "apiProvider": Required',
        ),
        (
            "openai",
            {"config": {"apiProvider": "OpenAI", "apiUrl": "api.openai.com/v1"}},
            "error validating connector type config: Error configuring OpenAI action: Error: "
            "URL Error: Invalid URL: api.openai.com/v1",
        ),
        (
            "openai",
            {"config": {"apiProvider": "OpenAI", "apiUrl": "ftp://api.openai.com"}},
            "error validating connector type config: Error configuring OpenAI action: Error: "
            "URL Error: Invalid protocol",
        ),
        (
            "openai",
            {"config": {"apiProvider": "OpenAI", "apiUrl": "https://x.test", "temperature": "1"}},
            'error validating connector type config: Field "temperature": Expected number, '
            "received string",
        ),
        (
            "openai",
            {"secrets": {}},
            "error validating connector type secrets: [apiKey]: expected value of type [string] "
            "but got [undefined]",
        ),
        (
            "openai",
            {"secrets": {"apiKey": "k", "orgId": "o"}},
            'error validating connector type secrets: Unrecognized keys: "orgId"',
        ),
        (
            "other_pki",
            {"secrets": {"apiKey": "k", "privateKeyData": KEY}},
            "error validating connector type secrets: Certificate data must be provided for PKI",
        ),
        (
            "other_pki",
            {"secrets": {"apiKey": "k", "certificateData": CERT}},
            "error validating connector type secrets: Private key data must be provided for PKI",
        ),
        (
            "other_pki",
            {"secrets": {"certificateData": KEY, "privateKeyData": KEY}},
            "error validating connector type secrets: Invalid Certificate data file format: The "
            'file must be a PEM-encoded certificate beginning with "-----BEGIN CERTIFICATE-----".',
        ),
        (
            "other_pki",
            {"secrets": {"certificateData": CERT, "privateKeyData": CERT}},
            "error validating connector type secrets: Invalid Private key data file format: The "
            "file must be a PEM-encoded private key beginning with "
            '"-----BEGIN PRIVATE KEY-----" or "-----BEGIN RSA PRIVATE KEY-----".',
        ),
        (
            "other_pki",
            {"secrets": {"certificateData": CERT, "privateKeyData": KEY, "caData": KEY}},
            "error validating connector type secrets: Invalid CA certificate data file format: "
            "The file must be a PEM-encoded certificate beginning with "
            '"-----BEGIN CERTIFICATE-----".',
        ),
        (
            "other_pki",
            {
                "config": {
                    "apiProvider": "Other",
                    "apiUrl": "https://x.test",
                    "defaultModel": "m",
                    "verificationMode": "strict",
                }
            },
            'error validating connector type config: Field "verificationMode": Invalid enum '
            "value. Expected 'full' | 'certificate' | 'none', received 'strict'",
        ),
        (
            "bedrock",
            {"secrets": {}},
            "error validating connector type secrets: 2 errors:\n"
            ' [1]: Field "accessKey": Required;\n'
            ' [2]: Field "secret": Required',
        ),
        (
            "gemini",
            {"secrets": {"credentialsJson": "not json"}},
            "error validating connector type secrets: Error configuring Google Gemini secrets: "
            "Error: Invalid JSON format for credentials.",
        ),
        (
            "inference",
            {"config": {"provider": "acme", "taskType": "chat_completion", "inferenceId": "x"}},
            "error validating connector type config: Error configuring Inference API action: "
            "Error: API Provider is not supported: acme by Inference Endpoint.",
        ),
        (
            "openai",
            {"connector_type_id": ".nope"},
            'Action type ".nope" is not registered.',
        ),
        (
            "openai",
            {"config": {**BODIES["openai"]["config"], "headers": {"X-Team": "\t"}}},
            "[request body.config.headers]: value '' is not valid",
        ),
    ],
)
def test_invalid_bodies_fail_with_kibana_messages(
    kind: str, change: dict[str, Any], message: str
) -> None:
    invalid = body(kind, **change)
    assert ks.validate_create_body(invalid)[0] == message
    # PEM contents and the credentials JSON are rules JSON Schema cannot express (R2, R3).
    rule_only = any(text in message for text in RULE_ONLY_MESSAGES)
    assert Draft202012Validator(ks.CREATE_BODY_SCHEMA).is_valid(invalid) is rule_only


def test_missing_secrets_and_shape_errors() -> None:
    no_secrets = {k: v for k, v in BODIES["bedrock"].items() if k != "secrets"}
    assert ks.validate_create_body(no_secrets) == [
        "error validating connector type secrets: 2 errors:\n"
        ' [1]: Field "accessKey": Required;\n'
        ' [2]: Field "secret": Required'
    ]
    inference = {k: v for k, v in BODIES["inference"].items() if k != "secrets"}
    assert ks.validate_create_body(inference) == []
    assert ks.validate_create_body([]) == [
        "[request body]: expected a plain object value, but found [Array] instead."
    ]
    assert ks.validate_create_body({"connector_type_id": ".gen-ai"}) == [
        "[request body.name]: expected value of type [string] but got [undefined]"
    ]
    both = body("openai", config={"apiProvider": "OpenAI"}, secrets={})
    assert len(ks.validate_create_body(both)) == 2  # config and secrets problems


def test_allowed_hosts_rule() -> None:
    assert ks.validate_create_body(BODIES["openai"], allowed_hosts=["api.openai.com"]) == []
    assert ks.validate_create_body(BODIES["bedrock"], allowed_hosts=["api.openai.com"]) == [
        "error validating connector type config: Error configuring Amazon Bedrock action: Error: "
        'error validating url: target url "https://bedrock-runtime.us-east-1.amazonaws.com" is '
        "not added to the Kibana config xpack.actions.allowedHosts"
    ]


def test_update_body_rules() -> None:
    update = {
        "name": "x",
        "config": BODIES["gemini"]["config"],
        "secrets": BODIES["gemini"]["secrets"],
    }
    assert ks.validate_update_body(".gemini", update) == []
    assert ks.validate_update_body(".gemini", {**update, "connector_type_id": ".gemini"}) == [
        "[request body.connector_type_id]: definition for this key is missing"
    ]
    assert ks.validate_update_body(".gemini", {"config": update["config"]}) == [
        "[request body.name]: expected value of type [string] but got [undefined]"
    ]


@pytest.mark.parametrize(
    ("type_id", "params"),
    [
        (".gen-ai", GEN_AI_TEST),
        (".gen-ai", {"subAction": "run", "subActionParams": {"body": "{}", "timeout": 60000}}),
        (
            ".gen-ai",
            {
                "subAction": "invokeAI",
                "subActionParams": {"messages": [{"role": "user", "content": "hi"}]},
            },
        ),
        (".bedrock", BEDROCK_TEST),
        (
            ".bedrock",
            {"subAction": "test", "subActionParams": {"body": "{}", "model": "m", "raw": True}},
        ),
        (".gemini", GEMINI_TEST),
        (
            ".gemini",
            {
                "subAction": "test",
                "subActionParams": {"body": "{}", "temperature": 0, "stopSequences": ["x"]},
            },
        ),
        (".inference", INFERENCE_TEST),
        (
            ".inference",
            {"subAction": "completion", "subActionParams": {"input": "What is Elastic?"}},
        ),
    ],
)
def test_valid_execute_params(type_id: str, params: dict[str, Any]) -> None:
    assert ks.validate_execute_params(type_id, params) == []
    assert Draft202012Validator(ks.EXECUTE_PARAMS_SCHEMAS[type_id]).is_valid(params)


@pytest.mark.parametrize(
    ("type_id", "params", "message"),
    [
        (".gen-ai", {}, 'error validating action params: Field "subAction": Required'),
        (
            ".gen-ai",
            {"subAction": "test", "subActionParams": {"body": {"messages": []}}},
            'Request validation failed (Error: Field "body": Expected string, received object)',
        ),
        (
            ".gen-ai",
            {"subAction": "test", "subActionParams": {"body": "{}", "model": "gpt-4o"}},
            'Request validation failed (Error: Unrecognized keys: "model")',
        ),
        (
            ".bedrock",
            {"subAction": "test", "subActionParams": {"body": "{}", "temperature": 0}},
            'Request validation failed (Error: Unrecognized keys: "temperature")',
        ),
        (
            ".gemini",
            {"subAction": "test", "subActionParams": {}},
            'Request validation failed (Error: Field "body": Required)',
        ),
        (
            ".inference",
            {"subAction": "unified_completion", "subActionParams": {"body": "{}"}},
            'Request validation failed (Error: Field "body": Expected object, received string)',
        ),
        (
            ".inference",
            {"subAction": "test", "subActionParams": {"body": "{}"}},
            'Sub action "test" is not registered. Connector id: <connector id>. '
            "Connector name: AI Connector. Connector type: .inference",
        ),
        (
            ".gen-ai",
            {"subAction": "test", "subActionParams": {"body": "{}"}, "extra": 1},
            'error validating action params: Unrecognized keys: "extra"',
        ),
    ],
)
def test_invalid_execute_params(type_id: str, params: dict[str, Any], message: str) -> None:
    assert ks.validate_execute_params(type_id, params) == [message]
    assert not Draft202012Validator(ks.EXECUTE_PARAMS_SCHEMAS[type_id]).is_valid(params)


# ------------------------------------------------------------------ /api/status


def test_status_reports_the_version_and_build_flavor() -> None:
    fake = FakeKibana(version="9.4.0-SNAPSHOT", build_flavor="traditional")
    with fake as kibana, _client(kibana) as client:
        first = client.get("/api/status").json()
        kibana.version, kibana.build_flavor = "9.6.1", "serverless"
        second = client.get("/api/status").json()
    assert first["version"]["number"] == "9.4.0-SNAPSHOT"
    assert first["version"]["build_flavor"] == "traditional"
    assert {"build_hash", "build_number", "build_snapshot", "build_date"} <= set(first["version"])
    assert second["version"] == {
        **second["version"],
        "number": "9.6.1",
        "build_flavor": "serverless",
    }


def test_a_serverless_kibana_deprecates_the_llm_connector_types() -> None:
    with (
        FakeKibana(version="9.2.0", build_flavor="serverless") as kibana,
        _client(kibana) as client,
    ):
        types = {t["id"]: t for t in client.get("/api/actions/connector_types").json()}
    assert {
        t for t in (".gen-ai", ".bedrock", ".gemini", ".inference") if types[t]["is_deprecated"]
    } == {
        ".gen-ai",
        ".bedrock",
        ".gemini",
        ".inference",
    }
    assert types[".email"]["is_deprecated"] is False


def test_a_traditional_kibana_before_9_5_deprecates_nothing(
    kibana: FakeKibana, client: httpx.Client
) -> None:
    types = client.get("/api/actions/connector_types").json()
    assert kibana.build_flavor == "traditional"
    assert not [t["id"] for t in types if t["is_deprecated"]]


def test_a_redacted_status_has_no_version(kibana: FakeKibana, client: httpx.Client) -> None:
    kibana.status_redacted = True
    response = client.get("/api/status")
    assert response.status_code == 200
    assert response.json() == {"status": {"overall": {"level": "available"}}}


def test_an_unknown_build_flavor_is_refused() -> None:
    with pytest.raises(ValueError, match="build flavour"):
        FakeKibana(build_flavor="default")
