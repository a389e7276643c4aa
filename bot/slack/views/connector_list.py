"""The `list` answer: the connectors a Kibana space already has."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.kibana.models import Connector
from bot.slack.views.common import code, context, escape, section, truncate

MAX_LISTED = 40


def _describe(connector: Connector) -> str:
    config = connector.config or {}
    provider = config.get("apiProvider") or config.get("provider") or ""
    model = config.get("defaultModel") or (config.get("providerConfig") or {}).get("model_id")
    parts = [f"*{escape(truncate(connector.name, 80))}*", code(connector.connector_type_id)]
    if provider:
        parts.append(escape(str(provider)))
    if model:
        parts.append(f"model {escape(str(model))}")
    parts.append("preconfigured" if connector.is_preconfigured else f"id {code(connector.id)}")
    if connector.is_connector_type_deprecated:
        parts.append("type deprecated")
    return " · ".join(parts)


def build_connector_list(space_id: str, connectors: list[Connector]) -> tuple[str, list[Block]]:
    """LLM connectors first, then the rest, at most MAX_LISTED lines."""
    llm_types = {".gen-ai", ".bedrock", ".gemini", ".inference"}
    ordered = sorted(connectors, key=lambda c: (c.connector_type_id not in llm_types, c.name))
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
