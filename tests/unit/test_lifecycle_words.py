"""The words of `/llm-connector adopt`."""

from __future__ import annotations

import pytest

from bot.slack.listeners.lifecycle import AdoptWords, parse_adopt


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("default c1", AdoptWords(None, "default", "c1", None)),
        ("prod security c1", AdoptWords("prod", "security", "c1", None)),
        ("default c1 <@U0OWNER1>", AdoptWords(None, "default", "c1", "U0OWNER1")),
        ("prod default c1 <@U0OWNER1|ann>", AdoptWords("prod", "default", "c1", "U0OWNER1")),
    ],
)
def test_adopt_words(text: str, expected: AdoptWords) -> None:
    assert parse_adopt(text.split()) == expected


@pytest.mark.parametrize("text", ["", "c1", "a b c d", "<@U0OWNER1>", "a b c <@nobody>"])
def test_words_that_do_not_fit(text: str) -> None:
    assert parse_adopt(text.split()) is None
