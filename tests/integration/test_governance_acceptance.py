"""Issue 8 tried whole, as a new operator and their users would: one enterprise POLICY_FILE
(two Kibanas, spaces allow-lists, a deny rule, 2 of N with a user group, auto-approve with a
limit, break-glass, per-rule reminders), loaded the way the bot loads it, driven through
signed requests; then `explain-policy` on the same file, and `python -m bot` on a file whose
second target's key variable is unset."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bot.domain.enums import Provider
from bot.services import reminders
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    APPROVER_2,
    REQUESTER,
    BotHarness,
    bot_environment,
    bot_process,
    chosen_option,
    free_port,
    make_settings,
    reference_from,
    running_bot,
    wait_until,
)
from tests.unit.domain import samples

LAB_KEY = "lab-kibana-api-key-acceptance"
LAB_KEY_VARIABLE = "KIBANA_LAB_API_KEY"
SECLEADS = "S0SECLEADS"
LEAD = "USECLEAD01"
ONCALL = "S0ONCALL01"
ESCALATE = "UESCALATE9"
S = timedelta(seconds=1)


def enterprise_policy(prod: FakeKibana, lab: FakeKibana) -> str:
    return dedent(
        f"""\
        targets:
          prod:
            label: Production
            kibana_url: {prod.url}
            spaces: [default, security]
          lab:
            label: AI Lab
            kibana_url: {lab.url}
            kibana_api_key_env: {LAB_KEY_VARIABLE}
            spaces: [default, lab]

        rules:
          - name: no legacy models in production
            match: {{target: prod, model: "gpt-3*"}}
            allow: false
            message: "GPT-3 models are retired in production; ask in #ai-platform."

          - name: lab assistants
            match: {{target: lab, space: lab, provider: openai, model: "gpt-4*"}}
            approvers: [{SECLEADS}, {APPROVER}]
            approvals: 2
            reminders:
              after: 30s
              repeat: 60s
              escalate_after: 300s
              escalate_to: [{ESCALATE}]
              expire_after: 1h

          - name: lab sandbox
            match: {{target: lab, space: default, provider: openai}}
            auto_approve: {{max_per_requester_per_day: 1}}

          - name: platform on-call
            match: {{requester: {ONCALL}}}
            approvers: [{ONCALL}]
            break_glass: true

          - name: everything else
            match: {{}}
            approvers: [{APPROVER}]

        reminders: {{after: 4h, repeat: 1d, expire_after: 7d}}
        """
    )


@pytest.fixture
def lab_kibana() -> Iterator[FakeKibana]:
    with FakeKibana(api_key=LAB_KEY, spaces=("security",)) as fake:
        fake.add_space("lab", name="Lab space")
        yield fake


@pytest.fixture
def policy_path(tmp_path: Path, kibana: FakeKibana, lab_kibana: FakeKibana) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(enterprise_policy(kibana, lab_kibana), encoding="utf-8")
    return path


@pytest.fixture
def bot(
    database_url: str,
    slack: FakeSlack,
    kibana: FakeKibana,
    lab_kibana: FakeKibana,
    policy_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[BotHarness]:
    monkeypatch.setenv(LAB_KEY_VARIABLE, LAB_KEY)
    slack.add_user(LEAD, name="seclead", real_name="Sec Lead")
    slack.add_user(ESCALATE, name="escalate", real_name="Escalate")
    slack.add_usergroup(SECLEADS, [LEAD, APPROVER_2])
    slack.add_usergroup(ONCALL, [APPROVER_2, LEAD])
    settings = make_settings(
        database_url, slack, kibana, policy_file=policy_path, kibana_url=None, approvers=[]
    )
    with running_bot(settings, slack, kibana) as harness:  # governance: from POLICY_FILE
        yield harness


def _block(view: dict[str, Any], prefix: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if str(b.get("block_id", "")).startswith(prefix))


def _space_options(view: dict[str, Any]) -> list[str]:
    element = _block(view, "field.space")["element"]
    return [option["value"] for option in element.get("options", [])]


def _form(bot: BotHarness, target: str, *, user: str = REQUESTER) -> dict[str, Any]:
    view = bot.open_form(user=user)
    if target != chosen_option(view, "connector_request.target"):
        view = bot.switch_target(view, target, user=user)
    return view


def _values(name: str, model: str = "gpt-4.1", space: str = "lab") -> dict[str, str]:
    return {
        "name": name,
        "space": space,
        "model": model,
        "api_key": f"sk-proj-{name.replace(' ', '')}0123456789abcdef",
        "justification": "acceptance",
    }


def _card_text(bot: BotHarness, reference: str) -> str:
    bot.wait_idle()
    return json.dumps(bot.slack.message(APPROVAL_CHANNEL, bot.card_for(reference)["ts"]))


def _sweep(bot: BotHarness, at: datetime) -> int:
    nudged = reminders.nudge_due_requests(dataclasses.replace(bot.deps, clock=lambda: at))
    bot.wait_idle()
    return nudged


def _reminders(bot: BotHarness, reference: str) -> list[str]:
    card = bot.card_for(reference)
    texts = [m["text"] for m in bot.slack.thread_replies(APPROVAL_CHANNEL, card["ts"])]
    return [text for text in texts if text.startswith(("Reminder:", "Escalat"))]


def _explain(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SLACK_", "KIBANA_", "ELASTICSEARCH_", "POLICY_", "APPROV"))
    }
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bot", "explain-policy", "--policy", str(path), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_form_asks_the_target_first_and_offers_only_its_allowed_spaces(
    bot: BotHarness,
) -> None:
    view = bot.open_form()
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert inputs[0]["block_id"] == "connector_request.target"
    assert [o["text"]["text"] for o in inputs[0]["element"]["options"]] == [
        "Production",
        "AI Lab",
    ]
    lab = bot.switch_target(view, "lab")
    wait_until(lambda: _space_options(bot.current_view(view["id"])), what="the lab spaces")
    assert _space_options(bot.current_view(view["id"])) == ["default", "lab"]
    prod = bot.switch_target(lab, "prod")
    assert _space_options(prod) == ["default", "security"]


def test_the_deny_rule_refuses_with_its_message(bot: BotHarness) -> None:
    view = _form(bot, "prod")
    body = bot.submit_form(view, _values("Old GPT", "gpt-3.5-turbo", "security")).json()
    assert body["response_action"] == "errors", body
    assert "GPT-3 models are retired in production; ask in #ai-platform." in json.dumps(
        body["errors"]
    )
    assert bot.kibana.requests_to("POST", "/api/actions/connector") == []


def test_two_of_n_with_a_group_reminds_shows_on_home_provisions_audits_and_explains(
    bot: BotHarness, kibana: FakeKibana, lab_kibana: FakeKibana, policy_path: Path
) -> None:
    reference = reference_from(bot.submit_form(_form(bot, "lab"), _values("Lab GPT")))
    row = bot.wait_status(reference, "pending")
    assert (row.target, row.space_id) == ("lab", "lab")
    created = row.created_at
    assert "AI Lab" in _card_text(bot, reference)

    bot.open_home(LEAD)
    waiting = bot.home(LEAD, lambda text: reference in text and "approval.approve" in text)
    assert "space `lab` on AI Lab" in json.dumps(waiting)

    bot.click(reference, "approval.approve", user=APPROVER)
    card = _card_text(bot, reference)
    assert f"1 of 2 approvals: <@{APPROVER}>" in card
    assert bot.request_row(reference).status == "pending"

    # The rule's own reminders: 30 s, naming who still has to act (not who already approved).
    assert _sweep(bot, created + 29 * S) == 0
    assert _sweep(bot, created + 31 * S) == 1
    said = _reminders(bot, reference)
    assert len(said) == 1, said
    assert f"<!subteam^{SECLEADS}>" in said[0]
    assert f"<@{APPROVER}>" not in said[0]

    bot.click(reference, "approval.approve", user=LEAD)
    row = bot.wait_status(reference, "tested_ok")
    assert row.decided_by_slack_id == LEAD
    assert row.kibana_connector_id in lab_kibana.connectors("lab")
    for space in ("default", "security"):
        assert kibana.connectors(space) == {}
    assert kibana.requests_to("POST", f"/api/actions/connector/{row.kibana_connector_id}") == []
    bot.wait_idle()
    assert _sweep(bot, created + 95 * S) == 0  # decided: no more reminders

    home = bot.home(LEAD, lambda text: "Nothing waits for you" in text, what="Home refreshed")
    assert "approval.approve" not in json.dumps(home)

    # The audit export names target, space, provider, model and the rule.
    today = datetime.now(UTC).date().isoformat()
    assert bot.command(f"audit {today}", user=APPROVER).status_code == 200
    upload = wait_until(bot.slack.uploads, what="the export uploaded")[0]
    lines = [json.loads(line) for line in upload["content"].decode().splitlines()]
    mine = [line for line in lines if line["request"] == reference]
    assert mine
    for line in mine:
        assert (line["target"], line["space"], line["provider"], line["model"]) == (
            "lab",
            "lab",
            "openai",
            "gpt-4.1",
        ), line
    actions = [line["action"] for line in mine]
    for expected in ("submitted", "approval_counted", "reminded", "approved", "provisioned"):
        assert expected in actions, actions
    submitted = next(line for line in mine if line["action"] == "submitted")
    rule = submitted["detail"]["rule"]
    assert "lab assistants" in rule

    # The operator's explanation of the same file names the same rule.
    explained = _explain(
        policy_path,
        *("--target", "lab", "--space", "lab", "--provider", "openai"),
        *("--model", "gpt-4.1", "--user", REQUESTER),
    )
    assert explained.returncode == 0, explained.stderr
    applies = next(line for line in explained.stdout.splitlines() if " applies" in line)
    assert rule in applies


def test_auto_approve_up_to_its_limit_then_refused(bot: BotHarness, lab_kibana: FakeKibana) -> None:
    first = reference_from(
        bot.submit_form(_form(bot, "lab"), _values("Sandbox one", space="default"))
    )
    row = bot.wait_status(first, "tested_ok")
    assert row.kibana_connector_id in lab_kibana.connectors("default")
    assert "approved by policy rule 3" in _card_text(bot, first).lower()
    body = bot.submit_form(_form(bot, "lab"), _values("Sandbox two", space="default")).json()
    assert body["response_action"] == "errors", body
    assert "limit is 1 per day" in json.dumps(body["errors"])
    today = datetime.now(UTC).date().isoformat()
    bot.command(f"audit {today}", user=LEAD)  # an approver through their user group only
    upload = wait_until(bot.slack.uploads, what="the export uploaded")[0]
    lines = [json.loads(line) for line in upload["content"].decode().splitlines()]
    auto = [line for line in lines if line["action"] == "auto_approved"]
    assert [line["request"] for line in auto] == [first]
    assert "lab sandbox" in json.dumps(auto[0]["detail"])
    assert (auto[0]["target"], auto[0]["space"]) == ("lab", "default")


def test_a_second_targets_unset_key_variable_stops_the_process_in_one_line(
    slack: FakeSlack, kibana: FakeKibana, lab_kibana: FakeKibana, tmp_path: Path
) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(enterprise_policy(kibana, lab_kibana), encoding="utf-8")
    settings = make_settings(f"sqlite:///{tmp_path / 'bot.sqlite3'}", slack, kibana)
    env = bot_environment(settings, [Fernet.generate_key()], port=free_port())
    for name in ("KIBANA_URL", "APPROVERS"):
        del env[name]
    env.pop(LAB_KEY_VARIABLE, None)
    env["POLICY_FILE"] = str(path)
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if "configuration error" in line]
    assert len(errors) == 1, result.stderr
    assert LAB_KEY_VARIABLE in errors[0]
    assert "lab" in errors[0]
    assert "Traceback" not in result.stderr
    assert LAB_KEY not in result.stderr

    # With the variable set, the same file starts the bot (both targets, the file's rules).
    env[LAB_KEY_VARIABLE] = LAB_KEY
    log_path = tmp_path / "bot.log"
    with bot_process(env, cwd=str(tmp_path), log_path=str(log_path)) as process:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    log = log_path.read_text()
    assert "2 target(s), 5 rule(s)" in log
    assert LAB_KEY not in log


def test_the_first_vote_refreshes_the_voters_home_and_the_rule_escalates_then_expires(
    bot: BotHarness, lab_kibana: FakeKibana
) -> None:
    reference = reference_from(bot.submit_form(_form(bot, "lab"), _values("Slow GPT")))
    created = bot.wait_status(reference, "pending").created_at
    bot.card_for(reference)
    bot.open_home(APPROVER)
    bot.open_home(REQUESTER)
    bot.home(APPROVER, lambda text: reference in text and "approval.approve" in text)
    view = bot.home(APPROVER)
    assert bot.click_home(APPROVER, "approval.approve", reference, view=view).status_code == 200
    assert f"1 of 2 approvals: <@{APPROVER}>" in _card_text(bot, reference)
    # APPROVER has voted: nothing waits for them any more; the requester sees the tally.
    bot.home(APPROVER, lambda text: "Nothing waits for you" in text, what="the voter's Home")
    bot.home(REQUESTER, lambda text: f"1 of 2 approvals: <@{APPROVER}>" in text)

    assert _sweep(bot, created + 31 * S) == 1
    assert _sweep(bot, created + 301 * S) >= 1
    said = _reminders(bot, reference)
    assert any(f"<@{ESCALATE}>" in text for text in said), said
    dms = json.dumps(bot.slack.messages_in(bot.slack.dm_channel_for(ESCALATE)))
    assert reference in dms
    assert "space `lab` on AI Lab" in dms  # a DM out of the card's context names the target

    from bot.services import requests

    later = dataclasses.replace(bot.deps, clock=lambda: created + 3601 * S)
    assert requests.expire_due_requests(later) == 1
    row = bot.wait_status(reference, "expired")
    assert row.secrets_ciphertext is None
    card = _card_text(bot, reference)
    assert "approval.approve" not in card
    assert "xpired" in card
    bot.home(REQUESTER, lambda text: reference not in text, what="the expired request gone")
    told = json.dumps(bot.slack.messages_in(bot.slack.dm_channel_for(REQUESTER)))
    assert "Expired: nobody decided in time" in told
    assert lab_kibana.requests_to("POST", "/api/actions/connector") == []


def test_break_glass_under_a_group_rule_tells_the_groups_other_members(
    bot: BotHarness, slack: FakeSlack, kibana: FakeKibana
) -> None:
    view = _form(bot, "prod", user=APPROVER_2)
    response = bot.submit_form(view, _values("Oncall GPT", space="default"), user=APPROVER_2)
    reference = reference_from(response)
    assert bot.request_row(reference).approval_rule is not None
    opened = len(slack.calls_for("views.open"))
    bot.click(reference, "approval.approve", user=APPROVER_2)
    reason_form = slack.wait_for("views.open", count=opened + 1)[-1].response["view"]
    assert reason_form["callback_id"] == "approval.break_glass_reason"
    reason = "INC-7 at night"
    bot.submit_form(reason_form, {"approval.break_glass_reason": reason}, user=APPROVER_2)
    row = bot.wait_status(reference, "tested_ok")
    assert row.kibana_connector_id in kibana.connectors("default")
    bot.wait_idle()
    dms = json.dumps(slack.messages_in(slack.dm_channel_for(LEAD)))
    assert "INC-7" in dms
    assert "space `default` on Production" in dms


def test_status_and_list_follow_targets_and_group_rules(
    bot: BotHarness, kibana: FakeKibana, lab_kibana: FakeKibana
) -> None:
    reference = reference_from(bot.submit_form(_form(bot, "lab"), _values("Seen GPT")))
    bot.card_for(reference)
    bot.command(f"status {reference}", user=LEAD)
    status = json.dumps(bot.slack.wait_for("response_url")[-1].args)
    assert reference in status
    assert "AI Lab" in status
    lab_kibana.add_connector(
        "lab",
        "lab-one",
        {"name": "Lab connector", "connector_type_id": ".gen-ai", "config": {}, "secrets": {}},
    )
    bot.command("list lab lab", user=LEAD)
    listed = json.dumps(bot.slack.wait_for("response_url", count=2)[-1].args)
    assert "Lab connector" in listed


def test_a_provider_switch_keeps_the_target_and_a_kibana_yml_delivery_names_it(
    bot: BotHarness, lab_kibana: FakeKibana
) -> None:
    view = bot.switch_provider(_form(bot, "lab"), "vllm")
    assert chosen_option(view, "connector_request.target") == "lab"
    assert _space_options(view) == ["default", "lab"]
    values = {
        k: v for k, v in samples.valid_values(Provider.VLLM, space="lab").items() if v is not None
    }
    reference = reference_from(bot.submit_form(view, values))
    assert bot.request_row(reference).target == "lab"
    assert bot.click(reference, "approval.deliver_yaml", user=APPROVER).status_code == 200
    dm = bot.slack.wait_for("chat.postMessage", lambda c: c.args["channel"] == APPROVER)[-1]
    assert "every Kibana instance of *AI Lab*" in json.dumps(dm.args)
    bot.wait_status(reference, "delivered")
    assert lab_kibana.requests_to("POST", "/api/actions/connector") == []


def test_one_reject_from_home_by_a_group_member_ends_a_two_of_n_request(
    bot: BotHarness, lab_kibana: FakeKibana
) -> None:
    reference = reference_from(bot.submit_form(_form(bot, "lab"), _values("Rejected GPT")))
    bot.click(reference, "approval.approve", user=APPROVER)
    assert f"1 of 2 approvals: <@{APPROVER}>" in _card_text(bot, reference)
    bot.open_home(LEAD)
    view = bot.home(LEAD, lambda text: reference in text and "approval.reject" in text)
    opened = len(bot.slack.calls_for("views.open"))
    assert bot.click_home(LEAD, "approval.reject", reference, view=view).status_code == 200
    form = bot.slack.wait_for("views.open", count=opened + 1)[-1].response["view"]
    assert bot.submit_form(form, {"__reason": "Use the shared one"}, user=LEAD).status_code == 200
    row = bot.wait_status(reference, "rejected")
    assert (row.decided_by_slack_id, row.secrets_ciphertext) == (LEAD, None)
    card = _card_text(bot, reference)
    assert "approval.approve" not in card
    assert "Rejected" in card
    bot.home(LEAD, lambda text: "Nothing waits for you" in text)
    told = json.dumps(bot.slack.messages_in(bot.slack.dm_channel_for(REQUESTER)))
    assert "Use the shared one" in told
    assert lab_kibana.requests_to("POST", "/api/actions/connector") == []
