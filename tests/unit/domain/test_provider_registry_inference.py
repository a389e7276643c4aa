"""Every registered provider that supports the inference back-end: the example's body is
accepted by the strict fake Elasticsearch (its per-service rules and its validation call), the
payload keeps its secrets apart, and a stored draft rebuilds the same body. A new provider is
covered here without editing this file."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.domain.providers import PROVIDERS
from bot.domain.providers.spec import INFERENCE, ProviderSpec
from bot.elasticsearch.client import ElasticsearchClient, make_http_client
from bot.elasticsearch.models import PutEndpoint
from tests.fakes import elasticsearch_services as svc
from tests.fakes.elasticsearch import FakeElasticsearch
from tests.unit.domain import samples

INFERRING = [spec for spec in PROVIDERS.values() if spec.inference is not None]
IDS = [spec.key.value for spec in INFERRING]


def _draft(spec: ProviderSpec[Any, Any]) -> Any:
    result = spec.parse(samples.valid_values(spec.key))
    assert result.errors == {}
    assert result.draft is not None
    return result.draft


def _body(spec: ProviderSpec[Any, Any]) -> PutEndpoint:
    payload = spec.inference_payload(_draft(spec))
    return PutEndpoint(
        service=payload.service,
        service_settings=payload.service_settings,
        task_settings=payload.task_settings or None,
    )


def test_inference_only_providers_are_registered() -> None:
    only = {spec.key.value for spec in INFERRING if spec.supported_backends == {INFERENCE}}
    assert {"anthropic", "mistral", "elastic_inference"} <= only


@pytest.mark.parametrize("spec", INFERRING, ids=IDS)
def test_the_payload_is_the_declared_service_and_keeps_secrets_apart(
    spec: ProviderSpec[Any, Any],
) -> None:
    assert spec.inference is not None
    assert spec.inference.service in svc.SERVICES, "a service Elasticsearch knows"
    payload = spec.inference_payload(_draft(spec))
    assert payload.service == spec.inference.service
    service = svc.SERVICES[payload.service]
    secret_keys = {key for key in payload.service_settings if key in service.secrets()}
    assert payload.secret_settings == secret_keys, "every secret sent is named, and only those"
    for key in secret_keys:
        assert payload.service_settings[key] not in repr(payload)
        assert payload.service_settings[key] not in json.dumps(payload.task_settings)
    assert service.model_key in payload.service_settings, "the model travels where ES reads it"


@pytest.mark.parametrize("spec", INFERRING, ids=IDS)
def test_a_stored_draft_rebuilds_the_same_inference_body(spec: ProviderSpec[Any, Any]) -> None:
    draft = _draft(spec)
    stored = json.loads(json.dumps(draft.settings.model_dump(mode="json")))
    restored = spec.restore(
        name=draft.name,
        space_id=draft.space_id,
        justification=draft.justification,
        settings=stored,
        secrets=draft.secrets.reveal(),
    )
    assert spec.inference_payload(restored) == spec.inference_payload(draft)


@pytest.mark.parametrize("spec", INFERRING, ids=IDS)
def test_elasticsearch_accepts_the_body_of_the_example(
    spec: ProviderSpec[Any, Any], elasticsearch: FakeElasticsearch
) -> None:
    elasticsearch.eis_enabled = True  # only EIS needs it; the others ignore it
    client = ElasticsearchClient(
        make_http_client(elasticsearch.url, elasticsearch.api_key, timeout=5.0), put_timeout=5.0
    )
    try:
        created = client.put_endpoint("chat_completion", f"bot-{spec.key.value}", _body(spec))
    finally:
        client.close()
    assert created.service == _body(spec).service
    assert elasticsearch.validation_calls == [(f"bot-{spec.key.value}", created.service)]
