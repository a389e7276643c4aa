"""`python -m bot` as an operator runs it: configuration errors, migrate, the embedded default."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from bot.db.base import Base
from tests.conftest import POSTGRES_URL
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.harness import (
    APPROVER,
    BotHarness,
    bot_environment,
    bot_process,
    free_port,
    make_settings,
    reference_from,
    wait_until,
)

CONTRACT = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "KIBANA_URL",
    "KIBANA_API_KEY",
    "DATABASE_URL",
    "APPROVERS",
    "APPROVAL_CHANNEL",
    "NOTIFY_CHANNEL",
    "HOST",
    "PORT",
    "ENCRYPTION_KEY",
    "LOG_LEVEL",
)
REQUIRED = ("SLACK_BOT_TOKEN", "KIBANA_URL", "KIBANA_API_KEY", "APPROVERS", "APPROVAL_CHANNEL")
DEFAULT_DB = "connector-bot.sqlite3"
MODEL_TABLES = set(Base.metadata.tables)
ROOT = Path(__file__).resolve().parents[2]


def _bare_environment() -> dict[str, str]:
    """The test runner's environment without any variable of the runtime contract."""
    return {
        name: value
        for name, value in os.environ.items()
        if name not in CONTRACT and not name.startswith(("SLACK_", "KIBANA_"))
    }


def _run(
    env: dict[str, str], *args: str, cwd: Path, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _configuration_errors(stderr: str) -> dict[str, str]:
    """``configuration error: VARIABLE: what`` lines, by variable."""
    found: dict[str, str] = {}
    for line in stderr.splitlines():
        if line.startswith("configuration error: "):
            variable, _, what = line.removeprefix("configuration error: ").partition(": ")
            found[variable] = what
    return found


def _contract_env(slack: FakeSlack, kibana: FakeKibana, database_url: str) -> dict[str, str]:
    settings = make_settings(database_url, slack, kibana)
    return bot_environment(settings, [Fernet.generate_key()], port=free_port())


def _tables(path: Path) -> set[str]:
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {str(row[0]) for row in rows}
    finally:
        connection.close()


# --- configuration errors -----------------------------------------------------------------


def test_no_configuration_exits_2_naming_every_missing_variable(tmp_path: Path) -> None:
    result = _run(_bare_environment(), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    errors = _configuration_errors(result.stderr)
    for variable in REQUIRED:
        assert variable in errors, result.stderr
        assert errors[variable].startswith("missing"), errors[variable]
    assert list(tmp_path.iterdir()) == []  # nothing created before the configuration is sound


def test_a_bad_value_exits_2_naming_the_variable(
    slack: FakeSlack, kibana: FakeKibana, tmp_path: Path
) -> None:
    env = _contract_env(slack, kibana, f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    env["APPROVERS"] = "alice"
    result = _run(env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = _configuration_errors(result.stderr)
    assert list(errors) == ["APPROVERS"], result.stderr
    assert "alice" in errors["APPROVERS"]
    assert slack.calls_for("auth.test") == []


def test_configuration_errors_never_print_the_secrets(
    slack: FakeSlack, kibana: FakeKibana, tmp_path: Path
) -> None:
    env = _contract_env(slack, kibana, f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    user_token = "xoxp-1234567890-0987654321-SeCrEtUsErToKeN"
    env.update(SLACK_BOT_TOKEN=user_token, KIBANA_URL="not a url", ENCRYPTION_KEY="nope")
    result = _run(env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    errors = _configuration_errors(result.stderr)
    assert "KIBANA_URL" in errors, result.stderr
    output = result.stderr + result.stdout
    for secret in (user_token, env["KIBANA_API_KEY"], env["SLACK_SIGNING_SECRET"]):
        assert secret not in output


def test_an_unknown_argument_prints_the_usage(tmp_path: Path) -> None:
    result = _run(_bare_environment(), "frobnicate", cwd=tmp_path)
    assert result.returncode == 2
    assert "usage: python -m bot [migrate]" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_database_other_than_sqlite_without_encryption_key_exits_2(
    slack: FakeSlack, kibana: FakeKibana, tmp_path: Path
) -> None:
    # The key is checked before the database is opened, so PostgreSQL need not answer.
    env = _contract_env(slack, kibana, POSTGRES_URL)
    del env["ENCRYPTION_KEY"]
    env["DATABASE_URL"] = POSTGRES_URL
    result = _run(env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = _configuration_errors(result.stderr)
    assert list(errors) == ["ENCRYPTION_KEY"], result.stderr
    assert errors["ENCRYPTION_KEY"].startswith("missing")
    assert list(tmp_path.iterdir()) == []


def test_an_invalid_encryption_key_exits_2_naming_it(
    slack: FakeSlack, kibana: FakeKibana, tmp_path: Path
) -> None:
    env = _contract_env(slack, kibana, f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    env["ENCRYPTION_KEY"] = "definitely-not-a-fernet-key"
    result = _run(env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    errors = _configuration_errors(result.stderr)
    assert list(errors) == ["ENCRYPTION_KEY"], result.stderr
    assert "definitely-not-a-fernet-key" not in result.stderr


def test_a_bot_token_slack_rejects_exits_2_naming_it(
    slack: FakeSlack, kibana: FakeKibana, tmp_path: Path
) -> None:
    env = _contract_env(slack, kibana, f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    env["SLACK_BOT_TOKEN"] = "xoxb-wrong"
    result = _run(env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = _configuration_errors(result.stderr)
    assert list(errors) == ["SLACK_BOT_TOKEN"], result.stderr
    assert "invalid_auth" in errors["SLACK_BOT_TOKEN"]
    assert "xoxb-wrong" not in result.stderr
    [call] = slack.calls_for("auth.test")
    assert call.response["error"] == "invalid_auth"


def test_slack_unreachable_at_start_is_a_warning_not_a_stop(
    slack: FakeSlack, kibana: FakeKibana, tmp_path: Path
) -> None:
    env = _contract_env(slack, kibana, f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    env["SLACK_API_URL"] = f"http://127.0.0.1:{free_port()}/api/"
    log_path = tmp_path / "bot.log"
    with bot_process(env, log_path=str(log_path)) as process:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    assert "could not reach Slack at start" in log_path.read_text()


# --- migrate --------------------------------------------------------------------------------


def test_migrate_creates_the_tables_and_can_run_again(tmp_path: Path) -> None:
    database = tmp_path / "x.sqlite3"
    env = {**_bare_environment(), "DATABASE_URL": f"sqlite:///{database}"}
    first = _run(env, "migrate", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert _tables(database) == MODEL_TABLES | {"alembic_version"}
    again = _run(env, "migrate", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in first.stderr + again.stderr
    assert not (tmp_path / "x.sqlite3.key").exists()  # migrate needs no key


def test_migrate_without_database_url_uses_the_default_file(tmp_path: Path) -> None:
    result = _run(_bare_environment(), "migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _tables(tmp_path / DEFAULT_DB) == MODEL_TABLES | {"alembic_version"}


def test_migrate_with_an_unsupported_database_is_a_configuration_error(tmp_path: Path) -> None:
    env = {**_bare_environment(), "DATABASE_URL": "mysql://bot:pw@127.0.0.1/bot"}
    result = _run(env, "migrate", cwd=tmp_path)
    assert "Traceback" not in result.stderr
    assert result.returncode == 2
    assert "DATABASE_URL" in _configuration_errors(result.stderr)


# --- the embedded default: SQLite in the working directory, a generated key ----------------


def test_the_embedded_default_creates_its_database_and_key_and_reuses_the_key(
    slack: FakeSlack, kibana: FakeKibana, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    settings = make_settings(f"sqlite:///{tmp_path / 'unused.sqlite3'}", slack, kibana)
    port = free_port()
    env = bot_environment(settings, [Fernet.generate_key()], port=port)
    del env["DATABASE_URL"]
    del env["ENCRYPTION_KEY"]
    driver = BotHarness(settings=settings, slack=slack, kibana=kibana)
    driver.url = f"http://127.0.0.1:{port}"
    key_file = work / f"{DEFAULT_DB}.key"
    api_key = "sk-proj-EMBEDDEDDEFAULT0123456789"
    try:
        with bot_process(env, cwd=str(work), log_path=str(tmp_path / "first.log")) as first:
            assert (work / DEFAULT_DB).is_file()
            assert key_file.is_file()
            assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
            key = key_file.read_bytes()
            Fernet(key.strip())
            assert _tables(work / DEFAULT_DB) >= MODEL_TABLES
            # A request made in the first life waits, sealed with the generated key.
            reference = reference_from(
                driver.request_via_form(
                    {
                        "name": "Embedded default",
                        "space": "default",
                        "model": "gpt-4.1",
                        "api_key": api_key,
                        "justification": "restart test",
                    }
                )
            )
            driver.card_for(reference)
            first.send_signal(signal.SIGTERM)
            assert first.wait(15) == 0
        stored = b"".join(p.read_bytes() for p in work.iterdir() if p.name != key_file.name)
        assert key.strip() not in stored  # the key is never inside the database
        assert api_key.encode() not in stored

        with bot_process(env, cwd=str(work), log_path=str(tmp_path / "second.log")) as second:
            assert key_file.read_bytes() == key
            assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
            assert httpx.get(f"{driver.url}/healthz", timeout=5).status_code == 200
            # The second life opens what the first sealed: the key was reused.
            assert driver.click(reference, "approval.approve", user=APPROVER).status_code == 200
            kibana.wait_for_request("POST", "/_execute", timeout=20)
            [connector] = kibana.connectors("default").values()
            assert connector["secrets"] == {"apiKey": api_key}
            second.send_signal(signal.SIGTERM)
            assert second.wait(15) == 0
    finally:
        driver.http.close()
    assert sorted(p.name for p in work.iterdir() if not p.name.endswith(("-wal", "-shm"))) == [
        DEFAULT_DB,
        f"{DEFAULT_DB}.key",
    ]
    for log in ("first.log", "second.log"):
        text = (tmp_path / log).read_text()
        assert "Traceback" not in text
        assert api_key not in text
        assert key.strip().decode() not in text


def test_sigterm_while_kibana_is_being_called_exits_0(
    slack: FakeSlack, kibana: FakeKibana, tmp_path: Path
) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'bot.sqlite3'}", slack, kibana)
    port = free_port()
    env = bot_environment(settings, [Fernet.generate_key()], port=port)
    driver = BotHarness(settings=settings, slack=slack, kibana=kibana)
    driver.url = f"http://127.0.0.1:{port}"
    kibana.set_delay(3.0, method="POST", path_contains="/api/actions/connector/")
    log_path = tmp_path / "bot.log"
    try:
        with bot_process(env, log_path=str(log_path)) as process:
            reference = reference_from(
                driver.request_via_form(
                    {
                        "name": "Busy bot",
                        "space": "default",
                        "model": "gpt-4.1",
                        "api_key": "sk-proj-BUSYBOT0123456789",
                        "justification": "shutdown test",
                    }
                )
            )
            assert driver.click(reference, "approval.approve", user=APPROVER).status_code == 200
            wait_until(kibana.requests_in_flight, what="the create call to start")
            process.send_signal(signal.SIGTERM)
            assert process.wait(15) == 0
    finally:
        driver.http.close()
        kibana.set_delay(0, method="POST", path_contains="/api/actions/connector/")
    assert "Traceback" not in log_path.read_text()


# --- python3 dev.py run -----------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_dev_py_run_passes_the_signal_on_to_the_bot(
    slack: FakeSlack, kibana: FakeKibana, tmp_path: Path, signum: signal.Signals
) -> None:
    env = _contract_env(slack, kibana, f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    url = f"http://127.0.0.1:{env['PORT']}/healthz"
    log_path = tmp_path / "bot.log"

    def answers() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - the README's command
            [sys.executable, str(ROOT / "dev.py"), "run"],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=log,
        )
        try:
            wait_until(lambda: process.poll() is not None or answers(), timeout=60, what="/healthz")
            assert process.poll() is None, log_path.read_text()
            process.send_signal(signum)
            assert process.wait(15) == 0
            wait_until(lambda: not answers(), timeout=5, what="the bot's port to stop answering")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    messages = [line["message"] for line in lines]
    assert not [m for m in messages if "Traceback" in m or "will be unused" in m], messages
    stopping = [m for m in messages if m.startswith("stopping")]
    assert stopping == [f"stopping ({signum.name}): finishing the requests and jobs under way"]
    assert messages[-1] == "stopped"


# --- start-up errors: one line each, exit 2, never a traceback --------------------------------


def _one_configuration_error(result: subprocess.CompletedProcess[str], variable: str) -> str:
    output = result.stderr + result.stdout
    assert result.returncode == 2, output
    assert "Traceback" not in output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, output
    errors = _configuration_errors(result.stderr)
    assert list(errors) == [variable], output
    return errors[variable]


def test_help_explains_the_modes_the_commands_and_the_configuration(tmp_path: Path) -> None:
    result = _run(_bare_environment(), "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for needle in (
        "migrate",
        "HTTP",
        "Socket Mode",
        "SLACK_APP_TOKEN",
        "environment variables",
        "DATABASE_URL",
        "README",
        "SIGTERM",
    ):
        assert needle in text, needle
    assert list(tmp_path.iterdir()) == []


def test_a_kibana_url_without_scheme_says_add_https(
    slack: FakeSlack, kibana: FakeKibana, tmp_path: Path
) -> None:
    env = _contract_env(slack, kibana, f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    env["KIBANA_URL"] = "kibana.example.com"
    what = _one_configuration_error(_run(env, cwd=tmp_path), "KIBANA_URL")
    assert "add https://" in what
    assert "relative URL without a base" not in what


def test_a_sqlite_path_under_a_file_exits_2_in_one_line(
    slack: FakeSlack, kibana: FakeKibana, tmp_path: Path
) -> None:
    (tmp_path / "plain-file").write_text("")
    env = _contract_env(slack, kibana, f"sqlite:///{tmp_path / 'plain-file' / 'bot.sqlite3'}")
    del env["ENCRYPTION_KEY"]  # the key file beside the database is the first thing written
    what = _one_configuration_error(_run(env, cwd=tmp_path), "DATABASE_URL")
    assert "plain-file" in what
    assert "not a folder" in what


def test_a_sqlite_path_that_cannot_be_opened_exits_2_in_one_line(
    slack: FakeSlack, kibana: FakeKibana, tmp_path: Path
) -> None:
    (tmp_path / "a-folder.sqlite3").mkdir()
    env = _contract_env(slack, kibana, f"sqlite:///{tmp_path / 'a-folder.sqlite3'}")
    what = _one_configuration_error(_run(env, cwd=tmp_path), "DATABASE_URL")
    assert "cannot open the SQLite database" in what
    assert "a-folder.sqlite3" in what


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_an_unwritable_sqlite_folder_exits_2_in_one_line(
    slack: FakeSlack, kibana: FakeKibana, tmp_path: Path
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        env = _contract_env(slack, kibana, f"sqlite:///{locked / 'bot.sqlite3'}")
        del env["ENCRYPTION_KEY"]
        what = _one_configuration_error(_run(env, cwd=tmp_path), "DATABASE_URL")
        assert "Permission denied" in what
    finally:
        locked.chmod(0o700)


def test_migrate_into_a_folder_that_does_not_exist_exits_2_in_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    env = {**_bare_environment(), "DATABASE_URL": f"sqlite:///{missing / 'x.sqlite3'}"}
    what = _one_configuration_error(_run(env, "migrate", cwd=tmp_path), "DATABASE_URL")
    assert f"the folder {missing} does not exist" in what
    assert not missing.exists()


@pytest.mark.parametrize("command", [[], ["migrate"]], ids=["run", "migrate"])
def test_a_postgres_that_does_not_answer_exits_2_in_one_line(
    slack: FakeSlack, kibana: FakeKibana, tmp_path: Path, command: list[str]
) -> None:
    port = free_port()  # nothing listens there
    database_url = f"postgresql://bot:hunter2-db-password@127.0.0.1:{port}/bot"
    env = _contract_env(slack, kibana, f"sqlite:///{tmp_path / 'unused.sqlite3'}")
    env["DATABASE_URL"] = database_url
    what = _one_configuration_error(_run(env, *command, cwd=tmp_path), "DATABASE_URL")
    assert f"could not connect to PostgreSQL at 127.0.0.1:{port}/bot" in what
    assert "hunter2-db-password" not in what
