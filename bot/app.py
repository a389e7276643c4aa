"""Build the Bolt app: listeners, error handler and a thread pool sized for many acks."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient

from bot.deps import Deps
from bot.slack.error_handler import register_error_handler
from bot.slack.listeners import register_listeners
from bot.slack.prompt_ack import prompt_ack_middleware


def create_app(
    deps: Deps,
    *,
    client: WebClient,
    signing_secret: str,
    slash_command: str,
    listener_executor: ThreadPoolExecutor | None = None,
) -> App:
    """The Slack app. Listeners only ack, parse, call a service and render."""
    executor = listener_executor or ThreadPoolExecutor(
        max_workers=32, thread_name_prefix="slack-listener"
    )
    logger = logging.getLogger("slack_bolt")
    # Bolt falls back to $SLACK_BOT_TOKEN when no token is given, then warns at every start
    # that it is unused next to `client` (which carries the same token): drop that one line.
    quiet = _DropMessage(warning_client_prioritized_and_token_skipped())
    logger.addFilter(quiet)
    try:
        app = App(
            client=client,
            signing_secret=signing_secret,
            token_verification_enabled=False,
            process_before_response=False,
            listener_executor=executor,
            logger=logger,
        )
    finally:
        logger.removeFilter(quiet)
    app.use(prompt_ack_middleware(deps.ack_gate))
    register_listeners(app, deps, slash_command=slash_command)
    register_error_handler(app)
    return app


class _DropMessage(logging.Filter):
    """Drops log records whose message is exactly the given text."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self._message = message

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != self._message
