"""Every message and view the bot builds, for a request full of hostile text, pings nobody,
disguises no link and shows no URL credential."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from slack_sdk import WebClient

from bot.domain.devtools import EndpointDelivery
from bot.domain.enums import Notice, Provider, RequestStatus
from bot.domain.policy.reminders import EscalationNotice, ReminderNotice
from bot.domain.resources import Resource
from bot.domain.schemas import (
    ApprovalProgress,
    AuditEntry,
    KibanaRetrying,
    Outcome,
    RequestSnapshot,
)
from bot.domain.testing import TestReading as Reading
from bot.kibana.models import Connector
from bot.services.backends.connector import resource_of
from bot.services.catalog import ManagedLlm
from bot.slack.notifier import SlackNotifier
from bot.slack.views import answers
from bot.slack.views.approval_message import build_card_blocks, card_text, status_line
from bot.slack.views.break_glass import break_glass_notice, build_break_glass_view
from bot.slack.views.common import escape, to_dicts
from bot.slack.views.connector_list import build_connector_list
from bot.slack.views.devtools import build_devtools_message
from bot.slack.views.preconfigured import build_yaml_message
from bot.slack.views.reminders import escalation_dm, escalation_message, reminder_message
from bot.slack.views.request_modal import (
    build_managed_llm_view,
    build_reject_view,
    build_request_view,
    build_submitted_view,
)
from bot.slack.views.results import (
    build_outcome_blocks,
    kibana_retrying_message,
    outcome_text,
    requester_message,
    thread_message,
)
from bot.slack.views.status import build_status_blocks
from tests.unit.views.hostile import HOSTILE, HOSTILE_URL, SECRET_IN_URL, problems

REQUESTER = "UREQUESTER1"
APPROVER = "UAPPROVER1"
PEOPLE = (REQUESTER, APPROVER)
NOW = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


def hostile_snapshot(status: RequestStatus, *, ok: bool = True) -> RequestSnapshot:
    """A request whose every piece of text came from a hostile requester or Kibana (as an old
    stored request could have: the space and ids too)."""
    outcome = Outcome(
        stage="test"
        if status in {RequestStatus.TESTED_OK, RequestStatus.TEST_FAILED}
        else "create",
        ok=ok,
        duration_ms=1234,
        reading=Reading(
            model=HOSTILE, reply=HOSTILE, total_tokens=3, prompt_tokens=1, completion_tokens=2
        ),
        message=f"{HOSTILE} calling {HOSTILE_URL}",
        service_message=HOSTILE,
        http_status=400,
        hint=HOSTILE,
    )
    return RequestSnapshot(
        id=7,
        reference="REQ-7K3M9Q",
        status=status,
        provider=Provider.OPENAI_COMPATIBLE,
        provider_label="Other OpenAI-compatible service",
        connector_type_id=".gen-ai",
        connector_name=HOSTILE,
        space_id=HOSTILE,
        kibana_connector_id=HOSTILE,
        config={"apiProvider": "Other", "apiUrl": HOSTILE_URL, "defaultModel": HOSTILE},
        justification=HOSTILE,
        warnings=[HOSTILE, f"The API URL uses plain http ({HOSTILE_URL})"],
        requested_by=REQUESTER,
        card_channel="CAPPROVALS",
        card_ts="1700000000.000100",
        decided_by=APPROVER if status is not RequestStatus.PENDING else None,
        decided_at=NOW if status is not RequestStatus.PENDING else None,
        decision_reason=HOSTILE,
        outcome=outcome if status not in {RequestStatus.PENDING} else None,
        failure_message=HOSTILE,
        created_at=NOW,
        finished_at=None,
        lifetime_days=7,
    )


SNAPSHOTS = [
    pytest.param(hostile_snapshot(status, ok=ok), id=f"{status.value}-{'ok' if ok else 'failed'}")
    for status in RequestStatus
    for ok in (True, False)
]


def _assert_clean(value: Any) -> None:
    found = problems(value, people=PEOPLE)
    assert not found, "\n".join(found)


def _message(text: str, blocks: list[Any]) -> dict[str, Any]:
    return {"text": text, "blocks": to_dicts(blocks)}


@pytest.mark.parametrize("snapshot", SNAPSHOTS)
def test_card_and_results_escape_every_hostile_text(snapshot: RequestSnapshot) -> None:
    _assert_clean(_message(card_text(snapshot), build_card_blocks(snapshot)))
    _assert_clean({"text": status_line(snapshot)})
    _assert_clean(_message(outcome_text(snapshot), build_outcome_blocks(snapshot)))
    for notice in Notice:
        _assert_clean(_message(*requester_message(snapshot, notice)))
        _assert_clean(_message(*thread_message(snapshot, notice)))
    for stage in ("create", "test"):
        retrying = KibanaRetrying(stage=stage, reason=f"{HOSTILE} at {HOSTILE_URL}", until=NOW)
        for in_thread in (True, False):
            _assert_clean(
                _message(*kibana_retrying_message(snapshot, retrying, in_thread=in_thread))
            )


@pytest.mark.parametrize("snapshot", SNAPSHOTS)
def test_status_yaml_and_modals_escape_every_hostile_text(snapshot: RequestSnapshot) -> None:
    history = [
        AuditEntry(action="submitted", actor=REQUESTER, at=NOW),
        AuditEntry(action=HOSTILE, actor=None, at=NOW),
    ]
    _assert_clean(_message(*build_status_blocks(snapshot, history)))
    _assert_clean(_message(*build_yaml_message(snapshot, ["apiKey", HOSTILE])))
    delivery = EndpointDelivery(
        inference_id=HOSTILE,
        service=HOSTILE,
        service_settings={HOSTILE: HOSTILE, "api_key": "<api_key>"},
        task_settings={HOSTILE: [HOSTILE]},
        secret_keys=("api_key", HOSTILE),
    )
    _assert_clean(_message(*build_devtools_message(snapshot, delivery)))
    _assert_clean(build_submitted_view(snapshot).to_dict())
    _assert_clean(build_reject_view(snapshot).to_dict())


def test_the_notifier_posts_nothing_unescaped() -> None:
    calls: list[dict[str, Any]] = []

    class Recorder:
        def chat_postMessage(self, **arguments: Any) -> dict[str, Any]:
            calls.append(arguments)
            return {"channel": arguments["channel"], "ts": "1700000000.000100"}

        def chat_update(self, **arguments: Any) -> dict[str, Any]:
            calls.append(arguments)
            return {}

    notifier = SlackNotifier(
        cast(WebClient, Recorder()), approval_channel="CAPPROVALS", notify_channel="CNOTIFY"
    )
    for status in RequestStatus:
        snapshot = hostile_snapshot(status, ok=status is not RequestStatus.TEST_FAILED)
        notifier.post_card(snapshot)
        notifier.refresh_card(snapshot)
        notifier.notify_channel(snapshot)
        for notice in Notice:
            notifier.reply_in_thread(snapshot, notice)
            notifier.dm_requester(snapshot, notice)
    assert len(calls) == len(RequestStatus) * (3 + 2 * len(Notice))
    for call in calls:
        _assert_clean({key: value for key, value in call.items() if key in {"text", "blocks"}})


def test_kibana_echoes_in_the_list_and_managed_llm_answers_are_escaped() -> None:
    connectors = [
        resource_of(
            Connector(
                id=HOSTILE,
                name=HOSTILE,
                connector_type_id=HOSTILE,
                config={"apiProvider": HOSTILE, "defaultModel": HOSTILE, "apiUrl": HOSTILE_URL},
            )
        ),
        resource_of(
            Connector(
                id="c2",
                name=HOSTILE,
                connector_type_id=".bedrock",
                config={"providerConfig": {"model_id": HOSTILE}},
            )
        ),
    ]
    _assert_clean(_message(*build_connector_list(HOSTILE, connectors)))
    _assert_clean(_message(*build_connector_list(HOSTILE, [])))
    managed = resource_of(Connector(id=HOSTILE, name=HOSTILE, connector_type_id=".inference"))
    _assert_clean(build_managed_llm_view(ManagedLlm(managed)).to_dict())
    _assert_clean(build_managed_llm_view(ManagedLlm(None, HOSTILE)).to_dict())
    endpoint = Resource(
        backend="inference",
        id=HOSTILE,
        name=HOSTILE,
        type_id=HOSTILE,
        provider=HOSTILE,
        model=HOSTILE,
    )
    _assert_clean(_message(*build_connector_list(HOSTILE, [endpoint], [HOSTILE])))
    _assert_clean(build_managed_llm_view(ManagedLlm(None, endpoints=(endpoint,))).to_dict())
    _assert_clean(build_managed_llm_view(ManagedLlm(None, endpoints_problem=HOSTILE)).to_dict())


def test_command_answers_escape_what_was_typed() -> None:
    for text in (
        answers.unknown_verb_text(HOSTILE, "/llm-connector"),
        answers.listing_text(HOSTILE),
        answers.no_space_text(HOSTILE),
        answers.kibana_unreachable_text(HOSTILE),
        answers.cancelled_text(HOSTILE),
        answers.usage("/llm-connector"),
    ):
        _assert_clean({"text": text})


def test_audit_export_messages_escape_what_was_typed() -> None:
    from bot.domain.audit import AuditExport, AuditRange
    from bot.slack.views import audit as audit_views

    period = AuditRange(since=NOW, until=NOW.replace(day=3))
    for truncated in (False, True):
        export = AuditExport(
            period=period, events=3, truncated=truncated, max_bytes=1 << 20, filename="a.jsonl"
        )
        _assert_clean({"text": audit_views.export_comment(export)})
        _assert_clean({"text": audit_views.export_empty_text(export)})
    for text in (
        audit_views.bad_range_text(HOSTILE, "/llm-connector"),
        audit_views.export_refused_text(HOSTILE),
        audit_views.export_queued_text(period),
        audit_views.export_usage("/llm-connector"),
    ):
        _assert_clean({"text": text})


def test_the_form_escapes_kibanas_reasons_and_keeps_typed_values_as_typed() -> None:
    from bot.domain.providers import PROVIDERS

    # Kibana's reasons are only ever for providers with a connector type (services/catalog).
    with_connector = [key for key, spec in PROVIDERS.items() if spec.connector_type_id]
    for spec in PROVIDERS.values():
        carried = {"name": HOSTILE, "justification": HOSTILE, "model": HOSTILE}
        view = build_request_view(
            spec,
            carried=carried,
            unavailable=dict.fromkeys(with_connector, HOSTILE),
            deprecated=[".gen-ai"],
        ).to_dict()
        _assert_clean(view)
        # plain_text inputs show what was typed: not escaped, so not shown as &lt;…
        if spec.provisions:
            initial = [
                b["element"].get("initial_value")
                for b in view["blocks"]
                if b.get("block_id") == "field.name"
            ]
            assert initial == [HOSTILE]


def test_the_walker_catches_raw_hostile_text() -> None:
    """The check itself: raw input in a text, a field or a code span is caught; escaped isn't."""
    assert problems({"text": HOSTILE}, people=PEOPLE)
    assert problems({"text": f"`{HOSTILE}`"}, people=PEOPLE)
    assert problems(
        {"blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": HOSTILE}]}]},
        people=PEOPLE,
    )
    assert problems({"text": f"see {HOSTILE_URL.replace('<!channel>', '')}"}, people=PEOPLE)
    assert problems({"text": escape(escape(HOSTILE))}, people=PEOPLE)
    assert problems({"title": {"type": "plain_text", "text": escape(HOSTILE)}}, people=PEOPLE)
    assert not problems({"text": escape(HOSTILE) + f" <@{REQUESTER}>"}, people=PEOPLE)
    assert SECRET_IN_URL not in escape(HOSTILE_URL)


@pytest.mark.parametrize(
    "url",
    [
        "https://bob:hunter2pass@gw.example/v1/chat/completions",
        f"https://gw.example/v1/chat/completions?api-version=2024-10-21&api_key={SECRET_IN_URL}",
        f"https://gw.example/v1/chat/completions?X-API-KEY={SECRET_IN_URL}&sig=hunter2pass",
    ],
)
def test_a_stored_url_with_credentials_is_never_shown(url: str) -> None:
    """Requests stored before the URL check existed: the card, results and the kibana.yml
    delivery show the URL with its user name/password and credential values redacted."""
    for status in (RequestStatus.PENDING, RequestStatus.TEST_FAILED, RequestStatus.DELIVERED):
        snapshot = hostile_snapshot(status).model_copy(
            update={
                "connector_name": "SOC assistant",
                "space_id": "default",
                "kibana_connector_id": "llm-soc-assistant-k3m9qa",
                "config": {"apiProvider": "Other", "apiUrl": url},
                "warnings": [f"The API URL uses plain http ({url})"],
            }
        )
        card = _message(card_text(snapshot), build_card_blocks(snapshot))
        yaml = _message(*build_yaml_message(snapshot, ["apiKey"]))
        for shown in (card, yaml):
            text = str(shown)
            assert SECRET_IN_URL not in text
            assert "hunter2pass" not in text
            assert "gw.example/v1/chat/completions" in text  # the URL itself is still shown
            assert "[redacted]" in text


def test_change_modals_and_the_diff_block_escape_every_hostile_text() -> None:
    from bot.domain.changes import Current, SettingChange
    from bot.domain.providers import PROVIDERS
    from bot.slack.views.changes import (
        build_change_view,
        build_retire_view,
        build_rotate_view,
        change_diff_blocks,
    )

    for spec in PROVIDERS.values():
        if not spec.provisions:
            continue
        for backend in spec.supported_backends:
            current = Current(
                provider=spec.key,
                backend=backend,
                name=HOSTILE,
                space_id=HOSTILE,
                settings={
                    f.key: HOSTILE_URL if f.key == "api_url" else HOSTILE
                    for f in spec.fields
                    if not f.secret
                },
            )
            _assert_clean(build_change_view(current, managed_id=1, resource_id=HOSTILE).to_dict())
            _assert_clean(build_rotate_view(current, managed_id=1, resource_id=HOSTILE).to_dict())
            _assert_clean(
                build_retire_view(
                    managed_id=1,
                    name=HOSTILE,
                    resource_id=HOSTILE,
                    space_id=HOSTILE,
                    backend=backend,
                ).to_dict()
            )
    diff = [SettingChange(HOSTILE, HOSTILE, HOSTILE_URL), SettingChange(HOSTILE, "", HOSTILE)]
    for kind in ("rotate", "change"):
        blocks = change_diff_blocks(kind, diff, resource_id=HOSTILE)
        _assert_clean({"blocks": to_dicts(blocks)})


def test_a_hostile_target_label_and_kibanas_space_names_are_escaped() -> None:
    from bot.domain.providers import PROVIDERS
    from bot.services.catalog import SpaceOptions

    targets = (("prod", HOSTILE), ("lab", "Lab"))
    for spaces in (
        SpaceOptions((("default", HOSTILE), ("lab", "Lab"))),
        SpaceOptions((("default", "Default"),), note=HOSTILE),
        SpaceOptions(None, note=HOSTILE),
    ):
        for spec in PROVIDERS.values():
            view = build_request_view(
                spec, carried={"space": HOSTILE}, targets=targets, target="prod", spaces=spaces
            )
            _assert_clean(view.to_dict())
    for status in RequestStatus:
        snapshot = hostile_snapshot(status).model_copy(update={"target_label": HOSTILE})
        _assert_clean(_message(card_text(snapshot), build_card_blocks(snapshot)))
        _assert_clean(_message(outcome_text(snapshot), build_outcome_blocks(snapshot)))
        _assert_clean(_message(*build_status_blocks(snapshot, [])))
        _assert_clean(build_submitted_view(snapshot).to_dict())
        for notice in Notice:
            _assert_clean(_message(*requester_message(snapshot, notice)))
            _assert_clean(_message(*thread_message(snapshot, notice)))
        assert HOSTILE not in str(build_card_blocks(snapshot)[1].to_dict())
        if snapshot.connector_type_id is not None:
            _assert_clean(_message(*build_yaml_message(snapshot, ["apiKey"])))
        delivery = EndpointDelivery(
            inference_id="e1",
            service="openai",
            service_settings={"api_key": "<api_key>"},
            task_settings={},
            secret_keys=("api_key",),
        )
        _assert_clean(_message(*build_devtools_message(snapshot, delivery)))
        _assert_clean(build_break_glass_view(snapshot).to_dict())
        _assert_clean(_message(*break_glass_notice(snapshot)))
        reminder = ReminderNotice(waited=timedelta(hours=4), missing=1, to_act=(APPROVER,))
        _assert_clean(_message(*reminder_message(snapshot, reminder)))
        escalation = EscalationNotice(waited=timedelta(days=2), escalate_to=(APPROVER,), to_act=())
        _assert_clean(_message(*escalation_dm(snapshot, escalation)))
    _assert_clean(_message(*build_connector_list(HOSTILE, [], target_label=HOSTILE)))
    endpoint = Resource(backend="inference", id="e1", name=HOSTILE, type_id="chat_completion")
    _assert_clean(_message(*build_connector_list(HOSTILE, [endpoint], target_label=HOSTILE)))
    _assert_clean({"text": answers.no_space_text(HOSTILE, HOSTILE)})
    _assert_clean({"text": answers.kibana_unreachable_text(HOSTILE, HOSTILE)})


def test_the_home_tab_escapes_every_hostile_text() -> None:
    from bot.domain.home import DecisionLine, HomeContent, Listed, Owned
    from bot.slack.views.home import build_home_view

    snapshots = [hostile_snapshot(status) for status in RequestStatus]
    decision = DecisionLine(
        reference="REQ-7K3M9Q",
        connector_name=HOSTILE,
        provider_label=HOSTILE,
        decision="rejected",
        decided_by=APPROVER,
        decided_at=NOW,
        reason=HOSTILE,
    )
    for approver in (True, False):
        content = HomeContent(
            user=APPROVER,
            approver=approver,
            open_requests=Listed(snapshots[:4], 40),
            awaiting=Listed(snapshots[:1], 3),
            connectors=Owned([_hostile_managed()], 20),
            decisions=[decision],
            notice=answers.cancelled_text(HOSTILE),
        )
        _assert_clean(build_home_view(content, command=HOSTILE).to_dict())


GROUP = "S0APPROVERS"


@pytest.mark.parametrize("snapshot", SNAPSHOTS)
def test_reminders_and_escalations_mention_only_the_policys_ids(snapshot: RequestSnapshot) -> None:
    to_act = (APPROVER, GROUP, HOSTILE, "<!channel>")
    reminder = ReminderNotice(waited=timedelta(hours=4), missing=1, to_act=to_act)
    escalation = EscalationNotice(
        waited=timedelta(days=2), escalate_to=(APPROVER, GROUP, HOSTILE), to_act=to_act
    )
    for text, blocks in (
        reminder_message(snapshot, reminder),
        escalation_message(snapshot, escalation),
        escalation_dm(snapshot, escalation),
    ):
        found = problems(_message(text, blocks), people=PEOPLE, groups=[GROUP])
        assert not found, "\n".join(found)


def test_a_reminder_names_who_still_has_to_act() -> None:
    snapshot = hostile_snapshot(RequestStatus.PENDING)
    reminder = ReminderNotice(waited=timedelta(hours=4), missing=1, to_act=("U2", GROUP))
    text, _ = reminder_message(snapshot, reminder)
    assert text == (
        f"Reminder: {snapshot.reference} has waited 4 hours for 1 more approval: "
        f"<@U2> <!subteam^{GROUP}>"
    )


def test_the_notifier_posts_reminders_in_the_thread_and_escalation_dms_to_the_user() -> None:
    calls: list[dict[str, Any]] = []

    class Recorder:
        def chat_postMessage(self, **arguments: Any) -> dict[str, Any]:
            calls.append(arguments)
            return {"channel": arguments["channel"], "ts": "1700000000.000200"}

    notifier = SlackNotifier(
        cast(WebClient, Recorder()), approval_channel="CAPPROVALS", notify_channel=None
    )
    snapshot = hostile_snapshot(RequestStatus.PENDING)
    notice = EscalationNotice(waited=timedelta(days=2), escalate_to=(APPROVER,), to_act=())
    notifier.remind(snapshot, ReminderNotice(waited=timedelta(0), missing=2, to_act=(HOSTILE,)))
    notifier.escalate(snapshot, notice, user=None)
    notifier.escalate(snapshot, notice, user=APPROVER)
    assert [(c["channel"], c.get("thread_ts")) for c in calls] == [
        ("CAPPROVALS", snapshot.card_ts),
        ("CAPPROVALS", snapshot.card_ts),
        (APPROVER, None),
    ]
    for call in calls:
        _assert_clean({key: value for key, value in call.items() if key in {"text", "blocks"}})


def _hostile_managed() -> Any:
    from bot.domain.lifecycle import ManagedState, ManagedSummary

    return ManagedSummary(
        id=3,
        target=HOSTILE,
        space_id=HOSTILE,
        resource_id=HOSTILE,
        backend="connector",
        type_id=HOSTILE,
        name=HOSTILE,
        provider=HOSTILE,
        model=HOSTILE,
        owner=REQUESTER,
        state=ManagedState.FAILING,
        state_reason=HOSTILE,
        reference=HOSTILE,
        last_test_at=NOW,
        last_test_ok=False,
        last_test_latency_ms=12,
        last_test_message=HOSTILE,
        thread_channel="CAPPROVALS",
        thread_ts="1700000000.000100",
    )


def test_lifecycle_messages_escape_every_hostile_text() -> None:
    from bot.domain.lifecycle import Audience, Change, LifecycleEvent, LifecycleNotice
    from bot.slack.listeners.lifecycle import adopt_usage
    from bot.slack.views.lifecycle import (
        adopt_answer_text,
        adopted_message,
        build_inventory_blocks,
        digest_message,
        lifecycle_message,
    )

    connector = _hostile_managed()
    for event in LifecycleEvent:
        notice = LifecycleNotice(
            event=event,
            message=f"{HOSTILE} {HOSTILE_URL}",
            hint=HOSTILE,
            changes=(Change(HOSTILE, HOSTILE, {"x": HOSTILE}),),
            failures=2,
            failing_after=2,
        )
        for audience in Audience:
            _assert_clean(_message(*lifecycle_message(connector, notice, audience=audience)))
    _assert_clean(_message(*adopted_message(connector, adopted_by=APPROVER)))
    _assert_clean(_message(*digest_message([connector])))
    for everyone in (True, False):
        _assert_clean(_message(*build_inventory_blocks([connector], everyone=everyone)))
        _assert_clean(_message(*build_inventory_blocks([], everyone=everyone)))
    _assert_clean({"text": adopt_answer_text(connector)})
    _assert_clean({"text": adopt_usage("/llm-connector")})


def _policy_snapshots() -> list[RequestSnapshot]:
    """Requests under a hostile rule: waiting on N of M with unresolved groups, approved by
    policy, approved by break-glass with a hostile reason."""
    rule = {"index": 0, "label": HOSTILE, "approvers": [HOSTILE], "approvals": 2}
    progress = ApprovalProgress(
        needed=2, approved_by=(APPROVER,), unresolved=((HOSTILE, HOSTILE), ("S0GROUP", HOSTILE))
    )
    pending = hostile_snapshot(RequestStatus.PENDING)
    approved = hostile_snapshot(RequestStatus.APPROVED)
    return [
        pending.model_copy(update={"approval_rule": rule, "progress": progress}),
        approved.model_copy(update={"approval_rule": rule, "auto_approved": True}),
        approved.model_copy(update={"approval_rule": rule, "decided_by": REQUESTER}),
        hostile_snapshot(RequestStatus.TESTED_OK).model_copy(
            update={"approval_rule": rule, "decided_by": REQUESTER}
        ),
    ]


@pytest.mark.parametrize("snapshot", _policy_snapshots())
def test_policy_views_escape_every_hostile_text(snapshot: RequestSnapshot) -> None:
    _assert_clean(_message(card_text(snapshot), build_card_blocks(snapshot)))
    _assert_clean({"text": status_line(snapshot)})
    for notice in Notice:
        _assert_clean(_message(*requester_message(snapshot, notice)))
    _assert_clean(build_submitted_view(snapshot).to_dict())
    _assert_clean(build_break_glass_view(snapshot).to_dict())
    _assert_clean(_message(*break_glass_notice(snapshot)))


def test_change_messages_escape_every_hostile_text() -> None:
    from dataclasses import replace

    from bot.domain.changes import SettingChange
    from bot.domain.enums import RequestKind
    from bot.domain.lifecycle import (
        CHANGE_OUTCOMES,
        Audience,
        LifecycleEvent,
        LifecycleNotice,
        ManagedState,
    )
    from bot.slack.views.connector_actions import connector_buttons, rollback_button
    from bot.slack.views.lifecycle import lifecycle_message

    connector = _hostile_managed()
    for event in (LifecycleEvent.CHANGE_REQUESTED, *CHANGE_OUTCOMES):
        for kind in ("rotate", "change", HOSTILE):
            notice = LifecycleNotice(
                event=event,
                message=f"{HOSTILE} {HOSTILE_URL}",
                hint=HOSTILE,
                actor=REQUESTER,
                request_id=7,
                kind=kind,
            )
            for audience in Audience:
                _assert_clean(_message(*lifecycle_message(connector, notice, audience=audience)))
    for state in ManagedState:
        summary = replace(connector, state=state, expires_at=NOW)
        buttons = connector_buttons(summary)
        if buttons is not None:
            _assert_clean({"blocks": [buttons.to_dict()]})
    _assert_clean({"blocks": [rollback_button(7).to_dict()]})
    diff = (SettingChange(HOSTILE, HOSTILE, HOSTILE),)
    for kind in (RequestKind.ROTATE, RequestKind.CHANGE):
        snapshot = hostile_snapshot(RequestStatus.PENDING).model_copy(
            update={"kind": kind, "change_resource_id": HOSTILE, "change_diff": diff}
        )
        _assert_clean(_message(card_text(snapshot), build_card_blocks(snapshot)))
        for notice_kind in Notice:
            _assert_clean(_message(*requester_message(snapshot, notice_kind)))
    outcome = hostile_snapshot(RequestStatus.TESTED_OK).model_copy(update={"managed": connector})
    _assert_clean(_message(*requester_message(outcome, Notice.OUTCOME)))


@pytest.mark.parametrize("status", list(RequestStatus))
def test_retire_and_extend_views_escape_every_hostile_text(status: RequestStatus) -> None:
    from bot.domain.enums import RequestKind
    from bot.domain.lifecycle import Audience, LifecycleEvent, LifecycleNotice
    from bot.domain.providers.spec import CONNECTOR, INFERENCE
    from bot.slack.listeners.retire import usage
    from bot.slack.views.changes import build_retire_view
    from bot.slack.views.retire import build_extend_view, expiry_buttons, retire_answer

    for kind in (RequestKind.RETIRE, RequestKind.EXTEND):
        snapshot = hostile_snapshot(status).model_copy(
            update={"kind": kind, "managed_id": 3, "config": {"resource_id": HOSTILE}}
        )
        _assert_clean(_message(card_text(snapshot), build_card_blocks(snapshot)))
        _assert_clean({"text": status_line(snapshot), "answer": retire_answer(snapshot)})
        for notice in Notice:
            _assert_clean(_message(*requester_message(snapshot, notice)))
            _assert_clean(_message(*thread_message(snapshot, notice)))
    connector = _hostile_managed()
    for event in LifecycleEvent:
        told = LifecycleNotice(
            event=event, message=HOSTILE, hint=HOSTILE, actor=APPROVER, days=3, reference=HOSTILE
        )
        for audience in Audience:
            _assert_clean(_message(*lifecycle_message_of(connector, told, audience)))
    for max_days in (None, 10):
        _assert_clean(build_extend_view(connector, max_days=max_days).to_dict())
    for backend in (CONNECTOR, INFERENCE):
        view = build_retire_view(
            managed_id=3,
            name=HOSTILE,
            resource_id=HOSTILE,
            space_id=HOSTILE,
            backend=backend,
        )
        _assert_clean(view.to_dict())
    _assert_clean({"blocks": [expiry_buttons(3).to_dict()]})
    for verb in ("retire", "extend"):
        _assert_clean({"text": usage(verb, "/llm-connector")})


def lifecycle_message_of(connector: Any, notice: Any, audience: Any) -> tuple[str, list[Any]]:
    from bot.slack.views.lifecycle import lifecycle_message

    return lifecycle_message(connector, notice, audience=audience)
