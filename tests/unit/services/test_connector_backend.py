"""The Kibana-connector back-end behind `ProvisioningBackend`, against the fake Kibana (a real
HTTP server): create with the 409 rule, get, test, list, delete; domain objects out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.domain.enums import Provider
from bot.domain.providers import PROVIDERS, provider_spec
from bot.domain.providers.spec import ConnectorPayload
from bot.domain.resources import Resource, Target
from bot.kibana.client import KibanaClient, make_http_client
from bot.services.backends.base import BackendError, BackendUnavailableError, ProvisioningBackend
from bot.services.backends.connector import ConnectorBackend
from bot.services.drafts import StoredRequest
from tests.fakes.kibana import FakeKibana
from tests.unit.domain import samples

CREATING = [key for key, spec in PROVIDERS.items() if spec.creates_connector]


@pytest.fixture
def backend(kibana: FakeKibana) -> Iterator[ConnectorBackend]:
    client = KibanaClient(make_http_client(kibana.url, kibana.api_key, timeout=5))
    yield ConnectorBackend(client)
    client.close()


def _target_and_payload(
    provider: Provider, *, resource_id: str = "llm-backend-abcdef", name: str = "Backend GPT"
) -> tuple[Target, ConnectorPayload]:
    spec = provider_spec(provider)
    values = samples.valid_values(provider, name=name, space="default")
    draft = spec.parse(values).draft
    assert draft is not None
    payload = spec.connector_payload(draft)
    target = Target(
        space_id="default",
        resource_id=resource_id,
        name=name,
        type_id=payload.type_id,
        config=payload.config,
    )
    return target, payload


def test_connector_backend_is_a_provisioning_backend(backend: ConnectorBackend) -> None:
    typed: ProvisioningBackend[ConnectorPayload] = backend  # mypy checks the protocol
    assert typed.key == "connector"


@pytest.mark.parametrize("provider", CREATING, ids=[p.value for p in CREATING])
def test_create_then_test_every_provider(
    backend: ConnectorBackend, kibana: FakeKibana, provider: Provider
) -> None:
    target, payload = _target_and_payload(provider)
    created = backend.create(target, payload)
    assert isinstance(created, Resource)
    assert (created.backend, created.id, created.name, created.type_id) == (
        "connector",
        target.resource_id,
        target.name,
        payload.type_id,
    )
    assert kibana.connectors("default")[target.resource_id]["connector_type_id"] == payload.type_id
    run = backend.test(target)
    assert run.ok, run.message
    assert run.reading is not None


def test_a_retry_finds_its_own_connector_and_refuses_someone_elses(
    backend: ConnectorBackend,
) -> None:
    target, payload = _target_and_payload(Provider.OPENAI)
    first = backend.create(target, payload)
    assert backend.create(target, payload) == first  # 409, same type and name: adopted
    other = target.model_copy(update={"name": "Someone else's"})
    with pytest.raises(BackendError) as refused:
        backend.create(other, payload)
    assert not isinstance(refused.value, BackendUnavailableError)
    assert refused.value.status == 409
    assert "already used by “Backend GPT” (.gen-ai)" in refused.value.message


def test_get_list_and_delete(backend: ConnectorBackend) -> None:
    target, payload = _target_and_payload(Provider.BEDROCK)
    assert backend.get(target) is None
    backend.create(target, payload)
    found = backend.get(target)
    assert found is not None
    assert found.model == samples.BEDROCK_MODEL
    listed = {resource.id: resource for resource in backend.list("default")}
    assert listed[target.resource_id] == found
    backend.delete(target)
    assert backend.get(target) is None
    backend.delete(target)  # already gone: nothing to do


def test_a_failed_test_carries_the_message_and_the_types_hint(
    backend: ConnectorBackend, kibana: FakeKibana
) -> None:
    target, payload = _target_and_payload(Provider.BEDROCK)
    backend.create(target, payload)
    kibana.set_execute_result(
        status="error",
        message="an error occurred while running the action",
        service_message="Status code: 403. Message: API Error: Forbidden - Credential should be "
        "scoped to a valid region.",
    )
    run = backend.test(target)
    assert not run.ok
    assert run.service_message is not None
    assert run.hint is not None
    assert "region" in run.hint


def test_kibana_refusals_and_outages_are_backend_errors(
    backend: ConnectorBackend, kibana: FakeKibana
) -> None:
    target, payload = _target_and_payload(Provider.OPENAI)
    missing_space = target.model_copy(update={"space_id": "nowhere"})
    with pytest.raises(BackendError) as refused:
        backend.list(missing_space.space_id)
    assert refused.value.status == 404
    kibana.pause()
    try:
        with pytest.raises(BackendUnavailableError):
            backend.create(target, payload)
        with pytest.raises(BackendUnavailableError):
            backend.test(target)
    finally:
        kibana.resume()


def test_a_stored_request_builds_its_payload_from_its_draft(backend: ConnectorBackend) -> None:
    spec = provider_spec(Provider.VLLM)
    values = samples.valid_values(Provider.VLLM)
    draft = spec.parse(values).draft
    assert draft is not None
    stored: dict[str, Any] = draft.settings.model_dump(mode="json")
    request = StoredRequest(
        provider=Provider.VLLM.value,
        name=draft.name,
        space_id=draft.space_id,
        justification=draft.justification,
        connector_type_id=".gen-ai",
        config={},
        settings=stored,
    )
    assert backend.payload(request, draft.secrets.reveal()) == spec.connector_payload(draft)
