"""Payloads of Kibana's connector endpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class CreateConnector(BaseModel):
    """Body of POST /api/actions/connector/{id}: exactly these four keys."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    name: str
    connector_type_id: str
    config: dict[str, Any]
    secrets: dict[str, Any]

    def __repr__(self) -> str:  # never print secrets
        return f"CreateConnector(name={self.name!r}, connector_type_id={self.connector_type_id!r})"

    __str__ = __repr__


class UpdateConnector(BaseModel):
    """Body of PUT /api/actions/connector/{id}: ``name``, ``config`` and the full ``secrets``
    (Kibana validates secrets again on every update; ``connector_type_id`` is refused)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    name: str
    config: dict[str, Any]
    secrets: dict[str, Any]

    def __repr__(self) -> str:  # never print secrets
        return f"UpdateConnector(name={self.name!r}, config_keys={sorted(self.config)!r})"

    __str__ = __repr__


class Connector(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    connector_type_id: str
    config: dict[str, Any] | None = None
    is_preconfigured: bool = False
    is_deprecated: bool = False
    is_missing_secrets: bool | None = None
    is_connector_type_deprecated: bool | None = None


class ConnectorType(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    enabled: bool = True
    enabled_in_config: bool = True
    enabled_in_license: bool = True
    minimum_license_required: str | None = None
    is_deprecated: bool = False


class ExecuteResult(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    connector_id: str | None = None
    status: Literal["ok", "error"]
    data: Any = None
    message: str | None = None
    service_message: str | None = None
    retry: bool | str | None = None
    error_source: str | None = Field(default=None, alias="errorSource")


class StatusVersion(BaseModel):
    """``version`` of GET /api/status (``build_flavor`` only since 8.x)."""

    model_config = ConfigDict(extra="ignore")

    number: str | None = None
    build_flavor: str | None = None


class KibanaStatus(BaseModel):
    """GET /api/status; Kibana leaves ``version`` out for an anonymous caller."""

    model_config = ConfigDict(extra="ignore")

    version: StatusVersion | None = None


class Space(BaseModel):
    """One entry of GET /api/spaces/space."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str
    name: str
    description: str | None = None
    disabled_features: list[str] = Field(default_factory=list, alias="disabledFeatures")
