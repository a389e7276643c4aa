"""The Kibana-connector back-end behind `ProvisioningBackend`, against the fake Kibana (a real
HTTP server): create with the 409 rule, get, test, list, delete; domain objects out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.domain.changes import config_changes
from bot.domain.enums import Provider
from bot.domain.providers import PROVIDERS, provider_spec
from bot.domain.providers.spec import ConnectorPayload
from bot.domain.resources import Removal, Resource, Target
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


def test_update_merges_over_what_kibana_has_and_sends_the_new_secrets(
    backend: ConnectorBackend, kibana: FakeKibana
) -> None:
    target, payload = _target_and_payload(Provider.OPENAI)
    kibana.add_connector(
        "default",
        target.resource_id,
        {
            "name": target.name,
            "connector_type_id": ".gen-ai",
            "config": {**payload.config, "contextWindowLength": 128000, "projectId": "proj_Old1"},
            "secrets": {"apiKey": "sk-old"},
        },
    )
    changes = config_changes(
        {**payload.config, "projectId": "proj_Old1"}, {**payload.config, "defaultModel": "gpt-4o"}
    )
    changed = ConnectorPayload(".gen-ai", changes, {"apiKey": "sk-rotated"})
    renamed = target.model_copy(update={"name": "Backend GPT 4o"})
    updated = backend.update(renamed, changed)
    assert (updated.name, updated.model) == ("Backend GPT 4o", "gpt-4o")
    stored = kibana.connectors("default")[target.resource_id]
    assert stored["config"]["contextWindowLength"] == 128000  # set by hand: kept
    assert "projectId" not in stored["config"]  # cleared in the change: removed
    assert stored["secrets"] == {"apiKey": "sk-rotated"}
    sent = kibana.requests_to("PUT", f"/api/actions/connector/{target.resource_id}")[-1]
    assert set(sent.body) == {"name", "config", "secrets"}


def test_update_refuses_a_missing_preconfigured_or_other_type_connector(
    backend: ConnectorBackend, kibana: FakeKibana
) -> None:
    target, payload = _target_and_payload(Provider.OPENAI)
    with pytest.raises(BackendError) as missing:
        backend.update(target, payload)
    assert missing.value.status == 404
    kibana.add_preconfigured("shared-gpt", name="Shared", connector_type_id=".gen-ai")
    with pytest.raises(BackendError) as preconfigured:
        backend.update(target.model_copy(update={"resource_id": "shared-gpt"}), payload)
    assert "preconfigured in kibana.yml" in preconfigured.value.message
    bedrock_target, bedrock_payload = _target_and_payload(Provider.BEDROCK)
    backend.create(bedrock_target, bedrock_payload)
    with pytest.raises(BackendError) as other_type:
        backend.update(bedrock_target, payload)
    assert "cannot change its type to .gen-ai" in other_type.value.message
    assert kibana.requests_to("PUT", "/api/actions/connector/shared-gpt") == []


def test_update_passes_on_kibanas_refusal(backend: ConnectorBackend) -> None:
    target, payload = _target_and_payload(Provider.OPENAI)
    backend.create(target, payload)
    bad = ConnectorPayload(".gen-ai", {"apiUrl": "not a url"}, {"apiKey": "sk-x"})
    with pytest.raises(BackendError) as refused:
        backend.update(target, bad)
    assert refused.value.status == 400
    assert "Invalid URL" in refused.value.message


def test_delete_says_whether_it_existed(backend: ConnectorBackend) -> None:
    target, payload = _target_and_payload(Provider.OPENAI)
    backend.create(target, payload)
    assert backend.delete(target) == Removal(existed=True)
    assert backend.delete(target) == Removal(existed=False)
