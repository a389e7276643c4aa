"""`python -m bot check-policy FILE` and `python -m bot explain-policy …`: operators test a
policy before they deploy it (no Slack, Kibana or database is needed)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from bot.config import ConfigError
from bot.domain.enums import Provider
from bot.domain.policy.checks import GROUP_ID, USER_ID
from bot.domain.policy.document import ParsedPolicy, PolicyFileError
from bot.domain.policy.durations import format_duration
from bot.domain.policy.matching import RequestFacts, explain, match_rule
from bot.domain.policy.model import Lifecycle, PolicyDocument, Reminders, Rule
from bot.domain.targets import Target
from bot.policy_file import load_policy_file

ALLOWED, REFUSED, USAGE_ERROR, BAD_FILE = 0, 3, 2, 1


def _load(path: Path, err: TextIO) -> ParsedPolicy | None:
    try:
        return load_policy_file(path)
    except PolicyFileError as error:
        for problem in error.problems:
            err.write(f"{problem}\n")
    except ConfigError as error:
        for problem in error.problems:
            err.write(f"{problem.removeprefix('POLICY_FILE: ')}\n")
    return None


def check_policy(
    args: list[str], *, out: TextIO, err: TextIO, environ: Mapping[str, str] | None = None
) -> int:
    """Exit 0 and a summary when FILE is sound (warnings beside it), 1 listing every problem."""
    if len(args) != 1 or args[0].startswith("-"):
        err.write("usage: python -m bot check-policy FILE\n")
        return USAGE_ERROR
    parsed = _load(Path(args[0]), err)
    if parsed is None:
        return BAD_FILE
    policy = parsed.document
    targets, rules = len(policy.targets), len(policy.rules)
    out.write(
        f"{args[0]}: OK — {targets} target{'s' * (targets != 1)}, "
        f"{rules} rule{'s' * (rules != 1)}\n"
    )
    for warning in parsed.warnings:
        out.write(f"warning: {warning}\n")
    env = os.environ if environ is None else environ
    for target in policy.targets:
        out.write(_target_line(target, env))
    return ALLOWED


def _target_line(target: Target, environ: Mapping[str, str]) -> str:
    def variable(name: str) -> str:
        state = "set" if environ.get(name, "").strip() else "NOT set"
        return f"{name} is {state} here"

    line = f"target {target.key}"
    if target.label:
        line += f" ({target.label})"
    line += (
        f": Kibana {target.kibana_url}, {variable(target.kibana_api_key_env or 'KIBANA_API_KEY')}"
    )
    if target.elasticsearch_url:
        es_variable = target.elasticsearch_api_key_env or "ELASTICSEARCH_API_KEY"
        line += f"; Elasticsearch {target.elasticsearch_url}, {variable(es_variable)}"
    if target.spaces is not None:
        line += f"; spaces {', '.join(sorted(target.spaces))}"
    return line + "\n"


def _explain_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot explain-policy",
        description="Say which rule of the policy decides a request, why, and what it requires.",
    )
    parser.add_argument("--target", required=True, help="target key (as in targets:)")
    parser.add_argument("--space", required=True, help="Kibana space id")
    parser.add_argument(
        "--provider", required=True, help=f"provider key: {', '.join(p.value for p in Provider)}"
    )
    parser.add_argument("--user", required=True, help="the requester's Slack user id (U…)")
    parser.add_argument("--model", help="the model asked for (rules may match it with globs)")
    parser.add_argument(
        "--group",
        action="append",
        default=[],
        help="a user group (S…) the requester is in; repeat for several",
    )
    parser.add_argument("--policy", help="the policy file (default: POLICY_FILE)")
    return parser


def explain_policy(
    args: list[str], *, out: TextIO, err: TextIO, environ: Mapping[str, str] | None = None
) -> int:
    """Exit 0 when the applicable rule allows the request, 3 when it is denied or no rule
    applies, 2 for bad arguments, 1 for a policy file with problems."""
    parser = _explain_parser()
    try:  # argparse names a bad or missing argument on stderr and exits 2
        options = parser.parse_args(args)
    except SystemExit as stop:
        return int(stop.code or 0)
    env = os.environ if environ is None else environ
    problems = _argument_problems(options)
    path = options.policy or env.get("POLICY_FILE", "").strip()
    if not path:
        problems.append("--policy: no policy file (pass --policy FILE or set POLICY_FILE)")
    if problems:
        for problem in problems:
            err.write(f"explain-policy: {problem}\n")
        return USAGE_ERROR
    parsed = _load(Path(path), err)
    if parsed is None:
        return BAD_FILE
    policy = parsed.document
    target = policy.target(options.target)
    if target is None:
        known = ", ".join(t.key for t in policy.targets)
        err.write(f"explain-policy: --target: unknown target {options.target!r} ({known})\n")
        return USAGE_ERROR
    facts = RequestFacts(
        target=options.target,
        space=options.space,
        provider=options.provider,
        requester=options.user,
        model=options.model,
        requester_groups=frozenset(options.group),
    )
    if not target.allows_space(options.space):
        allowed = ", ".join(sorted(target.spaces or ()))
        out.write(
            f"space {options.space!r} is not offered on target {target.key} (its spaces: "
            f"{allowed}): the form refuses it before any rule is looked at\n"
        )
        return REFUSED
    for line in explain(policy, facts):
        out.write(f"{line}\n")
    rule = match_rule(policy, facts)
    if rule is None:
        return REFUSED
    for line in requirements(policy, rule, requester=options.user):
        out.write(f"  {line}\n")
    return ALLOWED if rule.allow else REFUSED


def _argument_problems(options: argparse.Namespace) -> list[str]:
    problems: list[str] = []
    if options.provider not in {provider.value for provider in Provider}:
        known = ", ".join(provider.value for provider in Provider)
        problems.append(f"--provider: unknown provider {options.provider!r} ({known})")
    if not USER_ID.fullmatch(options.user):
        problems.append(f"--user: {options.user!r} is not a Slack user id (U… or W…)")
    problems.extend(
        f"--group: {group!r} is not a Slack user-group id (S…)"
        for group in options.group
        if not GROUP_ID.fullmatch(group)
    )
    return problems


def requirements(policy: PolicyDocument, rule: Rule, *, requester: str) -> list[str]:
    """What the rule that applies asks for, with its effective reminders and lifecycle."""
    if not rule.allow:
        return [f"denied; the requester is told: {rule.message or '(no message)'}"]
    lines: list[str] = []
    if rule.auto_approve is not None:
        limit = rule.auto_approve.max_per_requester_per_day
        lines.append(f"approved automatically, at most {limit} per requester per day")
    else:
        lines.append(f"approvers: {', '.join(rule.approvers)}")
        lines.append(
            f"approvals: {rule.approvals} distinct approver(s); the requester never counts "
            "on their own request"
        )
        if rule.break_glass:
            lines.append(
                "break-glass: allowed; an approver may approve their own request at once, "
                "with a reason"
            )
        else:
            lines.append("break-glass: not allowed")
        if requester in rule.approvers:
            lines.append(f"{requester} is an approver here but does not count on this request")
        lines.append(f"reminders: {_reminders(policy.reminders_for(rule))}")
    lines.append(f"lifecycle: {_lifecycle(policy.lifecycle_for(rule))}")
    return lines


def _reminders(reminders: Reminders) -> str:
    parts: list[str] = []
    if reminders.after is None:
        parts.append("none")
    else:
        parts.append(f"first after {format_duration(reminders.after)}")
        if reminders.repeat is not None:
            parts.append(f"then every {format_duration(reminders.repeat)}")
    if reminders.escalate_after is not None:
        to = ", ".join(reminders.escalate_to)
        parts.append(f"escalated after {format_duration(reminders.escalate_after)} to {to}")
    if reminders.expire_after is None:
        parts.append("never expires")
    else:
        parts.append(f"expires after {format_duration(reminders.expire_after)}")
    return "; ".join(parts)


def _lifecycle(lifecycle: Lifecycle) -> str:
    lifetime = (
        f"retired after {lifecycle.max_lifetime_days} days"
        if lifecycle.max_lifetime_days is not None
        else "no maximum lifetime"
    )
    return (
        f"re-tested every {format_duration(lifecycle.retest_every)}, failing after "
        f"{lifecycle.failing_after} failed re-test(s); reconciled every "
        f"{format_duration(lifecycle.reconcile_every)}; {lifetime}"
    )
