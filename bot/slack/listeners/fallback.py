"""Clicks on buttons the bot no longer knows: a clear private answer instead of a 404."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, Respond

log = logging.getLogger(__name__)
UNKNOWN_ACTION = "This button is from an old message or another app; it does nothing now."


def register(app: App) -> None:
    """Wire the catch-all action listener (register it after every other one)."""

    @app.action(re.compile(".*"))
    def handle_unknown_action(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        log.info("click on an unknown action")
        if body.get("response_url"):  # clicks inside a modal have nowhere to answer
            respond(text=UNKNOWN_ACTION, response_type="ephemeral", replace_original=False)
