"""The single error handler: people see a short message with a reference, logs get the rest."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse

from bot.errors import BotError

log = logging.getLogger(__name__)
# Set in a request's context by the HTTP front once it verified the signature (bot.server).
# Socket Mode requests come over Slack's authenticated socket: Bolt marks them with
# mode="socket_mode" and skips its own check for them.
VERIFIED = "connector_bot_verified"


def register_error_handler(app: App) -> None:
    """Install the single error handler."""

    @app.error
    def handle_error(
        error: Exception, body: dict[str, Any], request: BoltRequest, respond: Any
    ) -> BoltResponse:
        if not (request.mode == "socket_mode" or request.context.get(VERIFIED)):
            # Never answer through an unverified body's response_url, nor echo it.
            log.warning("error before the request was verified (%s)", type(error).__name__)
            return BoltResponse(status=401, body="")
        if isinstance(error, BotError):
            message = error.user_message
            log.info("refused: %s", message)
        else:
            error_id = uuid.uuid4().hex[:8]
            log.error("unhandled error %s (%s)", error_id, type(error).__name__, exc_info=error)
            message = f"Something went wrong on the bot's side (ref {error_id}). Please try again."
        if body.get("type") == "view_submission":
            return _modal_error(body, message)
        if respond is not None:
            try:
                respond(text=message, response_type="ephemeral", replace_original=False)
            except Exception:  # noqa: BLE001 - best effort; the log has the error
                log.warning("could not tell the user about the error")
        return BoltResponse(status=200, body="")


def _modal_error(body: dict[str, Any], message: str) -> BoltResponse:
    """Keep the modal open, with what was typed, and show the message under its first input."""
    blocks = (body.get("view") or {}).get("blocks") or []
    first_input = next((b.get("block_id") for b in blocks if b.get("type") == "input"), None)
    if first_input is None:  # not a form of ours: nothing to show the message under
        return BoltResponse(status=400, body="")
    payload = {"response_action": "errors", "errors": {first_input: message}}
    return BoltResponse(
        status=200, body=json.dumps(payload), headers={"content-type": "application/json"}
    )
