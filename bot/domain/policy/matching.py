"""Which rule decides a request: the first whose match fits, and why the others did not."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from bot.domain.policy.model import Match, PolicyDocument, Rule


@dataclass(frozen=True)
class RequestFacts:
    """What rules can match on; ``requester_groups`` are the user groups the requester is in."""

    target: str
    space: str
    provider: str
    requester: str
    model: str | None = None
    requester_groups: frozenset[str] = frozenset()


def match_rule(policy: PolicyDocument, facts: RequestFacts) -> Rule | None:
    """The first rule that fits ``facts`` (first match wins), or None: refused at submit."""
    return next((rule for rule in policy.rules if not mismatches(rule.match, facts)), None)


def mismatches(match: Match, facts: RequestFacts) -> list[str]:
    """Why ``match`` does not fit ``facts``: one phrase per key that differs (empty: it fits)."""
    reasons: list[str] = []
    for key, allowed, value in (
        ("target", match.targets, facts.target),
        ("space", match.spaces, facts.space),
        ("provider", match.providers, facts.provider),
    ):
        if allowed is not None and value not in allowed:
            reasons.append(f"{key} {value!r} is not {_one_of(allowed)}")
    if match.models is not None and not model_matches(match.models, facts.model):
        shown = repr(facts.model) if facts.model else "(none)"
        reasons.append(f"model {shown} matches none of {', '.join(match.models)}")
    if match.requesters is not None and not (
        facts.requester in match.requesters or facts.requester_groups & match.requesters
    ):
        reasons.append(f"requester {facts.requester} is not {_one_of(match.requesters)}")
    return reasons


def model_matches(patterns: tuple[str, ...], model: str | None) -> bool:
    """Glob match (``*``, ``?``, ``[...]``), ignoring case; a request without a model matches
    only ``*``."""
    if model is None:
        return "*" in patterns
    return any(fnmatchcase(model.casefold(), pattern.casefold()) for pattern in patterns)


def explain(policy: PolicyDocument, facts: RequestFacts) -> list[str]:
    """Lines saying, rule by rule, why it was passed over, until the one that applies."""
    lines: list[str] = []
    for rule in policy.rules:
        reasons = mismatches(rule.match, facts)
        if reasons:
            lines.append(f"rules[{rule.index}] ({rule.label}) does not apply: {'; '.join(reasons)}")
            continue
        lines.append(f"rules[{rule.index}] ({rule.label}) applies: {describe(rule)}")
        return lines
    lines.append("no rule applies: the request would be refused at submit")
    return lines


def describe(rule: Rule) -> str:
    """What a rule does, in one line."""
    if not rule.allow:
        return f"denied ({rule.message})" if rule.message else "denied"
    if rule.auto_approve is not None:
        limit = rule.auto_approve.max_per_requester_per_day
        return f"approved automatically, at most {limit} per requester per day"
    needed = f"{rule.approvals} of {', '.join(rule.approvers)}"
    glass = "; break-glass self-approval allowed" if rule.break_glass else ""
    return f"needs {needed}{glass}"


def _one_of(values: frozenset[str]) -> str:
    ordered = sorted(values)
    return repr(ordered[0]) if len(ordered) == 1 else f"one of {', '.join(ordered)}"
