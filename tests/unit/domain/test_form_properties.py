"""Property tests over every provider's form: whatever is typed (or forged), the checks answer
with errors under real fields, or a draft that can be stored and shown; they never raise."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.domain.enums import Provider, RequestStatus
from bot.domain.providers import PROVIDERS
from bot.domain.schemas import RequestSnapshot
from bot.slack import forms
from bot.slack.metadata import RequestFormMetadata, encode
from bot.slack.views.approval_message import build_card_blocks, card_text
from bot.slack.views.common import to_dicts
from bot.slack.views.request_modal import build_request_view
from tests.harness import fill_state
from tests.unit.domain.form_strategies import field_keys, form_values, input_block_ids, providers

PURE = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _storable(value: Any) -> None:
    """What the database takes: JSON without NUL or unpaired surrogates."""
    encoded = json.dumps(value, ensure_ascii=False)
    encoded.encode("utf-8")  # raises on an unpaired surrogate
    assert "\x00" not in encoded
    assert "\\u0000" not in encoded


def _submitted_view(provider: Provider, values: dict[str, str]) -> dict[str, Any]:
    """The view_submission's view as Slack sends it: the form with ``values`` typed in."""
    view: dict[str, Any] = build_request_view(PROVIDERS[provider]).to_dict()
    view["id"] = "VPROPERTY1"
    typed = {key: values.get(key, "") for key in field_keys(provider)}  # dropped: left empty
    view["state"] = {"values": fill_state(view, typed)}
    return view


@PURE
@given(st.data())
def test_validation_never_raises_and_answers_errors_under_real_fields_or_a_draft(
    data: st.DataObject,
) -> None:
    provider = data.draw(providers)
    spec = PROVIDERS[provider]
    values = data.draw(form_values(provider))
    result = spec.parse(values)
    if not spec.provisions:
        assert result.draft is None
        return
    event("refused" if result.errors else "accepted")
    if not result.ok:
        assert set(result.errors) <= set(field_keys(provider)), result.errors
        assert set(forms.field_errors(spec, result.errors)) <= input_block_ids(provider)
        assert all(isinstance(m, str) and m for m in result.errors.values())
        return
    draft = result.draft
    assert draft is not None
    type_id: str | None
    if spec.connector is not None:
        payload = spec.connector_payload(draft)
        type_id, config, secrets = payload.type_id, payload.config, payload.secrets
    else:  # inference only: the endpoint body, its secrets apart
        inference = spec.inference_payload(draft)
        body = inference.service_settings
        type_id = None
        config = {k: v for k, v in body.items() if k not in inference.secret_settings}
        secrets = {k: body[k] for k in inference.secret_settings}
        _storable(inference.task_settings)
    settings = draft.settings.model_dump(mode="json")
    _storable([draft.name, draft.space_id, draft.justification, config, settings])
    _storable(result.warnings)
    _storable(draft.secrets.reveal())
    _storable(secrets)
    snapshot = RequestSnapshot(
        id=1,
        reference="REQ-7K3M9Q",
        status=RequestStatus.PENDING,
        provider=provider,
        provider_label=spec.label,
        connector_type_id=type_id,
        connector_name=draft.name,
        space_id=draft.space_id,
        kibana_connector_id="llm-x-abcdef",
        config=config,
        justification=draft.justification,
        warnings=result.warnings,
        requested_by="UREQUESTER1",
        card_channel=None,
        card_ts=None,
        decided_by=None,
        decided_at=None,
        decision_reason=None,
        outcome=None,
        failure_message=None,
        created_at=datetime.now(UTC),
        finished_at=None,
    )
    card_text(snapshot)
    to_dicts(build_card_blocks(snapshot))  # within Block Kit's limits, or this raises


@PURE
@given(st.data())
def test_reading_a_submitted_form_gives_back_what_was_typed(data: st.DataObject) -> None:
    provider = data.draw(providers)
    values = data.draw(form_values(provider))
    view = _submitted_view(provider, values)
    view["private_metadata"] = data.draw(
        st.one_of(
            st.just(encode(RequestFormMetadata(provider=provider))),
            st.text(max_size=50),
            st.just('{"provider": "nope"}'),
        )
    )
    spec, read = forms.read_request_form(view)
    assert spec.key is provider  # the select wins over the metadata
    for key in field_keys(provider):
        field = spec.field(key)
        if field is not None and field.kind.value in {"select", "checkbox"}:
            continue
        assert read.get(key, "") == (values.get(key) or ""), key
    spec.parse(read)  # and checking it never raises
