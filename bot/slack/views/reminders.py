"""The reminder and escalation messages of a pending request."""

from __future__ import annotations

import re
from datetime import timedelta

from slack_sdk.models.blocks import Block

from bot.domain.policy.reminders import EscalationNotice, ReminderNotice
from bot.domain.schemas import RequestSnapshot
from bot.slack.views.common import code, context, escape, mention, section, space_on, truncate

_USER_ID = re.compile(r"[UW][A-Z0-9]+")
_GROUP_ID = re.compile(r"S[A-Z0-9]+")
_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def slack_mention(slack_id: str) -> str:
    """A mention of a user (``<@U…>``) or a user group (``<!subteam^S…>``); anything else is
    shown as text."""
    if _USER_ID.fullmatch(slack_id):
        return mention(slack_id)
    if _GROUP_ID.fullmatch(slack_id):
        return f"<!subteam^{slack_id}>"
    return code(slack_id)


def mentions(ids: tuple[str, ...]) -> str:
    return " ".join(slack_mention(slack_id) for slack_id in ids)


def waited_text(waited: timedelta) -> str:
    """`4 hours`, `2 days`, `30 seconds`: the largest whole unit."""
    seconds = max(0, int(waited.total_seconds()))
    for name, size in _UNITS:
        if seconds >= size or size == 1:
            count = seconds // size
            return f"{count} {name}{'' if count == 1 else 's'}"
    return "0 seconds"  # pragma: no cover - the loop always returns


def _subject(snapshot: RequestSnapshot) -> str:
    return (
        f"{snapshot.provider_label} connector “{escape(truncate(snapshot.connector_name, 80))}” "
        f"for {mention(snapshot.requested_by)} in space "
        f"{space_on(snapshot.space_id, snapshot.target_label)}"
    )


def reminder_message(
    snapshot: RequestSnapshot, reminder: ReminderNotice
) -> tuple[str, list[Block]]:
    """`Reminder: REQ… has waited 4 hours for 1 more approval: <@U2> <!subteam^S1>`."""
    more = f"{reminder.missing} more approval{'' if reminder.missing == 1 else 's'}"
    who = f": {mentions(reminder.to_act)}" if reminder.to_act else "."
    text = (
        f"Reminder: {escape(snapshot.reference)} has waited {waited_text(reminder.waited)} "
        f"for {more}{who}"
    )
    return text, [section(f":bell: {text}"), context(_subject(snapshot))]


def escalation_message(
    snapshot: RequestSnapshot, escalation: EscalationNotice
) -> tuple[str, list[Block]]:
    """The escalation in the card's thread, mentioning who it is escalated to."""
    text = (
        f"Escalation: {escape(snapshot.reference)} has waited "
        f"{waited_text(escalation.waited)} without a decision. "
        f"{mentions(escalation.escalate_to)}: please decide it or find an approver."
    )
    blocks: list[Block] = [section(f":rotating_light: {text}")]
    if escalation.to_act:
        blocks.append(context(f"Still to act: {mentions(escalation.to_act)}"))
    blocks.append(context(_subject(snapshot)))
    return text, blocks


def escalation_dm(
    snapshot: RequestSnapshot, escalation: EscalationNotice
) -> tuple[str, list[Block]]:
    """The DM to one person the request is escalated to."""
    text = (
        f"{escape(snapshot.reference)} is escalated to you: it has waited "
        f"{waited_text(escalation.waited)} for approval. Its card is in the approvals channel."
    )
    return text, [section(f":rotating_light: {text}"), context(_subject(snapshot))]
