"""Failure hints for inference endpoints, keyed by service: each is matched against what the
strict fake Elasticsearch answers (its validation call to the provider at PUT, its licence and
privilege checks), read through the bot's Elasticsearch client, as the back-end will see it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.domain.enums import Provider
from bot.domain.inference_hints import (
    ELASTICSEARCH_HINTS,
    GENERIC_HINTS,
    SERVICE_HINTS,
    STATUS_HINTS,
    explain_inference_failure,
    inference_hints_for,
)
from bot.domain.providers import provider_spec
from bot.elasticsearch.client import ElasticsearchClient, make_http_client
from bot.elasticsearch.errors import ElasticsearchError, ProviderRejectedError
from bot.elasticsearch.models import PutEndpoint
from tests.fakes.elasticsearch import FakeElasticsearch
from tests.unit.domain import samples


@pytest.fixture
def client(elasticsearch: FakeElasticsearch) -> Iterator[ElasticsearchClient]:
    made = ElasticsearchClient(
        make_http_client(elasticsearch.url, elasticsearch.api_key, timeout=5.0), put_timeout=5.0
    )
    yield made
    made.close()


def _refusal(
    client: ElasticsearchClient, provider: Provider, **overrides: str
) -> tuple[str, ElasticsearchError]:
    spec = provider_spec(provider)
    draft = spec.draft_from(samples.valid_values(provider, **overrides))  # unchecked, as a row
    payload = spec.inference_payload(draft)
    body = PutEndpoint(
        service=payload.service,
        service_settings=payload.service_settings,
        task_settings=payload.task_settings or None,
    )
    with pytest.raises(ElasticsearchError) as raised:
        client.put_endpoint("chat_completion", "bot-hint-test", body)
    return payload.service, raised.value


def _hint(service: str, error: ElasticsearchError) -> str | None:
    return explain_inference_failure(service, error.message, error.reason)


def test_anthropic_bad_key_gets_anthropic_advice(client: ElasticsearchClient) -> None:
    service, error = _refusal(client, Provider.ANTHROPIC, api_key="bad-sk-ant-api03-Ab12Cd34")
    assert isinstance(error, ProviderRejectedError)
    assert error.provider_status == 401
    hint = _hint(service, error)
    assert hint is not None
    assert "console.anthropic.com" in hint


def test_mistral_bad_key_gets_mistral_advice(client: ElasticsearchClient) -> None:
    service, error = _refusal(client, Provider.MISTRAL, api_key="badAb12Cd34Ef56Gh78Ij90Kl12Mn34O")
    assert isinstance(error, ProviderRejectedError)
    hint = _hint(service, error)
    assert hint is not None
    assert "console.mistral.ai" in hint


def test_eis_not_on_the_deployment_says_what_the_deployment_needs(
    client: ElasticsearchClient, elasticsearch: FakeElasticsearch
) -> None:
    elasticsearch.eis_enabled = False
    service, error = _refusal(client, Provider.ELASTIC_INFERENCE)
    hint = _hint(service, error)
    assert hint is not None
    assert "no Elastic Inference Service" in hint
    assert "Cloud Connect" in hint


@pytest.mark.parametrize(
    ("provider", "status", "message", "says"),
    [
        (Provider.ANTHROPIC, 429, "rate_limit_error: Number of requests exceeded", "rate limit"),
        (Provider.MISTRAL, 429, "Requests rate limit exceeded", "rate limit"),
        (Provider.ANTHROPIC, 404, "not_found_error: model: claude-nope", "docs.anthropic.com"),
        (Provider.MISTRAL, 400, "Invalid model: mistral-nope", "docs.mistral.ai"),
        (Provider.ANTHROPIC, 400, "Your credit balance is too low", "Plans & Billing"),
        (Provider.ELASTIC_INFERENCE, 404, "model not found", "chat models"),
        (Provider.ANTHROPIC, 529, "overloaded_error: Overloaded", "overloaded"),
        (Provider.MISTRAL, 503, "Service unavailable", "outage"),
    ],
)
def test_what_the_provider_answers_at_create_gets_its_hint(
    client: ElasticsearchClient,
    elasticsearch: FakeElasticsearch,
    provider: Provider,
    status: int,
    message: str,
    says: str,
) -> None:
    elasticsearch.eis_enabled = True
    elasticsearch.set_provider_failure(status, message)
    service, error = _refusal(client, provider)
    assert isinstance(error, ProviderRejectedError)
    hint = _hint(service, error)
    assert hint is not None, error.message
    assert says in hint


def test_a_licence_below_enterprise_is_explained(
    client: ElasticsearchClient, elasticsearch: FakeElasticsearch
) -> None:
    elasticsearch.license = "basic"
    service, error = _refusal(client, Provider.ANTHROPIC)
    assert error.status == 403
    hint = _hint(service, error)
    assert hint is not None
    assert "Enterprise licence" in hint


def test_a_key_without_manage_inference_is_explained(
    client: ElasticsearchClient, elasticsearch: FakeElasticsearch
) -> None:
    elasticsearch.privileges = {"monitor"}
    service, error = _refusal(client, Provider.MISTRAL)
    hint = _hint(service, error)
    assert hint is not None, error.message
    assert "manage_inference" in hint


def test_elasticsearch_refusals_come_first_then_the_service_then_the_status() -> None:
    for service in ("anthropic", "mistral", "elastic", "openai", None):
        own = SERVICE_HINTS.get(service or "", ())
        assert inference_hints_for(service) == (
            *ELASTICSEARCH_HINTS,
            *own,
            *STATUS_HINTS,
            *GENERIC_HINTS,
        )
    assert all(SERVICE_HINTS[name] for name in ("anthropic", "mistral", "elastic"))
    # An Anthropic 401 quoted by Elasticsearch: the service's advice, not the generic one.
    quoted = (
        "Could not complete inference endpoint creation as validation call to service threw an "
        "exception. Received an authentication error status code for request from inference "
        "entity id [x] status [401]. Error message: [invalid x-api-key]"
    )
    assert explain_inference_failure("anthropic", quoted) == SERVICE_HINTS["anthropic"][0].text
    assert explain_inference_failure("openai", quoted) == STATUS_HINTS[0].text
    assert explain_inference_failure("anthropic") is None
    assert explain_inference_failure("mistral", "all fine", None) is None


def test_older_stacks_without_chat_for_the_service_are_explained() -> None:
    with FakeElasticsearch(version="9.4.0") as old:
        older = ElasticsearchClient(
            make_http_client(old.url, old.api_key, timeout=5.0), put_timeout=5.0
        )
        try:
            service, error = _refusal(older, Provider.ANTHROPIC)
        finally:
            older.close()
    hint = _hint(service, error)
    assert hint is not None, error.message
    assert "older than 9.5" in hint
