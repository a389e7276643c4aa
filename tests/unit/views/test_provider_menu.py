"""The provider menu of the request form, filtered by what the stack can create: a pure view
test (the form's blocks as Slack receives them). Without Elasticsearch (no back-end choice) only
connectors can be made; with it every provider is offered, falling back to the back-end it has."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.backends import Backend, BackendChoice
from bot.domain.enums import Provider
from bot.domain.providers import PROVIDERS, provider_spec
from bot.domain.providers.spec import CONNECTOR, INFERENCE, BackendKey
from bot.slack.ids import BlockId
from bot.slack.metadata import RequestFormMetadata, decode
from bot.slack.views.request_modal import build_request_view, offered_providers

INFERENCE_ONLY = {Provider.ANTHROPIC, Provider.MISTRAL, Provider.ELASTIC_INFERENCE}
ON_INFERENCE = BackendChoice(Backend.INFERENCE, "Kibana 9.5.0 with Elasticsearch configured")
ON_CONNECTORS = BackendChoice(Backend.CONNECTOR, "Kibana 9.3.2: connectors")
CHOICES = [None, ON_CONNECTORS, ON_INFERENCE]


def _menu(view: dict[str, Any]) -> tuple[list[str], str, dict[str, str]]:
    block = next(b for b in view["blocks"] if b.get("block_id") == BlockId.PROVIDER.value)
    options = block["element"]["options"]
    labels = {o["value"]: o["text"]["text"] for o in options}
    return [o["value"] for o in options], block["element"]["initial_option"]["value"], labels


def test_without_elasticsearch_inference_only_providers_are_not_offered() -> None:
    view = build_request_view(provider_spec(Provider.OPENAI)).to_dict()
    values, chosen, _labels = _menu(view)
    assert chosen == Provider.OPENAI.value
    assert not INFERENCE_ONLY & {Provider(v) for v in values}
    assert Provider.ELASTIC_MANAGED.value in values, "nothing to create: always offered"
    assert values == [p.value for p in PROVIDERS if p not in INFERENCE_ONLY], "order kept"


@pytest.mark.parametrize("choice", [ON_CONNECTORS, ON_INFERENCE])
def test_with_elasticsearch_every_provider_is_offered(choice: BackendChoice) -> None:
    values, _chosen, labels = _menu(
        build_request_view(provider_spec(Provider.OPENAI), backend=choice).to_dict()
    )
    assert values == [p.value for p in PROVIDERS]
    assert not any("back-end" in label for label in labels.values())


def test_a_chosen_provider_the_stack_cannot_create_stays_selected_and_says_so() -> None:
    view = build_request_view(provider_spec(Provider.ANTHROPIC)).to_dict()
    values, chosen, labels = _menu(view)
    assert chosen == Provider.ANTHROPIC.value
    assert Provider.MISTRAL.value not in values
    assert labels[Provider.ANTHROPIC.value] == "Anthropic (not on the connector back-end)"


@pytest.mark.parametrize("backend", [None, CONNECTOR, INFERENCE])
def test_offered_providers_is_the_registry_filtered(backend: BackendKey | None) -> None:
    offered = offered_providers(backend)
    assert [s.key for s in offered] == [
        s.key
        for s in PROVIDERS.values()
        if backend is None or backend in s.supported_backends or not s.provisions
    ]


@pytest.mark.parametrize("choice", CHOICES)
def test_every_label_fits_a_slack_option_whatever_is_marked(choice: BackendChoice | None) -> None:
    for spec in PROVIDERS.values():
        view = build_request_view(
            spec, unavailable=dict.fromkeys(PROVIDERS, "disabled"), backend=choice
        ).to_dict()
        _values, chosen, labels = _menu(view)
        assert chosen == spec.key.value
        assert all(len(label) <= 75 for label in labels.values()), labels


@pytest.mark.parametrize("choice", CHOICES)
def test_the_form_carries_its_back_end_in_its_metadata(choice: BackendChoice | None) -> None:
    view = build_request_view(provider_spec(Provider.MISTRAL), backend=choice).to_dict()
    metadata = decode(RequestFormMetadata, view["private_metadata"])
    assert metadata is not None
    assert metadata.backend == (choice.backend if choice else None)
    assert metadata.provider is Provider.MISTRAL
