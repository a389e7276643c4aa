"""The App Home view: its sections, Slack's 100-block limit, and the card's own buttons."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.domain.enums import RequestStatus
from bot.domain.home import (
    AWAITING_SHOWN,
    CONNECTORS_SHOWN,
    DECISIONS_SHOWN,
    OPEN_SHOWN,
    DecisionLine,
    HomeContent,
    Listed,
    Owned,
)
from bot.domain.lifecycle import ManagedState, ManagedSummary
from bot.domain.schemas import Outcome, RequestSnapshot
from bot.slack.views.approval_message import build_card_blocks
from bot.slack.views.common import to_dicts
from bot.slack.views.home import build_home_view
from tests.fakes.slack_api import VIEW_MAX_BYTES, validate_view
from tests.unit.views.test_hostile_text import hostile_snapshot

NOW = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
S = RequestStatus


def _snapshot(number: int, status: RequestStatus) -> RequestSnapshot:
    outcome = Outcome(stage="test", ok=status is S.TESTED_OK, duration_ms=900, message="boom")
    return hostile_snapshot(status).model_copy(
        update={
            "id": number,
            "reference": f"REQ-{number:06d}",
            "connector_name": "x" * 200,
            "justification": "y" * 1500,
            "space_id": "default",
            "outcome": outcome if status in {S.TESTED_OK, S.TEST_FAILED} else None,
            "finished_at": NOW,
        }
    )


def _managed(number: int, **changes: Any) -> ManagedSummary:
    summary = ManagedSummary(
        id=number,
        target="default",
        space_id="default",
        resource_id=f"llm-{number}",
        backend="connector",
        type_id=".gen-ai",
        name="x" * 200,
        provider="openai",
        model="gpt-4.1",
        owner="UREQUESTER1",
        state=ManagedState.FAILING,
        reference=f"REQ-{number:06d}",
        last_test_at=NOW,
        last_test_ok=False,
        last_test_message="boom" * 100,
        expires_at=NOW,
    )
    from dataclasses import replace

    return replace(summary, **changes)


def _full(approver: bool = True) -> HomeContent:
    return HomeContent(
        user="UAPPROVER1",
        approver=approver,
        open_requests=Listed([_snapshot(n, S.PENDING) for n in range(OPEN_SHOWN)], 500),
        awaiting=Listed([_snapshot(100 + n, S.PENDING) for n in range(AWAITING_SHOWN)], 9000),
        connectors=Owned([_managed(200 + n) for n in range(CONNECTORS_SHOWN)], 77),
        decisions=[
            DecisionLine(
                reference=f"REQ-{n:06d}",
                connector_name="z" * 200,
                provider_label="OpenAI",
                decision="rejected",
                decided_by="UAPPROVER2",
                decided_at=NOW,
                reason="r" * 1000,
            )
            for n in range(DECISIONS_SHOWN)
        ],
        notice="You can't decide your own request: another approver has to.",
    )


def _text(view: dict[str, Any]) -> str:
    return str(view)


def test_a_full_home_fits_slacks_limits() -> None:
    view = build_home_view(_full()).to_dict()
    assert validate_view(view, kinds=("home",)) == []
    assert len(view["blocks"]) <= 100
    import json

    assert len(json.dumps(view).encode()) < VIEW_MAX_BYTES
    text = _text(view)
    for title in (
        "Your open requests",
        "Waiting for your decision",
        "Your connectors",
        "Recent decisions",
    ):
        assert title in text
    assert "and 490 more" in text
    assert "and 8985 more" in text
    assert "and 67 more" in text
    assert "another approver has to" in text


def test_people_who_do_not_approve_see_no_queue_and_no_decisions() -> None:
    view = build_home_view(_full(approver=False)).to_dict()
    assert validate_view(view, kinds=("home",)) == []
    text = _text(view)
    assert "Waiting for your decision" not in text
    assert "Recent decisions" not in text
    assert "Your open requests" in text


def test_an_empty_home_says_so() -> None:
    empty = HomeContent(
        user="U1",
        approver=True,
        open_requests=Listed(),
        awaiting=Listed(),
        connectors=Owned(),
        decisions=[],
    )
    view = build_home_view(empty).to_dict()
    assert validate_view(view, kinds=("home",)) == []
    text = _text(view)
    assert "Nothing under way" in text
    assert "Nothing waits for you" in text


def _buttons(blocks: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (element["action_id"], element["value"])
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def test_the_decision_buttons_are_the_cards() -> None:
    snapshot = _snapshot(5, S.PENDING)
    content = HomeContent(
        user="UAPPROVER1",
        approver=True,
        open_requests=Listed(),
        awaiting=Listed([snapshot], 1),
        connectors=Owned(),
        decisions=[],
    )
    home = build_home_view(content).to_dict()["blocks"]
    card = to_dicts(build_card_blocks(snapshot))
    assert _buttons(home) == _buttons(card)
    assert len(_buttons(home)) == 3


def test_only_pending_requests_have_a_cancel_button() -> None:
    content = HomeContent(
        user="UREQUESTER1",
        approver=False,
        open_requests=Listed([_snapshot(1, S.PENDING), _snapshot(2, S.PROVISIONING)], 2),
        awaiting=Listed(),
        connectors=Owned(),
        decisions=[],
    )
    blocks = build_home_view(content).to_dict()["blocks"]
    cancels = [b for b in blocks if (b.get("accessory") or {}).get("action_id") == "home.cancel"]
    assert len(cancels) == 1
    assert "REQ-000001" in cancels[0]["accessory"]["value"]


def test_with_several_targets_each_request_names_its_target() -> None:
    lab = _snapshot(7, S.PENDING).model_copy(update={"target_label": "AI <!here> Lab"})
    content = HomeContent(
        user="UAPPROVER1",
        approver=True,
        open_requests=Listed([lab], 1),
        awaiting=Listed([lab], 1),
        connectors=Owned(),
        decisions=[],
    )
    sections = [
        str(block["text"]["text"])
        for block in build_home_view(content).to_dict()["blocks"]
        if block["type"] == "section" and "REQ-000007" in str(block["text"]["text"])
    ]
    assert len(sections) == 2
    assert all("space `default` on AI &lt;!here&gt; Lab" in text for text in sections)


def _actions(blocks: list[dict[str, Any]]) -> list[str]:
    return [action for action, _ in _buttons(blocks)]


def test_each_connector_has_its_buttons_by_state_and_provider() -> None:
    content = HomeContent(
        user="UREQUESTER1",
        approver=False,
        open_requests=Listed(),
        awaiting=Listed(),
        connectors=Owned(
            [
                _managed(1, state=ManagedState.ACTIVE, expires_at=None),
                _managed(2, state=ManagedState.EXPIRED),
                _managed(3, state=ManagedState.ACTIVE, provider="elastic_inference"),
            ],
            3,
        ),
        decisions=[],
    )
    view = build_home_view(content).to_dict()
    assert validate_view(view, kinds=("home",)) == []
    by_block = {
        block["block_id"]: [e["action_id"] for e in block["elements"]]
        for block in view["blocks"]
        if block["type"] == "actions"
    }
    rotate, change = "lifecycle.rotate_button", "lifecycle.change_button"
    retire, extend = "lifecycle.retire_button", "lifecycle.extend_button"
    assert by_block["connector.actions.1"] == [rotate, change, retire]
    assert by_block["connector.actions.2"] == [extend]  # expired: only a longer life
    assert by_block["connector.actions.3"] == [change, retire, extend]  # no key to rotate
    assert "Last test failed" in str(view)
    assert "*active*" in str(view)
