"""Messages name what the request makes: a Kibana connector, or an Elasticsearch endpoint."""

from __future__ import annotations

import json

import pytest

from bot.domain.enums import RequestStatus
from bot.domain.schemas import KibanaRetrying, RequestSnapshot
from bot.slack.views.approval_message import build_card_blocks
from bot.slack.views.common import to_dicts
from bot.slack.views.results import kibana_retrying_message, outcome_headline
from tests.unit.views.test_hostile_text import NOW, hostile_snapshot


def _as(snapshot: RequestSnapshot, backend: str) -> RequestSnapshot:
    return snapshot.model_copy(update={"backend": backend})


@pytest.mark.parametrize(
    ("backend", "made", "who"),
    [("connector", "Connector", "Kibana"), ("inference", "Inference endpoint", "Elasticsearch")],
)
def test_outcomes_and_retry_notices_name_the_back_end(backend: str, made: str, who: str) -> None:
    tested = _as(hostile_snapshot(RequestStatus.TESTED_OK), backend)
    assert outcome_headline(tested).startswith(f":large_green_circle: {made} created and tested")
    failed = _as(hostile_snapshot(RequestStatus.FAILED, ok=False), backend)
    assert f"{who} did not create the {made.lower()}" in outcome_headline(failed)
    retrying = KibanaRetrying(stage="create", reason="Connection refused", until=NOW)
    fallback, _blocks = kibana_retrying_message(tested, retrying, in_thread=True)
    assert fallback.startswith(
        f"{tested.reference}: {who} failed while creating the {made.lower()}"
    )


@pytest.mark.parametrize(
    ("backend", "label"),
    [("connector", "Deliver as kibana.yml"), ("inference", "Deliver as Dev Tools request")],
)
def test_the_card_offers_the_delivery_of_its_back_end(backend: str, label: str) -> None:
    card = json.dumps(
        to_dicts(build_card_blocks(_as(hostile_snapshot(RequestStatus.PENDING), backend)))
    )
    assert label in card
