"""The registry of providers, in the order the form offers them."""

from __future__ import annotations

from typing import Any

from bot.domain.enums import Provider
from bot.domain.fields import COMMON_FIELDS
from bot.domain.providers import (
    anthropic,
    azure,
    bedrock,
    elastic,
    elastic_inference,
    mistral,
    openai,
    self_managed,
    vertex,
)
from bot.domain.providers.spec import ProviderSpec

PROVIDERS: dict[Provider, ProviderSpec[Any, Any]] = {
    spec.key: spec
    for spec in (
        openai.SPEC,
        azure.SPEC,
        bedrock.SPEC,
        vertex.SPEC,
        self_managed.VLLM,
        self_managed.LM_STUDIO,
        self_managed.OPENAI_COMPATIBLE,
        anthropic.SPEC,
        mistral.SPEC,
        elastic_inference.SPEC,
        elastic.SPEC,
    )
}


def provider_spec(provider: Provider) -> ProviderSpec[Any, Any]:
    """Return the description of ``provider``."""
    return PROVIDERS[provider]


__all__ = ["COMMON_FIELDS", "PROVIDERS", "ProviderSpec", "provider_spec"]
