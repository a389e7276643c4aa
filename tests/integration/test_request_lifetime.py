"""The form's Lifetime choice, as a requester uses it: offered with no expiry by default,
stored on the request, shown on the card, the submitted modal and the DM; under a policy
maximum "no expiry" is gone and a longer choice is refused under the field, naming it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from bot import runtime
from bot.domain.policy.model import Lifecycle
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.harness import (
    REQUESTER,
    BotHarness,
    chosen_provider,
    fill_state,
    make_settings,
    reference_from,
    running_bot,
    wait_until,
)

GOOD = {
    "name": "SOC assistant",
    "space": "default",
    "model": "gpt-4.1",
    "api_key": "sk-proj-abcdefghijklmnop0123456789",
    "justification": "Attack Discovery for the SOC",
}


@pytest.fixture
def capped_bot(
    database_url: str, slack: FakeSlack, kibana: FakeKibana, monkeypatch: pytest.MonkeyPatch
) -> Iterator[BotHarness]:
    """A bot whose policy allows connectors for at most 10 days."""
    original = runtime.governance_from

    def capped(settings: Any) -> Any:
        return replace(original(settings), lifecycle=Lifecycle(max_lifetime_days=10))

    monkeypatch.setattr(runtime, "governance_from", capped)
    with running_bot(make_settings(database_url, slack, kibana), slack, kibana) as harness:
        yield harness


def _lifetime_block(view: dict[str, Any]) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == "field.lifetime")


def _options(view: dict[str, Any]) -> list[tuple[str, str]]:
    element = _lifetime_block(view)["element"]
    return [(o["value"], o["text"]["text"]) for o in element["options"]]


def _dm_text(bot: BotHarness) -> str:
    return json.dumps(bot.slack.messages_in(bot.slack.dm_channel_for(REQUESTER)))


def test_the_form_offers_lifetimes_and_no_expiry_is_the_default(bot: BotHarness) -> None:
    view = bot.open_form()
    assert _options(view) == [
        ("1", "1 day"),
        ("7", "7 days"),
        ("30", "30 days"),
        ("none", "No expiry"),
    ]
    block_ids = [b.get("block_id") for b in view["blocks"]]
    assert block_ids.index("field.lifetime") == block_ids.index("field.justification") - 1
    assert _lifetime_block(view)["element"]["initial_option"]["value"] == "none"
    reference = reference_from(bot.submit_form(view, GOOD))
    assert bot.request_row(reference).lifetime_days is None
    card = json.dumps(bot.card_for(reference))
    assert "Lifetime" not in card
    assert "after creation" not in card


def test_a_chosen_lifetime_is_stored_and_shown_on_the_card_and_in_the_dm(
    bot: BotHarness,
) -> None:
    response = bot.submit_form(bot.open_form(), {**GOOD, "lifetime": "7"})
    assert "expires 7 days after creation" in json.dumps(response.json()["view"])
    reference = reference_from(response)
    assert bot.request_row(reference).lifetime_days == 7
    assert "Expires 7 days after creation" in json.dumps(bot.card_for(reference))
    wait_until(lambda: "expires 7 days after creation" in _dm_text(bot), what="the DM")


def test_the_choice_survives_a_provider_switch(bot: BotHarness) -> None:
    view = bot.open_form()

    def switch() -> dict[str, Any] | None:
        current = bot.current_view(view["id"])
        state = fill_state(current, {"lifetime": "30"})
        state["connector_request.provider"] = {
            "connector_request.provider": {
                "type": "static_select",
                "selected_option": {"value": "azure_openai"},
            }
        }
        response = bot.interact(
            {
                "type": "block_actions",
                "user": {"id": REQUESTER},
                "trigger_id": bot.slack.issue_trigger_id(),
                "container": {"type": "view", "view_id": view["id"]},
                "view": {**current, "state": {"values": state}},
                "actions": [
                    {
                        "type": "static_select",
                        "action_id": "connector_request.provider",
                        "block_id": "connector_request.provider",
                        "selected_option": {"value": "azure_openai"},
                        "action_ts": "1700000000.1",
                    }
                ],
            }
        )
        assert response.status_code == 200
        try:
            return dict(
                wait_until(
                    lambda: (
                        (shown := bot.current_view(view["id"]))
                        and chosen_provider(shown) == "azure_openai"
                        and shown
                    ),
                    timeout=5,
                    what="the Azure form",
                )
            )
        except AssertionError:  # lost to the bot's redraw after opening: choose again
            return None

    redrawn = next(shown for _ in range(3) if (shown := switch()) is not None)
    assert _lifetime_block(redrawn)["element"]["initial_option"]["value"] == "30"


def test_a_value_not_in_the_list_is_refused_under_the_field(bot: BotHarness) -> None:
    response = bot.submit_form(bot.open_form(), {**GOOD, "lifetime": "forever"})
    assert response.json() == {
        "response_action": "errors",
        "errors": {"field.lifetime": "Pick a lifetime from the list."},
    }


def test_a_policy_maximum_removes_no_expiry_and_refuses_longer_choices(
    capped_bot: BotHarness,
) -> None:
    bot = capped_bot
    view = bot.open_form()
    assert _options(view) == [("1", "1 day"), ("7", "7 days"), ("10", "10 days (the maximum)")]
    assert _lifetime_block(view)["element"]["initial_option"]["value"] == "10"
    assert "at most 10 days" in _lifetime_block(view)["hint"]["text"]
    for forged, message in (
        ("30", "The policy allows at most 10 days: pick 10 days or less."),
        ("none", "The policy allows connectors for at most 10 days: pick a lifetime."),
    ):
        refused = bot.submit_form(view, {**GOOD, "lifetime": forged})
        assert refused.json() == {
            "response_action": "errors",
            "errors": {"field.lifetime": message},
        }
    reference = reference_from(bot.submit_form(view, GOOD))
    assert bot.request_row(reference).lifetime_days == 10
    # The maximum travels with the form: a provider switch redraws it under the same one.
    switched = bot.switch_provider(bot.open_form(), "bedrock")
    assert _options(switched) == [("1", "1 day"), ("7", "7 days"), ("10", "10 days (the maximum)")]
