"""The registry of providers, in the order the form offers them."""

from __future__ import annotations

from bot.domain.enums import Provider
from bot.domain.fields import COMMON_FIELDS, FormValues, Validation, check_common
from bot.domain.providers import azure, bedrock, elastic, openai, self_managed, vertex
from bot.domain.providers.spec import ProviderSpec

PROVIDERS: dict[Provider, ProviderSpec] = {
    spec.key: spec
    for spec in (
        openai.SPEC,
        azure.SPEC,
        bedrock.SPEC,
        vertex.SPEC,
        self_managed.VLLM,
        self_managed.LM_STUDIO,
        self_managed.OPENAI_COMPATIBLE,
        elastic.SPEC,
    )
}


def provider_spec(provider: Provider) -> ProviderSpec:
    """Return the description of ``provider``."""
    return PROVIDERS[provider]


def validate_request(spec: ProviderSpec, values: FormValues) -> Validation:
    """Run the common checks and the provider's own; errors are keyed by field."""
    result = Validation()
    if spec.creates_connector:
        check_common(values, result)
    spec.check(values, result)
    return result


__all__ = ["COMMON_FIELDS", "PROVIDERS", "ProviderSpec", "provider_spec", "validate_request"]
