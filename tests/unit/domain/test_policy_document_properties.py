"""Property tests of the policy file reader: any valid document written as YAML reads back
equal; any single mistake put into it is reported once, with its path and the right line."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.enums import Provider
from bot.domain.policy.document import PolicyFileError, parse_policy
from bot.domain.policy.durations import format_duration
from bot.domain.policy.model import (
    AutoApprove,
    Lifecycle,
    Match,
    PolicyDocument,
    Reminders,
    Rule,
)
from bot.domain.targets import Target

PROPERTIES = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
USERS = ["U012ABCDEF", "U034GHIJKL", "W056MNOPQR", "U078STUVWX"]
GROUPS = ["S0123GROUP", "S0LABTEAM", "S0ONCALL"]
PROVIDERS = [provider.value for provider in Provider]

target_keys = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,12}", fullmatch=True)
space_ids = st.from_regex(r"[a-z0-9_-]{1,12}", fullmatch=True)
env_names = st.from_regex(r"[A-Z_][A-Z0-9_]{0,15}", fullmatch=True)
# Text a person writes: printable, any YAML-special word or character (PyYAML quotes it).
texts = (
    st.text(
        st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=30
    )
    .map(str.strip)
    .filter(bool)
)
durations = st.integers(1, 10**6).map(lambda seconds: timedelta(seconds=seconds))
ids = st.sampled_from(USERS + GROUPS)


@st.composite
def targets_st(draw: st.DrawFn) -> tuple[Target, ...]:
    keys = draw(st.lists(target_keys, min_size=1, max_size=3, unique=True))
    found = []
    for key in keys:
        es = draw(st.booleans())
        spaces = draw(st.none() | st.frozensets(space_ids, min_size=1, max_size=3))
        found.append(
            Target(
                key=key,
                kibana_url=draw(
                    st.sampled_from(
                        [
                            f"https://{key}.example.com",
                            f"http://{key}.local:5601",
                            f"https://example.com/kibana/{key}",
                        ]
                    )
                ),
                kibana_api_key_env=draw(st.none() | env_names),
                elasticsearch_url=f"https://es-{key}.example.com:9200" if es else None,
                elasticsearch_api_key_env=draw(st.none() | env_names) if es else None,
                spaces=spaces,
                label=draw(st.none() | texts),
            )
        )
    return tuple(found)


@st.composite
def reminders_st(draw: st.DrawFn) -> Reminders:
    after = draw(st.none() | durations)
    escalate_after = draw(st.none() | durations)
    return Reminders(
        after=after,
        repeat=draw(st.none() | durations) if after is not None else None,
        escalate_after=escalate_after,
        escalate_to=tuple(
            draw(st.lists(ids, min_size=1 if escalate_after else 0, max_size=2, unique=True))
        ),
        expire_after=draw(st.none() | durations),
    )


lifecycles = st.builds(
    Lifecycle,
    retest_every=durations,
    reconcile_every=durations,
    failing_after=st.integers(1, 10),
    max_lifetime_days=st.none() | st.integers(1, 3650),
)


@st.composite
def match_st(draw: st.DrawFn, targets: tuple[Target, ...]) -> Match:
    keys = [target.key for target in targets]
    chosen = draw(st.none() | st.frozensets(st.sampled_from(keys), min_size=1, max_size=2))
    candidates = [t for t in targets if chosen is None or t.key in chosen]
    if all(t.spaces is not None for t in candidates):
        offered = sorted(set().union(*(t.spaces or () for t in candidates)))
        spaces_st = st.frozensets(st.sampled_from(offered), min_size=1, max_size=2)
    else:
        spaces_st = st.frozensets(space_ids, min_size=1, max_size=2)

    def some(strategy: st.SearchStrategy[Any]) -> Any:
        return draw(st.none() | strategy)

    return Match(
        targets=chosen,
        spaces=some(spaces_st),
        providers=some(st.frozensets(st.sampled_from(PROVIDERS), min_size=1, max_size=3)),
        models=some(st.lists(texts, min_size=1, max_size=2).map(tuple)),
        requesters=some(st.frozensets(ids, min_size=1, max_size=2)),
    )


@st.composite
def rule_st(draw: st.DrawFn, index: int, targets: tuple[Target, ...]) -> Rule:
    match = draw(match_st(targets))
    name = draw(st.none() | texts)
    kind = draw(st.sampled_from(["approvers", "auto", "deny"]))
    if kind == "deny":
        return Rule(
            index=index, match=match, name=name, allow=False, message=draw(st.none() | texts)
        )
    lifecycle = draw(st.none() | lifecycles)
    if kind == "auto":
        limit = draw(st.integers(1, 50))
        return Rule(
            index=index,
            match=match,
            name=name,
            auto_approve=AutoApprove(limit),
            lifecycle=lifecycle,
        )
    approvers = tuple(draw(st.lists(ids, min_size=1, max_size=4, unique=True)))
    most = 5 if any(a.startswith("S") for a in approvers) else len(approvers)
    return Rule(
        index=index,
        match=match,
        name=name,
        approvers=approvers,
        approvals=draw(st.integers(1, most)),
        break_glass=draw(st.booleans()),
        reminders=draw(st.none() | reminders_st()),
        lifecycle=lifecycle,
    )


@st.composite
def documents(draw: st.DrawFn) -> PolicyDocument:
    targets = draw(targets_st())
    count = draw(st.integers(1, 4))
    rules = tuple(draw(rule_st(index, targets)) for index in range(count))
    return PolicyDocument(
        targets=targets,
        rules=rules,
        reminders=draw(reminders_st()),
        lifecycle=draw(lifecycles),
    )


# --- writing a document as its YAML -----------------------------------------------------


def _duration(value: timedelta | None) -> str | None:
    return format_duration(value) if value is not None else None


def _reminders(value: Reminders) -> dict[str, Any]:
    return {
        "after": _duration(value.after),
        "repeat": _duration(value.repeat),
        "escalate_after": _duration(value.escalate_after),
        "escalate_to": list(value.escalate_to),
        "expire_after": _duration(value.expire_after),
    }


def _lifecycle(value: Lifecycle) -> dict[str, Any]:
    return {
        "retest_every": format_duration(value.retest_every),
        "reconcile_every": format_duration(value.reconcile_every),
        "failing_after": value.failing_after,
        "max_lifetime_days": value.max_lifetime_days,
    }


def _target(target: Target) -> dict[str, Any]:
    data: dict[str, Any] = {"kibana_url": target.kibana_url}
    optional = {
        "kibana_api_key_env": target.kibana_api_key_env,
        "elasticsearch_url": target.elasticsearch_url,
        "elasticsearch_api_key_env": target.elasticsearch_api_key_env,
        "spaces": sorted(target.spaces) if target.spaces is not None else None,
        "label": target.label,
    }
    data.update({key: value for key, value in optional.items() if value is not None})
    return data


def _match(match: Match) -> dict[str, Any]:
    fields = {
        "target": match.targets,
        "space": match.spaces,
        "provider": match.providers,
        "model": match.models,
        "requester": match.requesters,
    }
    data: dict[str, Any] = {}
    for key, values in fields.items():
        if values is None:
            continue
        listed = sorted(values) if isinstance(values, frozenset) else list(values)
        data[key] = listed[0] if len(listed) == 1 else listed  # a value or a list of values
    return data


def _rule(rule: Rule) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if rule.name is not None:
        data["name"] = rule.name
    data["match"] = _match(rule.match)
    if not rule.allow:
        data["allow"] = False
        if rule.message is not None:
            data["message"] = rule.message
        return data
    if rule.auto_approve is not None:
        data["auto_approve"] = {
            "max_per_requester_per_day": rule.auto_approve.max_per_requester_per_day
        }
    else:
        data["approvers"] = list(rule.approvers)
        data["approvals"] = rule.approvals
        data["break_glass"] = rule.break_glass
    if rule.reminders is not None:
        data["reminders"] = _reminders(rule.reminders)
    if rule.lifecycle is not None:
        data["lifecycle"] = _lifecycle(rule.lifecycle)
    return data


def to_data(policy: PolicyDocument) -> dict[str, Any]:
    return {
        "targets": {target.key: _target(target) for target in policy.targets},
        "rules": [_rule(rule) for rule in policy.rules],
        "reminders": _reminders(policy.reminders),
        "lifecycle": _lifecycle(policy.lifecycle),
    }


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


@PROPERTIES
@given(documents())
def test_a_valid_document_reads_back_equal(policy: PolicyDocument) -> None:
    assert parse_policy(dump(to_data(policy)), source="p.yml") == replace(policy, source="p.yml")


# --- one mistake at a time --------------------------------------------------------------

MARK = "zzmark"


def _bad_approver(data: dict[str, Any], draw: st.DrawFn) -> str | None:
    indexes = [i for i, rule in enumerate(data["rules"]) if "approvers" in rule]
    if not indexes:
        return None
    index = draw(st.sampled_from(indexes))
    approvers = data["rules"][index]["approvers"]
    position = draw(st.integers(0, len(approvers) - 1))
    approvers[position] = f"alice-{MARK}"
    return f"rules[{index}].approvers[{position}]"


def _unknown_rule_key(data: dict[str, Any], draw: st.DrawFn) -> str:
    index = draw(st.integers(0, len(data["rules"]) - 1))
    data["rules"][index][MARK] = True
    return f"rules[{index}].{MARK}"


def _bad_url(data: dict[str, Any], draw: st.DrawFn) -> str:
    key = draw(st.sampled_from(sorted(data["targets"])))
    data["targets"][key]["kibana_url"] = f"ftp://{MARK}.example.com"
    return f"targets.{key}.kibana_url"


def _bad_provider(data: dict[str, Any], draw: st.DrawFn) -> str:
    index = draw(st.integers(0, len(data["rules"]) - 1))
    data["rules"][index]["match"]["provider"] = [f"{MARK}ai"]
    return f"rules[{index}].match.provider[0]"


def _bad_duration(data: dict[str, Any], draw: st.DrawFn) -> str:
    key = draw(st.sampled_from(["after", "expire_after"]))
    data["reminders"][key] = f"4 {MARK}"
    return f"reminders.{key}"


def _bad_count(data: dict[str, Any], draw: st.DrawFn) -> str:
    data["lifecycle"]["failing_after"] = draw(st.sampled_from([f"{MARK}", 0, -3]))
    return "lifecycle.failing_after"


MISTAKES = [_bad_approver, _unknown_rule_key, _bad_url, _bad_provider, _bad_duration, _bad_count]


@PROPERTIES
@given(documents(), st.sampled_from(MISTAKES), st.data())
def test_a_single_mistake_is_reported_with_its_path_and_line(
    policy: PolicyDocument, mistake: Any, data: st.DataObject
) -> None:
    written = to_data(policy)
    path = mistake(written, data.draw)
    if path is None:
        return
    text = dump(written)
    if mistake is _bad_count:
        line = max(  # the top-level one is the last failing_after in the file
            n for n, row in enumerate(text.splitlines(), 1) if row.startswith("  failing_after")
        )
    else:
        [line] = [n for n, row in enumerate(text.splitlines(), 1) if MARK in row]
    with pytest.raises(PolicyFileError) as caught:
        parse_policy(text, source="p.yml")
    [problem] = caught.value.problems
    assert problem.startswith(f"p.yml:{line}: {path}: "), (problem, text)
