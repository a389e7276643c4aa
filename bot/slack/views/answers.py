"""The short text answers of the slash command (help, list, cancel…), escaped for mrkdwn."""

from __future__ import annotations

from bot.slack.views.common import code, escape

WORD_SHOWN_MAX = 40
SPACE_SHOWN_MAX = 100


def usage(command: str) -> str:
    """What the command can do."""
    return (
        f"*{command}* asks for an LLM connector in Kibana; an approver decides.\n"
        f"• `{command}` opens the request form\n"
        f"• `{command} list [space]` shows the connectors a Kibana space already has "
        "(`list <target> [space]` for one target, when there are several)\n"
        f"• `{command} status REQ-XXXXXX` shows where a request is and its history\n"
        f"• `{command} cancel REQ-XXXXXX` withdraws your pending request\n"
        f"• `{command} audit YYYY-MM-DD [YYYY-MM-DD]` sends approvers the audit trail as a file\n"
        f"• `{command} transfer [target] <id> @person` (its owner or an approver) gives a "
        "connector to a new owner\n"
        f"• `{command} connectors` shows the connectors the bot manages (yours, or all for "
        "approvers)\n"
        f"• `{command} adopt [target] <space> <id> [@owner]` (approvers) brings a connector "
        "made outside the bot under its care\n"
        f"• `{command} rotate [target] <id>` / `{command} change [target] <id>` asks to "
        "replace a connector's key or change its settings (through approval)\n"
        f"• `{command} retire [target] <id>` (its owner or an approver) asks to delete a "
        "connector the bot manages\n"
        f"• `{command} extend [target] <id> [1|7|30]` asks to push its expiry back\n"
        f"• `{command} help` shows this"
    )


def unknown_verb_text(word: str, command: str) -> str:
    """The answer to a word the command doesn't know, with the usage."""
    return f"I don't know “{escape(word[:WORD_SHOWN_MAX])}”.\n" + usage(command)


def listing_text(space_id: str) -> str:
    """The acknowledgement of `list` while Kibana is asked."""
    return f"Asking Kibana for the connectors in space {code(space_id[:SPACE_SHOWN_MAX])}…"


def bad_space_text(space_id: str, rule: str) -> str:
    """A `list` space that can't be a Kibana space id: never sent to Kibana."""
    return f"{code(space_id[:SPACE_SHOWN_MAX])} is not a space id. {rule}"


def _of(target_label: str | None) -> str:
    return f" ({escape(target_label)})" if target_label else ""


def no_space_text(space_id: str, target_label: str | None = None) -> str:
    """``target_label`` names the target when there are several."""
    return f"Kibana{_of(target_label)} has no space {code(space_id[:SPACE_SHOWN_MAX])}."


def kibana_unreachable_text(message: str, target_label: str | None = None) -> str:
    return f"Kibana{_of(target_label)} could not be asked: {escape(message)}"


def cancelled_text(reference: str) -> str:
    return f"{escape(reference)} is cancelled; its secrets are erased."
