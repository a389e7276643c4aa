"""The App Home tab: publish it when the person opens it; its Cancel button."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.deps import Deps
from bot.errors import BotError
from bot.services import home, requests
from bot.slack import replies
from bot.slack.ids import ActionId
from bot.slack.metadata import CancelButton, decode
from bot.slack.views import answers

log = logging.getLogger(__name__)
STALE_BUTTON = "This button is from an old view; the request can't be found."


def register(app: App, deps: Deps) -> None:
    """Wire the App Home listeners (before the fallback)."""

    @app.event("app_home_opened")
    def handle_home_opened(event: dict[str, Any]) -> None:
        # Bolt acknowledges events before running this; the publish itself is a job.
        user = event.get("user")
        if event.get("tab") != "home" or not isinstance(user, str) or not user:
            return
        home.home_opened(deps, user)

    @app.action(ActionId.HOME_CANCEL.value)
    def handle_home_cancel(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        button = decode(CancelButton, action.get("value"))
        if button is None:
            replies.tell(deps, body, respond, STALE_BUTTON)
            return
        actor = str(body["user"]["id"])
        try:
            snapshot = requests.cancel_request(deps, reference=button.reference, actor=actor)
        except BotError as error:
            replies.tell(deps, body, respond, error.user_message)
            return
        replies.tell(deps, body, respond, answers.cancelled_text(snapshot.reference))
