"""Payloads of Elasticsearch's inference API, and the result of a streamed test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Keys whose values are secrets in service_settings, across the services the bot uses.
SECRET_KEYS = frozenset(
    {"api_key", "access_key", "secret_key", "service_account_json", "entra_id", "client_secret"}
)


def _redacted(settings: dict[str, Any]) -> dict[str, Any]:
    # Only known non-secret keys show their values: a misspelt secret key is still a secret.
    shown = {"model_id", "model", "deployment_id", "resource_name", "region", "provider", "url"}
    return {k: (v if k in shown and k not in SECRET_KEYS else "…") for k, v in settings.items()}


class Version(BaseModel):
    model_config = ConfigDict(extra="ignore")

    number: str
    build_flavor: str = "default"


class ClusterInfo(BaseModel):
    """``GET /``: which Elasticsearch this is."""

    model_config = ConfigDict(extra="ignore")

    version: Version
    cluster_name: str | None = None

    @property
    def serverless(self) -> bool:
        """Serverless reports a version number that means nothing; its flavour says so."""
        return self.version.build_flavor == "serverless"

    @property
    def number(self) -> str:
        return self.version.number

    def at_least(self, major: int, minor: int) -> bool:
        """Whether this stack is ``major.minor`` or later (serverless: always, it is newest)."""
        if self.serverless:
            return True
        parts: list[int] = []
        for part in self.version.number.split("-", 1)[0].split(".")[:2]:
            digits = "".join(c for c in part if c.isdigit())
            parts.append(int(digits) if digits else 0)
        while len(parts) < 2:
            parts.append(0)
        return (parts[0], parts[1]) >= (major, minor)


class PutEndpoint(BaseModel):
    """Body of ``PUT /_inference/{task}/{id}``; secrets travel inside ``service_settings``."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    service: str
    service_settings: dict[str, Any]
    task_settings: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)

    def __repr__(self) -> str:  # never print secrets
        return (
            f"PutEndpoint(service={self.service!r}, "
            f"service_settings={_redacted(self.service_settings)!r})"
        )

    __str__ = __repr__


class UpdateEndpoint(BaseModel):
    """Body of ``PUT …/_update``: only these keys (``service`` is refused by Elasticsearch)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    service_settings: dict[str, Any] | None = None
    task_settings: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)

    def __repr__(self) -> str:
        settings = _redacted(self.service_settings or {})
        return (
            f"UpdateEndpoint(service_settings={settings!r}, task_settings={self.task_settings!r})"
        )

    __str__ = __repr__


class DisplayMetadata(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = None


class EndpointMetadata(BaseModel):
    model_config = ConfigDict(extra="ignore")

    display: DisplayMetadata | None = None


class InferenceEndpoint(BaseModel):
    """One endpoint as Elasticsearch returns it (secrets never included)."""

    model_config = ConfigDict(extra="ignore")

    inference_id: str
    task_type: str
    service: str
    service_settings: dict[str, Any] = Field(default_factory=dict)
    task_settings: dict[str, Any] = Field(default_factory=dict)
    metadata: EndpointMetadata | None = None

    @property
    def preconfigured(self) -> bool:
        """Elastic's own endpoints have ids starting with a dot, which no PUT may use."""
        return self.inference_id.startswith(".")

    @property
    def display_name(self) -> str:
        if self.metadata is not None and self.metadata.display is not None:
            return self.metadata.display.name or self.inference_id
        return self.inference_id

    @property
    def model(self) -> str | None:
        for key in ("model_id", "model", "deployment_id"):
            value = self.service_settings.get(key)
            if isinstance(value, str):
                return value
        return None


class EndpointList(BaseModel):
    model_config = ConfigDict(extra="ignore")

    endpoints: list[InferenceEndpoint]


class DeleteResult(BaseModel):
    model_config = ConfigDict(extra="ignore")

    acknowledged: bool
    pipelines: list[str] = Field(default_factory=list)
    indexes: list[str] = Field(default_factory=list)
    error_message: str | None = None


# ---------------------------------------------------------------- the stream


class Delta(BaseModel):
    model_config = ConfigDict(extra="ignore")

    content: str | None = None
    role: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class Choice(BaseModel):
    model_config = ConfigDict(extra="ignore")

    delta: Delta = Field(default_factory=Delta)
    finish_reason: str | None = None
    index: int = 0


class Usage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None


class ChatChunk(BaseModel):
    """One ``chat.completion.chunk`` of ``_stream`` (no ``chat_completion`` wrapper)."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    choices: list[Choice] = Field(default_factory=list)
    model: str | None = None
    object: str | None = None
    usage: Usage | None = None


@dataclass(frozen=True)
class TokenUsage:
    prompt: int | None
    completion: int | None
    total: int | None


@dataclass(frozen=True)
class StreamTestResult:
    """What a streamed test call showed.

    ``ok`` only when the stream ended with ``[DONE]`` and some reply (or a tool call) came.
    ``reply`` is the joined content deltas, cut to the client's bound. Times are seconds from
    sending the request: ``time_to_first_token`` to the first non-empty delta, ``total_time``
    to the end (or to the failure). On failure, ``error`` says what happened, with
    Elasticsearch's or the provider's message; ``status`` is the HTTP status when the failure
    came as one, ``error_code`` the provider's/Elasticsearch's code when given.
    """

    ok: bool
    model: str | None
    reply: str
    usage: TokenUsage | None
    finish_reason: str | None
    time_to_first_token: float | None
    total_time: float
    error: str | None = None
    error_code: str | None = None
    status: int | None = None
    deadline_hit: bool = False
