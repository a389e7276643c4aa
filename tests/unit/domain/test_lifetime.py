"""The lifetime choice, pure: what is offered under a maximum, how the select's value reads,
what the policy refuses (naming its maximum) and how it is said."""

from __future__ import annotations

import pytest

from bot.domain.fields import FieldKind
from bot.domain.lifetime import (
    LifetimeChoice,
    lifetime_field,
    lifetime_text,
    offered,
    read_choice,
    refusal,
)


@pytest.mark.parametrize(
    ("maximum", "choices"),
    [
        (None, (1, 7, 30, None)),
        (30, (1, 7, 30)),
        (10, (1, 7, 10)),
        (7, (1, 7)),
        (1, (1,)),
        (365, (1, 7, 30, 365)),
    ],
)
def test_offered_under_a_maximum(maximum: int | None, choices: tuple[int | None, ...]) -> None:
    assert offered(maximum) == choices


def test_the_field_defaults_to_no_expiry_or_to_the_longest_allowed() -> None:
    free = lifetime_field(None)
    assert free.kind is FieldKind.SELECT
    assert free.initial == "none"
    assert free.options[-1] == ("none", "No expiry")
    capped = lifetime_field(14)
    assert capped.initial == "14"
    assert capped.options == (("1", "1 day"), ("7", "7 days"), ("14", "14 days (the maximum)"))
    assert "at most 14 days" in capped.hint


@pytest.mark.parametrize(
    ("value", "choice"),
    [
        ("", LifetimeChoice(None)),
        ("none", LifetimeChoice(None)),
        ("7", LifetimeChoice(7)),
        (" 30 ", LifetimeChoice(30)),
        ("0", LifetimeChoice(None, "Pick a lifetime from the list.")),
        ("-1", LifetimeChoice(None, "Pick a lifetime from the list.")),
        ("99999", LifetimeChoice(None, "Pick a lifetime from the list.")),
        ("7.5", LifetimeChoice(None, "Pick a lifetime from the list.")),
        ("\u0667", LifetimeChoice(None, "Pick a lifetime from the list.")),  # Arabic-Indic 7
    ],
)
def test_reading_the_select(value: str, choice: LifetimeChoice) -> None:
    assert read_choice(value) == choice


def test_the_policy_refuses_above_its_maximum_and_names_it() -> None:
    assert refusal(None, None) is None
    assert refusal(30, None) is None
    assert refusal(7, 7) is None
    assert refusal(8, 7) == "The policy allows at most 7 days: pick 7 days or less."
    assert refusal(None, 1) == ("The policy allows connectors for at most 1 day: pick a lifetime.")


def test_how_it_is_said() -> None:
    assert lifetime_text(None) == "no expiry"
    assert lifetime_text(1) == "expires 1 day after creation"
    assert lifetime_text(7) == "expires 7 days after creation"
