"""The README's policy file section stays true: both examples read without a problem or a
warning, and every key the reader knows is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.domain.policy import document
from bot.domain.policy.document import read_policy
from bot.domain.policy.matching import RequestFacts, match_rule

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLE = re.compile(r"<!-- policy-example: (?P<name>[^>]+?) -->\n```yaml\n(?P<yaml>.*?)```", re.S)


def examples() -> dict[str, str]:
    return {m["name"]: m["yaml"] for m in EXAMPLE.finditer(README.read_text(encoding="utf-8"))}


def test_the_readme_has_both_examples() -> None:
    assert sorted(examples()) == ["enterprise", "small team"]


@pytest.mark.parametrize("name", ["small team", "enterprise"])
def test_each_readme_example_reads_without_problems_or_warnings(name: str) -> None:
    parsed = read_policy(examples()[name], source=f"README ({name})")
    assert parsed.warnings == ()


def test_the_enterprise_example_decides_as_the_readme_says() -> None:
    policy = read_policy(examples()["enterprise"], source="README").document
    assert [target.key for target in policy.targets] == ["prod", "staging"]

    def rule_for(**facts: object) -> str | None:
        values: dict[str, object] = {
            "target": "prod",
            "space": "default",
            "provider": "openai",
            "requester": "U0SOMEONE",
        }
        values.update(facts)
        rule = match_rule(policy, RequestFacts(**values))  # type: ignore[arg-type]
        return rule.name if rule else None

    assert rule_for(provider="vllm") == "no local models in production"
    assert rule_for(space="security", model="GPT-4o") == "production security assistants"
    assert rule_for(space="security", model="llama-3") == "everything else"
    lab = {"target": "staging", "provider": "vllm", "requester_groups": frozenset({"S0LABTEAM"})}
    assert rule_for(**lab) == "lab team on staging"
    assert rule_for(requester_groups=frozenset({"S0ONCALL"})) == "platform on-call"
    [security] = [rule for rule in policy.rules if rule.approvals == 2]
    assert policy.lifecycle_for(security).max_lifetime_days == 90
    assert policy.lifecycle_for(security).reconcile_every == policy.lifecycle.reconcile_every


def test_every_key_of_the_schema_is_documented() -> None:
    section = README.read_text(encoding="utf-8").split("## Policy file", 1)[1]
    section = section.split("\n## ", 1)[0]
    for key in (
        *document.TOP_KEYS,
        *document.TARGET_KEYS,
        *document.RULE_KEYS,
        *document.MATCH_KEYS,
        *document.REMINDER_KEYS,
        *document.LIFECYCLE_KEYS,
    ):
        assert f"| `{key}` |" in section, key
    assert "`{max_per_requester_per_day: n}`" in section
