"""The Dev Tools request and Terraform resource of an inference endpoint: exact, secretless."""

from __future__ import annotations

import json

import httpx

from bot.domain.devtools import (
    devtools_request,
    endpoint_delivery,
    placeholder,
    terraform_resource,
)
from bot.domain.providers.spec import InferencePayload
from tests.fakes.elasticsearch import FakeElasticsearch
from tests.fakes.elasticsearch_services import EXAMPLES

SECRET = "sk-test-123456"


def _payload(**overrides: object) -> InferencePayload:
    example = EXAMPLES["openai"]
    values: dict[str, object] = {
        "service": example["service"],
        "service_settings": dict(example["service_settings"]),
        "task_settings": dict(example["task_settings"]),
        "secret_settings": frozenset({"api_key"}),
    }
    values.update(overrides)
    return InferencePayload(**values)  # type: ignore[arg-type]


def _split(request: str) -> tuple[str, dict[str, object]]:
    line, _, body = request.partition("\n")
    return line, json.loads(body)


def test_the_devtools_request_is_the_put_with_the_secret_as_a_placeholder() -> None:
    request = devtools_request(endpoint_delivery("llm-soc-gpt-abc123", _payload()))
    line, body = _split(request)
    assert line == "PUT _inference/chat_completion/llm-soc-gpt-abc123"
    assert body == {
        "service": "openai",
        "service_settings": {"api_key": "<api_key>", "model_id": "gpt-4o"},
        "task_settings": {"user": "llm-request-bot"},
    }
    assert SECRET not in request


def test_the_devtools_request_with_the_secret_filled_in_is_accepted_by_elasticsearch(
    elasticsearch: FakeElasticsearch,
) -> None:
    delivery = endpoint_delivery("llm-soc-gpt-abc123", _payload())
    line, _ = _split(devtools_request(delivery))
    filled = devtools_request(delivery).replace(placeholder("api_key"), SECRET)
    method, path = line.split(" ", 1)
    response = httpx.request(
        method,
        f"{elasticsearch.url}/{path}",
        content=filled.partition("\n")[2],
        headers={
            "Authorization": f"ApiKey {elasticsearch.api_key}",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 200, response.text
    stored = elasticsearch.endpoints()["llm-soc-gpt-abc123"]
    assert stored["service_settings"] == EXAMPLES["openai"]["service_settings"]


def test_no_task_settings_no_task_settings_key() -> None:
    delivery = endpoint_delivery("x1", _payload(task_settings={}))
    assert "task_settings" not in _split(devtools_request(delivery))[1]
    assert "task_settings" not in terraform_resource(delivery)


def test_the_terraform_resource_leaves_each_secret_to_a_sensitive_variable() -> None:
    payload = _payload(
        service_settings={"api_key": SECRET, "model_id": "gpt-4o", "url": "https://x/${evil}"},
    )
    resource = terraform_resource(endpoint_delivery("llm-soc-gpt-abc123", payload))
    assert SECRET not in resource
    assert 'variable "api_key" {' in resource
    assert "sensitive = true" in resource
    assert 'resource "elasticstack_elasticsearch_inference_endpoint" "llm_soc_gpt_abc123" {' in (
        resource
    )
    for line in (
        'inference_id     = "llm-soc-gpt-abc123"',
        'task_type        = "chat_completion"',
        'service          = "openai"',
        '"api_key" = var.api_key',
        '"model_id" = "gpt-4o"',
        '"url" = "https://x/$${evil}"',  # no template interpolation of typed text
        '"user" = "llm-request-bot"',
    ):
        assert line in resource, line


def test_a_value_that_looks_like_a_placeholder_is_not_taken_for_a_secret() -> None:
    payload = _payload(service_settings={"api_key": SECRET, "model_id": "<api_key>"})
    resource = terraform_resource(endpoint_delivery("x1", payload))
    assert '"model_id" = "<api_key>"' in resource
