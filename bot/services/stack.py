"""Which back-end this stack wants: Kibana's (and Elasticsearch's) version, asked while a person
waits, and the choice remembered a few minutes per process."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.domain.backends import (
    BackendChoice,
    BackendSetting,
    StackVersion,
    choose_backend,
    for_provider,
)
from bot.kibana.errors import KibanaError

if TYPE_CHECKING:
    from bot.deps import Deps, TtlValue

log = logging.getLogger(__name__)

# How long the choice is remembered (a stack is upgraded rarely; a choice made while Kibana or
# Elasticsearch did not answer is not remembered at all, so the next form asks again).
CHOICE_TTL_SECONDS = 300.0
# The longest the Elasticsearch side may take: the same budget as the quick Kibana client's,
# and both sides are asked at the same time, so the whole probe fits in it.
PROBE_DEADLINE_SECONDS = 0.6


class KibanaStatus(Protocol):
    """What the choice needs of Kibana: ``KibanaClient.status`` (raises KibanaError)."""

    def status(self) -> StackVersion: ...


# Elasticsearch's ``GET /`` read as a StackVersion (raises when it cannot be asked): a
# parameter, so that the Elasticsearch client plugs in without this module knowing it.
ElasticsearchInfo = Callable[[], StackVersion]


@dataclass(frozen=True)
class _Remembered:
    setting: BackendSetting
    choice: BackendChoice


def _ask_kibana(kibana: KibanaStatus) -> StackVersion | None:
    try:
        return kibana.status()
    except KibanaError as error:
        log.warning("could not read Kibana's version: %s", error.message)
        return None


def _ask_elasticsearch(info: ElasticsearchInfo) -> StackVersion | None:
    try:
        return info()
    except Exception as error:  # noqa: BLE001 - its client's errors are not known here: any failure means "unknown"
        log.warning("could not read Elasticsearch's version: %s", error)
        return None


def _probe(
    kibana: KibanaStatus, elasticsearch: ElasticsearchInfo, deadline: float
) -> tuple[StackVersion | None, StackVersion | None]:
    """Ask both sides at once; each answer or its absence within about ``deadline``."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stack-probe")
    started = time.monotonic()
    try:
        es_future = pool.submit(_ask_elasticsearch, elasticsearch)
        kibana_version = _ask_kibana(kibana)
        left = max(0.0, deadline - (time.monotonic() - started))
        try:
            es_version = es_future.result(timeout=left)
        except FutureTimeoutError:
            # A late answer is abandoned; its thread ends with the client's own timeouts.
            log.warning("Elasticsearch did not say its version within %.1f s", deadline)
            es_version = None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return kibana_version, es_version


def choose_provisioning_backend(
    kibana: KibanaStatus,
    *,
    setting: BackendSetting,
    elasticsearch: ElasticsearchInfo | None,
    cache: TtlValue,
    deadline: float = PROBE_DEADLINE_SECONDS,
) -> BackendChoice:
    """The back-end for new requests, and why, in a sentence for the form and the card.

    Args:
        kibana: a client made for calls before an ack (``TargetClients.kibana_quick``).
        setting: PROVISION_BACKEND.
        elasticsearch: reads Elasticsearch's ``GET /``; None when ELASTICSEARCH_URL is unset.
        cache: per-process memory of the choice (e.g. ``TtlValue(CHOICE_TTL_SECONDS)``).
        deadline: the longest Elasticsearch may take to answer.

    Nothing is asked when the answer cannot depend on it: with no Elasticsearch configured or
    with PROVISION_BACKEND=connector the bot calls nothing more than it did before.
    """
    configured = elasticsearch is not None
    if elasticsearch is None or setting is BackendSetting.CONNECTOR:
        return choose_backend(setting, None, None, configured)
    remembered = cache.get()
    if isinstance(remembered, _Remembered) and remembered.setting is setting:
        return remembered.choice
    kibana_version, es_version = _probe(kibana, elasticsearch, deadline)
    choice = choose_backend(setting, kibana_version, es_version, configured)
    if kibana_version is not None and es_version is not None:
        cache.put(_Remembered(setting, choice))
    return choice


def stack_backend(deps: Deps, target: str) -> BackendChoice:
    """The back-end ``target``'s stack wants for new requests, and why (before any provider's
    own support is considered). With no Elasticsearch for it nothing is asked."""
    clients = deps.clients_for(target)
    quick = clients.elasticsearch_quick
    info: ElasticsearchInfo | None = None
    if quick is not None:

        def info() -> StackVersion:
            found = quick.info()
            return StackVersion.parse(found.version.number, build_flavor=found.version.build_flavor)

    return choose_provisioning_backend(
        clients.kibana_quick,
        setting=deps.policy.provision_backend,
        elasticsearch=info,
        cache=clients.backend_choice,
    )


def inference_configured(deps: Deps, target: str) -> bool:
    """True when ``target`` has an Elasticsearch (inference endpoints are possible there)."""
    return deps.clients_for(target).elasticsearch_quick is not None


def request_backend(deps: Deps, supported: frozenset[str], target: str) -> BackendChoice | None:
    """The back-end a new request of a provider gets on ``target`` (None: it supports
    neither).

    With no Elasticsearch for the target nothing is asked: a provider with a connector gets
    one, as before.
    """
    possible = (
        inference_configured(deps, target)
        and deps.policy.provision_backend is not BackendSetting.CONNECTOR
    )
    return for_provider(stack_backend(deps, target), supported, inference_possible=possible)
