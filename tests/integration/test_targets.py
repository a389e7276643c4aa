"""Several Kibana deployments (targets): the form asks for the target first and offers only its
allowed spaces, read from its Kibana; requests, lists and name checks go to their target."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bot.config import ConfigError
from bot.domain.policy.model import PolicyDocument, environment_policy
from bot.domain.targets import Target
from bot.runtime import build_runtime
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.harness import (
    APPROVER,
    REQUESTER,
    BotHarness,
    chosen_option,
    make_settings,
    reference_from,
    running_bot,
    wait_until,
)

LAB_KEY = "lab-kibana-api-key-0123"
LAB_KEY_VARIABLE = "KIBANA_LAB_API_KEY"
TARGET_BLOCK = "connector_request.target"
VALUES = {
    "name": "Lab GPT",
    "model": "gpt-4.1",
    "api_key": "sk-proj-TESTKEY1234567890abcdefSECRET",
    "justification": "Trying the AI Assistant",
}


def two_targets(prod: FakeKibana, lab: FakeKibana, *, lab_spaces: frozenset[str]) -> PolicyDocument:
    first = Target(key="prod", kibana_url=prod.url, label="Production")
    second = Target(
        key="lab",
        kibana_url=lab.url,
        kibana_api_key_env=LAB_KEY_VARIABLE,
        spaces=lab_spaces,
        label="AI Lab",
    )
    policy = environment_policy(first, [APPROVER], request_ttl=timedelta(hours=72))
    return replace(policy, targets=(first, second))


@pytest.fixture
def lab_kibana() -> Iterator[FakeKibana]:
    with FakeKibana(api_key=LAB_KEY, spaces=("security",)) as fake:
        fake.add_space("lab", name="Lab space")
        yield fake


@pytest.fixture
def multi(
    database_url: str,
    slack: FakeSlack,
    kibana: FakeKibana,
    lab_kibana: FakeKibana,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[BotHarness]:
    monkeypatch.setenv(LAB_KEY_VARIABLE, LAB_KEY)
    governance = two_targets(kibana, lab_kibana, lab_spaces=frozenset({"default", "lab"}))
    settings = make_settings(database_url, slack, kibana)
    with running_bot(settings, slack, kibana, governance=governance) as harness:
        yield harness


def _block(view: dict[str, Any], prefix: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if str(b.get("block_id", "")).startswith(prefix))


def _space_options(view: dict[str, Any]) -> list[str]:
    element = _block(view, "field.space")["element"]
    return [option["value"] for option in element.get("options", [])]


def _opened_with_spaces(bot: BotHarness) -> dict[str, Any]:
    """The form, once the bot has read the default target's spaces and redrawn it."""
    view = bot.open_form()

    def redrawn() -> dict[str, Any] | None:
        shown = bot.current_view(view["id"])
        return shown if _space_options(shown) else None

    done: dict[str, Any] = wait_until(redrawn, timeout=5, what="the spaces of the form")
    return done


def _lab_form(bot: BotHarness) -> dict[str, Any]:
    return bot.switch_target(_opened_with_spaces(bot), "lab")


def test_the_form_asks_for_the_target_first_then_offers_its_allowed_spaces(
    multi: BotHarness, kibana: FakeKibana, lab_kibana: FakeKibana
) -> None:
    view = _opened_with_spaces(multi)
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert inputs[0]["block_id"] == TARGET_BLOCK
    assert inputs[0]["dispatch_action"] is True
    assert [o["text"]["text"] for o in inputs[0]["element"]["options"]] == [
        "Production",
        "AI Lab",
    ]
    assert chosen_option(view, TARGET_BLOCK) == "prod"
    assert _space_options(view) == ["default", "security"]  # Kibana's own list, by name
    assert kibana.requests_to("GET", "/api/spaces/space")

    lab = multi.switch_target(view, "lab")
    assert _space_options(lab) == ["default", "lab"]  # "security" is not allowed there
    labels = [o["text"]["text"] for o in _block(lab, "field.space")["element"]["options"]]
    assert labels == ["Default (default)", "Lab space (lab)"]
    assert lab_kibana.requests_to("GET", "/api/spaces/space")


def test_a_request_to_the_second_target_is_created_only_in_its_kibana(
    multi: BotHarness, kibana: FakeKibana, lab_kibana: FakeKibana
) -> None:
    response = multi.submit_form(_lab_form(multi), {**VALUES, "space": "lab"})
    reference = reference_from(response)
    assert "AI Lab" in json.dumps(response.json()["view"])
    row = multi.wait_status(reference, "pending")
    assert (row.target, row.space_id) == ("lab", "lab")
    card = json.dumps(multi.card_for(reference))
    assert "AI Lab" in card

    multi.click(reference, "approval.approve", user=APPROVER)
    row = multi.wait_status(reference, "tested_ok")
    assert row.kibana_connector_id in lab_kibana.connectors("lab")
    assert kibana.requests_to("POST", f"/api/actions/connector/{row.kibana_connector_id}") == []
    assert kibana.connectors("default") == {}
    assert kibana.connectors("security") == {}
    executes = lab_kibana.requests_to(
        "POST", f"/api/actions/connector/{row.kibana_connector_id}/_execute"
    )
    assert executes
    assert all(r.space == "lab" for r in executes)
    multi.wait_idle()
    dms = json.dumps(multi.slack.messages_in(multi.slack.dm_channel_for(REQUESTER)))
    assert "on AI Lab" in dms
    multi.command(f"status {reference}")
    status = json.dumps(multi.slack.wait_for("response_url")[-1].args)
    assert "on AI Lab" in status


def test_a_space_outside_the_targets_allow_list_is_refused_under_its_field(
    multi: BotHarness, lab_kibana: FakeKibana
) -> None:
    view = _lab_form(multi)
    # A forged (or stale) choice: the form never offered it.
    response = multi.submit_form(view, {**VALUES, "space": "security"})
    body = response.json()
    assert body["response_action"] == "errors", body
    assert list(body["errors"]) == [_block(view, "field.space")["block_id"]]
    assert "security" in next(iter(body["errors"].values()))
    assert lab_kibana.requests_to("GET", "/api/actions/connectors") == []


def test_a_name_used_on_one_target_is_free_on_the_other(
    multi: BotHarness, kibana: FakeKibana
) -> None:
    kibana.add_connector(
        "default",
        "hand-made",
        {"name": "Lab GPT", "connector_type_id": ".gen-ai", "config": {}, "secrets": {}},
    )
    response = multi.submit_form(_lab_form(multi), {**VALUES, "space": "default"})
    reference = reference_from(response)
    assert multi.request_row(reference).target == "lab"
    # The same name on the first target is taken there.
    view = _opened_with_spaces(multi)
    refused = multi.submit_form(view, {**VALUES, "space": "default"}).json()
    assert refused["response_action"] == "errors"
    assert "already has a connector" in json.dumps(refused["errors"])


def test_list_shows_every_target_or_the_one_named(
    multi: BotHarness, kibana: FakeKibana, lab_kibana: FakeKibana
) -> None:
    kibana.add_connector(
        "default",
        "prod-one",
        {"name": "Prod connector", "connector_type_id": ".gen-ai", "config": {}, "secrets": {}},
    )
    lab_kibana.add_connector(
        "default",
        "lab-one",
        {"name": "Lab connector", "connector_type_id": ".gen-ai", "config": {}, "secrets": {}},
    )
    multi.command("list")
    both = json.dumps(multi.slack.wait_for("response_url")[-1].args)
    for shown in ("Production", "AI Lab", "Prod connector", "Lab connector"):
        assert shown in both

    multi.command("list lab")
    only = json.dumps(multi.slack.wait_for("response_url", count=2)[-1].args)
    assert "Lab connector" in only
    assert "Prod connector" not in only


def test_one_target_with_an_allow_list_offers_a_select_of_it_and_no_target_field(
    database_url: str, slack: FakeSlack, kibana: FakeKibana
) -> None:
    only = Target(key="default", kibana_url=kibana.url, spaces=frozenset({"security"}))
    policy = environment_policy(only, [APPROVER], request_ttl=timedelta(hours=72))
    settings = make_settings(database_url, slack, kibana)
    with running_bot(settings, slack, kibana, governance=policy) as bot:
        view = bot.open_form()
        assert all(b.get("block_id") != TARGET_BLOCK for b in view["blocks"])
        assert _space_options(view) == ["security"]  # at once, before Kibana is asked
        response = bot.submit_form(view, {**VALUES, "space": "default"})
        assert response.json()["response_action"] == "errors"
        reference = reference_from(bot.submit_form(view, {**VALUES, "space": "security"}))
        assert bot.request_row(reference).target == "default"


def test_a_target_whose_key_variable_is_unset_stops_the_start(
    database_url: str, slack: FakeSlack, kibana: FakeKibana, lab_kibana: FakeKibana
) -> None:
    governance = two_targets(kibana, lab_kibana, lab_spaces=frozenset({"lab"}))
    settings = make_settings(database_url, slack, kibana)
    with pytest.raises(ConfigError) as raised:
        build_runtime(settings, [Fernet.generate_key()], governance=governance)
    assert raised.value.problems == [
        f"{LAB_KEY_VARIABLE}: unset or empty, and target “lab” reads its Kibana API key from it"
    ]


def test_when_kibana_does_not_list_its_spaces_in_time_the_allow_list_is_offered(
    multi: BotHarness, lab_kibana: FakeKibana
) -> None:
    lab_kibana.set_delay(3.0, method="GET", path_contains="/api/spaces/space")
    try:
        lab = _lab_form(multi)
    finally:
        lab_kibana.set_delay(0, method="GET", path_contains="/api/spaces/space")
    assert _space_options(lab) == ["default", "lab"]
    assert "Kibana did not list its spaces" in json.dumps(lab["blocks"])
    response = multi.submit_form(lab, {**VALUES, "space": "lab"})
    assert multi.request_row(reference_from(response)).space_id == "lab"


def test_without_an_allow_list_a_kibana_that_does_not_answer_leaves_a_text_input(
    database_url: str,
    slack: FakeSlack,
    kibana: FakeKibana,
    lab_kibana: FakeKibana,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(LAB_KEY_VARIABLE, LAB_KEY)
    governance = two_targets(kibana, lab_kibana, lab_spaces=frozenset({"lab"}))
    governance = replace(
        governance, targets=(governance.targets[0], replace(governance.targets[1], spaces=None))
    )
    settings = make_settings(database_url, slack, kibana)
    with running_bot(settings, slack, kibana, governance=governance) as bot:
        lab_kibana.set_delay(3.0, method="GET", path_contains="/api/spaces/space")
        try:
            lab = bot.switch_target(_opened_with_spaces(bot), "lab")
        finally:
            lab_kibana.set_delay(0, method="GET", path_contains="/api/spaces/space")
        space = _block(lab, "field.space")
        assert space["block_id"] == "field.space"
        assert space["element"]["type"] == "plain_text_input"
        assert "type the space id" in json.dumps(lab["blocks"])
        refused = bot.submit_form(lab, {**VALUES, "space": "nowhere"}).json()
        assert refused["errors"] == {
            "field.space": "Kibana has no space “nowhere”: check the space id in Stack "
            "Management → Spaces."
        }
