"""How the stack's back-end applies to one provider: kept when the provider supports it, the
other one (saying why) when it does not, none when it supports neither."""

from __future__ import annotations

import pytest

from bot.domain.backends import Backend, BackendChoice, StackVersion, for_provider

STACK = StackVersion(9, 5, 0)
INFERENCE = BackendChoice(Backend.INFERENCE, "stack 9.5.0: inference endpoints", STACK)
CONNECTOR = BackendChoice(Backend.CONNECTOR, "stack 9.3.0: connectors", STACK)


@pytest.mark.parametrize("choice", [INFERENCE, CONNECTOR])
def test_a_provider_with_both_keeps_the_stacks_choice(choice: BackendChoice) -> None:
    assert for_provider(choice, frozenset({"connector", "inference"})) == choice


def test_a_connector_only_provider_falls_back_to_a_connector_with_the_reason() -> None:
    got = for_provider(INFERENCE, frozenset({"connector"}))
    assert got is not None
    assert got.backend is Backend.CONNECTOR
    assert got.reason.startswith(INFERENCE.reason)
    assert "no inference endpoint" in got.reason


def test_an_inference_only_provider_on_a_connector_stack_gets_an_endpoint_with_the_reason() -> None:
    got = for_provider(CONNECTOR, frozenset({"inference"}))
    assert got is not None
    assert got.backend is Backend.INFERENCE
    assert "only offered as an Elasticsearch inference endpoint" in got.reason


@pytest.mark.parametrize("choice", [INFERENCE, CONNECTOR])
def test_a_provider_with_neither_is_refused(choice: BackendChoice) -> None:
    assert for_provider(choice, frozenset()) is None


def test_an_inference_only_provider_is_refused_where_endpoints_cannot_be_made() -> None:
    assert for_provider(CONNECTOR, frozenset({"inference"}), inference_possible=False) is None
