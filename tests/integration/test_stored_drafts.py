"""The request row keeps the typed draft (settings in the clear, secrets sealed by field), and
rows stored before it did are still provisioned from their connector body."""

from __future__ import annotations

import json

from sqlalchemy import update

from bot.db.models import ConnectorRequest
from bot.db.session import session_scope
from bot.domain.enums import Provider
from bot.domain.providers import provider_spec
from tests.harness import APPROVER, BotHarness, reference_from
from tests.unit.domain import samples


def test_the_row_keeps_the_draft_settings_and_its_secrets_sealed_by_field(
    bot: BotHarness,
) -> None:
    values = samples.valid_values(Provider.BEDROCK, space="default")
    reference = reference_from(bot.request_via_form(values, provider="bedrock"))
    row = bot.request_row(reference)
    assert row.settings == {
        "api_url": samples.BEDROCK_URL,
        "model": samples.BEDROCK_MODEL,
    }
    assert row.secrets_ciphertext is not None
    assert bot.deps.secret_box.open(row.secrets_ciphertext) == {
        "access_key": samples.AWS_ACCESS_KEY,
        "secret_key": samples.AWS_SECRET_KEY,
    }
    assert row.config == {"apiUrl": samples.BEDROCK_URL, "defaultModel": samples.BEDROCK_MODEL}


def test_a_row_stored_before_drafts_were_kept_is_provisioned_from_its_connector_body(
    bot: BotHarness,
) -> None:
    values = samples.valid_values(Provider.LM_STUDIO, space="default")
    reference = reference_from(bot.request_via_form(values, provider="lm_studio"))
    spec = provider_spec(Provider.LM_STUDIO)
    payload = samples.payload_of(spec, values)
    # What the bot stored before: no settings, the connector's secrets sealed as sent.
    legacy_config = {**payload.config, "defaultModel": "legacy-model"}
    with session_scope(bot.deps.session_factory) as session:
        session.execute(
            update(ConnectorRequest)
            .where(ConnectorRequest.reference == reference)
            .values(
                settings=None,
                config=legacy_config,
                secrets_ciphertext=bot.deps.secret_box.seal({"apiKey": "legacy-token"}),
            )
        )
    bot.click(reference, "approval.approve", user=APPROVER)
    row = bot.wait_status(reference, "tested_ok", "test_failed", "failed")
    assert row.status == "tested_ok", row.result
    sent = bot.kibana.requests_to("POST", f"/api/actions/connector/{row.kibana_connector_id}")
    assert sent[0].body["config"] == legacy_config
    assert sent[0].body["secrets"] == {"apiKey": "legacy-token"}


def test_kibana_yml_delivery_names_the_connector_secrets_of_the_stored_draft(
    bot: BotHarness,
) -> None:
    values = samples.valid_values(Provider.BEDROCK, space="default")
    reference = reference_from(bot.request_via_form(values, provider="bedrock"))
    bot.click(reference, "approval.deliver_yaml", user=APPROVER)
    row = bot.wait_status(reference, "delivered")
    assert row.secrets_ciphertext is None
    # The entry is DMed to the approver after the click's ack: wait for it.
    bot.slack.wait_for("chat.postMessage", lambda call: "xpack.actions" in json.dumps(call.args))
    text = bot.slack.all_text()
    for key in ("accessKey", "secret"):
        assert f"xpack.actions.preconfigured.{row.kibana_connector_id}.secrets.{key}" in text
    assert "secrets.access_key" not in text
