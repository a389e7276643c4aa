"""What a provider is: its Kibana connector type, its form fields, its checks and payloads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.domain.enums import Provider
from bot.domain.fields import FieldSpec, FormValues, Validation

Checker = Callable[[FormValues, Validation], None]
ConfigBuilder = Callable[[FormValues], dict[str, Any]]
SecretsBuilder = Callable[[FormValues], dict[str, str]]


@dataclass(frozen=True)
class ProviderSpec:
    """A provider, described once; the form, checks, Kibana body and test all derive from it."""

    key: Provider
    label: str
    summary: str
    connector_type_id: str | None  # None: nothing to create (Elastic Managed LLM)
    fields: tuple[FieldSpec, ...]
    check: Checker
    build_config: ConfigBuilder
    build_secrets: SecretsBuilder
    self_managed: bool = False

    @property
    def secret_keys(self) -> frozenset[str]:
        return frozenset(spec.key for spec in self.fields if spec.secret)

    @property
    def creates_connector(self) -> bool:
        return self.connector_type_id is not None

    def field(self, key: str) -> FieldSpec | None:
        return next((spec for spec in self.fields if spec.key == key), None)


def non_empty(mapping: dict[str, Any]) -> dict[str, Any]:
    """Drop keys whose value is None or '' (Kibana rejects empty strings)."""
    return {key: value for key, value in mapping.items() if value not in (None, "")}
