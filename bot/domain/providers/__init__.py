"""The registry of providers, in the order the form offers them."""

from __future__ import annotations

from bot.domain.enums import Provider
from bot.domain.fields import (
    COMMON_FIELDS,
    JUSTIFICATION_FIELD,
    FormValues,
    Validation,
    check_common,
    check_limits,
    check_text_safety,
)
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
    """Run the checks every field gets, the common ones and the provider's own; errors are
    keyed by field (the first problem found for a field is the one shown)."""
    result = Validation()
    fields = (*COMMON_FIELDS, *spec.fields, JUSTIFICATION_FIELD)
    if spec.creates_connector:
        check_text_safety(fields, values, result)
        check_common(values, result)
    spec.check(values, result)
    if spec.creates_connector:
        check_limits(fields, values, result)
    return result


__all__ = ["COMMON_FIELDS", "PROVIDERS", "ProviderSpec", "provider_spec", "validate_request"]
