"""What a provisioning back-end creates, finds and tests, in the bot's own terms (the Kibana
and Elasticsearch wire models stay in their client packages)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.domain.providers.spec import BackendKey
from bot.domain.streaming_check import SecondCheckResult
from bot.domain.testing import TestReading


class Target(BaseModel):
    """The resource a request provisions: where, under which id and name, of which type, and
    its stored non-secret config (what the test needs)."""

    model_config = ConfigDict(frozen=True)

    space_id: str
    resource_id: str
    name: str
    type_id: str
    config: dict[str, Any] = {}


class Resource(BaseModel):
    """A connector (or endpoint) a back-end created, found or listed."""

    model_config = ConfigDict(frozen=True)

    backend: BackendKey
    id: str
    name: str
    type_id: str
    provider: str | None = None
    model: str | None = None
    preconfigured: bool = False
    type_deprecated: bool = False
    config: dict[str, Any] = {}
    created_by_bot: bool = False  # its id is stored on one of the bot's request rows


class TestRun(BaseModel):
    """How a test call went: the reading when it passed, the provider's message and a likely
    cause and fix when it failed."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    reading: TestReading | None = None
    message: str | None = None
    service_message: str | None = None
    hint: str | None = None
    second_check: SecondCheckResult | None = None  # `.gen-ai`: invokeAI after a passing test


class Removal(BaseModel):
    """How a delete went: ``existed`` is False when there was nothing left to delete."""

    model_config = ConfigDict(frozen=True)

    existed: bool
