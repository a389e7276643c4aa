"""Every registered provider, whatever it is: its description is complete, its example values
parse into its typed draft, and the payload of every back-end it supports is built from that
draft. A new provider is covered here without editing this file."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import SecretStr

from bot.domain.fields import COMMON_FIELDS, JUSTIFICATION_FIELD, FieldKind
from bot.domain.providers import PROVIDERS
from bot.domain.providers.spec import CONNECTOR, ProviderSpec
from tests.fakes.kibana_schemas import validate_create_body
from tests.unit.domain import samples

SPECS = list(PROVIDERS.values())
IDS = [spec.key.value for spec in SPECS]
PROVISIONING = [spec for spec in SPECS if spec.provisions]
PROVISIONING_IDS = [spec.key.value for spec in PROVISIONING]
COMMON = samples.COMMON
DEFAULTED = {FieldKind.SELECT, FieldKind.CHECKBOX}


def _example(spec: ProviderSpec[Any, Any]) -> dict[str, str]:
    return {**COMMON, **spec.example}


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_the_description_is_complete(spec: ProviderSpec[Any, Any]) -> None:
    assert spec.label
    assert spec.summary
    keys = [field.key for field in spec.fields]
    assert len(keys) == len(set(keys)), "field keys are unique"
    assert not set(keys) & {field.key for field in (*COMMON_FIELDS, JUSTIFICATION_FIELD)}
    assert set(spec.example) <= set(keys), "examples only fill the provider's own fields"
    assert set(spec.secrets_model.model_fields) == spec.secret_keys
    assert set(spec.settings_model.model_fields) <= set(keys) - spec.secret_keys
    assert spec.creates_connector == (CONNECTOR in spec.supported_backends)


@pytest.mark.parametrize("spec", PROVISIONING, ids=PROVISIONING_IDS)
def test_the_example_parses_into_the_typed_draft(spec: ProviderSpec[Any, Any]) -> None:
    result = spec.parse(_example(spec))
    assert result.errors == {}
    draft = result.draft
    assert draft is not None
    assert isinstance(draft.settings, spec.settings_model)
    assert isinstance(draft.secrets, spec.secrets_model)
    assert (draft.provider, draft.name, draft.space_id, draft.justification) == (
        spec.key,
        COMMON["name"],
        COMMON["space"],
        COMMON["justification"],
    )
    for key in spec.secret_keys:
        value = getattr(draft.secrets, key)
        assert value is None or isinstance(value, SecretStr), key
        if spec.example.get(key):
            assert spec.example[key] not in repr(draft), "secrets never show in a repr"
    settings = draft.settings.model_dump(mode="json")
    for key in spec.secret_keys:
        if spec.example.get(key):
            assert spec.example[key] not in json.dumps(settings)


@pytest.mark.parametrize("spec", PROVISIONING, ids=PROVISIONING_IDS)
def test_a_stored_draft_restores_to_the_same_draft_and_payload(
    spec: ProviderSpec[Any, Any],
) -> None:
    draft = spec.parse(_example(spec)).draft
    assert draft is not None
    stored = json.loads(json.dumps(draft.settings.model_dump(mode="json")))  # as the row keeps it
    restored = spec.restore(
        name=draft.name,
        space_id=draft.space_id,
        justification=draft.justification,
        settings=stored,
        secrets=draft.secrets.reveal(),
    )
    assert restored == draft
    if spec.creates_connector:
        assert spec.connector_payload(restored) == spec.connector_payload(draft)


@pytest.mark.parametrize(
    "spec", [s for s in SPECS if s.creates_connector], ids=lambda spec: spec.key.value
)
def test_the_connector_payload_of_the_example_is_accepted_by_kibana(
    spec: ProviderSpec[Any, Any],
) -> None:
    values = _example(spec)
    draft = spec.parse(values).draft
    assert draft is not None
    payload = spec.connector_payload(draft)
    assert payload.type_id == spec.connector_type_id
    body = {
        "name": draft.name,
        "connector_type_id": payload.type_id,
        "config": payload.config,
        "secrets": payload.secrets,
    }
    assert validate_create_body(body) == []
    for secret in payload.secrets.values():
        assert secret not in json.dumps(payload.config)
        assert secret not in repr(payload)


@pytest.mark.parametrize("spec", PROVISIONING, ids=PROVISIONING_IDS)
def test_every_error_of_a_broken_example_is_under_a_field_of_the_form(
    spec: ProviderSpec[Any, Any],
) -> None:
    keys = {field.key for field in (*COMMON_FIELDS, *spec.fields, JUSTIFICATION_FIELD)}
    for key in [*COMMON, *spec.example]:
        field = spec.field(key)
        if field is not None and (not field.required or field.kind in DEFAULTED):
            continue  # optional, or a select/checkbox whose empty value is its default
        broken = {**_example(spec), key: ""}
        result = spec.parse(broken)
        assert result.draft is None, f"{key} emptied: no draft"
        assert result.errors, key
        assert set(result.errors) <= keys, result.errors


def test_a_provider_with_nothing_to_create_has_no_draft() -> None:
    for spec in SPECS:
        if not spec.provisions:
            assert spec.parse({}).draft is None
            assert spec.parse({}).ok
