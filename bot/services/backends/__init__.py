"""Provisioning back-ends: one module each behind `ProvisioningBackend` (see base.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.services.backends.base import BackendError, ProvisioningBackend
from bot.services.backends.connector import ConnectorBackend
from bot.services.backends.inference import InferenceBackend

if TYPE_CHECKING:
    from bot.deps import Deps


def connector_backend(deps: Deps, *, quick: bool = False) -> ConnectorBackend:
    """The Kibana-connector back-end; ``quick`` uses the short-timeout client (while a person
    waits)."""
    return ConnectorBackend(deps.kibana_quick if quick else deps.kibana)


def inference_backend(deps: Deps, *, quick: bool = False) -> InferenceBackend:
    """The Elasticsearch inference back-end; BackendError when Elasticsearch is not set up."""
    client = deps.elasticsearch_quick if quick else deps.elasticsearch
    if client is None:
        raise BackendError(
            "This request is for an inference endpoint but ELASTICSEARCH_URL is not set any "
            "more: an operator must set it again (or the requester asks again for a connector)."
        )
    return InferenceBackend(client)


def backend_for(deps: Deps, key: str, *, quick: bool = False) -> ProvisioningBackend[Any]:
    """The back-end a request row names (``connector`` or ``inference``)."""
    if key == "inference":
        return inference_backend(deps, quick=quick)
    return connector_backend(deps, quick=quick)


__all__ = [
    "ConnectorBackend",
    "InferenceBackend",
    "backend_for",
    "connector_backend",
    "inference_backend",
]
