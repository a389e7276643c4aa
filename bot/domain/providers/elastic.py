"""Elastic Managed LLM: a preconfigured `.inference` connector; nothing to create."""

from __future__ import annotations

from typing import Any

from bot.domain.enums import Provider
from bot.domain.fields import FormValues, Validation
from bot.domain.providers.spec import ProviderSpec

MANAGED_IDS = (
    "Anthropic-Claude-Sonnet-4-5",
    "Anthropic-Claude-Sonnet-3-7",
    "General-Purpose-LLM-v2",
    "General-Purpose-LLM-v1",
    "Elastic-Managed-LLM",
)


def _nothing(_values: FormValues, _result: Validation) -> None:
    return None


def _no_config(_values: FormValues) -> dict[str, Any]:
    return {}


def _no_secrets(_values: FormValues) -> dict[str, str]:
    return {}


SPEC = ProviderSpec(
    key=Provider.ELASTIC_MANAGED,
    label="Elastic Managed LLM",
    summary="Elastic's own LLM, preconfigured on eligible deployments: nothing to create.",
    connector_type_id=None,
    fields=(),
    check=_nothing,
    build_config=_no_config,
    build_secrets=_no_secrets,
)
