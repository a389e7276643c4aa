"""Changes to an existing connector, pure: the fields each modal asks for, the diff of the
non-secret settings (never a secret), rotate and change submissions checked like a new
request, what Elasticsearch cannot change, and the update's config and rollback."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain import changes
from bot.domain.changes import Current, SettingChange, parse_change, parse_rotation
from bot.domain.enums import Provider
from bot.domain.providers import PROVIDERS, provider_spec
from bot.domain.providers.spec import CONNECTOR, INFERENCE, BackendKey
from tests.unit.domain import samples

PROVISIONING = [key for key, spec in PROVIDERS.items() if spec.provisions]
REASON = "The old key was pasted in a public channel."


def _current(provider: Provider, backend: BackendKey = CONNECTOR, **overrides: str) -> Current:
    spec = provider_spec(provider)
    draft = spec.parse(samples.valid_values(provider, **overrides)).draft
    assert draft is not None
    return Current(
        provider=provider,
        backend=backend,
        name=draft.name,
        space_id=draft.space_id,
        settings=draft.settings.model_dump(mode="json"),
    )


def _change_values(current: Current, **overrides: str) -> dict[str, str]:
    spec = current.spec
    values = {
        "name": current.name,
        **changes.settings_values(spec, current.settings),
        **{f.key: v for f in changes.secret_fields(spec) if (v := spec.example.get(f.key))},
        "justification": REASON,
    }
    values.update(overrides)
    return values


@pytest.mark.parametrize("provider", PROVISIONING, ids=[p.value for p in PROVISIONING])
def test_fields_split_into_secrets_and_settings(provider: Provider) -> None:
    spec = provider_spec(provider)
    secrets, settings = changes.secret_fields(spec), changes.setting_fields(spec)
    assert {f.key for f in secrets} == spec.secret_keys
    assert {f.key for f in secrets} | {f.key for f in settings} == {f.key for f in spec.fields}
    assert [f.key for f in changes.rotate_fields(spec)] == [
        *(f.key for f in secrets),
        "justification",
    ]
    asked = [f.key for f in changes.change_fields(spec)]
    assert asked[0] == "name"
    assert "space" not in asked  # a connector never moves to another space
    assert asked[-1] == "justification"
    assert changes.rotatable(spec) == bool(secrets)


def test_settings_diff_lists_changed_settings_and_never_a_secret() -> None:
    spec = provider_spec(Provider.OPENAI)
    old = {"name": "Team GPT", "model": "gpt-4.1", "api_key": "sk-old", "project_id": None}
    new = {"name": "Team GPT", "model": "gpt-4o", "api_key": "sk-new", "project_id": "proj_Ab12"}
    diff = changes.settings_diff(spec, old, new)
    assert diff == [
        SettingChange("Model", "gpt-4.1", "gpt-4o"),
        SettingChange("Project id", "", "proj_Ab12"),
    ]
    assert "sk-" not in repr(diff)
    renamed = changes.settings_diff(spec, old, {**old, "name": "Team GPT 2", "apiKey": "x"})
    assert renamed == [SettingChange("Connector name", "Team GPT", "Team GPT 2")]
    assert changes.settings_diff(spec, old, dict(old)) == []


def test_a_rotation_keeps_the_settings_and_takes_the_new_secrets() -> None:
    current = _current(Provider.BEDROCK)
    result = parse_rotation(
        current,
        {"access_key": "AKIAZZZZZZZZZZZZZZZZ", "secret_key": "n" * 40, "justification": REASON},
    )
    assert result.ok, result.errors
    assert result.draft is not None
    assert result.draft.kind == "rotate"
    assert result.draft.diff == ()
    assert result.draft.draft.settings.model_dump(mode="json") == current.settings
    assert result.draft.draft.secrets.reveal()["access_key"] == "AKIAZZZZZZZZZZZZZZZZ"
    payload = result.draft.connector_payload()
    assert payload.secrets["accessKey"] == "AKIAZZZZZZZZZZZZZZZZ"
    assert (
        payload.config
        == provider_spec(Provider.BEDROCK).connector_payload(result.draft.draft).config
    )


def test_a_rotation_is_checked_like_a_new_request() -> None:
    current = _current(Provider.OPENAI)
    wrong = parse_rotation(current, {"api_key": "not-a-key", "justification": REASON})
    assert wrong.errors == {
        "api_key": "OpenAI API keys start with sk-: check you copied the secret key."
    }
    empty = parse_rotation(current, {"api_key": "", "justification": ""})
    assert set(empty.errors) == {"api_key", "justification"}
    optional = _current(Provider.OPENAI_COMPATIBLE)
    nothing = parse_rotation(optional, {"justification": REASON})
    assert "api_key" in nothing.errors
    with pytest.raises(ValueError, match="no secret to rotate"):
        parse_rotation(_current(Provider.ELASTIC_INFERENCE, INFERENCE), {})


def test_a_rotation_over_settings_that_no_longer_pass_says_so_under_the_key() -> None:
    current = _current(Provider.OPENAI)
    stale = Current(
        provider=current.provider,
        backend=current.backend,
        name=current.name,
        space_id=current.space_id,
        settings={**current.settings, "organization_id": "not-an-org"},
    )
    result = parse_rotation(stale, {"api_key": "sk-proj-New1234567", "justification": REASON})
    assert set(result.errors) == {"api_key"}
    assert "Organization id" in result.errors["api_key"]
    assert "ask for a change" in result.errors["api_key"]


def test_a_change_gives_the_diff_the_config_to_send_and_its_rollback() -> None:
    current = _current(Provider.OPENAI, organization_id="org-Abc12345")
    values = _change_values(current, model="gpt-4o", organization_id="", name="Team GPT 4o")
    result = parse_change(current, values)
    assert result.ok, result.errors
    change = result.draft
    assert change is not None
    assert change.kind == "change"
    assert change.diff == (
        SettingChange("Connector name", current.name, "Team GPT 4o"),
        SettingChange("Model", "gpt-4.1", "gpt-4o"),
        SettingChange("Organization id", "org-Abc12345", ""),
    )
    payload = change.connector_payload()
    assert payload.config["defaultModel"] == "gpt-4o"
    assert payload.config["organizationId"] is None  # cleared: the merge removes it
    assert payload.secrets == {"apiKey": samples.valid_values(Provider.OPENAI)["api_key"]}
    back = change.rollback()
    assert back.draft.name == current.name
    assert back.draft.settings.model_dump(mode="json") == current.settings
    assert back.diff[1] == SettingChange("Model", "gpt-4o", "gpt-4.1")
    assert back.connector_payload().config["organizationId"] == "org-Abc12345"


def test_a_change_is_checked_like_a_new_request() -> None:
    current = _current(Provider.OPENAI)
    bad = parse_change(current, _change_values(current, api_url="ftp://x", api_key=""))
    assert set(bad.errors) >= {"api_url", "api_key"}
    same = parse_change(current, _change_values(current))
    assert same.errors == {
        "api_url": "Nothing changed: edit a setting (to replace only the key, rotate it)."
    }
    hostile = parse_change(current, _change_values(current, name="Team\u202eGPT"))
    assert "name" in hostile.errors


def test_an_endpoint_refuses_what_elasticsearch_keeps_and_takes_task_settings() -> None:
    current = _current(Provider.ANTHROPIC, INFERENCE)
    model = parse_change(current, _change_values(current, model="claude-opus-4-1"))
    assert set(model.errors) == {"model"}
    assert "retire it and request a new one" in model.errors["model"]
    longer = parse_change(current, _change_values(current, max_tokens="2048"))
    assert longer.ok, longer.errors
    assert longer.draft is not None
    assert longer.draft.inference_payload().task_settings == {"max_tokens": 2048}
    on_kibana = _current(Provider.ANTHROPIC, CONNECTOR)
    assert parse_change(on_kibana, _change_values(on_kibana, model="claude-opus-4-1")).ok


@pytest.mark.parametrize("provider", PROVISIONING, ids=[p.value for p in PROVISIONING])
def test_every_provider_prefills_its_settings_and_parses_a_change_back(
    provider: Provider,
) -> None:
    current = _current(provider)
    values: dict[str, Any] = _change_values(current, name=f"{current.name} v2")
    result = parse_change(current, values)
    assert result.ok, result.errors
    assert result.draft is not None
    assert result.draft.draft.settings.model_dump(mode="json") == current.settings


def test_config_changes_and_merge_keep_what_the_bot_does_not_know() -> None:
    sent = changes.config_changes({"a": 1, "b": 2}, {"a": 3})
    assert sent == {"a": 3, "b": None}
    merged = changes.merge_config({"a": 1, "b": 2, "hand": "kept"}, sent)
    assert merged == {"a": 3, "hand": "kept"}
