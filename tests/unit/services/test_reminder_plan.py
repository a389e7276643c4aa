"""A request's reminder plan: its rule's own `reminders:` when it has one, else the top-level
ones; the rule's approvers travel with it for the mentions."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

from bot.deps import Deps
from bot.domain.enums import Provider
from bot.domain.policy.model import Match, PolicyDocument, Reminders, Rule
from bot.domain.providers import provider_spec
from bot.domain.providers.spec import ProviderDraft
from bot.domain.targets import Target
from bot.services.reminders import reminder_plan_for
from tests.unit.domain.samples import valid_values

TOP = Reminders(after=timedelta(hours=4), expire_after=timedelta(days=7))
OWN = Reminders(after=timedelta(seconds=30), escalate_to=("U0ESC",), expire_after=None)
POLICY = PolicyDocument(
    targets=(Target(key="default", kibana_url="https://kibana.example.com"),),
    rules=(
        Rule(
            index=0,
            match=Match(spaces=frozenset({"security"})),
            approvers=("S0SEC",),
            reminders=OWN,
        ),
        Rule(index=1, match=Match(models=("gpt-4*",)), approvers=("U0GPT",), approvals=2),
        Rule(index=2, approvers=("U0ANY",)),
    ),
    reminders=TOP,
)


def deps() -> Deps:
    return cast(Deps, SimpleNamespace(governance=POLICY, policy=SimpleNamespace(approvers={"U9"})))


def draft(**values: str) -> ProviderDraft[Any, Any]:
    spec = provider_spec(Provider.OPENAI)
    return spec.draft_from(valid_values(Provider.OPENAI, **values))


def test_a_rule_with_its_own_reminders_overrides_the_top_level_ones() -> None:
    plan = reminder_plan_for(deps(), draft(space="security"), "UREQ")
    assert plan.reminders == OWN
    assert plan.approvers == ("S0SEC",)


def test_a_rule_without_reminders_takes_the_top_level_ones_and_matches_the_model() -> None:
    plan = reminder_plan_for(deps(), draft(space="default", model="gpt-4.1"), "UREQ")
    assert plan.reminders == TOP
    assert (plan.approvers, plan.approvals) == (("U0GPT",), 2)
    other = reminder_plan_for(deps(), draft(space="default", model="o3"), "UREQ")
    assert other.approvers == ("U0ANY",)
