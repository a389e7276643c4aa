"""The Elasticsearch inference back-end behind `ProvisioningBackend`, against the fake
Elasticsearch (a real HTTP server): every inference provider's example is created and tested;
a retry adopts its own endpoint and refuses another; a provider refusal at PUT, errors before
and inside the stream, and the deadline are failures with a message and a hint."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.enums import Provider
from bot.domain.providers import PROVIDERS, provider_spec
from bot.domain.providers.spec import INFERENCE, InferencePayload
from bot.domain.refs import new_connector_id
from bot.domain.resources import Removal, Resource, Target
from bot.elasticsearch.client import ElasticsearchClient, make_http_client
from bot.services import drafts
from bot.services.backends.base import BackendError, BackendUnavailableError, ProvisioningBackend
from bot.services.backends.inference import InferenceBackend
from tests.fakes.elasticsearch import FakeElasticsearch
from tests.unit.domain import samples

INFERRING = [key for key, spec in PROVIDERS.items() if INFERENCE in spec.supported_backends]
ES_ID = r"^[a-z0-9](?:[a-z0-9_.\-]*[a-z0-9])?$"


def _backend(es: FakeElasticsearch, deadline: float = 5.0) -> Iterator[InferenceBackend]:
    client = ElasticsearchClient(make_http_client(es.url, es.api_key, timeout=5), put_timeout=5)
    yield InferenceBackend(client, deadline=deadline)
    client.close()


@pytest.fixture
def backend(elasticsearch: FakeElasticsearch) -> Iterator[InferenceBackend]:
    yield from _backend(elasticsearch)


def _stored(provider: Provider, **overrides: str | None) -> tuple[drafts.StoredRequest, Any]:
    spec = provider_spec(provider)
    draft = spec.parse(samples.valid_values(provider, space="default", **overrides)).draft
    assert draft is not None
    stored = drafts.StoredRequest(
        provider=provider.value,
        name=draft.name,
        space_id=draft.space_id,
        justification=draft.justification,
        connector_type_id="",
        config={},
        settings=drafts.stored_settings(draft),
    )
    return stored, drafts.sealable_secrets(draft)


def _target(payload: InferencePayload, resource_id: str = "llm-infer-abcdef") -> Target:
    return Target(
        space_id="default", resource_id=resource_id, name="Infer", type_id=payload.service
    )


def _prepared(
    backend: InferenceBackend, provider: Provider, **overrides: str | None
) -> tuple[Target, InferencePayload]:
    stored, secrets = _stored(provider, **overrides)
    payload = backend.payload(stored, secrets)
    return _target(payload), payload


def test_inference_backend_is_a_provisioning_backend(backend: InferenceBackend) -> None:
    typed: ProvisioningBackend[InferencePayload] = backend  # mypy checks the protocol
    assert typed.key == "inference"


def test_some_providers_support_inference() -> None:
    assert INFERRING


@pytest.mark.parametrize("provider", INFERRING, ids=[p.value for p in INFERRING])
def test_create_then_stream_test_every_inference_provider(
    backend: InferenceBackend, elasticsearch: FakeElasticsearch, provider: Provider
) -> None:
    # EIS models exist only on deployments that have the Elastic Inference Service.
    elasticsearch.eis_enabled = provider is Provider.ELASTIC_INFERENCE
    target, payload = _prepared(backend, provider)
    assert payload.service == provider_spec(provider).inference.service  # type: ignore[union-attr]
    created = backend.create(target, payload)
    assert isinstance(created, Resource)
    assert (created.backend, created.id, created.type_id) == (
        "inference",
        target.resource_id,
        payload.service,
    )
    stored = elasticsearch.endpoints()[target.resource_id]
    assert stored["service"] == payload.service
    assert stored["task_type"] == "chat_completion"
    # the secrets were sent, and never come back in what the bot keeps
    for key in payload.secret_settings:
        assert key in stored["service_settings"]
        assert payload.service_settings[key] not in json.dumps(created.config)
    run = backend.test(target)
    assert run.ok, run.message
    assert run.reading is not None
    assert run.reading.model
    assert run.reading.reply
    assert run.reading.total_tokens == 23
    assert run.reading.first_token_ms is not None


def test_a_retry_adopts_its_own_endpoint(
    backend: InferenceBackend, elasticsearch: FakeElasticsearch
) -> None:
    target, payload = _prepared(backend, Provider.BEDROCK)
    first = backend.create(target, payload)
    again = backend.create(target, payload)  # already exists: GET, same settings, adopted
    assert again.id == first.id
    assert len(elasticsearch.requests_to("GET", f"/{target.resource_id}")) == 1


def test_a_retry_refuses_an_endpoint_with_other_settings(
    backend: InferenceBackend, elasticsearch: FakeElasticsearch
) -> None:
    target, payload = _prepared(backend, Provider.OPENAI)
    backend.create(target, payload)
    _, other = _prepared(backend, Provider.OPENAI, model="gpt-4o-mini")
    with pytest.raises(BackendError) as caught:
        backend.create(target, other)
    assert "already exists with other settings" in caught.value.message
    assert "model_id 'gpt-4.1' (not 'gpt-4o-mini')" in caught.value.message
    assert caught.value.hint
    assert not isinstance(caught.value, BackendUnavailableError)
    assert (
        elasticsearch.endpoints()[target.resource_id]["service_settings"]["model_id"] == "gpt-4.1"
    )


@pytest.mark.parametrize("provider", INFERRING, ids=[p.value for p in INFERRING])
def test_a_provider_refusal_at_put_is_a_failure_with_its_message_and_a_hint(
    backend: InferenceBackend, elasticsearch: FakeElasticsearch, provider: Provider
) -> None:
    stored, secrets = _stored(provider)
    payload = backend.payload(stored, secrets)
    if not payload.secret_settings:
        pytest.skip("no key to refuse: EIS endpoints have no secrets (tested by its hints)")
    bad = {
        k: f"bad-{v}" for k, v in payload.service_settings.items() if k in payload.secret_settings
    }
    if payload.service == "googlevertexai":
        document = json.loads(payload.service_settings["service_account_json"])
        bad = {"service_account_json": json.dumps({**document, "private_key": "bad-key"})}
    refused = InferencePayload(
        payload.service,
        {**payload.service_settings, **bad},
        payload.task_settings,
        payload.secret_settings,
    )
    with pytest.raises(BackendError) as caught:
        backend.create(_target(payload), refused)
    error = caught.value
    assert not isinstance(error, BackendUnavailableError)
    assert error.message.startswith("The provider refused the endpoint:")
    assert error.hint is not None
    assert "credentials" in error.hint or "key" in error.hint, error.hint
    for value in bad.values():
        assert value not in error.message
    assert elasticsearch.endpoints() == {}


def test_elasticsearch_unavailable_is_retryable(
    backend: InferenceBackend, elasticsearch: FakeElasticsearch
) -> None:
    target, payload = _prepared(backend, Provider.OPENAI)
    elasticsearch.fail_next(status=503, method="PUT")
    with pytest.raises(BackendUnavailableError):
        backend.create(target, payload)


def test_an_error_before_the_stream_is_a_failed_test_with_a_hint(
    backend: InferenceBackend, elasticsearch: FakeElasticsearch
) -> None:
    target, payload = _prepared(backend, Provider.OPENAI)
    backend.create(target, payload)
    elasticsearch.set_stream(
        target.resource_id,
        mode="pre_error",
        error_status=404,
        error_code="model_not_found",
        error_message="The model `gpt-4.1` does not exist",
    )
    run = backend.test(target)
    assert not run.ok
    assert run.message == "The model `gpt-4.1` does not exist"
    assert run.hint is not None
    assert "model" in run.hint


def test_an_error_inside_the_stream_is_a_failed_test(
    backend: InferenceBackend, elasticsearch: FakeElasticsearch
) -> None:
    target, payload = _prepared(backend, Provider.OPENAI)
    backend.create(target, payload)
    elasticsearch.set_stream(target.resource_id, mode="mid_error")
    run = backend.test(target)
    assert not run.ok
    assert run.message


def test_a_stream_that_never_ends_fails_at_the_deadline(elasticsearch: FakeElasticsearch) -> None:
    for backend in _backend(elasticsearch, deadline=0.5):
        target, payload = _prepared(backend, Provider.OPENAI)
        backend.create(target, payload)
        elasticsearch.set_stream(target.resource_id, mode="never_end")
        run = backend.test(target)
        assert not run.ok
        assert run.message is not None
        assert "did not end within" in run.message
        assert run.hint is not None
        assert "in time" in run.hint


def test_get_and_delete(backend: InferenceBackend, elasticsearch: FakeElasticsearch) -> None:
    target, payload = _prepared(backend, Provider.VERTEX)
    assert backend.get(target) is None
    backend.create(target, payload)
    found = backend.get(target)
    assert found is not None
    assert found.model == provider_spec(Provider.VERTEX).example["model"]
    assert [r.id for r in backend.list("any-space") if not r.preconfigured] == [target.resource_id]
    backend.delete(target)
    backend.delete(target)  # already gone: not an error
    assert elasticsearch.endpoints() == {}


def test_a_draft_the_service_cannot_express_is_a_clear_failure(backend: InferenceBackend) -> None:
    stored, secrets = _stored(
        Provider.OPENAI_COMPATIBLE,
        api_url="https://llm.example.com/v1/chat/completions",
        certificate_pem=samples.certificate_pem(),
        private_key_pem=samples.private_key_pem(),
    )
    with pytest.raises(BackendError) as caught:
        backend.payload(stored, secrets)
    assert "client certificates or a custom CA" in caught.value.message


@given(st.text(max_size=80))
def test_the_stored_id_follows_elasticsearchs_inference_id_rules(name: str) -> None:
    assert re.match(ES_ID, new_connector_id(name))


def test_update_rotates_the_key_and_changes_task_settings(
    backend: InferenceBackend, elasticsearch: FakeElasticsearch
) -> None:
    target, payload = _prepared(backend, Provider.OPENAI)
    backend.create(target, payload)
    _, rotated = _prepared(backend, Provider.OPENAI, api_key="sk-proj-Rotated987654")
    updated = backend.update(target, rotated)
    assert updated.id == target.resource_id
    stored = elasticsearch.endpoints()[target.resource_id]
    assert stored["service_settings"]["api_key"] == "sk-proj-Rotated987654"
    sent = elasticsearch.requests_to("PUT", f"/{target.resource_id}/_update")[-1]
    assert set(sent.body) == {"service_settings"}
    assert set(sent.body["service_settings"]) == {"api_key"}

    claude, claude_payload = _prepared(backend, Provider.ANTHROPIC)
    claude = claude.model_copy(update={"resource_id": "llm-claude-abcdef"})
    backend.create(claude, claude_payload)
    _, longer = _prepared(backend, Provider.ANTHROPIC, max_tokens="2048")
    backend.update(claude, longer)
    assert elasticsearch.endpoints()["llm-claude-abcdef"]["task_settings"]["max_tokens"] == 2048


def test_update_refuses_what_elasticsearch_would_not_change(
    backend: InferenceBackend, elasticsearch: FakeElasticsearch
) -> None:
    target, payload = _prepared(backend, Provider.OPENAI)
    with pytest.raises(BackendError) as missing:
        backend.update(target, payload)
    assert missing.value.status == 404
    backend.create(target, payload)
    _, other_model = _prepared(backend, Provider.OPENAI, model="gpt-4o")
    with pytest.raises(BackendError) as refused:
        backend.update(target, other_model)
    assert "model_id 'gpt-4.1' (not 'gpt-4o')" in refused.value.message
    assert refused.value.hint is not None
    assert "retire" in refused.value.hint
    assert elasticsearch.requests_to("PUT", f"/{target.resource_id}/_update") == []


def test_update_passes_on_the_providers_refusal(
    backend: InferenceBackend, elasticsearch: FakeElasticsearch
) -> None:
    target, payload = _prepared(backend, Provider.OPENAI)
    backend.create(target, payload)
    elasticsearch.set_provider_failure(401, "Incorrect API key provided")
    _, rotated = _prepared(backend, Provider.OPENAI, api_key="sk-proj-Wrong12345678")
    with pytest.raises(BackendError) as refused:
        backend.update(target, rotated)
    assert refused.value.status == 400
    assert "Incorrect API key provided" in refused.value.message


def test_delete_refuses_an_endpoint_in_use_unless_forced(
    backend: InferenceBackend, elasticsearch: FakeElasticsearch
) -> None:
    target, payload = _prepared(backend, Provider.OPENAI)
    backend.create(target, payload)
    elasticsearch.set_references(target.resource_id, pipelines=["chat-pipeline"])
    with pytest.raises(BackendError) as in_use:
        backend.delete(target)
    assert in_use.value.status == 409
    assert "chat-pipeline" in in_use.value.message
    assert backend.delete(target, force=True) == Removal(existed=True)
    assert backend.delete(target) == Removal(existed=False)
