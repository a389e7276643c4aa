"""The lifecycle settings stored on an inventory row come from the rule it matches."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

from bot.domain.policy.matching import RequestFacts
from bot.domain.policy.model import Lifecycle, Match, PolicyDocument, Rule
from bot.domain.targets import Target
from bot.services.lifecycle.inventory import effective_lifecycle

if TYPE_CHECKING:
    from bot.deps import Deps

FAST = Lifecycle(retest_every=timedelta(hours=6), failing_after=3)


def _deps() -> Deps:
    policy = PolicyDocument(
        targets=(Target(key="prod", kibana_url="https://kibana.example.com"),),
        rules=(
            Rule(index=0, match=Match(providers=frozenset({"bedrock"})), lifecycle=FAST),
            Rule(index=1),
        ),
        lifecycle=Lifecycle(retest_every=timedelta(hours=12)),
    )
    return cast("Deps", SimpleNamespace(governance=policy))


def _facts(provider: str) -> RequestFacts:
    return RequestFacts(target="prod", space="default", provider=provider, requester="U1")


def test_a_rule_overrides_the_top_level_lifecycle() -> None:
    assert effective_lifecycle(_deps(), _facts("bedrock")) == FAST


def test_without_an_override_the_top_level_applies() -> None:
    assert effective_lifecycle(_deps(), _facts("openai")).retest_every == timedelta(hours=12)
