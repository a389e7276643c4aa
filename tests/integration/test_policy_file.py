"""POLICY_FILE as an operator uses it: `python -m bot` refuses to start on a bad file, listing
every problem; starts on a good one (its target and approvers replace KIBANA_URL and
APPROVERS); `check-policy` and `explain-policy` work without any other configuration."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

from cryptography.fernet import Fernet

from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.harness import (
    APPROVER,
    KIBANA_KEY,
    BotHarness,
    bot_environment,
    bot_process,
    free_port,
    make_settings,
    reference_from,
)


def _run(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _bare_environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SLACK_", "KIBANA_", "ELASTICSEARCH_", "POLICY_", "APPROV"))
    }


def _file_env(
    slack: FakeSlack, kibana: FakeKibana, tmp_path: Path, policy: str
) -> tuple[dict[str, str], Path]:
    """The contract's variables without KIBANA_URL, KIBANA_API_KEY and APPROVERS, and
    POLICY_FILE naming ``policy`` written to a file."""
    settings = make_settings(f"sqlite:///{tmp_path / 'bot.sqlite3'}", slack, kibana)
    env = bot_environment(settings, [Fernet.generate_key()], port=free_port())
    for name in ("KIBANA_URL", "KIBANA_API_KEY", "APPROVERS"):
        del env[name]
    path = tmp_path / "policy.yml"
    path.write_text(dedent(policy))
    env["POLICY_FILE"] = str(path)
    return env, path


BAD = """\
    targets:
      prod:
        kibana_url: kibana.example.com
    rules:
      - match: {target: prd}
        approvers: [alice]
        approvals: 2
"""


def test_a_bad_policy_file_stops_the_bot_listing_every_problem(
    slack: FakeSlack, kibana: FakeKibana, tmp_path: Path
) -> None:
    env, path = _file_env(slack, kibana, tmp_path, BAD)
    result = _run(env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f'{path}:3: targets.prod.kibana_url: "kibana.example.com" is not an http(s) URL, '
        "e.g. https://host:5601",
        f'{path}:5: rules[0].match.target: "prd" is not a target; did you mean "prod"? '
        "(targets: prod)",
        f'{path}:6: rules[0].approvers[0]: "alice" is not a Slack user or group id (U…, W… or S…)',
    ]
    assert not (tmp_path / "bot.sqlite3").exists()  # stopped before opening anything
    assert slack.calls_for("auth.test") == []


def test_an_unreadable_policy_file_is_one_line_naming_it(
    slack: FakeSlack, kibana: FakeKibana, tmp_path: Path
) -> None:
    env, path = _file_env(slack, kibana, tmp_path, BAD)
    path.unlink()
    result = _run(env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"configuration error: POLICY_FILE: cannot read {path} (No such file or directory)"
    ]


def test_without_kibana_url_or_approvers_and_no_file_both_are_missing(tmp_path: Path) -> None:
    result = _run(_bare_environment(), cwd=tmp_path)
    assert result.returncode == 2
    assert "configuration error: KIBANA_URL: missing" in result.stderr
    assert "configuration error: APPROVERS: missing" in result.stderr


def test_a_good_policy_file_replaces_kibana_url_and_approvers(
    slack: FakeSlack, kibana: FakeKibana, tmp_path: Path
) -> None:
    env, _ = _file_env(
        slack,
        kibana,
        tmp_path,
        f"""\
        targets:
          lab:
            kibana_url: {kibana.url}
            kibana_api_key_env: LAB_KIBANA_KEY
        rules:
          - match: {{provider: lm_studio}}
            allow: false
            message: not here
          - match: {{}}
            approvers: [{APPROVER}]
          - match: {{}}
            approvers: [{APPROVER}]
        """,
    )
    env["LAB_KIBANA_KEY"] = KIBANA_KEY
    env["APPROVERS"] = "U0IGNORED1"  # set, but the file's rules replace it
    log_path = tmp_path / "bot.log"
    settings = make_settings(f"sqlite:///{tmp_path / 'bot.sqlite3'}", slack, kibana)
    driver = BotHarness(settings=settings, slack=slack, kibana=kibana)
    driver.url = f"http://127.0.0.1:{env['PORT']}"
    try:
        with bot_process(env, log_path=str(log_path)) as process:
            reference = reference_from(
                driver.request_via_form(
                    {
                        "name": "From the policy file",
                        "space": "default",
                        "model": "gpt-4.1",
                        "api_key": "sk-proj-POLICYFILE0123456789",
                        "justification": "policy file test",
                    }
                )
            )
            driver.card_for(reference)
            assert driver.click(reference, "approval.approve", user=APPROVER).status_code == 200
            kibana.wait_for_request("POST", "/_execute", timeout=20)
            assert len(kibana.connectors("default")) == 1  # in the file's target, with its key
            process.send_signal(signal.SIGTERM)
            assert process.wait(15) == 0
    finally:
        driver.http.close()
    log = log_path.read_text()
    assert "Traceback" not in log
    assert KIBANA_KEY not in log  # the key the file's variable holds is masked like the others
    assert "1 target(s), 3 rule(s)" in log
    assert log.count("rules[2]: can never apply") == 1  # the warning, said once at start
    assert log.count("APPROVERS is set but ignored") == 1


def test_check_policy_needs_no_environment(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        "targets:\n  prod:\n    kibana_url: https://kibana.example.com\n"
        "    kibana_api_key_env: PROD_KEY\n"
        "rules:\n  - match: {}\n    approvers: [U012ABCDEF]\n"
    )
    env = _bare_environment()
    result = _run(env, "check-policy", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{path}: OK — 1 target, 1 rule",
        "target prod: Kibana https://kibana.example.com, PROD_KEY is NOT set here",
    ]
    path.write_text(BAD)
    result = _run(env, "check-policy", str(path), cwd=tmp_path)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 3
    assert "Traceback" not in result.stderr


def test_explain_policy_reads_policy_file_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        "targets:\n  prod: {kibana_url: 'https://kibana.example.com'}\n"
        "rules:\n  - match: {provider: vllm}\n    allow: false\n"
        "  - match: {}\n    approvers: [U012ABCDEF]\n"
    )
    env = {**_bare_environment(), "POLICY_FILE": str(path)}
    args = ("explain-policy", "--target", "prod", "--space", "default", "--user", "U0REQUEST")
    allowed = _run(env, *args, "--provider", "openai", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.splitlines()[:2] == [
        "rules[0] (rule 1) does not apply: provider 'openai' is not 'vllm'",
        "rules[1] (rule 2) applies: needs 1 of U012ABCDEF",
    ]
    denied = _run(env, *args, "--provider", "vllm", cwd=tmp_path)
    assert denied.returncode == 3
    assert denied.stdout.startswith("rules[0] (rule 1) applies: denied")


def test_the_harness_bot_takes_its_policy_from_the_file(
    database_url: str, slack: FakeSlack, kibana: FakeKibana, tmp_path: Path
) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        f"targets:\n  only:\n    kibana_url: {kibana.url}\n"
        f"rules:\n  - match: {{}}\n    approvers: [{APPROVER}, S0GROUP]\n"
        "reminders: {expire_after: 2d}\n"
    )
    settings = make_settings(
        database_url, slack, kibana, policy_file=path, kibana_url=None, approvers=[]
    )
    harness = BotHarness(settings=settings, slack=slack, kibana=kibana).start(workers=False)
    try:
        assert harness.runtime is not None
        deps = harness.runtime.deps
        assert deps.governance.source == str(path)
        assert [target.key for target in deps.governance.targets] == ["only"]
        assert deps.policy.approvers == frozenset({APPROVER})  # users; groups via the rules
        assert deps.policy.request_ttl.days == 2
    finally:
        harness.stop()
