"""The registry of Kibana connector types the bot creates or tests, by type id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.domain.connector_types import bedrock, gemini, gen_ai, inference
from bot.domain.connector_types.spec import ConnectorType, Hint, hint
from bot.domain.testing import TestReading

CONNECTOR_TYPES: dict[str, ConnectorType] = {
    kind.type_id: kind for kind in (gen_ai.TYPE, bedrock.TYPE, gemini.TYPE, inference.TYPE)
}


def connector_type(type_id: str) -> ConnectorType | None:
    """Return the description of the connector type, or None for one the bot doesn't know."""
    return CONNECTOR_TYPES.get(type_id)


def test_params(connector_type_id: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Return the `_execute` params of the default test for the connector type."""
    kind = connector_type(connector_type_id)
    if kind is None:
        raise ValueError(f"no test for connector type {connector_type_id}")
    return kind.build_test(config)


def read_test_data(connector_type_id: str, data: Any, *, default_model: str | None) -> TestReading:
    """Read the model, reply and token usage out of a successful test's ``data``."""
    kind = connector_type(connector_type_id)
    if kind is None or not isinstance(data, Mapping):
        return TestReading(model=default_model)
    return kind.read_test(data, default_model)


__all__ = [
    "CONNECTOR_TYPES",
    "ConnectorType",
    "Hint",
    "connector_type",
    "hint",
    "read_test_data",
    "test_params",
]
