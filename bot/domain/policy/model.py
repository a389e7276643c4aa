"""The policy's types, as read from POLICY_FILE or built from the environment without one."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import timedelta

from bot.domain.targets import Target


@dataclass(frozen=True)
class Match:
    """What a rule applies to; ``None`` in a field matches anything."""

    targets: frozenset[str] | None = None
    spaces: frozenset[str] | None = None
    providers: frozenset[str] | None = None
    models: tuple[str, ...] | None = None  # globs (`gpt-4*`), compared case-insensitively
    requesters: frozenset[str] | None = None  # Slack user ids and user-group ids


@dataclass(frozen=True)
class AutoApprove:
    max_per_requester_per_day: int


@dataclass(frozen=True)
class Reminders:
    """When a pending request reminds, escalates and expires (``None``: never)."""

    after: timedelta | None = None
    repeat: timedelta | None = None
    escalate_after: timedelta | None = None
    escalate_to: tuple[str, ...] = ()
    expire_after: timedelta | None = timedelta(hours=72)


@dataclass(frozen=True)
class Lifecycle:
    """How the connectors the bot owns are looked after."""

    retest_every: timedelta = timedelta(hours=24)
    reconcile_every: timedelta = timedelta(hours=1)
    failing_after: int = 2
    max_lifetime_days: int | None = None


@dataclass(frozen=True)
class Rule:
    """One `rules:` entry; ``index`` is its position in the file (`rules[index]`)."""

    index: int
    match: Match = field(default_factory=Match)
    allow: bool = True
    message: str | None = None  # what a denied requester is told
    approvers: tuple[str, ...] = ()  # user ids (U…/W…) and user-group ids (S…)
    approvals: int = 1  # distinct approvers needed
    break_glass: bool = False
    auto_approve: AutoApprove | None = None
    name: str | None = None
    reminders: Reminders | None = None  # overrides the top-level ones for what it matches
    lifecycle: Lifecycle | None = None

    @property
    def label(self) -> str:
        """How people are told which rule applied: `rule 3` (`rules[2]` in the file)."""
        number = f"rule {self.index + 1}"
        return f"{number} ({self.name})" if self.name else number


@dataclass(frozen=True)
class PolicyDocument:
    """Targets (the first is the default), rules (first match wins), reminders, lifecycle."""

    targets: tuple[Target, ...]
    rules: tuple[Rule, ...]
    reminders: Reminders = field(default_factory=Reminders)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    source: str | None = None  # the file it was read from; None when built from the environment

    @property
    def default_target(self) -> Target:
        return self.targets[0]

    def target(self, key: str) -> Target | None:
        return next((target for target in self.targets if target.key == key), None)

    def reminders_for(self, rule: Rule | None) -> Reminders:
        return rule.reminders if rule is not None and rule.reminders else self.reminders

    def lifecycle_for(self, rule: Rule | None) -> Lifecycle:
        return rule.lifecycle if rule is not None and rule.lifecycle else self.lifecycle

    def approver_ids(self) -> frozenset[str]:
        """Every user and group id any rule names as approver or escalation contact."""
        ids = {approver for rule in self.rules for approver in rule.approvers}
        for rule in self.rules:
            ids.update(self.reminders_for(rule).escalate_to)
        ids.update(self.reminders.escalate_to)
        return frozenset(ids)


def environment_policy(
    target: Target, approvers: Collection[str], *, request_ttl: timedelta
) -> PolicyDocument:
    """Without POLICY_FILE: one target, every request decided by one of APPROVERS."""
    rule = Rule(index=0, approvers=tuple(approvers), approvals=1)
    return PolicyDocument(
        targets=(target,),
        rules=(rule,),
        reminders=replace(Reminders(), expire_after=request_ttl),
    )
