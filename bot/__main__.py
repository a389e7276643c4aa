"""Composition root: `python -m bot` runs the bot; `python -m bot migrate` only migrates."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import ConfigError, Settings, load_database_settings, load_settings
from bot.crypto import resolve_keys
from bot.db.migrate import upgrade_database
from bot.db.session import make_engine
from bot.logs import configure_logging
from bot.runtime import build_runtime
from bot.server import make_server

log = logging.getLogger("bot")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    configure_logging()
    try:
        if args[:1] == ["migrate"]:
            upgrade_database(make_engine(load_database_settings().database_url))
            return 0
        if args:
            sys.stderr.write("usage: python -m bot [migrate]\n")
            return 2
        settings = load_settings()
        keys = resolve_keys(
            configured=settings.encryption_key.get_secret_value()
            if settings.encryption_key
            else None,
            database_url=settings.database_url,
            is_sqlite=settings.is_sqlite,
        )
        _check_slack_token(settings)
        run(settings, keys)
    except ConfigError as error:
        for problem in error.problems:
            sys.stderr.write(f"configuration error: {problem}\n")
        return 2
    return 0


def _secrets_of(settings: Settings) -> list[str]:
    values = [
        settings.slack_bot_token,
        settings.kibana_api_key,
        settings.slack_signing_secret,
        settings.slack_app_token,
        settings.encryption_key,
    ]
    return [value.get_secret_value() for value in values if value is not None]


def _check_slack_token(settings: Settings) -> None:
    client = WebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=str(settings.slack_api_url)
    )
    try:
        client.auth_test()
    except SlackApiError as error:
        code = error.response.get("error")
        if code in {"invalid_auth", "not_authed", "account_inactive", "token_revoked"}:
            raise ConfigError([f"SLACK_BOT_TOKEN: Slack rejected it ({code})"]) from None
        log.warning("could not verify the Slack token at start: %s", code)
    except OSError as error:
        log.warning("could not reach Slack at start (%s); carrying on", error)


def run(settings: Settings, keys: list[bytes]) -> None:
    """Wire everything and serve until stopped."""
    configure_logging(settings.log_level, secrets=_secrets_of(settings))
    runtime = build_runtime(settings, keys)
    runtime.runner.start()
    signal.signal(signal.SIGTERM, _exit_on_signal)
    handler = None
    try:
        if settings.slack_app_token is not None:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            handler = SocketModeHandler(runtime.app, settings.slack_app_token.get_secret_value())
            _connect(handler)
            log.info("connected to Slack over Socket Mode; /healthz on port %d", settings.port)
            client = handler.client
            application = runtime.wsgi(
                serve_slack=False, slack_ready=lambda: bool(client.is_connected())
            )
        else:
            application = runtime.wsgi()
            log.info("serving Slack on http://%s:%d/slack/events", settings.host, settings.port)
        server = make_server(
            application, host=settings.host, port=settings.port, threads=settings.http_threads
        )
        server.run()
    except (KeyboardInterrupt, SystemExit):
        log.info("stopping")
    finally:
        if handler is not None:
            handler.close()  # type: ignore[no-untyped-call]  # slack_bolt leaves it unannotated
        runtime.close()


def _connect(handler: Any) -> None:
    """Open the Socket Mode connection; a token Slack refuses is a configuration error."""
    try:
        handler.connect()
    except SlackApiError as error:
        code = error.response.get("error")
        if code in {
            "invalid_auth",
            "not_authed",
            "not_allowed_token_type",
            "token_revoked",
            "account_inactive",
        }:
            raise ConfigError([f"SLACK_APP_TOKEN: Slack rejected it ({code})"]) from None
        raise


def _exit_on_signal(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
