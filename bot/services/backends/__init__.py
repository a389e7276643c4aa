"""Provisioning back-ends: one module each behind `ProvisioningBackend` (see base.py).

Each works on one target's clients (`Deps.clients_for(key)`): a request row's ``target``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.errors import UnknownTargetError
from bot.services.backends.base import BackendError, ProvisioningBackend
from bot.services.backends.connector import ConnectorBackend
from bot.services.backends.inference import InferenceBackend

if TYPE_CHECKING:
    from bot.deps import Deps, TargetClients


def _clients(deps: Deps, target: str) -> TargetClients:
    try:
        return deps.clients_for(target)
    except UnknownTargetError as error:
        raise BackendError(error.user_message) from None


def connector_backend(deps: Deps, target: str, *, quick: bool = False) -> ConnectorBackend:
    """The Kibana-connector back-end of ``target``; ``quick`` uses the short-timeout client
    (while a person waits)."""
    clients = _clients(deps, target)
    return ConnectorBackend(clients.kibana_quick if quick else clients.kibana)


def inference_backend(deps: Deps, target: str, *, quick: bool = False) -> InferenceBackend:
    """The Elasticsearch inference back-end of ``target``; BackendError when it has no
    Elasticsearch."""
    clients = _clients(deps, target)
    client = clients.elasticsearch_quick if quick else clients.elasticsearch
    if client is None:
        raise BackendError(
            "This request is for an inference endpoint but its target has no Elasticsearch "
            "any more (ELASTICSEARCH_URL or the target's elasticsearch_url): an operator must "
            "set it again (or the requester asks again for a connector)."
        )
    return InferenceBackend(client)


def backend_for(
    deps: Deps, key: str, target: str, *, quick: bool = False
) -> ProvisioningBackend[Any]:
    """The back-end a request row names (``connector`` or ``inference``) on its target."""
    if key == "inference":
        return inference_backend(deps, target, quick=quick)
    return connector_backend(deps, target, quick=quick)


__all__ = [
    "ConnectorBackend",
    "InferenceBackend",
    "backend_for",
    "connector_backend",
    "inference_backend",
]
