"""Who may decide what, under the policy: the request's rule, its users and its groups."""

from __future__ import annotations

from collections.abc import Iterable

from bot.deps import Deps
from bot.domain.policy.approval import eligible_approvers, is_group_id
from bot.domain.policy.matching import RequestFacts, match_rule
from bot.domain.policy.model import PolicyDocument, Rule
from bot.domain.rule_snapshot import rule_from_snapshot
from bot.domain.schemas import RequestSnapshot


def request_target(snapshot: RequestSnapshot) -> str:
    """The target a stored request is for."""
    return snapshot.target


def policy_groups(policy: PolicyDocument) -> frozenset[str]:
    """Every user-group id the policy names: approvers, escalation contacts, requesters."""
    ids = set(policy.approver_ids())
    for rule in policy.rules:
        ids.update(rule.match.requesters or ())
    return frozenset(slack_id for slack_id in ids if is_group_id(slack_id))


def requester_groups(deps: Deps, user: str) -> frozenset[str]:
    """The groups named in the rules' `requester:` lists that ``user`` is in."""
    named = {
        slack_id
        for rule in deps.governance.rules
        for slack_id in rule.match.requesters or ()
        if is_group_id(slack_id)
    }
    return deps.directory.groups_of(user, named)


def facts(
    deps: Deps, *, target: str, space: str, provider: str, requester: str, model: str | None
) -> RequestFacts:
    return RequestFacts(
        target=target,
        space=space,
        provider=provider,
        requester=requester,
        model=model,
        requester_groups=requester_groups(deps, requester),
    )


def rule_of(deps: Deps, snapshot: RequestSnapshot) -> Rule:
    """The rule that decides the request: the one stored at submit; for a row stored before
    rules were kept, the one that matches it now (APPROVERS, one approval, when none does)."""
    if snapshot.approval_rule is not None:
        return rule_from_snapshot(snapshot.approval_rule)
    found = match_rule(
        deps.governance,
        facts(
            deps,
            target=request_target(snapshot),
            space=snapshot.space_id,
            provider=snapshot.provider.value,
            requester=snapshot.requested_by,
            model=snapshot.model,
        ),
    )
    return found or Rule(index=0, approvers=tuple(deps.policy.approvers))


def eligible_under(deps: Deps, rule: Rule) -> frozenset[str]:
    """The user ids who may decide under ``rule`` (its groups resolved through the cache)."""
    return eligible_approvers(rule, _members(deps, rule.approvers))


def eligible_for(deps: Deps, request: RequestSnapshot) -> frozenset[str]:
    """The user ids who may decide ``request`` (the requester only through break-glass)."""
    return eligible_under(deps, rule_of(deps, request))


def is_approver(deps: Deps, user: str) -> bool:
    """True when ``user`` is an approver under any rule of the policy."""
    return any(user in eligible_under(deps, rule) for rule in deps.governance.rules)


def unresolved_groups(deps: Deps, approvers: Iterable[str]) -> list[tuple[str, str]]:
    """The approver groups that could not be resolved, with Slack's error."""
    found: list[tuple[str, str]] = []
    for slack_id in approvers:
        if is_group_id(slack_id) and (error := deps.directory.failure(slack_id)) is not None:
            found.append((slack_id, error))
    return found


def _members(deps: Deps, approvers: Iterable[str]) -> dict[str, frozenset[str]]:
    return deps.directory.resolve(slack_id for slack_id in approvers if is_group_id(slack_id))
