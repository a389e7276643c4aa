"""What this Kibana can take and already has, asked while a person waits (short timeouts)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.deps import Deps
from bot.domain.enums import Provider
from bot.domain.providers import PROVIDERS
from bot.domain.providers.elastic import MANAGED_IDS
from bot.domain.resources import Resource
from bot.kibana.errors import KibanaError
from bot.kibana.models import ConnectorType
from bot.services.backends import connector_backend
from bot.services.backends.base import BackendError

log = logging.getLogger(__name__)
NOT_FOUND = 404


@dataclass(frozen=True)
class Availability:
    """Providers this Kibana can't take (with the reason) and connector types it deprecates."""

    unavailable: dict[Provider, str] = field(default_factory=dict)
    deprecated: frozenset[str] = frozenset()


def _why_unavailable(kind: ConnectorType | None, type_id: str) -> str | None:
    if kind is None:
        return f"this Kibana has no {type_id} connector type"
    if not kind.enabled_in_license:
        needed = kind.minimum_license_required or "enterprise"
        return f"{type_id} needs a {needed} licence, which this Kibana does not have"
    if not kind.enabled_in_config:
        return f"{type_id} is disabled in kibana.yml (xpack.actions.enabledActionTypes)"
    if not kind.enabled:
        return f"{type_id} is disabled in this Kibana"
    return None


def connector_availability(deps: Deps) -> Availability | None:
    """Read GET /api/actions/connector_types (remembered a minute); None when Kibana can't be
    asked now."""
    cached = deps.connector_types.get()
    if isinstance(cached, Availability):
        return cached
    try:
        kinds = {kind.id: kind for kind in deps.kibana_quick.list_connector_types()}
    except KibanaError as error:
        log.warning("could not read Kibana's connector types: %s", error.message)
        return None
    unavailable: dict[Provider, str] = {}
    for spec in PROVIDERS.values():
        if spec.connector_type_id is None:
            continue
        reason = _why_unavailable(kinds.get(spec.connector_type_id), spec.connector_type_id)
        if reason:
            unavailable[spec.key] = reason
    deprecated = frozenset(type_id for type_id, kind in kinds.items() if kind.is_deprecated)
    availability = Availability(unavailable=unavailable, deprecated=deprecated)
    deps.connector_types.put(availability)
    return availability


@dataclass(frozen=True)
class NameCheck:
    errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def check_name_in_kibana(deps: Deps, *, space_id: str, name: str) -> NameCheck:
    """Refuse a space Kibana doesn't have, or a name a connector in that space already uses."""
    try:
        existing = connector_backend(deps, quick=True).list(space_id)
    except BackendError as error:
        if error.status != NOT_FOUND:
            log.warning("could not check connector names in %s: %s", space_id, error.message)
            return NameCheck(
                warnings=[
                    f"The bot could not ask Kibana whether “{name}” is already used in "
                    f"space {space_id} ({error.message})."
                ]
            )
        return NameCheck(
            errors={
                "space": f"Kibana has no space “{space_id}”: check the space id in Stack "
                "Management → Spaces."
            }
        )
    wanted = name.casefold()
    for connector in existing:
        if connector.name.casefold() == wanted:
            return NameCheck(
                errors={
                    "name": f"Space {space_id} already has a connector named "
                    f"“{connector.name}” ({connector.type_id}): pick "
                    "another name."
                }
            )
    return NameCheck()


@dataclass(frozen=True)
class ManagedLlm:
    """The answer about Elastic Managed LLM: the connector found, or why there is none."""

    connector: Resource | None
    problem: str | None = None


def find_managed_llm(deps: Deps, *, space_id: str) -> ManagedLlm:
    """Look for Elastic's preconfigured `.inference` connector in the space."""
    try:
        connectors = connector_backend(deps, quick=True).list(space_id)
    except BackendError as error:
        if error.status == NOT_FOUND:
            return ManagedLlm(None, f"Kibana has no space “{space_id}”.")
        return ManagedLlm(None, f"Kibana could not be asked: {error.message}")
    for connector in connectors:
        if (
            connector.type_id == ".inference"
            and connector.preconfigured
            and (connector.id in MANAGED_IDS or connector.provider == "elastic")
        ):
            return ManagedLlm(connector)
    return ManagedLlm(None)


def list_connectors(deps: Deps, *, space_id: str) -> list[Resource]:
    """The connectors of a space, preconfigured ones included (raises BackendError; status
    404 when the space does not exist)."""
    return connector_backend(deps, quick=True).list(space_id)
