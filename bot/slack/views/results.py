"""Messages about what happened to a request: thread replies, DMs, the notify-channel line."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.domain.devtools import DELIVERED_REASON
from bot.domain.enums import Notice, RequestKind, RequestStatus
from bot.domain.lifetime import lifetime_text
from bot.domain.schemas import KibanaRetrying, Outcome, RequestSnapshot
from bot.domain.streaming_check import SecondCheckResult
from bot.slack.views.approval_message import approved_by, status_line
from bot.slack.views.common import (
    code,
    code_block,
    context,
    escape,
    fields_section,
    mention,
    section,
    slack_date,
    space_on,
    truncate,
)
from bot.slack.views.connector_actions import connector_buttons
from bot.slack.views.retire import MANAGED_KINDS

S = RequestStatus


def _subject(snapshot: RequestSnapshot) -> str:
    return (
        f"*{snapshot.reference}* · {escape(snapshot.connector_name)} "
        f"({snapshot.provider_label}, space {space_on(snapshot.space_id, snapshot.target_label)})"
    )


def outcome_headline(snapshot: RequestSnapshot) -> str:
    if snapshot.status is S.DELIVERED and snapshot.decision_reason == DELIVERED_REASON:
        return (
            f":package: Approved by {mention(snapshot.decided_by or '')} as a Dev Tools "
            "request: an Elasticsearch admin creates the inference endpoint (cluster-wide) with "
            "it, then Kibana's AI features can use it."
        )
    if snapshot.status is S.DELIVERED:
        return (
            f":package: Approved by {mention(snapshot.decided_by or '')} as a kibana.yml "
            "preconfigured connector: a Kibana admin adds it to kibana.yml and restarts Kibana, "
            "then it appears in every space."
        )
    noun, who = _made_by(snapshot)
    if snapshot.status is S.TESTED_OK:
        return f":large_green_circle: {noun.capitalize()} created and tested: it works."
    if snapshot.status is S.TEST_FAILED:
        return f":warning: {noun.capitalize()} created, but its test failed."
    if snapshot.outcome and snapshot.outcome.unreachable:
        return f":x: {who} could not be reached: the {noun} was not created."
    return f":x: {who} did not create the {noun}."


def _made_by(snapshot: RequestSnapshot) -> tuple[str, str]:
    """What the request makes, and who makes it: a connector in Kibana, or an inference
    endpoint in Elasticsearch."""
    if snapshot.backend == "inference":
        return "inference endpoint", "Elasticsearch"
    return "connector", "Kibana"


def build_outcome_blocks(snapshot: RequestSnapshot) -> list[Block]:
    """Outcome, time taken, the model that answered, the start of its reply, token usage;
    or Kibana's message and service message with a likely cause and fix."""
    outcome = snapshot.outcome
    blocks: list[Block] = [section(f"{outcome_headline(snapshot)}\n{_subject(snapshot)}")]
    if outcome is None:
        return blocks
    inference = snapshot.backend == "inference"
    noun = "inference endpoint" if inference else "connector"
    stage = f"{noun} test" if outcome.stage == "test" else f"create {noun}"
    if inference and outcome.stage == "test":
        stage += " (streamed)"
    pairs = [("Stage", stage)]
    if outcome.duration_ms is not None:
        pairs.append(("Time taken", f"{outcome.duration_ms / 1000:.2f} s"))
    if snapshot.kibana_connector_id and snapshot.status is not S.FAILED:
        label = "Inference id" if inference else "Connector id"
        pairs.append((label, code(snapshot.kibana_connector_id)))
    if outcome.ok and outcome.reading:
        reading = outcome.reading
        pairs.append(("Model that answered", escape(reading.model or "not reported")))
        if reading.total_tokens is not None:
            pairs.append(("Tokens", _tokens(outcome)))
        if reading.first_token_ms is not None:
            pairs.append(("Time to first token", f"{reading.first_token_ms / 1000:.2f} s"))
    blocks.append(fields_section(pairs))
    if outcome.ok and outcome.reading and outcome.reading.reply:
        blocks.append(section(f"*Reply*\n>{escape(outcome.reading.reply)}"))
    if not outcome.ok:
        blocks += _failure_blocks(outcome, "Elasticsearch" if inference else "Kibana")
    if outcome.second_check is not None:
        blocks += _second_check_blocks(outcome.second_check)
    buttons = connector_buttons(snapshot.managed) if snapshot.managed is not None else None
    if buttons is not None:
        blocks.append(buttons)
    return blocks


def _second_check_blocks(check: SecondCheckResult) -> list[Block]:
    """The second check (`.gen-ai`: invokeAI): how it went, and what it does and does not
    prove (Kibana's API cannot return a stream, so SSE through a proxy is not checked)."""
    if not check.ok:
        return [
            section(
                f":x: *Second check ({check.sub_action})* failed: "
                f"{escape(check.message or 'no reason given')}"
            ),
            context(escape(check.not_proven)),
        ]
    lines = [
        f":white_check_mark: *Second check ({check.sub_action})* passed: {escape(check.proves)}"
    ]
    if check.reply:
        lines.append(f">{escape(check.reply)}")
    if check.total_tokens is not None:
        tokens = f"{check.total_tokens} total"
        if check.prompt_tokens is not None and check.completion_tokens is not None:
            tokens += f", {check.prompt_tokens} prompt + {check.completion_tokens} completion"
        lines.append(f"Tokens: {tokens}")
    return [section("\n".join(lines)), context(f":warning: {escape(check.not_proven)}")]


def _tokens(outcome: Outcome) -> str:
    reading = outcome.reading
    assert reading is not None  # noqa: S101 - only called with a reading
    parts = [f"{reading.total_tokens} total"]
    if reading.prompt_tokens is not None and reading.completion_tokens is not None:
        parts.append(f"{reading.prompt_tokens} prompt + {reading.completion_tokens} completion")
    return ", ".join(parts)


def _failure_blocks(outcome: Outcome, who: str = "Kibana") -> list[Block]:
    said = []
    if outcome.message:
        said.append(f"*{who} said*\n{code_block(truncate(outcome.message, 1200))}")
    if outcome.service_message:
        said.append(f"*Service message*\n{code_block(truncate(outcome.service_message, 1200))}")
    blocks: list[Block] = [section("\n".join(said))] if said else []
    if outcome.hint:
        blocks.append(section(f":bulb: *Likely cause and fix:* {escape(outcome.hint)}"))
    return blocks


def outcome_text(snapshot: RequestSnapshot) -> str:
    """One line: the notify-channel post and the fallback text of outcome messages."""
    headline = {
        S.TESTED_OK: "created and tested OK",
        S.TEST_FAILED: "created, but its test failed",
        S.FAILED: "not created",
        S.REJECTED: f"rejected by {mention(snapshot.decided_by or '')}",
        S.CANCELLED: "cancelled",
        S.EXPIRED: "expired",
        S.DELIVERED: "approved for delivery as a kibana.yml preconfigured connector",
    }.get(snapshot.status, snapshot.status.value)
    if snapshot.status is S.DELIVERED and snapshot.decision_reason == DELIVERED_REASON:
        headline = "approved for delivery as a Dev Tools request (inference endpoint)"
    return (
        f"{snapshot.reference}: {snapshot.provider_label} connector "
        f"“{escape(truncate(snapshot.connector_name, 80))}” for {mention(snapshot.requested_by)} "
        f"in space {space_on(snapshot.space_id, snapshot.target_label)}: {headline}"
    )


def requester_message(
    snapshot: RequestSnapshot, notice: Notice, *, command: str = "/llm-connector"
) -> tuple[str, list[Block]]:
    """The DM to the requester about a notice."""
    if notice is Notice.OUTCOME:
        return outcome_text(snapshot), build_outcome_blocks(snapshot)
    if notice is Notice.UNDELIVERED:
        text = (
            f":warning: Your request {_subject(snapshot)} could not be shown to the approvers: "
            "Slack refused the approval card. Ask a Slack admin to check the bot is in the "
            "approvals channel (invite it there if the channel is private). Quote "
            f"{snapshot.reference}."
        )
    elif notice is Notice.SUBMITTED:
        text = (
            f"Your request {_subject(snapshot)} is waiting for an approver. "
            f"Cancel it with {code(f'{command} cancel {snapshot.reference}')} while it waits."
            + _lifetime_note(snapshot)
        )
    elif snapshot.status is S.REJECTED:
        reason = escape(truncate(snapshot.decision_reason or "", 1000))
        text = (
            f":no_entry: {_subject(snapshot)} was rejected by {mention(snapshot.decided_by or '')}."
        )
        text += f"\n>{reason}"
    elif notice is Notice.DECIDED and snapshot.kind in MANAGED_KINDS:
        text = (
            f":white_check_mark: {_subject(snapshot)} was approved{approved_by(snapshot)}. "
            "The bot does it now and tells the connector's thread."
        )
    elif notice is Notice.DECIDED:
        text = (
            f":white_check_mark: {_subject(snapshot)} was approved{approved_by(snapshot)}. "
            + (
                "The bot is updating the connector in place and testing it; the result "
                "follows here."
                if snapshot.kind in {RequestKind.ROTATE, RequestKind.CHANGE}
                else "The bot is creating and testing the connector; the result follows here."
            )
            + _lifetime_note(snapshot)
        )
    else:
        text = f"{_subject(snapshot)}: {status_line(snapshot)}"
    return _plain(text), [section(text)]


def _lifetime_note(snapshot: RequestSnapshot) -> str:
    if snapshot.lifetime_days is None:
        return ""
    return f" The connector {lifetime_text(snapshot.lifetime_days)}."


def thread_message(snapshot: RequestSnapshot, notice: Notice) -> tuple[str, list[Block]]:
    """A reply in the card's thread."""
    if notice is Notice.OUTCOME:
        return outcome_text(snapshot), build_outcome_blocks(snapshot)
    text = status_line(snapshot)
    return _plain(f"{snapshot.reference}: {text}"), [section(text), context(snapshot.reference)]


def _plain(text: str) -> str:
    return text.replace("*", "")


def kibana_retrying_message(
    snapshot: RequestSnapshot, retrying: KibanaRetrying, *, in_thread: bool
) -> tuple[str, list[Block]]:
    """Kibana failed a step: what failed, that the bot keeps trying, and until when."""
    noun, who = _made_by(snapshot)
    change = snapshot.kind in {RequestKind.ROTATE, RequestKind.CHANGE}
    making = "updating" if change else "creating"
    step = f"testing the {noun}" if retrying.stage == "test" else f"{making} the {noun}"
    until = f"until {slack_date(retrying.until)}" if retrying.until is not None else "for a while"
    where = "here" if in_thread else "in a DM"
    text = (
        f":hourglass_flowing_sand: {_subject(snapshot)}: {who} failed while {step}: "
        f"{escape(truncate(retrying.reason, 500))}\n"
        f"The bot keeps trying {until} and will post the result {where}."
    )
    fallback = f"{snapshot.reference}: {who} failed while {step}; the bot keeps trying {until}."
    return fallback, [section(text)]
