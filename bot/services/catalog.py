"""What this Kibana can take and already has, asked while a person waits (short timeouts)."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass, field

from pydantic import ValidationError

from bot.db import queries
from bot.db.session import session_scope
from bot.deps import Deps
from bot.domain.enums import Provider
from bot.domain.providers import PROVIDERS
from bot.domain.providers.elastic import MANAGED_IDS
from bot.domain.providers.spec import INFERENCE
from bot.domain.resources import Resource
from bot.elasticsearch.errors import ElasticsearchError
from bot.elasticsearch.models import InferenceEndpoint
from bot.kibana.errors import KibanaError
from bot.kibana.models import ConnectorType
from bot.services.backends import connector_backend
from bot.services.backends.base import BackendError

log = logging.getLogger(__name__)
NOT_FOUND = 404
CHAT_COMPLETION = "chat_completion"
EIS_SERVICE = "elastic"
NAME_CHECK_DEADLINE_SECONDS = 0.6  # both name checks together, before the ack


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


def connector_availability(deps: Deps, *, target: str) -> Availability | None:
    """Read the target's GET /api/actions/connector_types (remembered a minute); None when
    Kibana can't be asked now."""
    clients = deps.clients_for(target)
    cached = clients.connector_types.get()
    if isinstance(cached, Availability):
        return cached
    try:
        kinds = {kind.id: kind for kind in clients.kibana_quick.list_connector_types()}
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
    clients.connector_types.put(availability)
    return availability


@dataclass(frozen=True)
class NameCheck:
    errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def check_name_in_kibana(deps: Deps, *, target: str, space_id: str, name: str) -> NameCheck:
    """Refuse a space Kibana doesn't have, or a name a connector in that space already uses."""
    try:
        existing = connector_backend(deps, target, quick=True).list(space_id)
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


def endpoint_resource(endpoint: InferenceEndpoint) -> Resource:
    """An inference endpoint in the bot's terms (its task type stands for the connector type)."""
    return Resource(
        backend=INFERENCE,
        id=endpoint.inference_id,
        name=endpoint.display_name,
        type_id=endpoint.task_type,
        provider=endpoint.service,
        model=endpoint.model,
        preconfigured=endpoint.preconfigured,
    )


def list_chat_endpoints(deps: Deps, *, target: str) -> list[Resource] | None:
    """The target cluster's chat_completion endpoints, Elastic's preconfigured ones included;
    None when it has no Elasticsearch configured (raises ElasticsearchError)."""
    client = deps.clients_for(target).elasticsearch_quick
    if client is None:
        return None
    return [endpoint_resource(e) for e in client.list_endpoints(CHAT_COMPLETION)]


def check_name_in_elasticsearch(deps: Deps, *, target: str, name: str) -> NameCheck:
    """Refuse a name an inference endpoint already uses as its id or display name (endpoints
    are cluster-wide: any space's request clashes)."""
    try:
        endpoints = list_chat_endpoints(deps, target=target)
    except ElasticsearchError as error:
        log.warning("could not check endpoint names: %s", error.message)
        return NameCheck(
            warnings=[
                f"The bot could not ask Elasticsearch whether “{name}” is already used by an "
                f"inference endpoint ({error.message})."
            ]
        )
    wanted = name.casefold()
    for endpoint in endpoints or []:
        if wanted in (endpoint.name.casefold(), endpoint.id.casefold()):
            return NameCheck(
                errors={
                    "name": f"The cluster already has an inference endpoint "
                    f"“{endpoint.name}” ({endpoint.id}, {endpoint.provider}): endpoints are "
                    "cluster-wide, pick another name."
                }
            )
    return NameCheck()


def check_name(
    deps: Deps,
    *,
    target: str,
    space_id: str,
    name: str,
    deadline: float = NAME_CHECK_DEADLINE_SECONDS,
) -> NameCheck:
    """The name against the space's connectors and, when Elasticsearch is configured, the
    cluster's endpoints: both asked at once, within ``deadline`` in all (the quick Kibana
    client has that deadline of its own); an endpoint answer that comes later is abandoned
    and the request goes on with a warning."""
    if deps.clients_for(target).elasticsearch_quick is None:
        return check_name_in_kibana(deps, target=target, space_id=space_id, name=name)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="name-check")
    started = time.monotonic()
    try:
        es_future = pool.submit(check_name_in_elasticsearch, deps, target=target, name=name)
        in_kibana = check_name_in_kibana(deps, target=target, space_id=space_id, name=name)
        left = max(0.0, deadline - (time.monotonic() - started))
        try:
            in_es = es_future.result(timeout=left)
        except FutureTimeoutError:
            # Abandoned; its thread ends with the quick client's own timeouts.
            log.warning("Elasticsearch did not answer the name check within %.1f s", deadline)
            in_es = NameCheck(
                warnings=[
                    f"Elasticsearch did not answer in time ({deadline:g} s), so the bot could "
                    f"not check whether “{name}” is already used by an inference endpoint."
                ]
            )
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return NameCheck(
        errors={**in_es.errors, **in_kibana.errors},
        warnings=[*in_kibana.warnings, *in_es.warnings],
    )


@dataclass(frozen=True)
class ManagedLlm:
    """The answer about Elastic Managed LLM: the connector found, or why there is none; and
    the Elastic Inference Service chat endpoints of the cluster (9.4+ features use them)."""

    connector: Resource | None
    problem: str | None = None
    endpoints: tuple[Resource, ...] = ()
    endpoints_problem: str | None = None


def _managed_connector(deps: Deps, target: str, space_id: str) -> ManagedLlm:
    try:
        connectors = connector_backend(deps, target, quick=True).list(space_id)
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


def find_managed_llm(deps: Deps, *, target: str, space_id: str) -> ManagedLlm:
    """Look for Elastic's preconfigured `.inference` connector in the space and, when
    Elasticsearch is configured, for the cluster's EIS (`elastic` service) chat endpoints."""
    answer = _managed_connector(deps, target, space_id)
    try:
        endpoints = list_chat_endpoints(deps, target=target)
    except ElasticsearchError as error:
        log.warning("could not list the inference endpoints: %s", error.message)
        return ManagedLlm(
            answer.connector,
            answer.problem,
            endpoints_problem=f"Elasticsearch could not be asked: {error.message}",
        )
    if endpoints is None:
        return answer
    eis = tuple(e for e in endpoints if e.provider == EIS_SERVICE)
    return ManagedLlm(answer.connector, answer.problem, endpoints=eis)


@dataclass(frozen=True)
class Listing:
    """The `list` answer: the space's connectors, the cluster's chat endpoints when
    Elasticsearch is configured, each marked when the bot created it; notes on what could not
    be read."""

    resources: list[Resource]
    notes: list[str] = field(default_factory=list)


def _mark_created(deps: Deps, target: str, resources: list[Resource]) -> list[Resource]:
    with session_scope(deps.session_factory) as session:
        ids = {r.id for r in resources}
        ours = queries.stored_resource_ids(session=session, ids=ids, target=target)
    return [
        r.model_copy(update={"created_by_bot": True}) if r.id in ours and not r.preconfigured else r
        for r in resources
    ]


def list_connectors(deps: Deps, *, target: str, space_id: str) -> list[Resource]:
    """The connectors of a space, preconfigured ones included (raises BackendError; status
    404 when the space does not exist)."""
    return connector_backend(deps, target, quick=True).list(space_id)


def list_resources(deps: Deps, *, target: str, space_id: str) -> Listing:
    """The space's connectors and the cluster's chat_completion endpoints (raises
    BackendError when Kibana can't list the space; an Elasticsearch failure is a note)."""
    resources = list_connectors(deps, target=target, space_id=space_id)
    notes: list[str] = []
    try:
        endpoints = list_chat_endpoints(deps, target=target)
    except ElasticsearchError as error:
        log.warning("could not list the inference endpoints: %s", error.message)
        notes.append(
            f"Elasticsearch could not be asked for its inference endpoints: {error.message}"
        )
        endpoints = None
    return Listing(
        resources=_mark_created(deps, target, resources + (endpoints or [])), notes=notes
    )


MAX_SPACE_OPTIONS = 100  # a Slack static select holds at most 100 options


@dataclass(frozen=True)
class SpaceOptions:
    """The spaces the form offers for a target: (id, name) pairs for a select, or None for a
    text input as without targets; ``note`` says why the list is not Kibana's own."""

    options: tuple[tuple[str, str], ...] | None
    note: str | None = None


def allow_list_spaces(deps: Deps, *, target: str) -> SpaceOptions | None:
    """The target's allow-list as a select (before Kibana is asked), or None without one."""
    allowed = deps.clients_for(target).target.spaces
    return None if allowed is None else SpaceOptions(tuple((s, s) for s in sorted(allowed)))


def offered_spaces(deps: Deps, *, target: str) -> SpaceOptions:
    """The target's spaces read from Kibana (the quick client: a person waits), filtered by
    its allow-list and remembered a minute. When Kibana doesn't answer: the allow-list, or a
    text input, with a note; the submission checks the space either way."""
    clients = deps.clients_for(target)
    allowed = clients.target.spaces
    cached = clients.spaces.get()
    if isinstance(cached, SpaceOptions):
        return cached
    try:
        spaces = clients.kibana_quick.list_spaces()
    except (KibanaError, ValidationError) as error:
        why = error.message if isinstance(error, KibanaError) else "an unreadable answer"
        log.warning("could not list the spaces of %s: %s", target, why)
        note = f"Kibana did not list its spaces ({why}): "
        fallback = allow_list_spaces(deps, target=target)
        if fallback is not None:
            return SpaceOptions(fallback.options, note + "these are the spaces allowed here.")
        return SpaceOptions(None, note + "type the space id; it is checked when you submit.")
    options = tuple((s.id, s.name) for s in spaces if allowed is None or s.id in allowed)
    if not options:
        note = "Kibana has none of the spaces allowed here: ask the bot's operator."
        result = SpaceOptions(None, note if allowed is not None else None)
    elif len(options) > MAX_SPACE_OPTIONS:
        result = SpaceOptions(None, f"This Kibana has {len(options)} spaces: type the space id.")
    else:
        result = SpaceOptions(options)
    clients.spaces.put(result)
    return result
