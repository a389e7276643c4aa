"""Every provider through the whole flow, and what the bot learns from Kibana along the way."""

from __future__ import annotations

import json
import time

import pytest

from bot.domain.enums import Provider
from bot.domain.providers import PROVIDERS, provider_spec
from tests.fakes.kibana import FakeKibana
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

CREATABLE = [key for key, spec in PROVIDERS.items() if spec.creates_connector]
SPACE = "security"


def _values(provider: Provider) -> dict[str, str]:
    values = samples.valid_values(provider, space=SPACE)
    if provider is Provider.VERTEX:
        values["credentials_json"] = samples.service_account_json()
    return {key: value for key, value in values.items() if value is not None}


@pytest.mark.parametrize("provider", CREATABLE, ids=[p.value for p in CREATABLE])
def test_each_provider_is_created_with_its_type_and_tested_with_its_test(
    bot: BotHarness, provider: Provider
) -> None:
    response = bot.request_via_form(_values(provider), provider=provider.value)
    reference = reference_from(response)
    bot.click(reference, "approval.approve", user=APPROVER)
    row = bot.wait_status(reference, "tested_ok", "test_failed", "failed")
    assert row.status == "tested_ok", row.result
    assert row.kibana_connector_id is not None
    spec = provider_spec(provider)
    draft = spec.parse(_values(provider)).draft
    assert draft is not None
    # The row kept the typed draft's settings; the connector was built from that draft.
    assert row.settings == draft.settings.model_dump(mode="json")
    payload = spec.connector_payload(draft)
    sent = bot.kibana.requests_to("POST", f"/api/actions/connector/{row.kibana_connector_id}")
    assert sent[0].body["config"] == payload.config
    assert sent[0].body["secrets"] == payload.secrets
    created = bot.kibana.connectors(SPACE)[row.kibana_connector_id]
    assert created["connector_type_id"] == spec.connector_type_id
    execute = bot.kibana.requests_to(
        "POST", f"/api/actions/connector/{row.kibana_connector_id}/_execute"
    )[0]
    assert execute.body["params"]["subAction"] == "test"
    bot.wait_idle()
    card = bot.slack.message(APPROVAL_CHANNEL, bot.card_for(reference)["ts"])
    typed = _values(provider)
    for key in provider_spec(provider).secret_keys:
        if typed.get(key):
            assert typed[key][:60] not in bot.slack.all_text(), key
    assert "test passed" in json.dumps(card)


def test_unavailable_types_are_marked_and_refused(bot: BotHarness) -> None:
    bot.kibana.set_type_state(".bedrock", enabled_in_license=False)
    view = bot.open_form()
    update = bot.slack.wait_for("views.update")[-1]
    options = next(
        b
        for b in update.args["view"]["blocks"]
        if b.get("block_id") == "connector_request.provider"
    )["element"]["options"]
    labels = {o["value"]: o["text"]["text"] for o in options}
    assert labels["bedrock"] == "Amazon Bedrock (unavailable)"
    assert labels["openai"] == "OpenAI"
    view = bot.switch_provider(bot.current_view(view["id"]), "bedrock")
    assert "licence" in json.dumps(view["blocks"])
    body = bot.submit_form(view, _values(Provider.BEDROCK)).json()
    assert body["response_action"] == "errors"
    assert "licence" in body["errors"]["connector_request.provider"]


def test_a_deprecated_type_is_still_created_and_the_card_says_so(
    database_url, slack, tmp_path
) -> None:
    with FakeKibana(spaces=("default", SPACE), version="9.6.0") as kibana:
        settings = make_settings(database_url, slack, kibana)
        with running_bot(settings, slack, kibana) as bot:
            view = bot.open_form()
            bot.slack.wait_for("views.update")
            view = bot.current_view(view["id"])
            assert "deprecated" in json.dumps(view["blocks"])
            reference = reference_from(bot.submit_form(view, _values(Provider.OPENAI)))
            assert "deprecated" in json.dumps(bot.card_for(reference))
            bot.click(reference, "approval.approve", user=APPROVER)
            bot.wait_status(reference, "tested_ok")


def test_a_name_kibana_already_has_in_the_space_is_refused(bot: BotHarness) -> None:
    bot.kibana.add_connector(
        SPACE,
        "existing-one",
        {
            "name": "Security Team GPT-4.1",
            "connector_type_id": ".gen-ai",
            "config": {"apiProvider": "OpenAI", "apiUrl": samples.OPENAI_URL},
            "secrets": {"apiKey": "sk-existing"},
        },
    )
    body = bot.request_via_form(_values(Provider.OPENAI)).json()
    assert body["response_action"] == "errors"
    assert "already has a connector named" in body["errors"]["field.name"]


def test_a_space_kibana_does_not_have_is_refused(bot: BotHarness) -> None:
    body = bot.request_via_form({**_values(Provider.OPENAI), "space": "nope"}).json()
    assert body["response_action"] == "errors"
    assert "no space" in body["errors"]["field.space"]


def test_kibana_down_at_submit_does_not_block_the_request(bot: BotHarness) -> None:
    bot.kibana.pause()
    try:
        response = bot.request_via_form(_values(Provider.OPENAI))
    finally:
        bot.kibana.resume()
    reference = reference_from(response)
    assert "could not ask Kibana" in json.dumps(bot.card_for(reference))


def test_a_slow_kibana_at_submit_does_not_hold_the_ack(bot: BotHarness) -> None:
    # httpx's timeouts are per phase: a Kibana that trickles its answer could hold the ack
    # past Slack's 3 s. One overall deadline bounds the whole check.
    view = bot.open_form()
    bot.kibana.set_delay(5.0, method="GET", path_contains="/api/actions/connectors")
    try:
        started = time.monotonic()
        response = bot.submit_form(view, _values(Provider.OPENAI))
        elapsed = time.monotonic() - started
    finally:
        bot.kibana.set_delay(0, method="GET", path_contains="/api/actions/connectors")
    assert response.status_code == 200, response.text
    assert elapsed < 1.0, f"the submission was acknowledged after {elapsed:.2f} s"
    assert response.json()["response_action"] == "update"
    assert [r.path for r in bot.kibana.requests_in_flight()] == ["/api/actions/connectors"]
    reference = reference_from(response)
    row = bot.request_row(reference)
    assert row.status == "pending"
    assert any("could not ask Kibana" in warning for warning in row.warnings), row.warnings
    assert "could not ask Kibana" in json.dumps(bot.card_for(reference))


def test_elastic_managed_llm_found_is_ready_to_use_without_approval(bot: BotHarness) -> None:
    bot.kibana.add_preconfigured(
        "Anthropic-Claude-Sonnet-4-5",
        name="Anthropic Claude Sonnet 4.5",
        connector_type_id=".inference",
        config={
            "provider": "elastic",
            "taskType": "chat_completion",
            "inferenceId": ".anthropic-claude-4.5-sonnet-chat_completion",
        },
    )
    view = bot.switch_provider(bot.open_form(), "elastic_managed")
    response = bot.submit_form(view, {})
    assert response.json()["response_action"] == "update"
    update = bot.slack.wait_for(
        "views.update", lambda c: "ready to use" in json.dumps(c.args.get("view"))
    )[-1]
    assert "Anthropic Claude Sonnet 4.5" in json.dumps(update.args["view"])
    assert bot.slack.messages_in(APPROVAL_CHANNEL) == []


def test_elastic_managed_llm_absent_explains_what_the_deployment_needs(bot: BotHarness) -> None:
    view = bot.switch_provider(bot.open_form(), "elastic_managed")
    bot.submit_form(view, {})
    update = bot.slack.wait_for(
        "views.update", lambda c: "manage_inference" in json.dumps(c.args.get("view"))
    )[-1]
    assert "eligible" in json.dumps(update.args["view"])


def test_list_shows_the_connectors_of_a_space(bot: BotHarness) -> None:
    bot.kibana.add_preconfigured(
        "Elastic-Managed-LLM",
        name="Elastic Managed LLM",
        connector_type_id=".inference",
        config={
            "provider": "elastic",
            "taskType": "chat_completion",
            "inferenceId": ".rainbow-sprinkles-elastic",
            "providerConfig": {"model_id": "rainbow-sprinkles"},
        },
    )
    bot.kibana.add_connector(
        SPACE,
        "team-bedrock",
        {
            "name": "Team Bedrock",
            "connector_type_id": ".bedrock",
            "config": {"apiUrl": samples.BEDROCK_URL, "defaultModel": samples.BEDROCK_MODEL},
            "secrets": {"accessKey": samples.AWS_ACCESS_KEY, "secret": samples.AWS_SECRET_KEY},
        },
    )
    response = bot.command(f"list {SPACE}")
    assert response.status_code == 200
    answer = bot.slack.wait_for("response_url")[-1].args
    text = json.dumps(answer)
    for expected in (
        "Team Bedrock",
        ".bedrock",
        samples.BEDROCK_MODEL,
        "Elastic Managed LLM",
        "preconfigured",
        "rainbow-sprinkles",
    ):
        assert expected in text, expected
    bot.command("list nowhere")
    assert "no space" in bot.slack.wait_for("response_url", count=2)[-1].args["text"]


def test_delivery_as_kibana_yml_sends_the_entry_privately_and_never_the_secret(
    bot: BotHarness,
) -> None:
    values = _values(Provider.VLLM)
    reference = reference_from(bot.request_via_form(values, provider="vllm"))
    row = bot.request_row(reference)
    assert bot.click(reference, "approval.deliver_yaml", user=APPROVER).status_code == 200
    dm = bot.slack.wait_for("chat.postMessage", lambda c: c.args["channel"] == APPROVER)[-1]
    text = json.dumps(dm.args)
    for expected in (
        f"{row.kibana_connector_id}:",
        'actionTypeId: \\".gen-ai\\"',
        "exposeConfig: true",
        "kibana-keystore add",
        f"xpack.actions.preconfigured.{row.kibana_connector_id}.secrets.apiKey",
        "restart Kibana",
        "Serverless",
    ):
        assert expected in text, expected
    assert values["api_key"] not in bot.slack.all_text()
    delivered = bot.wait_status(reference, "delivered")
    assert delivered.secrets_ciphertext is None
    bot.wait_idle()
    assert bot.kibana.requests_to("POST", f"/api/actions/connector/{row.kibana_connector_id}") == []
    assert "kibana.yml" in json.dumps(bot.slack.messages_in(bot.slack.dm_channel_for(REQUESTER)))
    assert "approval.approve" not in json.dumps(
        bot.slack.message(APPROVAL_CHANNEL, bot.card_for(reference)["ts"])
    )


def test_a_failed_bedrock_test_is_explained_in_plain_language(bot: BotHarness) -> None:
    bot.kibana.set_execute_result(
        status="error",
        message="an error occurred while running the action",
        service_message="Status code: 400. Message: API Error: Bad Request - Invocation of model "
        "ID anthropic.claude-sonnet-4-5 with on-demand throughput isn\u2019t supported.",
    )
    values = {**_values(Provider.BEDROCK), "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"}
    reference = reference_from(bot.request_via_form(values, provider="bedrock"))
    bot.click(reference, "approval.approve", user=APPROVER)
    bot.wait_status(reference, "test_failed")
    bot.wait_idle()
    thread = json.dumps(bot.slack.thread_replies(APPROVAL_CHANNEL, bot.card_for(reference)["ts"]))
    assert "inference profile" in thread
    assert "on-demand throughput" in thread


@pytest.mark.parametrize("space", ["..", "../api/status", "Security", "a%2Fb", "x" * 101])
def test_list_refuses_a_space_that_is_not_a_space_id_without_asking_kibana(
    bot: BotHarness, space: str
) -> None:
    asked = len(bot.kibana.requests)
    response = bot.command(f"list {space}")
    assert response.status_code == 200
    assert "is not a space id" in response.json()["text"]
    assert "lowercase letters" in response.json()["text"]
    assert len(bot.kibana.requests) == asked
