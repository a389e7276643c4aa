"""Approvals by policy, driven as Slack drives the bot: the rule stored at submit, N of M
approvers, user groups, break-glass, auto-approve with its daily limit, deny and no rule."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from bot.db.models import ApprovalDecision, AuditEvent
from bot.db.session import session_scope
from bot.domain.policy.model import AutoApprove, Match, PolicyDocument, Rule
from bot.domain.targets import DEFAULT_TARGET, Target
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    APPROVER_2,
    REQUESTER,
    STRANGER,
    BotHarness,
    find_button,
    make_settings,
    reference_from,
)

APPROVER_3 = "UAPPROVER3"
GROUP = "S0APPROVERS"
GOOD = {
    "name": "Team GPT",
    "space": "security",
    "model": "gpt-4.1",
    "api_key": "sk-proj-policyflow0123456789",
    "justification": "Observability AI Assistant",
}
StartBot = Callable[..., BotHarness]


def policy(*rules: Rule) -> PolicyDocument:
    target = Target(key=DEFAULT_TARGET, kibana_url="https://kibana.example", label="Production")
    return PolicyDocument(targets=(target,), rules=rules)


@pytest.fixture
def start_bot(database_url: str, slack: FakeSlack, kibana: FakeKibana) -> Iterator[StartBot]:
    slack.add_user(APPROVER_3, name="approver3")
    started: list[BotHarness] = []

    def start(document: PolicyDocument) -> BotHarness:
        # The policy's target is the fake Kibana (its label is what the tests read).
        here = tuple(replace(target, kibana_url=kibana.url) for target in document.targets)
        document = replace(document, targets=here)
        harness = BotHarness(
            settings=make_settings(database_url, slack, kibana),
            slack=slack,
            kibana=kibana,
            governance=document,
        ).start()
        started.append(harness)
        return harness

    yield start
    for harness in started:
        harness.stop()


def _pending(bot: BotHarness, *, user: str = REQUESTER, name: str = GOOD["name"]) -> str:
    reference = reference_from(bot.request_via_form({**GOOD, "name": name}, user=user))
    bot._first_cards[reference] = bot.card_for(reference)
    return reference


def _card_text(bot: BotHarness, reference: str) -> str:
    bot.wait_idle()
    return json.dumps(bot.slack.message(APPROVAL_CHANNEL, bot.card_for(reference)["ts"]))


def _private(bot: BotHarness, count: int) -> str:
    return str(bot.slack.wait_for("response_url", count=count)[-1].args["text"])


def _votes(bot: BotHarness, reference: str) -> list[tuple[str, str, bool]]:
    request_id = bot.request_row(reference).id
    with session_scope(bot.deps.session_factory) as session:
        rows = session.scalars(
            select(ApprovalDecision)
            .where(ApprovalDecision.request_id == request_id)
            .order_by(ApprovalDecision.id)
        ).all()
        return [(row.decided_by_slack_id, row.decision, row.break_glass) for row in rows]


def _audit(bot: BotHarness, reference: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    request_id = bot.request_row(reference).id
    with session_scope(bot.deps.session_factory) as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.request_id == request_id).order_by(AuditEvent.id)
        ).all()
        return [(row.action, row.actor_slack_id, dict(row.detail)) for row in rows]


def _creates(bot: BotHarness, reference: str) -> int:
    connector_id = bot.request_row(reference).kibana_connector_id
    return len(bot.kibana.requests_to("POST", f"/api/actions/connector/{connector_id}"))


def _provider_error(response: Any) -> str:
    body = response.json()
    assert body["response_action"] == "errors", body
    return str(body["errors"]["connector_request.provider"])


TWO_OF_THREE = policy(Rule(index=0, approvers=(APPROVER, APPROVER_2, APPROVER_3), approvals=2))


def test_two_of_three_counts_each_approver_once_and_provisions_once(start_bot: StartBot) -> None:
    bot = start_bot(TWO_OF_THREE)
    reference = _pending(bot)
    assert "Waiting for 2 approvals" in _card_text(bot, reference)

    bot.click(reference, "approval.approve", user=APPROVER)
    card = _card_text(bot, reference)
    assert f"1 of 2 approvals: <@{APPROVER}>" in card
    assert "approval.approve" in card  # still waiting: the buttons stay
    assert bot.request_row(reference).status == "pending"
    assert _creates(bot, reference) == 0

    bot.click(reference, "approval.approve", user=APPROVER)
    assert _private(bot, 1) == f"You already approved {reference}; 1 of 2 so far."

    bot.click(reference, "approval.approve", user=APPROVER_2)
    row = bot.wait_status(reference, "tested_ok")
    assert row.decided_by_slack_id == APPROVER_2
    assert _creates(bot, reference) == 1
    assert _votes(bot, reference) == [
        (APPROVER, "approved", False),
        (APPROVER_2, "approved", False),
    ]
    actions = [action for action, _, _ in _audit(bot, reference)]
    assert actions.count("approval_counted") == 1
    assert actions.count("approved") == 1
    assert "approval.approve" not in _card_text(bot, reference)


def test_a_reject_after_one_approval_ends_it(start_bot: StartBot) -> None:
    bot = start_bot(TWO_OF_THREE)
    reference = _pending(bot)
    bot.click(reference, "approval.approve", user=APPROVER)
    bot.wait_idle()
    response = bot.reject(reference, "Not for this team", user=APPROVER_2)
    assert response.status_code == 200, response.text
    row = bot.wait_status(reference, "rejected")
    assert row.secrets_ciphertext is None
    assert row.decided_by_slack_id == APPROVER_2
    assert "Rejected" in _card_text(bot, reference)
    assert _creates(bot, reference) == 0


def test_delivery_is_refused_when_the_rule_needs_several_approvals(start_bot: StartBot) -> None:
    bot = start_bot(TWO_OF_THREE)
    reference = _pending(bot)
    bot.click(reference, "approval.deliver_yaml", user=APPROVER)
    assert "needs 2 approvals (rule 1)" in _private(bot, 1)
    assert bot.request_row(reference).status == "pending"
    assert _votes(bot, reference) == []


def test_group_members_can_approve_and_others_cannot(start_bot: StartBot, slack: FakeSlack) -> None:
    slack.add_usergroup(GROUP, [APPROVER_2])
    bot = start_bot(policy(Rule(index=0, approvers=(GROUP,))))
    reference = _pending(bot)
    bot.click(reference, "approval.approve", user=STRANGER)
    assert "Only the configured approvers" in _private(bot, 1)
    bot.click(reference, "approval.approve", user=APPROVER)  # an APPROVERS user, not in it
    assert "Only the configured approvers" in _private(bot, 2)
    assert bot.request_row(reference).status == "pending"
    bot.click(reference, "approval.approve", user=APPROVER_2)
    assert bot.wait_status(reference, "tested_ok").decided_by_slack_id == APPROVER_2
    lookups = slack.calls_for("usergroups.users.list")
    assert lookups
    assert all(call.args["usergroup"] == GROUP for call in lookups)
    # Status visibility follows the policy too.
    bot.command(f"status {reference}", user=APPROVER_2)
    assert reference in json.dumps(slack.wait_for("response_url", count=3)[-1].args)


@pytest.mark.parametrize("broken", ["no_such_subteam", "missing_scope"])
def test_a_group_that_does_not_resolve_warns_at_start_and_on_the_card(
    start_bot: StartBot, slack: FakeSlack, caplog: pytest.LogCaptureFixture, broken: str
) -> None:
    if broken == "missing_scope":
        slack.add_usergroup("S0MISSING", [APPROVER_2])
        slack.scopes.discard("usergroups:read")
    with caplog.at_level(logging.WARNING, logger="bot.services.directory"):
        bot = start_bot(policy(Rule(index=0, approvers=("S0MISSING", APPROVER))))
    warnings = [r.getMessage() for r in caplog.records if "S0MISSING" in r.getMessage()]
    assert warnings, caplog.text
    assert broken in warnings[0]
    reference = _pending(bot)
    card = _card_text(bot, reference)
    assert (
        f"User group `S0MISSING` could not be resolved ({broken}): its members can't approve "
        "until it does."
    ) in card
    bot.click(reference, "approval.approve", user=APPROVER_2)
    assert "Only the configured approvers" in _private(bot, 1)
    bot.click(reference, "approval.approve", user=APPROVER)
    bot.wait_status(reference, "tested_ok")


BREAK_GLASS = policy(
    Rule(index=0, name="on-call", approvers=(REQUESTER, APPROVER, APPROVER_2), break_glass=True)
)


def _open_break_glass(bot: BotHarness, reference: str) -> dict[str, Any]:
    opened = len(bot.slack.calls_for("views.open"))
    assert bot.click(reference, "approval.approve", user=REQUESTER).status_code == 200
    view = bot.slack.wait_for("views.open", count=opened + 1)[-1].response["view"]
    assert view["callback_id"] == "approval.break_glass_reason"
    return dict(view)


def test_break_glass_needs_a_reason_then_approves_at_once_and_tells_the_others(
    start_bot: StartBot, slack: FakeSlack
) -> None:
    bot = start_bot(BREAK_GLASS)
    reference = _pending(bot)
    view = _open_break_glass(bot, reference)
    blank = bot.submit_form(view, {"approval.break_glass_reason": "  "}, user=REQUESTER)
    assert "Give a reason" in blank.json()["errors"]["approval.break_glass_reason"]
    assert bot.request_row(reference).status == "pending"

    reason = "Prod incident INC-42, nobody else online"
    done = bot.submit_form(view, {"approval.break_glass_reason": reason}, user=REQUESTER)
    assert done.status_code == 200
    assert done.text == ""
    row = bot.wait_status(reference, "tested_ok")
    assert (row.decided_by_slack_id, row.decision_reason) == (REQUESTER, reason)
    assert f"Approved by <@{REQUESTER}> (break-glass: {reason})" in _card_text(bot, reference)
    assert _votes(bot, reference) == [(REQUESTER, "approved", True)]
    assert ("break_glass", REQUESTER, {"reason": reason}) in _audit(bot, reference)
    for other in (APPROVER, APPROVER_2):
        dms = json.dumps(slack.messages_in(slack.dm_channel_for(other)))
        assert "break-glass" in dms, other
        assert "INC-42" in dms, other
    assert "break-glass" not in json.dumps(slack.messages_in(slack.dm_channel_for(STRANGER)))
    assert _creates(bot, reference) == 1


def test_break_glass_by_someone_else_or_without_the_rule_is_refused(
    start_bot: StartBot,
) -> None:
    bot = start_bot(policy(Rule(index=0, approvers=(REQUESTER, APPROVER))))
    reference = _pending(bot)
    bot.click(reference, "approval.approve", user=REQUESTER)
    assert "own request" in _private(bot, 1)
    assert bot.slack.calls_for("views.open")[-1].response["view"]["callback_id"] != (
        "approval.break_glass_reason"
    )
    assert bot.request_row(reference).status == "pending"
    assert ("decision_refused", REQUESTER, {"why": "own_request"}) in _audit(bot, reference)


def test_a_stale_break_glass_form_after_a_decision_is_told_what_happened(
    start_bot: StartBot,
) -> None:
    bot = start_bot(BREAK_GLASS)
    reference = _pending(bot)
    view = _open_break_glass(bot, reference)
    bot.click(reference, "approval.approve", user=APPROVER)
    bot.wait_status(reference, "tested_ok")
    late = bot.submit_form(view, {"approval.break_glass_reason": "urgent"}, user=REQUESTER)
    assert "already approved" in late.json()["errors"]["approval.break_glass_reason"]
    assert _votes(bot, reference) == [(APPROVER, "approved", False)]


AUTO = Rule(index=0, match=Match(providers=frozenset({"openai"})), auto_approve=AutoApprove(2))


def test_auto_approve_under_the_limit_then_refused_at_it(start_bot: StartBot) -> None:
    bot = start_bot(policy(AUTO))
    first = reference_from(bot.request_via_form(GOOD))
    assert bot.wait_status(first, "tested_ok").decided_by_slack_id is None
    assert "Approved by policy rule 1 (auto-approve, 1 of 2 today)" in _card_text(bot, first)
    audit = _audit(bot, first)
    assert ("auto_approved", None, {"rule": "rule 1", "count": 1, "limit": 2}) in audit
    dms = json.dumps(bot.slack.messages_in(bot.slack.dm_channel_for(REQUESTER)))
    assert "approved by policy rule 1" in dms
    assert "waiting for an approver" not in dms

    second = bot.request_via_form({**GOOD, "name": "Team GPT 2"})
    assert "approved by policy rule 1 (auto-approve, 2 of 2 today)" in json.dumps(second.json())
    refused = bot.request_via_form({**GOOD, "name": "Team GPT 3"})
    assert _provider_error(refused) == "You've had 2 auto-approved today; the limit is 2 per day."
    # Another requester has a limit of their own.
    other = reference_from(bot.request_via_form({**GOOD, "name": "Other"}, user=STRANGER))
    bot.wait_status(other, "tested_ok")


def test_at_the_limit_a_rule_with_approvers_asks_them_instead(start_bot: StartBot) -> None:
    rule = Rule(index=0, approvers=(APPROVER,), auto_approve=AutoApprove(1))
    bot = start_bot(policy(rule))
    first = reference_from(bot.request_via_form(GOOD))
    bot.wait_status(first, "tested_ok")
    second = _pending(bot, name="Team GPT 2")
    assert bot.request_row(second).status == "pending"
    bot.click(second, "approval.approve", user=APPROVER)
    bot.wait_status(second, "tested_ok")


def test_a_deny_rule_refuses_at_submit_with_its_message(start_bot: StartBot) -> None:
    deny = Rule(
        index=0,
        match=Match(providers=frozenset({"openai"}), spaces=frozenset({"security"})),
        allow=False,
        message="OpenAI is not allowed in security; ask in #ai-platform.",
    )
    bot = start_bot(policy(deny, Rule(index=1, approvers=(APPROVER,))))
    refused = bot.request_via_form(GOOD)
    assert _provider_error(refused) == "OpenAI is not allowed in security; ask in #ai-platform."
    allowed = reference_from(bot.request_via_form({**GOOD, "space": "default"}))
    assert bot.request_row(allowed).rule_index == 1


def test_a_request_no_rule_covers_is_refused_at_submit(start_bot: StartBot) -> None:
    only_bedrock = Rule(index=0, match=Match(providers=frozenset({"bedrock"})), approvers=("U1",))
    bot = start_bot(policy(only_bedrock))
    refused = bot.request_via_form(GOOD)
    assert _provider_error(refused) == (
        "No approval rule covers openai in space 'security' of Production: ask an admin."
    )
    assert bot.slack.messages_in(APPROVAL_CHANNEL) == []


def test_the_rule_is_kept_at_submit_whatever_the_policy_says_later(start_bot: StartBot) -> None:
    bot = start_bot(TWO_OF_THREE)
    reference = _pending(bot)
    stored = bot.request_row(reference)
    assert stored.rule_index == 0
    assert stored.approval_rule is not None
    assert stored.approval_rule["approvals"] == 2
    # A replica started with a changed policy (one approval) on the same database.
    later = start_bot(policy(Rule(index=0, approvers=(APPROVER,))))
    later._first_cards[reference] = bot._first_cards[reference]
    later.click(reference, "approval.approve", user=APPROVER)
    later.wait_idle()
    assert later.request_row(reference).status == "pending"  # still 1 of 2


@pytest.mark.parametrize("earlier", [(), (APPROVER_3,)], ids=["first-and-last", "two-last"])
def test_concurrent_last_votes_approve_exactly_once(
    start_bot: StartBot, earlier: tuple[str, ...]
) -> None:
    bot = start_bot(TWO_OF_THREE)
    for attempt in range(3):
        reference = _pending(bot, name=f"Team GPT {attempt}")
        for user in earlier:
            bot.click(reference, "approval.approve", user=user)
        card = bot._first_cards[reference]
        barrier = threading.Barrier(2)

        def vote(
            user: str, card: dict[str, Any] = card, barrier: threading.Barrier = barrier
        ) -> int:
            payload = {
                "type": "block_actions",
                "user": {"id": user},
                "trigger_id": bot.slack.issue_trigger_id(),
                "response_url": bot.slack.response_url(),
                "container": {
                    "type": "message",
                    "channel_id": APPROVAL_CHANNEL,
                    "message_ts": card["ts"],
                },
                "channel": {"id": APPROVAL_CHANNEL},
                "message": card,
                "actions": [
                    {**find_button(card, "approval.approve"), "block_id": "approval.actions"}
                ],
            }
            barrier.wait()
            return bot.interact(payload).status_code

        # With no earlier vote, both are the first and the last at once: neither may miss the
        # other; after one, both are the last: only one may approve.
        with ThreadPoolExecutor(2) as pool:
            assert list(pool.map(vote, [APPROVER, APPROVER_2])) == [200, 200]
        bot.wait_status(reference, "tested_ok")
        bot.wait_idle()
        actions = [action for action, _, _ in _audit(bot, reference)]
        assert actions.count("approved") == 1
        assert actions.count("approval_counted") == 1
        assert _creates(bot, reference) == 1
        assert len(_votes(bot, reference)) == 2


def test_a_requester_group_rule_matches_its_members_only(
    start_bot: StartBot, slack: FakeSlack
) -> None:
    slack.add_usergroup("S0LABTEAM", [STRANGER])
    lab = Rule(
        index=0,
        match=Match(requesters=frozenset({"S0LABTEAM"})),
        auto_approve=AutoApprove(5),
    )
    bot = start_bot(policy(lab, Rule(index=1, approvers=(APPROVER,))))
    member = reference_from(bot.request_via_form(GOOD, user=STRANGER))
    assert bot.wait_status(member, "tested_ok").rule_index == 0
    other = _pending(bot, name="Team GPT 2")
    row = bot.request_row(other)
    assert (row.status, row.rule_index) == ("pending", 1)


def test_two_submits_at_once_cannot_both_take_the_last_auto_approval(
    start_bot: StartBot,
) -> None:
    bot = start_bot(policy(Rule(index=0, auto_approve=AutoApprove(1))))
    views = [bot.open_form(), bot.open_form()]
    barrier = threading.Barrier(2)

    def submit(pair: tuple[dict[str, Any], str]) -> dict[str, Any]:
        view, name = pair
        barrier.wait()
        return dict(bot.submit_form(view, {**GOOD, "name": name}).json())

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(submit, [(views[0], "Team GPT A"), (views[1], "Team GPT B")]))
    actions = sorted(str(answer["response_action"]) for answer in answers)
    assert actions == ["errors", "update"], answers
    refused = next(answer for answer in answers if answer["response_action"] == "errors")
    assert "the limit is 1 per day" in refused["errors"]["connector_request.provider"]


def test_a_counted_vote_takes_the_request_off_the_voters_home(start_bot: StartBot) -> None:
    bot = start_bot(TWO_OF_THREE)
    reference = _pending(bot)
    bot.open_home(APPROVER)
    bot.home(APPROVER, lambda text: reference in text and "approval.approve" in text)
    bot.click(reference, "approval.approve", user=APPROVER)
    assert f"1 of 2 approvals: <@{APPROVER}>" in _card_text(bot, reference)
    # Still pending (no state change), yet APPROVER has nothing left to decide.
    bot.home(APPROVER, lambda text: "Nothing waits for you" in text, what="the voter's Home")
