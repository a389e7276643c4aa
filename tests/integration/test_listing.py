"""`list`, the duplicate check and Elastic Managed LLM with Elasticsearch configured: the
space's connectors beside the cluster's chat_completion endpoints."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from bot.domain.enums import Provider
from tests.fakes.elasticsearch import FakeElasticsearch
from tests.fakes.elasticsearch_services import EXAMPLES
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.harness import APPROVER, BotHarness, make_settings, reference_from, running_bot
from tests.unit.domain import samples

SPACE = "default"


@pytest.fixture
def es_bot(
    database_url: str, slack: FakeSlack, kibana: FakeKibana, elasticsearch: FakeElasticsearch
) -> Iterator[BotHarness]:
    settings = make_settings(
        database_url,
        slack,
        kibana,
        elasticsearch_url=elasticsearch.url,
        elasticsearch_api_key=elasticsearch.api_key,
        provision_backend="connector",  # the request made here ends in a Kibana connector
    )
    with running_bot(settings, slack, kibana) as harness:
        yield harness


def _form(name: str) -> dict[str, str]:
    values = samples.valid_values(Provider.OPENAI, space=SPACE, name=name)
    return {key: value for key, value in values.items() if value is not None}


def _endpoint(elasticsearch: FakeElasticsearch, inference_id: str, display: str) -> None:
    body = {**EXAMPLES["openai"], "metadata": {"display": {"name": display}}}
    elasticsearch.add_endpoint(inference_id, body)


def test_list_shows_connectors_and_endpoints_and_which_the_bot_created(
    es_bot: BotHarness, elasticsearch: FakeElasticsearch
) -> None:
    elasticsearch.eis_enabled = True
    ours = reference_from(es_bot.request_via_form(_form("Bot made connector")))
    es_bot.click(ours, "approval.approve", user=APPROVER)
    connector_id = es_bot.wait_status(ours, "tested_ok").kibana_connector_id
    assert connector_id is not None
    # An endpoint under the id a request row stored (as the inference back-end does) and one
    # someone made in Dev Tools.
    pending = reference_from(es_bot.request_via_form(_form("Bot made endpoint")))
    endpoint_id = es_bot.request_row(pending).kibana_connector_id
    assert endpoint_id is not None
    _endpoint(elasticsearch, endpoint_id, "Bot made endpoint")
    _endpoint(elasticsearch, "hand-made-gpt", "Hand made GPT")
    es_bot.kibana.add_connector(
        SPACE,
        "hand-made-connector",
        {
            "name": "Hand made connector",
            "connector_type_id": ".gen-ai",
            "config": {"apiProvider": "OpenAI", "apiUrl": samples.OPENAI_URL},
            "secrets": {"apiKey": "sk-hand"},
        },
    )

    es_bot.command(f"list {SPACE}")
    answer = es_bot.slack.wait_for("response_url")[-1].args
    lines = {
        line.split("*")[1]: line
        for block in answer["blocks"]
        if block["type"] == "section"
        for line in block["text"]["text"].split("\n")
        if line.startswith("• ")
    }
    assert "Kibana connector" in lines["Bot made connector"]
    assert "· created by the bot" in lines["Bot made connector"]
    assert "not created by the bot" in lines["Hand made connector"]
    assert "inference endpoint" in lines["Bot made endpoint"]
    assert "openai" in lines["Bot made endpoint"]
    assert "· created by the bot" in lines["Bot made endpoint"]
    assert EXAMPLES["openai"]["service_settings"]["model_id"] in lines["Hand made GPT"]
    assert "not created by the bot" in lines["Hand made GPT"]
    assert "hand-made-gpt" in lines["Hand made GPT"]
    # Elastic's own EIS endpoints are listed, preconfigured.
    assert "preconfigured" in lines["Elastic Managed LLM"]
    assert "inference endpoint" in lines["Elastic Managed LLM"]
    assert "cluster-wide" in json.dumps(answer)
    assert elasticsearch.requests_to("GET", "/_inference/chat_completion/_all")


def test_list_without_elasticsearch_answers_still_lists_the_connectors(
    es_bot: BotHarness, elasticsearch: FakeElasticsearch
) -> None:
    elasticsearch.fail_next(3, status=503, path_contains="_inference")
    es_bot.command(f"list {SPACE}")
    answer = json.dumps(es_bot.slack.wait_for("response_url")[-1].args)
    assert "could not be asked for its inference endpoints" in answer
    assert "no connectors yet" in answer


def test_a_name_an_endpoint_already_uses_is_refused_at_submit(
    es_bot: BotHarness, elasticsearch: FakeElasticsearch
) -> None:
    _endpoint(elasticsearch, "soc-gpt", "SOC GPT")
    by_name = es_bot.request_via_form(_form("soc gpt")).json()
    assert by_name["response_action"] == "errors"
    assert "inference endpoint" in json.dumps(by_name["errors"])
    by_id = es_bot.request_via_form(_form("SOC-GPT")).json()
    assert by_id["response_action"] == "errors"
    assert "cluster-wide" in json.dumps(by_id["errors"])
    assert es_bot.request_via_form(_form("SOC GPT two")).json()["response_action"] == "update"


def test_a_slow_elasticsearch_does_not_hold_the_submit_past_the_deadline(
    es_bot: BotHarness, elasticsearch: FakeElasticsearch
) -> None:
    _endpoint(elasticsearch, "soc-gpt", "SOC GPT")
    elasticsearch.set_delay(5.0, method="GET", path_contains="_inference")
    view = es_bot.open_form()
    started = time.monotonic()
    response = es_bot.submit_form(view, _form("SOC GPT"))
    elapsed = time.monotonic() - started
    # Both checks at once, 0.6 s in all: the late endpoint check is abandoned, the request
    # goes on with a warning (the 5 s answer would have refused the name).
    assert elapsed < 3.0, elapsed
    assert response.json()["response_action"] == "update"
    row = es_bot.request_row(reference_from(response))
    assert any("Elasticsearch did not answer in time" in w for w in row.warnings), row.warnings


def test_managed_llm_names_the_eis_chat_endpoints(
    es_bot: BotHarness, elasticsearch: FakeElasticsearch
) -> None:
    elasticsearch.eis_enabled = True
    view = es_bot.switch_provider(es_bot.open_form(), "elastic_managed")
    es_bot.submit_form(view, {})
    update = es_bot.slack.wait_for(
        # The menu also lists "Elastic Inference Service" (a provider): wait for the answer.
        "views.update",
        lambda c: ".rainbow-sprinkles-elastic" in json.dumps(c.args.get("view")),
    )[-1]
    text = json.dumps(update.args["view"])
    for expected in (".rainbow-sprinkles-elastic", "Elastic Managed LLM", "rainbow-sprinkles"):
        assert expected in text, expected
    assert elasticsearch.requests_to("GET", "/_inference/chat_completion/_all")
