"""Composition root: `python -m bot` runs the bot; `python -m bot migrate` only migrates."""

from __future__ import annotations

import logging
import signal
import sys
from datetime import timedelta
from types import FrameType

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.app import create_app
from bot.config import ConfigError, DatabaseSettings, Settings, load_settings
from bot.crypto import SecretBox, resolve_keys
from bot.db import queries
from bot.db.migrate import upgrade_database
from bot.db.session import database_answers, make_engine, make_session_factory, session_scope
from bot.deps import Deps, Policy
from bot.kibana.client import KibanaClient, make_http_client
from bot.logs import configure_logging
from bot.server import make_server, make_wsgi_app
from bot.services.worker import JobRunner
from bot.slack.notifier import SlackNotifier

log = logging.getLogger("bot")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    configure_logging()
    try:
        if args[:1] == ["migrate"]:
            upgrade_database(make_engine(DatabaseSettings().database_url))
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
    except ConfigError as error:
        for problem in error.problems:
            sys.stderr.write(f"configuration error: {problem}\n")
        return 2
    run(settings, keys)
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
    engine = make_engine(settings.database_url, pool_size=max(5, settings.worker_threads + 4))
    upgrade_database(engine)
    session_factory = make_session_factory(engine)
    client = WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=str(settings.slack_api_url),
        timeout=15,
    )
    kibana = KibanaClient(
        make_http_client(
            settings.kibana_base_url,
            settings.kibana_api_key.get_secret_value(),
            timeout=settings.kibana_timeout_seconds,
        )
    )
    deps = Deps(
        engine=engine,
        session_factory=session_factory,
        kibana=kibana,
        secret_box=SecretBox(keys),
        notifier=SlackNotifier(
            client,
            approval_channel=settings.approval_channel,
            notify_channel=settings.notify_channel,
        ),
        policy=Policy(
            approvers=frozenset(settings.approvers),
            approval_channel=settings.approval_channel,
            notify_channel=settings.notify_channel,
            request_ttl=timedelta(hours=settings.request_ttl_hours),
            kibana_max_attempts=settings.kibana_max_attempts,
            kibana_retry_base_seconds=settings.kibana_retry_base_seconds,
        ),
    )
    if settings.is_sqlite:
        # One process owns a SQLite database: leases left by a killed run can be taken now.
        with session_scope(session_factory) as session:
            queries.release_all_leases(session=session)
    runner = JobRunner(
        deps, threads=settings.worker_threads, lease_seconds=settings.job_lease_seconds
    )
    runner.start()
    app = create_app(
        deps,
        client=client,
        signing_secret=(
            settings.slack_signing_secret.get_secret_value()
            if settings.slack_signing_secret
            else "socket-mode"
        ),
        slash_command=settings.slash_command,
        listener_threads=settings.http_threads,
    )
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        if settings.slack_app_token is not None:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            log.info("serving Slack over Socket Mode")
            handler = SocketModeHandler(app, settings.slack_app_token.get_secret_value())
            handler.start()  # type: ignore[no-untyped-call]  # slack_bolt leaves it unannotated
        else:
            server = make_server(
                make_wsgi_app(app, ready=lambda: database_answers(engine)),
                host=settings.host,
                port=settings.port,
                threads=settings.http_threads,
            )
            log.info("serving Slack on http://%s:%d/slack/events", settings.host, settings.port)
            server.run()
    except (KeyboardInterrupt, SystemExit):
        log.info("stopping")
    finally:
        runner.stop()
        kibana.close()
        engine.dispose()


def _exit_on_signal(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
