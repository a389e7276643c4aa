"""What a provider is: its form fields, checks, typed parse, and a payload per back-end.

A provider is one module that exports a `ProviderSpec`:

- ``fields``: the inputs of its form (the common ones are added by the form);
- ``check``: its checks over the raw form values, errors keyed by field;
- ``settings_model``/``secrets_model``: the typed draft the checked values become
  (``spec.parse(values)``), secrets in their own part so they can be sealed apart;
- one payload builder per back-end it supports (``connector`` today: a Kibana connector type
  and ``(settings, secrets) -> (config, secrets)``); ``supported_backends`` names them. A new
  back-end adds one builder field here and one per provider that supports it;
- ``example``: form values that pass every check, which the tests use for every provider.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from bot.domain.enums import Provider
from bot.domain.fields import (
    COMMON_FIELDS,
    JUSTIFICATION_FIELD,
    FieldSpec,
    FormValues,
    Validation,
    check_common,
    check_limits,
    check_text_safety,
)

# The values of the domain `Backend` enum (bot/domain/backends.py): a StrEnum member compares
# equal to these strings.
BackendKey = Literal["connector", "inference"]
CONNECTOR: BackendKey = "connector"
INFERENCE: BackendKey = "inference"

Checker = Callable[[FormValues, Validation], None]


class Settings(BaseModel):
    """The non-secret part of a provider's draft: stored on the request row as JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Secrets(BaseModel):
    """The secret part of a provider's draft: sealed on the request row, never shown."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    def reveal(self) -> dict[str, str]:
        """The secrets in the clear, by field key, without the empty ones (for sealing)."""
        revealed: dict[str, str] = {}
        for key in type(self).model_fields:
            value = getattr(self, key)
            if isinstance(value, SecretStr) and value.get_secret_value():
                revealed[key] = value.get_secret_value()
        return revealed


SettingsT = TypeVar("SettingsT", bound=Settings)
SecretsT = TypeVar("SecretsT", bound=Secrets)


class ProviderDraft(BaseModel, Generic[SettingsT, SecretsT]):
    """A request whose form passed every check, typed: what every back-end builds from."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    provider: Provider
    name: str
    space_id: str
    justification: str
    settings: SettingsT
    secrets: SecretsT


@dataclass(frozen=True)
class ConnectorPayload:
    """What `POST /api/actions/connector/{id}` needs besides the name."""

    type_id: str
    config: dict[str, Any]
    secrets: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class ConnectorTarget(Generic[SettingsT, SecretsT]):
    """How a provider becomes a Kibana connector: its type, and config/secrets from the draft."""

    type_id: str
    build: Callable[[SettingsT, SecretsT], tuple[dict[str, Any], dict[str, str]]]


@dataclass(frozen=True)
class InferencePayload:
    """What `PUT _inference/chat_completion/{id}` needs: the service and its settings.

    ``service_settings`` holds the secrets too (Elasticsearch keeps them apart once stored);
    ``secret_settings`` names those keys, so a Dev Tools delivery can leave placeholders and a
    retry can compare only what Elasticsearch returns.
    """

    service: str
    service_settings: dict[str, Any] = field(repr=False)
    task_settings: dict[str, Any] = field(default_factory=dict)
    secret_settings: frozenset[str] = frozenset()


@dataclass(frozen=True)
class InferenceTarget(Generic[SettingsT, SecretsT]):
    """How a provider becomes an Elasticsearch `chat_completion` inference endpoint."""

    service: str
    build: Callable[[SettingsT, SecretsT], InferencePayload]


@dataclass(frozen=True)
class ParseResult(Generic[SettingsT, SecretsT]):
    """The typed draft of a form that passed every check, or the errors by field; warnings
    travel with the request to its card either way."""

    draft: ProviderDraft[SettingsT, SecretsT] | None
    errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def refused(self, key: str, message: str) -> ParseResult[SettingsT, SecretsT]:
        """The same result with one more error (the first error of a field stays)."""
        return ParseResult(None, {key: message, **self.errors}, list(self.warnings))

    def warned(self, *warnings: str) -> ParseResult[SettingsT, SecretsT]:
        """The same result with more warnings."""
        return ParseResult(self.draft, dict(self.errors), [*self.warnings, *warnings])


def _typed_input(model: type[BaseModel], values: Mapping[str, str]) -> dict[str, str]:
    # Empty inputs are left out so the model's defaults (None, False…) apply.
    return {key: values[key].strip() for key in model.model_fields if values.get(key, "").strip()}


@dataclass(frozen=True)
class ProviderSpec(Generic[SettingsT, SecretsT]):
    """A provider, described once; the form, checks, draft and payloads all derive from it."""

    key: Provider
    label: str
    summary: str
    fields: tuple[FieldSpec, ...]
    check: Checker
    settings_model: type[SettingsT]
    secrets_model: type[SecretsT]
    supported_backends: frozenset[BackendKey]
    connector: ConnectorTarget[SettingsT, SecretsT] | None = None
    inference: InferenceTarget[SettingsT, SecretsT] | None = None
    example: FormValues = field(default_factory=dict)  # provider fields that pass the checks
    self_managed: bool = False

    def __post_init__(self) -> None:
        if (CONNECTOR in self.supported_backends) != (self.connector is not None):
            raise ValueError(f"{self.key}: 'connector' back-end declared without its payload")
        if (INFERENCE in self.supported_backends) != (self.inference is not None):
            raise ValueError(f"{self.key}: 'inference' back-end declared without its payload")
        secret_fields = {spec.key for spec in self.fields if spec.secret}
        if set(self.secrets_model.model_fields) != secret_fields:
            raise ValueError(f"{self.key}: secrets model does not match the secret fields")

    @property
    def secret_keys(self) -> frozenset[str]:
        return frozenset(spec.key for spec in self.fields if spec.secret)

    @property
    def provisions(self) -> bool:
        """False for a provider with nothing to create (Elastic Managed LLM)."""
        return bool(self.supported_backends)

    @property
    def creates_connector(self) -> bool:
        return self.connector is not None

    @property
    def connector_type_id(self) -> str | None:
        """The Kibana connector type (None: nothing to create, Elastic Managed LLM)."""
        return self.connector.type_id if self.connector else None

    def field(self, key: str) -> FieldSpec | None:
        return next((spec for spec in self.fields if spec.key == key), None)

    def validate(self, values: FormValues) -> Validation:
        """Run the checks every field gets, the common ones and the provider's own; errors
        are keyed by field (the first problem found for a field is the one shown)."""
        result = Validation()
        fields = (*COMMON_FIELDS, *self.fields, JUSTIFICATION_FIELD)
        if self.provisions:
            check_text_safety(fields, values, result)
            check_common(values, result)
        self.check(values, result)
        if self.provisions:
            check_limits(fields, values, result)
        return result

    def parse(self, values: FormValues) -> ParseResult[SettingsT, SecretsT]:
        """Check the form and, when it passes, read it into the provider's typed draft."""
        validation = self.validate(values)
        if not validation.ok or not self.provisions:
            return ParseResult(None, dict(validation.errors), list(validation.warnings))
        try:
            draft = self.draft_from(values)
        except ValidationError as error:  # a check let through what the model refuses
            errors = {str(problem["loc"][-1]): problem["msg"] for problem in error.errors()}
            return ParseResult(None, errors, list(validation.warnings))
        return ParseResult(draft, {}, list(validation.warnings))

    def draft_from(self, values: FormValues) -> ProviderDraft[SettingsT, SecretsT]:
        """Read form values into the typed draft without checking them (``parse`` checks)."""
        return ProviderDraft[SettingsT, SecretsT](
            provider=self.key,
            name=values.get("name", "").strip(),
            space_id=values.get("space", "").strip(),
            justification=values.get("justification", "").strip(),
            settings=self.settings_model.model_validate(_typed_input(self.settings_model, values)),
            secrets=self.secrets_model.model_validate(_typed_input(self.secrets_model, values)),
        )

    def restore(
        self,
        *,
        name: str,
        space_id: str,
        justification: str,
        settings: Mapping[str, Any],
        secrets: Mapping[str, str],
    ) -> ProviderDraft[SettingsT, SecretsT]:
        """Rebuild a stored draft: its settings as stored, its secrets as unsealed."""
        return ProviderDraft[SettingsT, SecretsT](
            provider=self.key,
            name=name,
            space_id=space_id,
            justification=justification,
            settings=self.settings_model.model_validate(dict(settings)),
            secrets=self.secrets_model.model_validate(dict(secrets)),
        )

    def connector_payload(self, draft: ProviderDraft[SettingsT, SecretsT]) -> ConnectorPayload:
        """The Kibana connector type, config and secrets for ``draft``."""
        if self.connector is None:
            raise ValueError(f"{self.key} has no connector back-end")
        config, secrets = self.connector.build(draft.settings, draft.secrets)
        return ConnectorPayload(type_id=self.connector.type_id, config=config, secrets=secrets)

    def inference_payload(self, draft: ProviderDraft[SettingsT, SecretsT]) -> InferencePayload:
        """The Elasticsearch inference service and settings for ``draft``."""
        if self.inference is None:
            raise ValueError(f"{self.key} has no inference back-end")
        return self.inference.build(draft.settings, draft.secrets)


class NoSettings(Settings):
    """A provider with nothing to configure."""


class NoSecrets(Secrets):
    """A provider with no secrets."""


def non_empty(mapping: dict[str, Any]) -> dict[str, Any]:
    """Drop keys whose value is None or '' (Kibana rejects empty strings)."""
    return {key: value for key, value in mapping.items() if value not in (None, "")}


def secret(value: SecretStr | None) -> str:
    """The clear text of an optional secret ('' when absent)."""
    return value.get_secret_value() if value is not None else ""
