"""The "Deliver" button for a request whose back-end is inference: the approver gets the Dev
Tools request (and the Terraform resource) privately, never the secret; secrets erased."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from bot.domain.enums import Provider
from bot.domain.providers import PROVIDERS
from bot.domain.providers.openai import OpenAISecrets, OpenAISettings
from bot.domain.providers.spec import INFERENCE, InferencePayload, InferenceTarget
from bot.services import requests
from tests.harness import APPROVAL_CHANNEL, APPROVER, REQUESTER, BotHarness, reference_from
from tests.unit.domain import samples


def _openai_endpoint(settings: OpenAISettings, secrets: OpenAISecrets) -> InferencePayload:
    return InferencePayload(
        service="openai",
        service_settings={
            "api_key": secrets.api_key.get_secret_value(),
            "model_id": settings.model,
        },
        secret_settings=frozenset({"api_key"}),
    )


@pytest.fixture
def inference_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenAI on the inference back-end, and every row saying so (the row's `backend` column
    is the inference back-end's; here the service's seam is set directly)."""
    spec = PROVIDERS[Provider.OPENAI]
    if spec.inference is None:
        spec = dataclasses.replace(
            spec,
            supported_backends=spec.supported_backends | {INFERENCE},
            inference=InferenceTarget(service="openai", build=_openai_endpoint),
        )
        monkeypatch.setitem(PROVIDERS, Provider.OPENAI, spec)

    def backend(*_: Any, **__: Any) -> str:
        return INFERENCE

    monkeypatch.setattr(requests, "delivery_backend", backend)


def test_an_inference_request_is_delivered_as_its_devtools_request(
    bot: BotHarness, inference_rows: None
) -> None:
    values = samples.valid_values(Provider.OPENAI, space="default")
    form = {key: value for key, value in values.items() if value is not None}
    reference = reference_from(bot.request_via_form(form))
    row = bot.request_row(reference)
    assert bot.click(reference, "approval.deliver_yaml", user=APPROVER).status_code == 200
    dm = bot.slack.wait_for("chat.postMessage", lambda c: c.args["channel"] == APPROVER)[-1]
    text = json.dumps(dm.args)
    for expected in (
        f"PUT _inference/chat_completion/{row.kibana_connector_id}",
        '\\"api_key\\": \\"&lt;api_key&gt;\\"',
        f'\\"model_id\\": \\"{form["model"]}\\"',
        'resource \\"elasticstack_elasticsearch_inference_endpoint\\"',
        "var.api_key",
        "cluster-wide",
    ):
        assert expected in text, expected
    assert "xpack.actions.preconfigured" not in text
    assert form["api_key"] not in bot.slack.all_text()
    delivered = bot.wait_status(reference, "delivered")
    assert delivered.secrets_ciphertext is None
    bot.wait_idle()
    assert bot.kibana.requests_to("POST", f"/api/actions/connector/{row.kibana_connector_id}") == []
    assert "approval.approve" not in json.dumps(
        bot.slack.message(APPROVAL_CHANNEL, bot.card_for(reference)["ts"])
    )
    requester = json.dumps(bot.slack.messages_in(bot.slack.dm_channel_for(REQUESTER)))
    assert "Dev Tools request" in requester
    assert "kibana.yml" not in requester
    card = json.dumps(bot.slack.message(APPROVAL_CHANNEL, bot.card_for(reference)["ts"]))
    assert "delivered as a Dev Tools request" in card


def test_a_connector_request_still_gets_the_kibana_yml_entry(bot: BotHarness) -> None:
    values = samples.valid_values(Provider.OPENAI, space="default")
    form = {key: value for key, value in values.items() if value is not None}
    reference = reference_from(bot.request_via_form(form))
    assert requests.delivery_backend(bot.deps, request_id=bot.request_row(reference).id) == (
        "connector"
    )
    bot.click(reference, "approval.deliver_yaml", user=APPROVER)
    dm = bot.slack.wait_for("chat.postMessage", lambda c: c.args["channel"] == APPROVER)[-1]
    assert "xpack.actions.preconfigured" in json.dumps(dm.args)
    assert "_inference" not in json.dumps(dm.args)
