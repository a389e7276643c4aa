"""Everything a new request must pass before it is stored, in one place."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from bot.deps import Deps
from bot.domain.backends import Backend, BackendChoice
from bot.domain.fields import FormValues
from bot.domain.lifetime import LIFETIME_KEY, LifetimeChoice, refusal
from bot.domain.providers import ProviderSpec
from bot.domain.providers.spec import ParseResult, ProviderDraft
from bot.domain.targets import Target
from bot.services import admission, catalog, requests, stack


def choose_backend(deps: Deps, spec: ProviderSpec[Any, Any], *, target: str) -> BackendChoice | str:
    """Where this provider's request ends on the target's stack, or why it cannot be requested
    there."""
    backend = stack.request_backend(deps, spec.supported_backends, target)
    if backend is not None:
        return backend
    if not stack.inference_configured(deps, target):
        return (
            f"{spec.label} is only offered as an Elasticsearch inference endpoint, and this bot "
            "has no Elasticsearch configured (ELASTICSEARCH_URL): pick a provider with a Kibana "
            "connector, or ask the bot's operator."
        )
    return (
        f"{spec.label} cannot be provisioned on this stack (it needs an Elasticsearch "
        "inference endpoint)."
    )


def max_lifetime_days(
    deps: Deps,
    *,
    spec: ProviderSpec[Any, Any] | None = None,
    draft: ProviderDraft[Any, Any] | None = None,
    requester: str | None = None,
    target: str | None = None,
) -> int | None:
    """The policy's maximum lifetime of a connector, in days (None: no maximum).

    The one place that says it: for a checked draft (with its requester and target), that of
    the rule that decides it (`PolicyDocument.lifecycle_for`); before that (the form, whose
    provider is not final), the most permissive of the top level and every rule's."""
    del spec
    governance = deps.governance
    if draft is not None and requester is not None and target is not None:
        try:
            rule = admission.rule_for(deps, draft, requester=requester, target=target)
        except admission.PolicyRefusedError:
            rule = None  # refused at submit, with the rule's own message
        return governance.lifecycle_for(rule).max_lifetime_days
    limits = [governance.lifecycle.max_lifetime_days]
    limits += [governance.lifecycle_for(rule).max_lifetime_days for rule in governance.rules]
    if any(limit is None for limit in limits):
        return None
    return max(limit for limit in limits if limit is not None)


def vet_request(
    deps: Deps,
    spec: ProviderSpec[Any, Any],
    values: FormValues,
    *,
    target: str,
    deprecated: Collection[str],
    backend: BackendChoice | None = None,
    lifetime: LifetimeChoice | None = None,
    requester: str | None = None,
) -> ParseResult[Any, Any]:
    """The provider's parse (its checks and typed draft) and the lifetime against the policy's
    maximum, then the name against open requests and against Kibana's connectors in the space
    (which also proves the space exists) and the cluster's inference endpoints, both asked at
    once under one deadline."""
    result = spec.parse(values)
    chosen = lifetime or LifetimeChoice(None)
    longest = max_lifetime_days(
        deps, spec=spec, draft=result.draft, requester=requester, target=target
    )
    problem = chosen.error or refusal(chosen.days, longest)
    if problem is not None:
        result = result.refused(LIFETIME_KEY, problem)
    if result.draft is None:
        return result
    name, space = result.draft.name, result.draft.space_id
    allowed = deps.clients_for(target).target
    if not allowed.allows_space(space):
        return result.refused("space", space_refusal(allowed, space))
    if requests.name_in_use(deps, target=target, space_id=space, name=name):
        return result.refused(
            "name", f"A request for “{name}” in space {space} is already open: pick another."
        )
    found = catalog.check_name(deps, target=target, space_id=space, name=name)
    for key, message in found.errors.items():
        result = result.refused(key, message)
    result = result.warned(*found.warnings)
    # A connector type's deprecation does not concern a request for an inference endpoint.
    on_connector = backend is None or backend.backend is Backend.CONNECTOR
    if result.ok and on_connector and spec.connector_type_id in deprecated:
        result = result.warned(
            f"Kibana marks {spec.connector_type_id} connectors deprecated (9.5+); the API "
            "still creates them."
        )
    return result


def space_refusal(target: Target, space: str) -> str:
    """Why a space outside the target's allow-list is refused (under the space field)."""
    offered = ", ".join(sorted(target.spaces or ()))
    return (
        f"Requests for {target.display} may only be for the spaces {offered}; “{space}” is not "
        "one of them."
    )
