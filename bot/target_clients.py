"""Each target's clients, built from the policy's targets and the keys their variables hold."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bot.config import ConfigError, Settings
from bot.deps import TargetClients
from bot.domain.policy.model import PolicyDocument
from bot.domain.targets import Target
from bot.elasticsearch.client import ElasticsearchClient
from bot.elasticsearch.client import make_http_client as make_es_http_client
from bot.kibana.client import KibanaClient, make_http_client

# The longest any Kibana call made before an ack (form submission, form opening) may take in
# all: Slack gives 3 s for the whole answer; past this the request goes on with a warning.
KIBANA_QUICK_DEADLINE_SECONDS = 0.6
QUICK_TIMEOUT_SECONDS = 1.5


@dataclass(frozen=True)
class _Keys:
    kibana: str
    elasticsearch: str | None


def _from_variable(target: Target, name: str, what: str, environ: Mapping[str, str]) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(
            [f"{name}: unset or empty, and target “{target.key}” reads its {what} API key from it"]
        )
    return value


def _keys(target: Target, settings: Settings, environ: Mapping[str, str]) -> _Keys:
    if target.kibana_api_key_env is None:
        if settings.kibana_api_key is None:  # only possible with POLICY_FILE
            raise ConfigError(
                [f"KIBANA_API_KEY: missing, and target “{target.key}” names no kibana_api_key_env"]
            )
        kibana = settings.kibana_api_key.get_secret_value()
    else:
        kibana = _from_variable(target, target.kibana_api_key_env, "Kibana", environ)
    if target.elasticsearch_url is None:
        return _Keys(kibana, None)
    if target.elasticsearch_api_key_env is not None:
        name = target.elasticsearch_api_key_env
        return _Keys(kibana, _from_variable(target, name, "Elasticsearch", environ))
    if settings.elasticsearch_api_key is None:
        raise ConfigError(
            [
                f"ELASTICSEARCH_API_KEY: missing, and target “{target.key}” has an "
                "elasticsearch_url but no elasticsearch_api_key_env"
            ]
        )
    return _Keys(kibana, settings.elasticsearch_api_key.get_secret_value())


def resolve_keys(
    governance: PolicyDocument, settings: Settings, environ: Mapping[str, str] | None = None
) -> dict[str, _Keys]:
    """Every target's keys, read from the variables it names; ConfigError naming each target
    and variable that is unset or empty."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    keys: dict[str, _Keys] = {}
    for target in governance.targets:
        try:
            keys[target.key] = _keys(target, settings, env)
        except ConfigError as error:
            problems += error.problems
    if problems:
        raise ConfigError(problems)
    return keys


def target_secrets(
    governance: PolicyDocument, settings: Settings, environ: Mapping[str, str] | None = None
) -> list[str]:
    """The keys the targets' variables hold (for the log filter); ConfigError as above."""
    found = resolve_keys(governance, settings, environ).values()
    return [k for keys in found for k in (keys.kibana, keys.elasticsearch) if k]


def build_target_clients(
    governance: PolicyDocument, settings: Settings, environ: Mapping[str, str] | None = None
) -> dict[str, TargetClients]:
    """The clients of every target, in the policy's order (ConfigError before any is made)."""
    keys = resolve_keys(governance, settings, environ)
    timeout = settings.kibana_timeout_seconds
    built: dict[str, TargetClients] = {}
    for target in governance.targets:
        key = keys[target.key]
        url = target.kibana_url.rstrip("/")
        elasticsearch = elasticsearch_quick = None
        if target.elasticsearch_url is not None and key.elasticsearch is not None:
            es_url = target.elasticsearch_url.rstrip("/")
            elasticsearch = ElasticsearchClient(
                make_es_http_client(es_url, key.elasticsearch, timeout=timeout)
            )
            elasticsearch_quick = ElasticsearchClient(
                make_es_http_client(es_url, key.elasticsearch, timeout=QUICK_TIMEOUT_SECONDS)
            )
        built[target.key] = TargetClients(
            target=target,
            kibana=KibanaClient(make_http_client(url, key.kibana, timeout=timeout)),
            kibana_quick=KibanaClient(
                make_http_client(url, key.kibana, timeout=QUICK_TIMEOUT_SECONDS),
                deadline=KIBANA_QUICK_DEADLINE_SECONDS,
            ),
            elasticsearch=elasticsearch,
            elasticsearch_quick=elasticsearch_quick,
        )
    return built
