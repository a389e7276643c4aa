"""The bot's App Home tab for one person: their open requests, the requests waiting for their
decision, their connectors and (for approvers) the latest decisions."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ConfirmObject,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.domain.enums import RequestStatus
from bot.domain.home import DecisionLine, HomeContent, Listed, Owned
from bot.domain.lifecycle import ManagedSummary
from bot.domain.schemas import RequestSnapshot
from bot.slack.ids import ActionId, BlockId
from bot.slack.metadata import CancelButton, encode
from bot.slack.views.approval_message import decision_buttons, status_line
from bot.slack.views.common import (
    SECTION_TEXT_MAX,
    code,
    context,
    escape,
    mention,
    section,
    slack_date,
    space_on,
    truncate,
)
from bot.slack.views.connector_actions import connector_buttons
from bot.slack.views.lifecycle import STATE_ICON

VIEW_MAX_BLOCKS = 100
NAME_MAX = 80


def build_home_view(home: HomeContent, *, command: str = "/llm-connector") -> View:
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text="LLM connectors"))]
    if home.notice:
        blocks.append(section(f":information_source: {home.notice}"))
    blocks += _open_requests(home.open_requests, command)
    if home.approver:
        blocks += _awaiting(home.awaiting, command)
    blocks += _connectors(home.connectors, command)
    if home.approver:
        blocks += _decisions(home.decisions)
    blocks.append(
        context(f"Ask for a connector with {code(command)}; {code(f'{command} help')} for more.")
    )
    if len(blocks) > VIEW_MAX_BLOCKS:  # the section caps keep this from happening
        raise ValueError(f"the Home view has {len(blocks)} blocks")
    return View(type="home", blocks=blocks)


def _title(text: str) -> list[Block]:
    return [DividerBlock(), HeaderBlock(text=PlainTextObject(text=text))]


def _more(listed: Listed, command: str) -> list[Block]:
    if not listed.more:
        return []
    return [context(f"…and {listed.more} more — {code(f'{command} list')}")]


def _subject(snapshot: RequestSnapshot) -> str:
    return (
        f"*{snapshot.reference}* · {escape(truncate(snapshot.connector_name, NAME_MAX))} · "
        f"{escape(snapshot.provider_label)} · "
        f"space {space_on(snapshot.space_id, snapshot.target_label)}"
    )


def _open_requests(listed: Listed, command: str) -> list[Block]:
    blocks = _title("Your open requests")
    if not listed.items:
        return [*blocks, context("Nothing under way.")]
    for snapshot in listed.items:
        text = truncate(f"{_subject(snapshot)}\n{status_line(snapshot)}", SECTION_TEXT_MAX)
        accessory = _cancel_button(snapshot) if snapshot.status is RequestStatus.PENDING else None
        blocks.append(
            SectionBlock(
                block_id=f"home.request.{snapshot.id}",
                text=MarkdownTextObject(text=text),
                accessory=accessory,
            )
        )
    return blocks + _more(listed, command)


def _cancel_button(snapshot: RequestSnapshot) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text="Cancel"),
        action_id=ActionId.HOME_CANCEL.value,
        value=encode(CancelButton(reference=snapshot.reference)),
        confirm=ConfirmObject(
            title=PlainTextObject(text="Cancel this request?"),
            text=MarkdownTextObject(
                text=f"{snapshot.reference} is withdrawn; its secrets are erased."
            ),
            confirm=PlainTextObject(text="Cancel it"),
            deny=PlainTextObject(text="Keep it"),
        ),
    )


def _awaiting(listed: Listed, command: str) -> list[Block]:
    blocks = _title("Waiting for your decision")
    if not listed.items:
        return [*blocks, context("Nothing waits for you.")]
    for snapshot in listed.items:
        lines = [
            _subject(snapshot),
            f"Asked by {mention(snapshot.requested_by)} on {slack_date(snapshot.created_at)}"
            + (f" · model {escape(truncate(snapshot.model, 100))}" if snapshot.model else ""),
            f">{escape(truncate(snapshot.justification, 300))}",
        ]
        blocks.append(section("\n".join(lines), block_id=f"home.awaiting.{snapshot.id}"))
        blocks.append(
            decision_buttons(snapshot, block_id=f"{BlockId.APPROVAL_ACTIONS.value}.{snapshot.id}")
        )
    return blocks + _more(listed, command)


def _managed_test_line(connector: ManagedSummary) -> str:
    state = f"{STATE_ICON.get(connector.state, '')} *{connector.state.value}*"
    if connector.last_test_at is None or connector.last_test_ok is None:
        return f"{state} · Not tested yet."
    when = f" on {slack_date(connector.last_test_at)}"
    if connector.last_test_ok:
        took = (
            f" in {connector.last_test_latency_ms} ms"
            if connector.last_test_latency_ms is not None
            else ""
        )
        return f"{state} · Last test passed{took}{when}."
    why = escape(truncate(connector.last_test_message or "no reason given", 200))
    return f"{state} · Last test failed{when}: {why}"


def _connectors(owned: Owned, command: str) -> list[Block]:
    blocks = _title("Your connectors")
    if not owned.items:
        return [*blocks, context("None yet: the connectors created for you appear here.")]
    for connector in owned.items:
        where = (
            "cluster-wide"
            if connector.backend == "inference"
            else f"space {code(truncate(connector.space_id, 100))}"
        )
        reference = f"*{escape(connector.reference)}* · " if connector.reference else ""
        text = (
            f"{reference}{escape(truncate(connector.name, NAME_MAX))} · "
            f"{escape(connector.provider)} · {where} · {code(connector.resource_id)}\n"
            f"{_managed_test_line(connector)}"
        )
        blocks.append(
            section(truncate(text, SECTION_TEXT_MAX), block_id=f"home.connector.{connector.id}")
        )
        buttons = connector_buttons(connector)
        if buttons is not None:
            blocks.append(buttons)
    if owned.more:
        blocks.append(context(f"…and {owned.more} more — {code(f'{command} connectors')}"))
    return blocks


def _decision_line(line: DecisionLine) -> str:
    verb = ":white_check_mark: approved" if line.decision == "approved" else ":no_entry: rejected"
    reason = f" — _{escape(truncate(line.reason, 100))}_" if line.reason else ""
    return (
        f"• {slack_date(line.decided_at)}: {mention(line.decided_by)} {verb} "
        f"*{line.reference}* ({escape(truncate(line.connector_name, 60))}, "
        f"{escape(line.provider_label)}){reason}"
    )


def _decisions(lines: list[DecisionLine]) -> list[Block]:
    blocks = _title("Recent decisions")
    if not lines:
        return [*blocks, context("No decisions yet.")]
    chunk: list[str] = []
    for text in map(_decision_line, lines):
        if sum(len(item) + 1 for item in chunk) + len(text) > SECTION_TEXT_MAX - 100:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(text)
    blocks.append(section("\n".join(chunk)))
    return blocks
