"""The lifecycle's slash-command words: `adopt`, `connectors` and `transfer` (called by the
request flow's command listener, which owns the slash command)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from slack_bolt import Ack, Respond

from bot.deps import Deps
from bot.errors import BotError
from bot.services.changes.asking import find_managed
from bot.services.lifecycle import adopt, inventory, transfer
from bot.slack.views.common import escape, to_dicts
from bot.slack.views.lifecycle import adopt_answer_text, build_inventory_blocks

VERBS = frozenset({"adopt", "connectors", "transfer"})
MENTION = re.compile(r"^<@([UW][A-Z0-9]{2,30})(?:\|[^>]*)?>$")


@dataclass(frozen=True)
class AdoptWords:
    target: str | None
    space_id: str
    resource_id: str
    owner: str | None


def parse_adopt(words: list[str]) -> AdoptWords | None:
    """`[<target>] <space> <id> [<@owner>]`; None when the words don't fit."""
    owner = None
    if words and MENTION.match(words[-1]):
        match = MENTION.match(words[-1])
        assert match is not None  # noqa: S101 - matched just above
        owner, words = match.group(1), words[:-1]
    if len(words) == 2:
        return AdoptWords(None, words[0], words[1], owner)
    if len(words) == 3:
        return AdoptWords(words[0], words[1], words[2], owner)
    return None


def adopt_usage(command: str) -> str:
    return (
        f"Say what to adopt: `{command} adopt [<target>] <space> <id> [@owner]` (the target "
        "may be left out when there is only one; the owner defaults to you)."
    )


def handle_lifecycle_command(
    deps: Deps, verb: str, words: list[str], *, ack: Ack, respond: Respond, user: str, command: str
) -> None:
    """Answer `adopt`, `connectors` or `transfer`: ack first, then the work, then the answer."""
    if verb == "transfer":
        ack(text=_transfer(deps, words, user=user, command=command), response_type="ephemeral")
        return
    if verb == "connectors":
        ack()
        connectors, everyone = inventory.list_inventory(deps, viewer=user)
        text, blocks = build_inventory_blocks(connectors, everyone=everyone)
        respond(text=text, blocks=to_dicts(blocks))
        return
    parsed = parse_adopt(words)
    if parsed is None:
        ack(text=adopt_usage(command), response_type="ephemeral")
        return
    if not inventory.is_approver(deps, user):
        ack(text="Only approvers can adopt connectors.", response_type="ephemeral")
        return
    ack(text=f"Looking up {escape(parsed.resource_id[:200])}…", response_type="ephemeral")
    try:
        adopted = adopt.adopt_connector(
            deps,
            actor=user,
            target=parsed.target,
            space_id=parsed.space_id,
            resource_id=parsed.resource_id,
            owner=parsed.owner,
        )
    except BotError as error:
        respond(text=escape(error.user_message))
        return
    respond(text=adopt_answer_text(adopted))


def _transfer(deps: Deps, words: list[str], *, user: str, command: str) -> str:
    """`transfer [<target>] <id> <@new owner>`: a quick write, answered in the ack."""
    match = MENTION.match(words[-1]) if words else None
    if match is None:
        return f"Say which connector and who gets it: `{command} transfer [<target>] <id> @person`."
    try:
        managed_id = find_managed(deps, words[:-1], command=command, verb="transfer")
        resource_id = transfer.transfer_owner(
            deps, managed_id=managed_id, actor=user, new_owner=match.group(1)
        )
    except BotError as error:
        return escape(error.user_message)
    return f"<@{match.group(1)}> now owns {escape(resource_id)}; the connector's thread says so."
