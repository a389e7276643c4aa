"""Composition root: `python -m bot` runs the bot; `python -m bot migrate` only migrates."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot import policy_cli
from bot.config import ConfigError, Settings, load_database_settings, load_settings
from bot.crypto import resolve_keys
from bot.db.migrate import upgrade_database
from bot.db.session import make_engine
from bot.domain.policy.document import ParsedPolicy, PolicyFileError
from bot.logs import configure_logging
from bot.policy_file import load_policy_file
from bot.runtime import build_runtime
from bot.server import make_server
from bot.target_clients import target_secrets

log = logging.getLogger("bot")
T = TypeVar("T")

USAGE = "usage: python -m bot [migrate]   (python -m bot --help explains)\n"
HELP = """usage: python -m bot [migrate]

The Kibana LLM Connector Bot: people request Kibana LLM connectors in Slack, approvers decide,
the bot creates and tests them.

Commands:
  (none)    run the bot: migrate the database, then serve Slack until SIGTERM or SIGINT
  migrate   only apply the database migrations, then exit (a release step; needs only
            DATABASE_URL)
  check-policy FILE
            validate a policy file without starting: exit 0 with a summary (and warnings, and
            whether each target's key variables are set here), 1 listing every problem as
            FILE:LINE: path: message
  explain-policy --target T --space S --provider P --user U [--model M] [--group S...]
                 [--policy FILE]
            say which rule of the policy (FILE, default POLICY_FILE) decides such a request,
            why the rules before it do not, and what it requires (approvers, approvals,
            break-glass, auto-approve, reminders, lifecycle); --group names a user group the
            requester is in. Exit 0 when the rule allows, 3 when it denies or no rule
            applies, 2 for bad arguments
  audit     write the audit trail of a time range as JSON Lines, then exit (needs only
            DATABASE_URL): audit --since DATE [--until DATE] --format jsonl [--output FILE];
            DATE is YYYY-MM-DD (whole UTC days, --until included) or an ISO 8601 time;
            python -m bot audit --help explains
  --help    show this text

Modes (chosen by the environment):
  HTTP          the default: Slack posts commands and clicks to http://HOST:PORT/slack/events
                (needs SLACK_SIGNING_SECRET); /healthz and /metrics are served on the same port
  Socket Mode   when SLACK_APP_TOKEN (xapp-...) is set: the bot connects out to Slack and
                serves only /healthz and /metrics on PORT

Configuration is read from environment variables only (an empty variable counts as unset):
  required      SLACK_BOT_TOKEN, KIBANA_URL, KIBANA_API_KEY, APPROVERS, APPROVAL_CHANNEL,
                and SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)
  POLICY_FILE   a YAML policy (targets, rules, reminders, lifecycle) replacing KIBANA_URL and
                APPROVERS (and KIBANA_API_KEY where targets name their own key variable);
                its problems stop the bot at start, one FILE:LINE: path: message per line
  optional      DATABASE_URL (default: SQLite file connector-bot.sqlite3 in the working
                directory), ENCRYPTION_KEY (required with PostgreSQL), NOTIFY_CHANNEL, HOST,
                PORT, SLACK_API_URL, LOG_LEVEL, SLASH_COMMAND, AUDIT_INDEX and the tuning variables
                (REQUEST_TTL_HOURS, KIBANA_*, WORKER_THREADS, HTTP_THREADS, JOB_LEASE_SECONDS,
                SWEEP_SECONDS)
See the README's Configuration section for each variable. A bad or missing setting stops the
bot with one line per variable, `configuration error: NAME: ...`, and exit code 2.
"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["-h"], ["--help"], ["help"]):
        sys.stdout.write(HELP)
        return 0
    if args[:1] == ["check-policy"]:
        return policy_cli.check_policy(args[1:], out=sys.stdout, err=sys.stderr)
    if args[:1] == ["explain-policy"]:
        return policy_cli.explain_policy(args[1:], out=sys.stdout, err=sys.stderr)
    if args[:1] == ["audit"]:
        from bot import audit_cli

        return audit_cli.main(args[1:])
    if args not in ([], ["migrate"]):
        sys.stderr.write(USAGE)
        return 2
    configure_logging()
    try:
        if args == ["migrate"]:
            url = load_database_settings().database_url
            _starting_database(url, lambda: upgrade_database(make_engine(url)))
            return 0
        settings = load_settings()
        governance = _read_policy(settings)
        keys = _starting_database(
            settings.database_url,
            lambda: resolve_keys(
                configured=settings.encryption_key.get_secret_value()
                if settings.encryption_key
                else None,
                database_url=settings.database_url,
                is_sqlite=settings.is_sqlite,
            ),
        )
        _check_slack_token(settings)
        run(settings, keys, governance=governance)
    except ConfigError as error:
        for problem in error.problems:
            sys.stderr.write(f"configuration error: {problem}\n")
        return 2
    except PolicyFileError as error:
        for problem in error.problems:
            sys.stderr.write(f"{problem}\n")
        return 2
    return 0


def _read_policy(settings: Settings) -> ParsedPolicy | None:
    """POLICY_FILE, read before anything is opened (its problems stop the start)."""
    return load_policy_file(settings.policy_file) if settings.policy_file is not None else None


def _announce_policy(settings: Settings, governance: ParsedPolicy | None) -> None:
    if governance is None:
        return
    policy = governance.document
    log.info(
        "policy %s: %d target(s), %d rule(s)",
        settings.policy_file,
        len(policy.targets),
        len(policy.rules),
    )
    for warning in governance.warnings:
        log.warning("policy: %s", warning)
    ignored = settings.ignored_by_policy_file()
    if ignored:
        log.warning(
            "%s %s set but ignored: POLICY_FILE's targets and rules replace them",
            ", ".join(ignored),
            "is" if len(ignored) == 1 else "are",
        )


def _starting_database(database_url: str, step: Callable[[], T]) -> T:
    """Run a start-up step that opens the database or files beside it; its failure is one
    ``DATABASE_URL: …`` configuration error, never a traceback."""
    try:
        return step()
    except DBAPIError as error:
        raise ConfigError([f"DATABASE_URL: {_database_problem(database_url, error)}"]) from None
    except (FileExistsError, NotADirectoryError) as error:
        raise ConfigError(
            [f"DATABASE_URL: {error.filename} is in the way: it is a file, not a folder"]
        ) from None
    except OSError as error:
        where = f" {error.filename}" if error.filename else ""
        raise ConfigError(
            [
                f"DATABASE_URL: cannot use{where} ({error.strerror or error}); check the path "
                "and that this user may write to its folder"
            ]
        ) from None


def _database_problem(database_url: str, error: DBAPIError) -> str:
    url = make_url(database_url)
    reason = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else "failed"
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if path.parent.exists() and not path.parent.is_dir():
            return f"cannot open the SQLite database {path}: {path.parent} is a file, not a folder"
        if not path.parent.is_dir():
            return (
                f"cannot open the SQLite database {path}: the folder {path.parent} does not "
                "exist (create it first)"
            )
        return f"cannot open the SQLite database {path} ({reason}); check the path and its rights"
    reason = reason.rsplit(" failed: ", 1)[-1]
    if url.password:
        reason = reason.replace(str(url.password), "***")
    where = f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"
    return f"could not connect to PostgreSQL at {where} ({reason})"


def _secrets_of(settings: Settings) -> list[str]:
    values = [
        settings.slack_bot_token,
        settings.kibana_api_key,
        settings.elasticsearch_api_key,
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


def run(settings: Settings, keys: list[bytes], *, governance: ParsedPolicy | None = None) -> None:
    """Wire everything and serve until stopped."""
    document = governance.document if governance is not None else None
    # The keys the file's targets name are secrets too: never logged (unset ones stop here).
    file_keys = target_secrets(document, settings) if document is not None else []
    configure_logging(settings.log_level, secrets=_secrets_of(settings) + file_keys)
    _announce_policy(settings, governance)
    runtime = _starting_database(
        settings.database_url, lambda: build_runtime(settings, keys, governance=document)
    )
    runtime.runner.start()
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
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
        server.run()  # returns when a signal's SystemExit stops its loop
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        log.info("stopping (%s): finishing the requests and jobs under way", _stop_reason())
        if handler is not None:
            handler.close()  # type: ignore[no-untyped-call]  # slack_bolt leaves it unannotated
        runtime.close()
        log.info("stopped")


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


_received: list[str] = []


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    # No logging here: a signal handler may interrupt a thread holding the log handler's lock.
    _received.append(signal.Signals(signum).name)
    raise SystemExit(0)


def _stop_reason() -> str:
    return _received[0] if _received else "the server stopped"


if __name__ == "__main__":
    sys.exit(main())
