"""Elastic Managed LLM: a preconfigured `.inference` connector; nothing to create."""

from __future__ import annotations

from bot.domain.enums import Provider
from bot.domain.fields import FormValues, Validation
from bot.domain.providers.spec import NoSecrets, NoSettings, ProviderSpec

MANAGED_IDS = (
    "Anthropic-Claude-Sonnet-4-5",
    "Anthropic-Claude-Sonnet-3-7",
    "General-Purpose-LLM-v2",
    "General-Purpose-LLM-v1",
    "Elastic-Managed-LLM",
)


def _nothing(_values: FormValues, _result: Validation) -> None:
    return None


SPEC = ProviderSpec(
    key=Provider.ELASTIC_MANAGED,
    label="Elastic Managed LLM",
    summary="Elastic's own LLM, preconfigured on eligible deployments: nothing to create.",
    fields=(),
    check=_nothing,
    settings_model=NoSettings,
    secrets_model=NoSecrets,
    supported_backends=frozenset(),
)
