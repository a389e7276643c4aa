"""`python -m bot audit`: the audit trail of a time range as JSON Lines, for the operator.

Needs only DATABASE_URL; writes to stdout or ``--output FILE``. Errors are one line on stderr
and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NoReturn

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot.config import ConfigError, load_database_settings
from bot.db.session import make_engine, make_session_factory
from bot.domain.audit import AuditRangeError, parse_range
from bot.services.audit import write_jsonl

HELP_TEXT = """usage: python -m bot audit --since DATE [--until DATE] --format jsonl [--output FILE]

Write the audit trail (every submission, decision, refusal, provisioning step, test...) of a
time range as JSON Lines: one object a line with id, at (ISO 8601 UTC), action, actor, request,
target, space, provider, model and detail, in id order. Needs only DATABASE_URL.

  --since DATE    first day (YYYY-MM-DD, UTC) or an ISO 8601 time, e.g. 2026-11-01T08:00Z
  --until DATE    last day, included whole (or an ISO 8601 time, excluded); default: now
  --format jsonl  the only format
  --output FILE   write there instead of stdout
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"audit: {message} (python -m bot audit --help explains)\n")
        raise SystemExit(2)

    def print_help(self, file: Any = None) -> None:
        (file or sys.stdout).write(HELP_TEXT)


def _parser() -> _Parser:
    parser = _Parser(prog="python -m bot audit", add_help=True)
    parser.add_argument("--since", required=True)
    parser.add_argument("--until")
    parser.add_argument("--format", required=True, choices=["jsonl"])
    parser.add_argument("--output")
    return parser


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        return
    with Path(path).open("w", encoding="utf-8", newline="\n") as file:
        yield file


def main(argv: list[str]) -> int:
    """Run the audit command; return its exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    try:
        period = parse_range(args.since, args.until)
        url = load_database_settings().database_url
    except AuditRangeError as error:
        return _fail(str(error))
    except ConfigError as error:
        return _fail("; ".join(error.problems))
    engine = make_engine(url)
    try:
        with _output(args.output) as out:
            count, _ = write_jsonl(make_session_factory(engine), period, out)
    except DBAPIError as error:
        reason = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else "failed"
        password = make_url(url).password
        if password:
            reason = reason.replace(str(password), "***")
        return _fail(
            f"DATABASE_URL: could not read the audit trail ({reason}); is it the bot's "
            "database, migrated (python -m bot migrate)?"
        )
    except OSError as error:
        return _fail(f"--output: cannot write {error.filename or args.output} ({error.strerror})")
    finally:
        engine.dispose()
    sys.stderr.write(f"audit: {count} events from {period.describe()}\n")
    return 0


def _fail(message: str) -> int:
    sys.stderr.write(f"audit: {message}\n")
    return 2
