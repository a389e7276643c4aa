"""What a Kibana connector type is to the bot: its test request, how to read the answer, and
the failure hints that only make sense for it."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain.testing import TestReading

TestParams = Callable[[Mapping[str, Any]], dict[str, Any]]
TestReader = Callable[[Mapping[str, Any], str | None], TestReading]


@dataclass(frozen=True)
class Hint:
    """A cause and fix, shown when Kibana's message matches ``pattern``."""

    pattern: re.Pattern[str]
    text: str


def hint(pattern: str, text: str) -> Hint:
    """Build a case-insensitive hint."""
    return Hint(re.compile(pattern, re.IGNORECASE), text)


@dataclass(frozen=True)
class ConnectorType:
    """One Kibana connector type: how the bot tests a connector of it and reads the result.

    The create body is the same for every type (name, connector_type_id, config, secrets: the
    provider builds config and secrets); what differs per type is the `_execute` test and the
    shape of its answer.
    """

    type_id: str
    build_test: TestParams  # the `_execute` params of the default test, from the config
    read_test: TestReader  # (data of a successful test, default model) → reading
    hints: tuple[Hint, ...] = ()  # only for this type; tried before the generic provider hints
