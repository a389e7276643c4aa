"""How a provider's typed draft is kept on the request row, and rebuilt to provision it.

The row keeps the draft's non-secret settings as JSON (``settings``) and its secrets sealed
(by field key), so any back-end can build its payload at provisioning time. Rows stored before
``settings`` existed hold the connector's config and sealed connector secrets instead; they are
provisioned from those as they always were.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.domain.enums import Provider
from bot.domain.providers import provider_spec
from bot.domain.providers.spec import ConnectorPayload, ProviderDraft, Secrets, Settings

if TYPE_CHECKING:
    from bot.db.models import ConnectorRequest


def stored_settings(draft: ProviderDraft[Any, Any]) -> dict[str, Any]:
    """The draft's non-secret settings as the row stores them."""
    settings: Settings = draft.settings
    return settings.model_dump(mode="json")


def sealable_secrets(draft: ProviderDraft[Any, Any]) -> dict[str, str]:
    """The draft's secrets in the clear, by field key, for the secret box to seal."""
    secrets: Secrets = draft.secrets
    return secrets.reveal()


@dataclass(frozen=True)
class StoredRequest:
    """What a request row holds that a back-end needs to build its payload."""

    provider: str
    name: str
    space_id: str
    justification: str
    connector_type_id: str
    config: dict[str, Any]
    settings: dict[str, Any] | None  # None: stored before drafts were kept


def stored_request(row: ConnectorRequest) -> StoredRequest:
    """The payload-relevant part of a request row."""
    return StoredRequest(
        provider=row.provider,
        name=row.connector_name,
        space_id=row.space_id,
        justification=row.justification,
        connector_type_id=row.connector_type_id or "",
        config=dict(row.config),
        settings=dict(row.settings) if row.settings is not None else None,
    )


def restore_draft(request: StoredRequest, secrets: Mapping[str, str]) -> ProviderDraft[Any, Any]:
    """The typed draft of a request stored with its settings, its secrets unsealed."""
    if request.settings is None:
        raise ValueError("the request was stored before drafts were kept")
    return provider_spec(Provider(request.provider)).restore(
        name=request.name,
        space_id=request.space_id,
        justification=request.justification,
        settings=request.settings,
        secrets=secrets,
    )


def connector_payload(request: StoredRequest, secrets: Mapping[str, str]) -> ConnectorPayload:
    """The connector payload of a stored request, its secrets unsealed."""
    if request.settings is None:  # stored before drafts were kept: the connector body as it was
        return ConnectorPayload(
            type_id=request.connector_type_id, config=dict(request.config), secrets=dict(secrets)
        )
    draft = restore_draft(request, secrets)
    return provider_spec(draft.provider).connector_payload(draft)
