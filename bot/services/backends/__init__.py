"""Provisioning back-ends: one module each behind `ProvisioningBackend` (see base.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.services.backends.connector import ConnectorBackend

if TYPE_CHECKING:
    from bot.deps import Deps


def connector_backend(deps: Deps, *, quick: bool = False) -> ConnectorBackend:
    """The Kibana-connector back-end; ``quick`` uses the short-timeout client (while a person
    waits)."""
    return ConnectorBackend(deps.kibana_quick if quick else deps.kibana)


__all__ = ["ConnectorBackend", "connector_backend"]
