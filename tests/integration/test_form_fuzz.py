"""Property test through the running bot: signed view_submissions of every provider's form with
random and hostile values are answered 200 with errors or an accepted request, never 5xx, and a
refused form stores nothing (no request, no job, no audit row)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.db.models import AuditEvent, ConnectorRequest, Job
from bot.db.session import session_scope
from bot.domain.enums import Provider
from bot.domain.providers import PROVIDERS
from bot.slack.metadata import RequestFormMetadata, encode
from bot.slack.views.request_modal import build_request_view
from tests.harness import REQUESTER, BotHarness, fill_state
from tests.unit.domain.form_strategies import (
    field_keys,
    form_values,
    hostile,
    input_block_ids,
    providers,
)

THROUGH_THE_BOT = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one bot for all examples, on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


def _rows(bot: BotHarness) -> tuple[int, int, int]:
    with session_scope(bot.deps.session_factory) as session:
        return tuple(  # type: ignore[return-value]
            int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (ConnectorRequest, Job, AuditEvent)
        )


def _submission(provider: Provider, values: dict[str, str], metadata: str) -> dict[str, Any]:
    view: dict[str, Any] = build_request_view(PROVIDERS[provider]).to_dict()
    typed = {key: values.get(key, "") for key in field_keys(provider)}
    view.update(
        id="VFUZZ00001",
        hash="1.abc",
        private_metadata=metadata,
        state={"values": fill_state(view, typed)},
    )
    return {"type": "view_submission", "user": {"id": REQUESTER}, "view": view}


@THROUGH_THE_BOT
@given(data=st.data())
def test_any_form_gets_errors_or_is_accepted_and_a_refused_one_stores_nothing(
    bot: BotHarness, data: st.DataObject
) -> None:
    provider = data.draw(providers, label="provider")
    values = data.draw(form_values(provider, unique_name=True), label="values")
    metadata = data.draw(
        st.one_of(st.just(encode(RequestFormMetadata(provider=provider))), hostile),
        label="private_metadata",
    )
    bot.kibana.add_space("security-team")  # the space of the sample values
    before = _rows(bot)
    response = bot.interact(_submission(provider, values, metadata))
    assert response.status_code == 200, response.text
    body = response.json()
    action = body.get("response_action")
    assert action in {"errors", "update"}, body
    after = _rows(bot)
    if action == "errors":
        event("refused")
        errors = body["errors"]
        assert errors
        assert all(isinstance(m, str) for m in errors.values())
        # An answer about the form, under its fields: not a crash caught by the error handler.
        assert set(errors) <= input_block_ids(provider), errors
        assert not any("Something went wrong" in m for m in errors.values()), errors
        assert after == before, f"a refused form stored something: {before} -> {after}"
    elif PROVIDERS[provider].provisions:
        event("accepted")
        assert "is waiting for an approver" in json.dumps(body["view"])
        assert after[0] == before[0] + 1
    else:
        event("elastic managed")
        assert after == before
