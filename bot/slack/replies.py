"""Answering a click privately, wherever it came from.

A click in a message (the approval card) comes with a response_url: the answer is an
ephemeral reply under the message. A click on the Home tab has no response_url and no
message, and Slack has no ephemeral messages on Home: the answer is shown at the top of the
person's Home, republished (a DM would land in the Messages tab, out of sight of someone
looking at Home).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Respond

from bot.deps import Deps
from bot.services import home

log = logging.getLogger(__name__)


def tell(deps: Deps, body: dict[str, Any], respond: Respond, text: str) -> None:
    """Tell the person who clicked ``text``, without touching the card or the view."""
    if body.get("response_url"):
        respond(text=text, response_type="ephemeral", replace_original=False)
        return
    user = (body.get("user") or {}).get("id")
    if is_home(body) and isinstance(user, str):
        home.tell(deps, user, text)
        return
    # A click inside a modal: the modal itself is where its answers go (its listener's job).
    log.info("a click with nowhere to answer it (not in a message, not on Home)")


def is_home(body: dict[str, Any]) -> bool:
    """Whether the interaction happened on the App Home tab."""
    view = body.get("view") or {}
    return isinstance(view, dict) and view.get("type") == "home"
