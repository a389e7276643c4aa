"""Every provider that supports inference endpoints, end to end through signed Slack requests
with Elasticsearch configured: request → approve → endpoint created in the fake Elasticsearch
under the stored id → streamed test → result on the card, in the thread and to the requester.
Older stacks and a bot without ELASTICSEARCH_URL still get connectors."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bot.domain.backends import CLUSTER_WIDE_NOTE
from bot.domain.enums import Provider
from bot.domain.providers import PROVIDERS, provider_spec
from bot.domain.providers.spec import CONNECTOR, INFERENCE
from tests.fakes.elasticsearch import FakeElasticsearch
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    REQUESTER,
    BotHarness,
    make_settings,
    reference_from,
    running_bot,
)
from tests.unit.domain import samples

INFERRING = [key for key, spec in PROVIDERS.items() if INFERENCE in spec.supported_backends]
BOTH = [p for p in INFERRING if CONNECTOR in provider_spec(p).supported_backends]
SPACE = "security"


def _values(provider: Provider) -> dict[str, str]:
    values = samples.valid_values(provider, space=SPACE)
    if provider is Provider.VERTEX:
        values["credentials_json"] = samples.service_account_json()
    return {key: value for key, value in values.items() if value is not None}


@pytest.fixture
def es_bot(
    database_url: str, slack: FakeSlack, kibana: FakeKibana, elasticsearch: FakeElasticsearch
) -> Iterator[BotHarness]:
    kibana.version = elasticsearch.version
    settings = make_settings(
        database_url,
        slack,
        kibana,
        elasticsearch_url=elasticsearch.url,
        elasticsearch_api_key=elasticsearch.api_key,
    )
    with running_bot(settings, slack, kibana) as bot:
        yield bot


def _blocks_text(view: dict[str, object]) -> str:
    return json.dumps(view.get("blocks", []), ensure_ascii=False)


@pytest.mark.parametrize("provider", INFERRING, ids=[p.value for p in INFERRING])
def test_each_inference_provider_becomes_a_tested_endpoint(
    es_bot: BotHarness, elasticsearch: FakeElasticsearch, provider: Provider
) -> None:
    bot = es_bot
    # EIS models exist only on deployments that have the Elastic Inference Service.
    elasticsearch.eis_enabled = provider is Provider.ELASTIC_INFERENCE
    spec = provider_spec(provider)
    view = bot.open_form()
    # With the form on screen the bot redraws it with the back-end line: wait for that first.
    bot.slack.wait_for("views.update", count=1)
    view = bot.current_view(view["id"])
    if provider.value != "openai":
        view = bot.switch_provider(view, provider.value)
    shown = _blocks_text(view)
    assert "Elasticsearch inference endpoint" in shown
    assert CLUSTER_WIDE_NOTE in shown
    reference = reference_from(bot.submit_form(view, _values(provider)))
    row = bot.request_row(reference)
    assert row.backend == "inference"
    assert row.backend_reason is not None
    assert "inference endpoints" in row.backend_reason
    card = bot.card_for(reference)
    assert "Elasticsearch inference endpoint" in json.dumps(card)
    assert CLUSTER_WIDE_NOTE in json.dumps(card)

    bot.click(reference, "approval.approve", user=APPROVER)
    row = bot.wait_status(reference, "tested_ok", "test_failed", "failed")
    assert row.status == "tested_ok", row.result
    inference_id = row.kibana_connector_id
    assert inference_id is not None
    draft = spec.parse(_values(provider)).draft
    assert draft is not None
    payload = spec.inference_payload(draft)
    put = elasticsearch.requests_to("PUT", f"/_inference/chat_completion/{inference_id}")
    assert len(put) == 1
    assert put[0].body["service"] == payload.service
    assert put[0].body["service_settings"] == payload.service_settings
    assert inference_id in elasticsearch.endpoints()
    elasticsearch.wait_for_request("POST", f"/{inference_id}/_stream")
    assert bot.kibana.connectors(SPACE) == {}  # nothing was created in Kibana
    assert row.result is not None
    reading = row.result["reading"]
    assert reading["model"]
    assert reading["reply"]
    assert reading["first_token_ms"] is not None
    bot.wait_idle()
    card = bot.slack.message(APPROVAL_CHANNEL, bot.card_for(reference)["ts"])
    assert "test passed" in json.dumps(card)
    everything = bot.slack.all_text()
    assert "Time to first token" in everything
    assert "Inference id" in everything
    dms = [c for c in bot.slack.calls_for("chat.postMessage") if c.args.get("channel") == REQUESTER]
    assert any(inference_id in json.dumps(c.args) for c in dms)
    typed = _values(provider)
    for key in spec.secret_keys:
        if typed.get(key):
            assert typed[key][:60] not in everything, key


def test_a_provider_refusal_at_create_fails_the_request_with_its_message_and_a_hint(
    es_bot: BotHarness, elasticsearch: FakeElasticsearch
) -> None:
    elasticsearch.set_provider_failure(401, "Incorrect API key provided")
    reference = reference_from(es_bot.request_via_form(_values(Provider.OPENAI)))
    es_bot.click(reference, "approval.approve", user=APPROVER)
    row = es_bot.wait_status(reference, "failed")
    assert row.failure_message is not None
    assert row.failure_message.startswith("The provider refused the endpoint")
    assert row.result is not None
    assert "credentials" in (row.result["hint"] or "")
    assert elasticsearch.endpoints() == {}
    es_bot.wait_idle()
    assert "Elasticsearch said" in es_bot.slack.all_text()


def test_an_error_inside_the_stream_is_a_failed_test(
    es_bot: BotHarness, elasticsearch: FakeElasticsearch
) -> None:
    elasticsearch.set_stream(mode="mid_error")
    reference = reference_from(es_bot.request_via_form(_values(Provider.OPENAI)))
    es_bot.click(reference, "approval.approve", user=APPROVER)
    row = es_bot.wait_status(reference, "test_failed")
    assert row.result is not None
    assert row.result["message"]
    assert row.kibana_connector_id in elasticsearch.endpoints()


@pytest.mark.parametrize("provider", BOTH[:1], ids=[p.value for p in BOTH[:1]])
def test_a_93_stack_with_elasticsearch_still_gets_a_connector(
    database_url: str,
    slack: FakeSlack,
    kibana: FakeKibana,
    elasticsearch: FakeElasticsearch,
    provider: Provider,
) -> None:
    kibana.version = elasticsearch.version = "9.3.2"
    settings = make_settings(
        database_url,
        slack,
        kibana,
        elasticsearch_url=elasticsearch.url,
        elasticsearch_api_key=elasticsearch.api_key,
    )
    with running_bot(settings, slack, kibana) as bot:
        reference = reference_from(bot.request_via_form(_values(provider), provider=provider.value))
        row = bot.request_row(reference)
        assert row.backend == "connector"
        assert row.backend_reason is not None
        assert "9.3" in row.backend_reason
        assert "Kibana connector" in json.dumps(bot.card_for(reference))
        assert CLUSTER_WIDE_NOTE not in json.dumps(bot.card_for(reference))
        bot.click(reference, "approval.approve", user=APPROVER)
        row = bot.wait_status(reference, "tested_ok", "test_failed", "failed")
        assert row.status == "tested_ok", row.result
        assert row.kibana_connector_id in bot.kibana.connectors(SPACE)
        assert elasticsearch.requests_to("PUT", f"/{row.kibana_connector_id}") == []


def test_without_elasticsearch_requests_are_connectors_as_before(bot: BotHarness) -> None:
    view = bot.open_form()
    assert "Back-end" not in _blocks_text(view)
    reference = reference_from(bot.request_via_form(_values(Provider.OPENAI)))
    row = bot.request_row(reference)
    assert (row.backend, row.backend_reason) == ("connector", None)
    assert row.connector_type_id == ".gen-ai"
    card = json.dumps(bot.card_for(reference))
    assert "Back-end" not in card
    assert CLUSTER_WIDE_NOTE not in card
    assert bot.kibana.requests_to("GET", "/api/status") == []


def test_elasticsearch_unavailable_at_create_is_retried_then_succeeds(
    es_bot: BotHarness, elasticsearch: FakeElasticsearch
) -> None:
    elasticsearch.fail_next(1, status=503, method="PUT")
    reference = reference_from(es_bot.request_via_form(_values(Provider.OPENAI)))
    es_bot.click(reference, "approval.approve", user=APPROVER)
    row = es_bot.wait_status(reference, "tested_ok", "test_failed", "failed")
    assert row.status == "tested_ok", row.result
    outcomes = [(operation, outcome) for operation, outcome, _ in es_bot.attempts(reference)]
    assert outcomes[:2] == [("create", "unavailable"), ("create", "ok")]


def test_an_endpoint_already_under_the_id_with_other_settings_is_never_adopted(
    es_bot: BotHarness, elasticsearch: FakeElasticsearch
) -> None:
    reference = reference_from(es_bot.request_via_form(_values(Provider.OPENAI)))
    inference_id = es_bot.request_row(reference).kibana_connector_id
    assert inference_id is not None
    other = {"service": "openai", "service_settings": {"api_key": "x", "model_id": "other-model"}}
    elasticsearch.add_endpoint(inference_id, other)
    es_bot.click(reference, "approval.approve", user=APPROVER)
    row = es_bot.wait_status(reference, "failed")
    assert row.failure_message is not None
    assert "already exists with other settings" in row.failure_message
    assert "other-model" in row.failure_message
    kept = elasticsearch.endpoints()[inference_id]["service_settings"]
    assert kept["model_id"] == "other-model"
