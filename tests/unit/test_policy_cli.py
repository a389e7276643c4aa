"""`python -m bot check-policy` and `explain-policy` through main(): outputs and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.__main__ import main

POLICY = """\
targets:
  prod:
    kibana_url: https://kibana.prod.example.com
    kibana_api_key_env: PROD_KEY
    elasticsearch_url: https://es.prod.example.com
    spaces: [default, security]
    label: Production
  staging:
    kibana_url: https://kibana.staging.example.com
rules:
  - match: {target: prod, provider: lm_studio}
    allow: false
    message: Not in production.
  - match: {target: prod, model: "gpt-4*"}
    approvers: [U012ABCDEF, S0SECLEADS]
    approvals: 2
    reminders: {after: 30m}
    lifecycle: {max_lifetime_days: 30}
  - match: {target: staging, requester: S0LABTEAM}
    auto_approve: {max_per_requester_per_day: 3}
  - match: {target: staging}
    approvers: [U012ABCDEF]
    break_glass: true
  - match: {}
    approvers: [U012ABCDEF]
  - match: {provider: vllm}
    allow: false
reminders: {after: 4h, expire_after: 7d}
"""


@pytest.fixture
def policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(POLICY)
    monkeypatch.setenv("POLICY_FILE", str(path))
    monkeypatch.setenv("PROD_KEY", "set")
    monkeypatch.delenv("KIBANA_API_KEY", raising=False)
    monkeypatch.delenv("ELASTICSEARCH_API_KEY", raising=False)
    return path


def explain(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    code = main(["explain-policy", *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


BASE = ("--target", "prod", "--space", "default", "--user", "U0REQUEST")


def test_check_policy_summarises_warns_and_tells_which_key_variables_are_set(
    policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-policy", str(policy)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{policy}: OK — 2 targets, 6 rules",
        f"warning: {policy}:26: rules[5]: can never apply: rules[4] matches every request "
        "(match: {}) and the first match wins",
        "target prod (Production): Kibana https://kibana.prod.example.com, PROD_KEY is set "
        "here; Elasticsearch https://es.prod.example.com, ELASTICSEARCH_API_KEY is NOT set "
        "here; spaces default, security",
        "target staging: Kibana https://kibana.staging.example.com, KIBANA_API_KEY is NOT set here",
    ]


@pytest.mark.parametrize("args", [[], ["a.yml", "b.yml"], ["--verbose"]])
def test_check_policy_without_one_file_is_a_usage_error(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-policy", *args]) == 2
    assert capsys.readouterr().err == "usage: python -m bot check-policy FILE\n"


def test_explain_two_of_n_with_its_reminders_and_lifecycle(
    policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = explain(capsys, *BASE, "--provider", "openai", "--model", "GPT-4o")
    assert code == 0
    assert out == [
        "rules[0] (rule 1) does not apply: provider 'openai' is not 'lm_studio'",
        "rules[1] (rule 2) applies: needs 2 of U012ABCDEF, S0SECLEADS",
        "  approvers: U012ABCDEF, S0SECLEADS",
        "  approvals: 2 distinct approver(s); the requester never counts on their own request",
        "  break-glass: not allowed",
        "  reminders: first after 30m; expires after 7d",
        "  lifecycle: re-tested every 1d, failing after 2 failed re-test(s); reconciled every "
        "1h; retired after 30 days",
    ]


def test_explain_auto_approve_break_glass_and_deny(
    policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    staging = ("--target", "staging", "--space", "lab", "--user", "U012ABCDEF")
    code, out, _ = explain(capsys, *staging, "--provider", "vllm", "--group", "S0LABTEAM")
    assert code == 0
    assert out[-2:] == [
        "  approved automatically, at most 3 per requester per day",
        "  lifecycle: re-tested every 1d, failing after 2 failed re-test(s); reconciled every "
        "1h; no maximum lifetime",
    ]
    code, out, _ = explain(capsys, *staging, "--provider", "vllm")
    assert code == 0
    assert (
        "  break-glass: allowed; an approver may approve their own request at once, with a reason"
    ) in out
    assert "  U012ABCDEF is an approver here but does not count on this request" in out
    code, out, _ = explain(capsys, *BASE, "--provider", "lm_studio")
    assert code == 3
    assert out == [
        "rules[0] (rule 1) applies: denied (Not in production.)",
        "  denied; the requester is told: Not in production.",
    ]


def test_a_space_outside_the_targets_allow_list_is_refused_first(
    policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("--target", "prod", "--space", "lab", "--user", "U0REQUEST", "--provider", "openai")
    code, out, _ = explain(capsys, *args)
    assert code == 3
    assert out == [
        "space 'lab' is not offered on target prod (its spaces: default, security): the form "
        "refuses it before any rule is looked at"
    ]


def test_no_rule_applies_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.yml"
    path.write_text(
        "targets: {prod: {kibana_url: 'https://k.example.com'}}\n"
        "rules: [{match: {provider: openai}, approvers: [U012ABCDEF]}]\n"
    )
    code, out, _ = explain(capsys, *BASE, "--provider", "bedrock", "--policy", str(path))
    assert code == 3
    assert out[-1] == "no rule applies: the request would be refused at submit"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--provider", "gpt"], "--provider: unknown provider 'gpt'"),
        (["--provider", "openai", "--group", "lab"], "--group: 'lab' is not a Slack user-group"),
        (["--provider", "openai", "--target", "qa"], "--target: unknown target 'qa' (prod, "),
    ],
)
def test_bad_arguments_exit_2_naming_them(
    policy: Path, capsys: pytest.CaptureFixture[str], args: list[str], named: str
) -> None:
    code, out, err = explain(capsys, *BASE, *args)
    assert code == 2
    assert out == []
    assert named in err


def test_a_missing_argument_or_policy_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = explain(capsys, "--target", "prod")
    assert code == 2
    assert "the following arguments are required: --space, --provider, --user" in err
    monkeypatch.delenv("POLICY_FILE", raising=False)
    code, _, err = explain(capsys, *BASE, "--provider", "openai")
    assert code == 2
    assert "--policy: no policy file (pass --policy FILE or set POLICY_FILE)" in err


def test_explain_policy_help_documents_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain-policy", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--target", "--space", "--provider", "--user", "--model", "--group"):
        assert option in text
    assert main(["--help"]) == 0
    assert "check-policy FILE" in capsys.readouterr().out
