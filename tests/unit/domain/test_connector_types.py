"""The connector-type registry: every registered type tests and reads itself, and its hints
are its own."""

from __future__ import annotations

import pytest

from bot.domain.connector_types import CONNECTOR_TYPES, ConnectorType, connector_type
from bot.domain.hints import HINTS, KIBANA_HINTS, PROVIDER_HINTS, explain_failure, hints_for
from bot.domain.testing import TestReading as Reading
from tests.fakes.kibana_schemas import LLM_CONNECTOR_TYPES, validate_execute_params

TYPES = list(CONNECTOR_TYPES.values())
IDS = [kind.type_id for kind in TYPES]


def test_registry_covers_the_llm_types_kibana_has() -> None:
    assert set(CONNECTOR_TYPES) == set(LLM_CONNECTOR_TYPES)
    assert connector_type(".slack") is None


@pytest.mark.parametrize("kind", TYPES, ids=IDS)
@pytest.mark.parametrize("config", [{}, {"apiProvider": "Other", "defaultModel": "m"}])
def test_each_type_builds_a_test_kibana_accepts(
    kind: ConnectorType, config: dict[str, str]
) -> None:
    params = kind.build_test(config)
    assert validate_execute_params(kind.type_id, params, connector_id="llm-x-abcdef") == []


@pytest.mark.parametrize("kind", TYPES, ids=IDS)
def test_each_type_reads_an_empty_answer_as_the_default_model(kind: ConnectorType) -> None:
    assert kind.read_test({}, "m") == Reading(model="m")


@pytest.mark.parametrize("kind", TYPES, ids=IDS)
def test_a_type_hint_is_tried_for_its_type_only(kind: ConnectorType) -> None:
    for own in kind.hints:
        assert own in hints_for(kind.type_id)
        assert own in HINTS
        for other in TYPES:
            if own not in other.hints:
                assert own not in hints_for(other.type_id)
        assert own not in hints_for(None)


def test_kibana_hints_come_first_and_generic_ones_last() -> None:
    for type_id in [*IDS, None]:
        order = hints_for(type_id)
        assert order[: len(KIBANA_HINTS)] == KIBANA_HINTS
        assert order[-len(PROVIDER_HINTS) :] == PROVIDER_HINTS


def test_inference_reads_openai_shaped_answers() -> None:
    data = {
        "model": "rainbow-sprinkles",
        "choices": [{"message": {"content": "Hi"}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }
    reading = CONNECTOR_TYPES[".inference"].read_test(data, None)
    assert reading == Reading(
        model="rainbow-sprinkles", reply="Hi", prompt_tokens=1, completion_tokens=2, total_tokens=3
    )
    hint = explain_failure(".inference", "Response validation failed (usage)")
    assert hint is not None
    assert "OpenAI-compatible" in hint
