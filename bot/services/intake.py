"""Everything a new request must pass before it is stored, in one place."""

from __future__ import annotations

from collections.abc import Collection

from bot.deps import Deps
from bot.domain.fields import FormValues, Validation
from bot.domain.providers import ProviderSpec, validate_request
from bot.services import catalog, requests


def vet_request(
    deps: Deps, spec: ProviderSpec, values: FormValues, *, deprecated: Collection[str]
) -> Validation:
    """The provider's checks, then the name against open requests and against Kibana's
    connectors in the space (which also proves the space exists)."""
    validation = validate_request(spec, values)
    name, space = values.get("name", "").strip(), values.get("space", "").strip()
    if validation.ok and requests.name_in_use(deps, space_id=space, name=name):
        validation.error(
            "name", f"A request for “{name}” in space {space} is already open: pick another."
        )
    if validation.ok:
        found = catalog.check_name_in_kibana(deps, space_id=space, name=name)
        for key, message in found.errors.items():
            validation.error(key, message)
        validation.warnings.extend(found.warnings)
    if validation.ok and spec.connector_type_id in deprecated:
        validation.warnings.append(
            f"Kibana marks {spec.connector_type_id} connectors deprecated (9.5+); the API "
            "still creates them."
        )
    return validation
