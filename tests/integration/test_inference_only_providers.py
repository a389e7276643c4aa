"""Through signed Slack requests: a provider only the inference back-end offers, asked for on
a bot without Elasticsearch (connectors only), is refused under the provider menu with why,
and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bot.db.models import ConnectorRequest, Job
from bot.db.session import session_scope
from bot.domain.enums import Provider
from bot.domain.providers import PROVIDERS
from bot.slack.metadata import RequestFormMetadata, decode
from tests.harness import BotHarness
from tests.unit.domain import samples

INFERENCE_ONLY = [key for key, spec in PROVIDERS.items() if spec.provisions and not spec.connector]


def _rows(bot: BotHarness) -> tuple[int, int]:
    with session_scope(bot.deps.session_factory) as session:
        return (
            int(session.scalar(select(func.count()).select_from(ConnectorRequest)) or 0),
            int(session.scalar(select(func.count()).select_from(Job)) or 0),
        )


def test_the_new_providers_are_inference_only() -> None:
    assert {Provider.ANTHROPIC, Provider.MISTRAL, Provider.ELASTIC_INFERENCE} <= set(INFERENCE_ONLY)


@pytest.mark.parametrize("provider", INFERENCE_ONLY, ids=lambda p: p.value)
def test_without_elasticsearch_an_inference_only_provider_is_refused_under_the_menu(
    bot: BotHarness, provider: Provider
) -> None:
    assert bot.deps.default_clients.elasticsearch is None
    before = _rows(bot)
    response = bot.request_via_form(samples.valid_values(provider), provider=provider.value)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response_action"] == "errors", body
    [(block_id, message)] = body["errors"].items()
    assert block_id == "connector_request.provider"
    assert PROVIDERS[provider].label in message
    assert "ELASTICSEARCH_URL" in message
    assert _rows(bot) == before


def _menu_values(view: dict[str, Any]) -> list[str]:
    block = next(b for b in view["blocks"] if b.get("block_id") == "connector_request.provider")
    return [o["value"] for o in block["element"]["options"]]


def test_without_elasticsearch_switching_provider_never_offers_inference_only_ones(
    bot: BotHarness,
) -> None:
    assert bot.deps.default_clients.elasticsearch is None
    view = bot.open_form()
    assert not {p.value for p in INFERENCE_ONLY} & set(_menu_values(view))
    switched = bot.switch_provider(view, "bedrock")
    offered = _menu_values(switched)
    assert "bedrock" in offered
    assert not {p.value for p in INFERENCE_ONLY} & set(offered)
    metadata = decode(RequestFormMetadata, switched["private_metadata"])
    assert metadata is not None
    assert metadata.backend is None  # no Elasticsearch: no back-end choice, connectors only


def test_a_stale_menu_sending_an_inference_only_provider_is_refused_at_submit(
    bot: BotHarness,
) -> None:
    before = _rows(bot)
    view = bot.open_form()
    view = bot.switch_provider(view, "anthropic")  # a stale menu could still send it
    response = bot.submit_form(view, samples.valid_values(Provider.ANTHROPIC))
    body = response.json()
    assert body["response_action"] == "errors", body
    assert "ELASTICSEARCH_URL" in body["errors"]["connector_request.provider"]
    assert _rows(bot) == before
