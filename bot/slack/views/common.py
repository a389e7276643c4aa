"""Small reusable Block Kit pieces, and text helpers for Slack's mrkdwn."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    InputBlock,
    InputInteractiveElement,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from bot.domain.fields import FieldKind, FieldSpec, redact_urls
from bot.slack.ids import ActionId

SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
OPTION_TEXT_MAX = 75
INPUT_MAX = 3000


def escape(text: object) -> str:
    """Make text from outside the bot (a request, Kibana) safe to put in mrkdwn.

    The one helper for every ``text`` fallback, mrkdwn block, field and context: it escapes
    the three characters mrkdwn treats as markup (so ``<!channel>``, ``<@U…>``, ``<#C…>`` and
    ``<https://…|label>`` show as typed instead of pinging or disguising a link), and redacts
    credentials in any URL it contains. Code spans and blocks need it too: Slack still parses
    ``<!channel>`` inside backticks. plain_text objects are not parsed: don't use it there."""
    shown = redact_urls(str(text))
    return shown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: object) -> str:
    """Inline code (backticks) around escaped text."""
    return f"`{escape(text)}`"


def code_block(text: object) -> str:
    """A preformatted block around escaped text."""
    return f"```{escape(text)}```"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_date(moment: datetime) -> str:
    """A date each reader sees in their own time zone."""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def mention(user_id: str) -> str:
    """A mention of a Slack user id (never an empty ``<@>``)."""
    return f"<@{user_id}>" if user_id else "someone"


def section(text: str, *, block_id: str | None = None) -> SectionBlock:
    return SectionBlock(
        text=MarkdownTextObject(text=truncate(text, SECTION_TEXT_MAX)), block_id=block_id
    )


def fields_section(pairs: list[tuple[str, str]]) -> SectionBlock:
    """A two-column section of up to ten ``*label*\\nvalue`` fields."""
    fields = [
        MarkdownTextObject(text=truncate(f"*{label}*\n{value}", FIELD_TEXT_MAX))
        for label, value in pairs[:10]
    ]
    return SectionBlock(fields=fields)


def context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=truncate(text, SECTION_TEXT_MAX))])


def option(value: str, label: str) -> Option:
    return Option(value=value, text=PlainTextObject(text=truncate(label, OPTION_TEXT_MAX)))


def field_input(spec: FieldSpec, *, block_id: str, initial: str | None) -> InputBlock:
    """The input block for one form field."""
    element: InputInteractiveElement
    if spec.kind is FieldKind.SELECT:
        options = [option(value, label) for value, label in spec.options]
        chosen = next((o for o in options if o.value == (initial or spec.initial)), None)
        element = StaticSelectElement(
            action_id=ActionId.FIELD_VALUE.value, options=options, initial_option=chosen
        )
    elif spec.kind is FieldKind.CHECKBOX:
        only = option("true", spec.label)
        checked = (initial if initial is not None else spec.initial) == "true"
        element = CheckboxesElement(
            action_id=ActionId.FIELD_VALUE.value,
            options=[only],
            initial_options=[only] if checked else None,
        )
    else:
        value = initial if initial is not None else spec.initial
        element = PlainTextInputElement(
            action_id=ActionId.FIELD_VALUE.value,
            initial_value=value or None,
            placeholder=spec.placeholder,
            multiline=spec.kind is FieldKind.MULTILINE or None,
            max_length=min(spec.max_length, INPUT_MAX),
        )
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=spec.label),
        hint=PlainTextObject(text=truncate(spec.hint, 2000)),
        element=element,
        optional=not spec.required,
    )


def to_dicts(blocks: list[Block]) -> list[dict[str, object]]:
    return [block.to_dict() for block in blocks]


def space_on(space_id: str, target_label: str | None, *, limit: int = 100) -> str:
    """A space as inline code, with the target it belongs to when there are several."""
    shown = code(truncate(space_id, limit))
    return f"{shown} on {escape(truncate(target_label, 80))}" if target_label else shown
