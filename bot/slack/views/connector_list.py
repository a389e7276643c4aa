"""The `list` answer: the connectors a Kibana space already has."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.domain.connector_types import CONNECTOR_TYPES
from bot.domain.resources import Resource
from bot.slack.views.common import code, context, escape, section, truncate

MAX_LISTED = 40


def _describe(connector: Resource) -> str:
    parts = [f"*{escape(truncate(connector.name, 80))}*", code(connector.type_id)]
    if connector.provider:
        parts.append(escape(connector.provider))
    if connector.model:
        parts.append(f"model {escape(connector.model)}")
    parts.append("preconfigured" if connector.preconfigured else f"id {code(connector.id)}")
    if connector.type_deprecated:
        parts.append("type deprecated")
    return " · ".join(parts)


def build_connector_list(space_id: str, connectors: list[Resource]) -> tuple[str, list[Block]]:
    """LLM connectors first, then the rest, at most MAX_LISTED lines."""
    ordered = sorted(connectors, key=lambda c: (c.type_id not in CONNECTOR_TYPES, c.name))
    if not ordered:
        text = f"Space {code(space_id)} has no connectors yet."
        return text, [section(text)]
    lines = [f"• {_describe(connector)}" for connector in ordered[:MAX_LISTED]]
    text = f"Connectors in space {escape(space_id)}: {len(ordered)}"
    blocks: list[Block] = [section(f"*Connectors in space {code(space_id)}* ({len(ordered)})")]
    chunk: list[str] = []
    for line in lines:
        if sum(len(item) + 1 for item in chunk) + len(line) > 2800:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    blocks.append(section("\n".join(chunk)))
    if len(ordered) > MAX_LISTED:
        blocks.append(context(f"…and {len(ordered) - MAX_LISTED} more (see Stack Management)."))
    return text, blocks
