"""Each target's keys come from the variables it names; an unset one stops the start."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import ConfigError, Settings
from bot.domain.policy.model import PolicyDocument, environment_policy
from bot.domain.targets import Target
from bot.target_clients import build_target_clients, resolve_keys, target_secrets

SETTINGS = Settings(
    slack_bot_token="xoxb-test",
    slack_signing_secret="8f14e45fceea167a5a36dedd4bea2543",
    kibana_url="https://kibana.example.com",
    kibana_api_key="env-kibana-key",
    approvers=["U012ABCDEF"],
    approval_channel="C012ABCDEF",
)


def policy(*targets: Target) -> PolicyDocument:
    document = environment_policy(targets[0], ["U012ABCDEF"], request_ttl=timedelta(hours=1))
    return PolicyDocument(targets=targets, rules=document.rules)


PROD = Target(key="prod", kibana_url="https://kibana.prod.example.com")
LAB = Target(
    key="lab",
    kibana_url="https://kibana.lab.example.com",
    kibana_api_key_env="KIBANA_LAB_API_KEY",
    elasticsearch_url="https://es.lab.example.com",
    elasticsearch_api_key_env="ES_LAB_API_KEY",
)


def test_keys_come_from_the_named_variables_or_the_contracts() -> None:
    environ = {"KIBANA_LAB_API_KEY": "lab-kibana", "ES_LAB_API_KEY": "lab-es"}
    keys = resolve_keys(policy(PROD, LAB), SETTINGS, environ)
    assert (keys["prod"].kibana, keys["prod"].elasticsearch) == ("env-kibana-key", None)
    assert (keys["lab"].kibana, keys["lab"].elasticsearch) == ("lab-kibana", "lab-es")
    assert sorted(target_secrets(policy(PROD, LAB), SETTINGS, environ)) == [
        "env-kibana-key",
        "lab-es",
        "lab-kibana",
    ]


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_every_unset_or_empty_variable_is_named_with_its_target(blank: str | None) -> None:
    environ = {} if blank is None else {"KIBANA_LAB_API_KEY": blank, "ES_LAB_API_KEY": blank}
    with pytest.raises(ConfigError) as raised:
        build_target_clients(policy(PROD, LAB), SETTINGS, environ)
    assert raised.value.problems == [
        "KIBANA_LAB_API_KEY: unset or empty, and target “lab” reads its Kibana API key from it"
    ]


def test_an_elasticsearch_variable_is_checked_too() -> None:
    with pytest.raises(ConfigError) as raised:
        resolve_keys(policy(LAB), SETTINGS, {"KIBANA_LAB_API_KEY": "lab-kibana"})
    assert raised.value.problems == [
        "ES_LAB_API_KEY: unset or empty, and target “lab” reads its Elasticsearch API key from it"
    ]


def test_an_elasticsearch_without_any_key_is_named() -> None:
    bare = Target(key="edge", kibana_url="https://k.example.com", elasticsearch_url="https://e")
    with pytest.raises(ConfigError) as raised:
        resolve_keys(policy(bare), SETTINGS, {})
    assert raised.value.problems[0].startswith("ELASTICSEARCH_API_KEY: missing, and target “edge”")


def test_each_target_gets_clients_of_its_own() -> None:
    environ = {"KIBANA_LAB_API_KEY": "lab-kibana", "ES_LAB_API_KEY": "lab-es"}
    clients = build_target_clients(policy(PROD, LAB), SETTINGS, environ)
    try:
        assert list(clients) == ["prod", "lab"]
        assert clients["prod"].elasticsearch is None
        assert clients["lab"].elasticsearch is not None
        assert clients["prod"].kibana is not clients["lab"].kibana
        assert clients["prod"].backend_choice is not clients["lab"].backend_choice
    finally:
        for built in clients.values():
            built.close()
