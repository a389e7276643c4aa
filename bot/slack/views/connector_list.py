"""The `list` answer: the connectors a Kibana space already has and, when Elasticsearch is
configured, the cluster's chat_completion inference endpoints."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block

from bot.domain.connector_types import CONNECTOR_TYPES
from bot.domain.resources import Resource
from bot.slack.views.common import code, context, escape, section, space_on, truncate

MAX_LISTED = 40


BACKEND_LABEL = {"connector": "Kibana connector", "inference": "inference endpoint"}


def _describe(connector: Resource) -> str:
    parts = [
        f"*{escape(truncate(connector.name, 80))}*",
        code(connector.type_id),
        BACKEND_LABEL[connector.backend],
    ]
    if connector.provider:
        parts.append(escape(connector.provider))
    if connector.model:
        parts.append(f"model {escape(connector.model)}")
    parts.append("preconfigured" if connector.preconfigured else f"id {code(connector.id)}")
    if connector.type_deprecated:
        parts.append("type deprecated")
    parts.append("created by the bot" if connector.created_by_bot else "not created by the bot")
    return " · ".join(parts)


def _order(resource: Resource) -> tuple[bool, bool, str]:
    llm = resource.backend == "inference" or resource.type_id in CONNECTOR_TYPES
    return resource.backend == "inference", not llm, resource.name


def build_connector_list(
    space_id: str,
    connectors: list[Resource],
    notes: Sequence[str] = (),
    *,
    target_label: str | None = None,
) -> tuple[str, list[Block]]:
    """LLM connectors first, then the rest, then the cluster's endpoints, at most MAX_LISTED
    lines; ``notes`` say what could not be read; ``target_label`` names the target (when
    there are several)."""
    ordered = sorted(connectors, key=_order)
    footer = [context(escape(note)) for note in notes]
    if any(r.backend == "inference" for r in ordered):
        footer.append(
            context("Connectors belong to one space; inference endpoints are cluster-wide.")
        )
    where = space_on(space_id, target_label)
    if not ordered:
        text = f"Space {where} has no connectors yet."
        return text, [section(text), *footer]
    lines = [f"• {_describe(connector)}" for connector in ordered[:MAX_LISTED]]
    of = f" of {escape(target_label)}" if target_label else ""
    text = f"Connectors in space {escape(space_id)}{of}: {len(ordered)}"
    blocks: list[Block] = [section(f"*Connectors in space {where}* ({len(ordered)})")]
    chunk: list[str] = []
    for line in lines:
        if sum(len(item) + 1 for item in chunk) + len(line) > 2800:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    blocks.append(section("\n".join(chunk)))
    if len(ordered) > MAX_LISTED:
        blocks.append(context(f"…and {len(ordered) - MAX_LISTED} more (see Stack Management)."))
    return text, blocks + footer
