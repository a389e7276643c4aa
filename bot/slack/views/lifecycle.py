"""Messages of the connector lifecycle: the thread story, DMs, the notify channel, the
digest, the adopt message and the inventory listing."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block

from bot.domain.lifecycle import (
    Audience,
    Change,
    LifecycleEvent,
    LifecycleNotice,
    ManagedState,
    ManagedSummary,
)
from bot.slack.views.common import code, context, escape, mention, section, slack_date, truncate
from bot.slack.views.connector_actions import rollback_button
from bot.slack.views.retire import MANAGED_HEADLINES, expiry_buttons

MAX_LISTED = 30
STATE_ICON = {
    ManagedState.ACTIVE: ":large_green_circle:",
    ManagedState.FAILING: ":red_circle:",
    ManagedState.DRIFTED: ":large_orange_circle:",
    ManagedState.EXPIRED: ":white_circle:",
    ManagedState.RETIRED: ":black_circle:",
}


def _name(connector: ManagedSummary) -> str:
    return f"*{escape(truncate(connector.name, 80))}*"


def _where(connector: ManagedSummary) -> str:
    space = (
        "cluster-wide" if connector.backend == "inference" else f"space {code(connector.space_id)}"
    )
    return f"{code(connector.resource_id)} ({space}, {escape(connector.target)})"


def _plain(text: str) -> str:
    return text.replace("*", "")


def _value(value: Any) -> str:
    shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return code(truncate(shown, 150))


def _changes(changes: Sequence[Change]) -> str:
    return "\n".join(
        f"• {code(change.key)}: {_value(change.old)} → {_value(change.new)}" for change in changes
    )


SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,30}")


def _why(notice: LifecycleNotice) -> str:
    lines = []
    if notice.message:
        lines.append(f"It said: {escape(truncate(notice.message, 600))}")
    if notice.hint:
        lines.append(f"Likely cause: {escape(truncate(notice.hint, 600))}")
    return "\n".join(lines)


def _headline(connector: ManagedSummary, notice: LifecycleNotice) -> str:
    name = _name(connector)
    event = notice.event
    if event is LifecycleEvent.FAILING:
        return (
            f":red_circle: {name} is *failing*: its re-test failed {notice.failures} times in a "
            "row."
        )
    if event is LifecycleEvent.RETEST_FAILED:
        after = max(notice.failing_after, notice.failures)
        return (
            f":warning: Re-test of {name} failed ({notice.failures} of {after} before it "
            "counts as failing)."
        )
    if event is LifecycleEvent.RECOVERED:
        return f":large_green_circle: {name} passes its re-test again: *active*."
    if event is LifecycleEvent.DRIFTED:
        return (
            f":large_orange_circle: {name} was changed outside the bot (*drifted*). "
            "Nothing was changed back."
        )
    if event is LifecycleEvent.TRANSFERRED:
        by = f" by {mention(notice.actor)}" if notice.actor else ""
        previous = notice.message or ""
        before = f" from {mention(previous)}" if SLACK_USER.fullmatch(previous) else ""
        return f":bust_in_silhouette: {name} now belongs to {mention(connector.owner)}{before}{by}."
    if event in MANAGED_HEADLINES:
        return MANAGED_HEADLINES[event](connector, notice)
    if event is LifecycleEvent.DELETED:
        return (
            f":black_circle: {name} was {escape(notice.message or 'deleted')}: *retired*. "
            "The bot no longer tests it."
        )
    change = _change_headline(name, notice)
    if change is not None:
        return change
    return f"{name}: {escape(event.value)}"


def _change_headline(name: str, notice: LifecycleNotice) -> str | None:
    """The thread lines of a rotation or change (``message`` holds the change's reference
    for a request, else what Kibana or the test said)."""
    what = "key rotation" if notice.kind == "rotate" else "change"
    who = f" by {mention(notice.actor)}" if notice.actor else ""
    event = notice.event
    if event is LifecycleEvent.CHANGE_REQUESTED:
        return (
            f":arrows_counterclockwise: A {what} of {name} was requested{who} "
            f"({escape(notice.message or '')}); it goes through approval."
        )
    if event is LifecycleEvent.CHANGED:
        return f":white_check_mark: {name} was updated in place ({what}) and its test passed."
    if event is LifecycleEvent.CHANGE_TEST_FAILED:
        offer = (
            " The owner or an approver can roll the settings back."
            if notice.kind == "change"
            else ""
        )
        return f":x: {name} was updated in place ({what}), but its test *failed*.{offer}"
    if event is LifecycleEvent.CHANGE_FAILED:
        return f":x: The {what} of {name} could not be made: nothing was changed."
    if event is LifecycleEvent.ROLLED_BACK:
        return f":leftwards_arrow_with_hook: {name} was rolled back to its previous settings{who}."
    if event is LifecycleEvent.ROLLBACK_FAILED:
        return f":x: The rollback of {name}{who} did not work."
    return None


def lifecycle_message(
    connector: ManagedSummary, notice: LifecycleNotice, *, audience: Audience
) -> tuple[str, list[Block]]:
    """One lifecycle event, for the connector's thread, its owner or the notify channel."""
    headline = _headline(connector, notice)
    body = _changes(notice.changes) if notice.changes else _why(notice)
    if audience is Audience.CHANNEL:
        text = f"{headline} {_where(connector)}, owner {mention(connector.owner)}"
        return _plain(text), [section(text)]
    blocks: list[Block] = [section(headline)]
    quiet = {LifecycleEvent.CHANGE_REQUESTED, LifecycleEvent.TRANSFERRED}  # said in headline
    if body and notice.event not in quiet:
        blocks.append(section(body))
    if (
        notice.event is LifecycleEvent.CHANGE_TEST_FAILED
        and notice.kind == "change"
        and notice.request_id is not None
    ):
        blocks.append(rollback_button(notice.request_id))
    footer = _where(connector)
    if connector.reference:
        footer += f" · {escape(connector.reference)}"
    blocks.append(context(footer))
    if audience is Audience.OWNER and notice.event is LifecycleEvent.EXPIRING:
        blocks.append(expiry_buttons(connector.id))
    return _plain(f"{headline} {_where(connector)}"), blocks


def adopted_message(connector: ManagedSummary, *, adopted_by: str) -> tuple[str, list[Block]]:
    """The root message of an adopted connector: its thread from now on."""
    what = " · ".join(
        part
        for part in (
            code(connector.type_id),
            escape(connector.provider),
            f"model {escape(connector.model)}" if connector.model else "",
        )
        if part
    )
    text = (
        f":inbox_tray: {mention(adopted_by)} adopted {_name(connector)} {_where(connector)} "
        f"({what}); owner {mention(connector.owner)}."
    )
    note = "The bot re-tests it on schedule and tells this thread what happens to it."
    return _plain(text), [section(text), context(note)]


def digest_message(failing: Sequence[ManagedSummary]) -> tuple[str, list[Block]]:
    """The daily list of failing connectors."""
    title = f":red_circle: {len(failing)} managed connector(s) failing their re-tests"
    lines = []
    for connector in failing[:MAX_LISTED]:
        since = f" since {slack_date(connector.last_test_at)}" if connector.last_test_at else ""
        why = f": {escape(truncate(connector.state_reason, 120))}" if connector.state_reason else ""
        lines.append(
            f"• {_name(connector)} {_where(connector)}, owner {mention(connector.owner)}"
            f"{since}{why}"
        )
    blocks: list[Block] = [section(f"*{title}*"), section("\n".join(lines))]
    if len(failing) > MAX_LISTED:
        blocks.append(context(f"…and {len(failing) - MAX_LISTED} more."))
    return _plain(title), blocks


def _line(connector: ManagedSummary) -> str:
    parts = [
        f"{STATE_ICON[connector.state]} {_name(connector)}",
        _where(connector),
        escape(connector.state.value)
        + (f" ({escape(truncate(connector.state_reason, 80))})" if connector.state_reason else ""),
        f"owner {mention(connector.owner)}",
    ]
    if connector.last_test_at is not None:
        result = "ok" if connector.last_test_ok else "failed"
        latency = (
            f", {connector.last_test_latency_ms} ms"
            if connector.last_test_latency_ms is not None
            else ""
        )
        parts.append(f"last test {result}{latency} {slack_date(connector.last_test_at)}")
    return " · ".join(parts)


def build_inventory_blocks(
    connectors: Sequence[ManagedSummary], *, everyone: bool
) -> tuple[str, list[Block]]:
    """The inventory a person may see: everything (approvers) or their own connectors."""
    whose = "The bot manages" if everyone else "You own"
    if not connectors:
        text = f"{whose} no connectors yet."
        return text, [section(text)]
    text = f"{whose} {len(connectors)} connector(s)"
    lines = [f"• {_line(connector)}" for connector in connectors[:MAX_LISTED]]
    blocks: list[Block] = [section(f"*{text}*")]
    chunk: list[str] = []
    for line in lines:
        if sum(len(item) + 1 for item in chunk) + len(line) > 2800:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    blocks.append(section("\n".join(chunk)))
    if len(connectors) > MAX_LISTED:
        blocks.append(context(f"…and {len(connectors) - MAX_LISTED} more."))
    return text, blocks


def adopt_answer_text(connector: ManagedSummary) -> str:
    """What the approver who adopted sees."""
    return (
        f"Adopted {_name(connector)} {_where(connector)}, owner {mention(connector.owner)}. "
        "Its first re-test runs now; its story goes to a new thread in the approval channel."
    )
