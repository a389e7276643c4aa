"""How a provider's typed draft is kept on the request row, and rebuilt to provision it.

The row keeps the draft's non-secret settings as JSON (``settings``) and its secrets sealed
(by field key), so any back-end can build its payload at provisioning time. Rows stored before
``settings`` existed hold the connector's config and sealed connector secrets instead; they are
provisioned from those as they always were.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.domain.enums import Provider
from bot.domain.providers import provider_spec
from bot.domain.providers.spec import ConnectorPayload, ProviderDraft, Secrets, Settings


def stored_settings(draft: ProviderDraft[Any, Any]) -> dict[str, Any]:
    """The draft's non-secret settings as the row stores them."""
    settings: Settings = draft.settings
    return settings.model_dump(mode="json")


def sealable_secrets(draft: ProviderDraft[Any, Any]) -> dict[str, str]:
    """The draft's secrets in the clear, by field key, for the secret box to seal."""
    secrets: Secrets = draft.secrets
    return secrets.reveal()


def connector_payload(
    *,
    provider: str,
    name: str,
    space_id: str,
    justification: str,
    connector_type_id: str,
    config: Mapping[str, Any],
    settings: Mapping[str, Any] | None,
    secrets: Mapping[str, str],
) -> ConnectorPayload:
    """The connector payload of a stored request, its secrets unsealed."""
    if settings is None:  # stored before drafts were kept: the connector body as it was
        return ConnectorPayload(
            type_id=connector_type_id, config=dict(config), secrets=dict(secrets)
        )
    spec = provider_spec(Provider(provider))
    draft = spec.restore(
        name=name,
        space_id=space_id,
        justification=justification,
        settings=settings,
        secrets=secrets,
    )
    return spec.connector_payload(draft)
