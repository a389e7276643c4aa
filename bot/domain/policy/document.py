"""Reading a policy file (YAML) into a PolicyDocument, reporting every mistake at once.

Every problem is `FILE:LINE: path: message`; PyYAML's composed nodes give the lines. The
document is built only when there is no problem at all; warnings (rules that can never apply)
come back beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import yaml

from bot.domain.policy.checks import Checker, Problem
from bot.domain.policy.model import (
    AutoApprove,
    Lifecycle,
    Match,
    PolicyDocument,
    Reminders,
    Rule,
)
from bot.domain.targets import Target

TOP_KEYS = ("targets", "rules", "reminders", "lifecycle")
TARGET_KEYS = (
    "kibana_url",
    "kibana_api_key_env",
    "elasticsearch_url",
    "elasticsearch_api_key_env",
    "spaces",
    "label",
)
RULE_KEYS = (
    "name",
    "match",
    "allow",
    "message",
    "approvers",
    "approvals",
    "break_glass",
    "auto_approve",
    "reminders",
    "lifecycle",
)
MATCH_KEYS = ("target", "space", "provider", "model", "requester")
REMINDER_KEYS = ("after", "repeat", "escalate_after", "escalate_to", "expire_after")
LIFECYCLE_KEYS = ("retest_every", "reconcile_every", "failing_after", "max_lifetime_days")


class PolicyFileError(Exception):
    """A policy file that cannot be used; ``problems`` are its `FILE:LINE: path: message`
    lines, in file order."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ParsedPolicy:
    document: PolicyDocument
    warnings: tuple[str, ...] = ()


def parse_policy(text: str, *, source: str) -> PolicyDocument:
    """The policy in ``text`` (``source`` names the file in messages); PolicyFileError lists
    every problem found."""
    return read_policy(text, source=source).document


def read_policy(text: str, *, source: str) -> ParsedPolicy:
    """As parse_policy, with the warnings (not fatal) beside the document."""
    check = Checker(source)
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = error.problem or error.context or "cannot be read"
        raise PolicyFileError([f"{source}:{line}: YAML syntax error: {what}"]) from None
    except yaml.YAMLError as error:
        raise PolicyFileError([f"{source}:1: YAML syntax error: {error}"]) from None
    finally:
        loader.dispose()
    if root is None:
        raise PolicyFileError([f"{source}:1: (file): empty; a policy needs targets: and rules:"])
    document = _Reader(check).document(root)
    if check.problems or document is None:  # the document is built whenever nothing is wrong
        raise PolicyFileError(check.lines(check.problems))
    return ParsedPolicy(replace(document, source=source), tuple(check.lines(check.warnings)))


class _Reader:
    def __init__(self, check: Checker) -> None:
        self.check = check
        self.declared: list[str] = []

    def document(self, root: yaml.Node) -> PolicyDocument | None:
        check = self.check
        top = check.mapping(root, "(file)", TOP_KEYS, required=("targets", "rules"))
        if top is None:
            return None
        targets = self.targets(top["targets"]) if "targets" in top else None
        self.declared = self.target_names(top.get("targets"))
        reminders = Reminders()
        if "reminders" in top:
            reminders = self.reminders(top["reminders"], "reminders", reminders) or reminders
        lifecycle = Lifecycle()
        if "lifecycle" in top:
            lifecycle = self.lifecycle(top["lifecycle"], "lifecycle", lifecycle) or lifecycle
        rules = (
            self.rules(top["rules"], targets or [], reminders, lifecycle)
            if "rules" in top
            else None
        )
        if targets is None or rules is None:
            return None
        return PolicyDocument(
            targets=tuple(targets), rules=tuple(rules), reminders=reminders, lifecycle=lifecycle
        )

    # --- targets ------------------------------------------------------------------------

    @staticmethod
    def target_names(node: yaml.Node | None) -> list[str]:
        """Every target key written, sound or not (so matches naming them are not faulted)."""
        if not isinstance(node, yaml.MappingNode):
            return []
        return [key.value for key, _ in node.value if isinstance(key, yaml.ScalarNode)]

    def targets(self, node: yaml.Node) -> list[Target] | None:
        check = self.check
        entries = check.mapping(node, "targets", None)
        if entries is None:
            return None
        if not entries:
            check.problem(node, "targets", "lists no target; a policy needs at least one")
            return None
        found: list[Target] = []
        for key, value in entries.items():
            target = self.target(key, value, check.key_nodes[id(value)])
            if target is not None:
                found.append(target)
        return found if len(found) == len(entries) else None

    def target(self, key: str, node: yaml.Node, key_node: yaml.Node) -> Target | None:
        check = self.check
        path = f"targets.{key}"
        ok = check.target_key(key_node, path, key)
        fields = check.mapping(node, path, TARGET_KEYS, required=("kibana_url",))
        if fields is None:
            return None
        kibana_url = (
            check.url(fields["kibana_url"], f"{path}.kibana_url")
            if ("kibana_url" in fields)
            else None
        )
        es_url = es_key = kibana_key = None
        if "elasticsearch_url" in fields:
            es_url = check.url(fields["elasticsearch_url"], f"{path}.elasticsearch_url")
            ok = ok and es_url is not None
        if "kibana_api_key_env" in fields:
            kibana_key = check.env_name(fields["kibana_api_key_env"], f"{path}.kibana_api_key_env")
            ok = ok and kibana_key is not None
        if "elasticsearch_api_key_env" in fields:
            node_key = fields["elasticsearch_api_key_env"]
            es_key = check.env_name(node_key, f"{path}.elasticsearch_api_key_env")
            ok = ok and es_key is not None
            if "elasticsearch_url" not in fields:
                check.problem(
                    node_key,
                    f"{path}.elasticsearch_api_key_env",
                    "needs elasticsearch_url beside it (the Elasticsearch the key is for)",
                )
                ok = False
        spaces: frozenset[str] | None = None
        if "spaces" in fields:
            listed = check.space_list(
                fields["spaces"],
                f"{path}.spaces",
                empty="lists no space: leave the key out to offer every space",
            )
            ok = ok and listed is not None
            spaces = frozenset(listed) if listed else None
        label = None
        if "label" in fields:
            label = check.text(fields["label"], f"{path}.label", limit=75)
            ok = ok and label is not None
        if not ok or kibana_url is None:
            return None
        return Target(
            key=key,
            kibana_url=kibana_url,
            kibana_api_key_env=kibana_key,
            elasticsearch_url=es_url,
            elasticsearch_api_key_env=es_key,
            spaces=spaces,
            label=label,
        )

    # --- rules --------------------------------------------------------------------------

    def rules(
        self,
        node: yaml.Node,
        targets: list[Target],
        reminders: Reminders,
        lifecycle: Lifecycle,
    ) -> list[Rule] | None:
        check = self.check
        items = check.sequence(node, "rules")
        if items is None:
            return None
        if not items:
            check.problem(node, "rules", "lists no rule; a policy needs at least one")
            return None
        found: list[Rule] = []
        catch_all: int | None = None
        for index, item in enumerate(items):
            path = f"rules[{index}]"
            if catch_all is not None:
                check.warning(
                    item,
                    path,
                    f"can never apply: rules[{catch_all}] matches every request (match: {{}}) "
                    "and the first match wins",
                )
            rule = self.rule(index, item, path, targets, reminders, lifecycle)
            if rule is not None:
                found.append(rule)
                if catch_all is None and rule.match == Match():
                    catch_all = index
        return found if len(found) == len(items) else None

    def rule(
        self,
        index: int,
        node: yaml.Node,
        path: str,
        targets: list[Target],
        reminders: Reminders,
        lifecycle: Lifecycle,
    ) -> Rule | None:
        check = self.check
        fields = check.mapping(node, path, RULE_KEYS, required=("match",))
        if fields is None:
            return None
        problems_before = len(check.problems)
        values: dict[str, Any] = {"index": index}
        if "name" in fields:
            values["name"] = check.text(fields["name"], f"{path}.name", limit=80)
        if "match" in fields:
            values["match"] = self.match(fields["match"], f"{path}.match", targets)
        kind = self.kind(node, fields, path)
        if kind == "deny":
            values["allow"] = False
            if "message" in fields:
                values["message"] = check.text(fields["message"], f"{path}.message", limit=500)
        elif kind == "approvers":
            approvers = check.id_list(
                fields["approvers"], f"{path}.approvers", empty="lists nobody: name at least one"
            )
            values["approvers"] = tuple(approvers or ())
            if "approvals" in fields:
                values["approvals"] = self.approvals(fields["approvals"], path, approvers)
            if "break_glass" in fields:
                values["break_glass"] = check.boolean(fields["break_glass"], f"{path}.break_glass")
        elif kind == "auto":
            values["auto_approve"] = self.auto_approve(fields["auto_approve"], path)
        if "reminders" in fields:
            if kind in ("approvers", None):
                values["reminders"] = self.reminders(
                    fields["reminders"], f"{path}.reminders", reminders
                )
            else:
                check.problem(
                    fields["reminders"],
                    f"{path}.reminders",
                    "only a rule with approvers waits for people, so only it has reminders",
                )
        if "lifecycle" in fields:
            if kind == "deny":
                check.problem(
                    fields["lifecycle"],
                    f"{path}.lifecycle",
                    "a denying rule creates nothing, so it has no lifecycle",
                )
            else:
                values["lifecycle"] = self.lifecycle(
                    fields["lifecycle"], f"{path}.lifecycle", lifecycle
                )
        if len(check.problems) > problems_before or kind is None:
            return None
        return Rule(**values)

    def kind(self, node: yaml.Node, fields: dict[str, yaml.Node], path: str) -> str | None:
        """Which of the three rule kinds this is (approvers, auto, deny), or None (reported)."""
        check = self.check
        allow = check.boolean(fields["allow"], f"{path}.allow") if "allow" in fields else True
        if allow is None:
            return None
        kinds = [
            name
            for name, present in (
                ("approvers", "approvers" in fields),
                ("auto", "auto_approve" in fields),
                ("deny", allow is False),
            )
            if present
        ]
        if len(kinds) != 1:
            said = "has none of" if not kinds else "may have only one of"
            check.problem(
                node,
                path,
                f"{said} approvers, auto_approve or allow: false (a rule either needs "
                "approvers, approves automatically, or denies)",
            )
            return None
        kind = kinds[0]
        extras = {
            "approvers": ("message",),
            "auto": ("message", "approvals", "break_glass"),
            "deny": ("approvals", "break_glass"),
        }[kind]
        owner = {
            "message": "allow: false",
            "approvals": "approvers",
            "break_glass": "approvers",
        }
        for extra in extras:
            if extra in fields:
                check.problem(fields[extra], f"{path}.{extra}", f"only goes with {owner[extra]}")
        return kind

    def approvals(self, node: yaml.Node, path: str, approvers: list[str] | None) -> int | None:
        check = self.check
        count = check.integer(node, f"{path}.approvals", minimum=1)
        if count is None or approvers is None:
            return count
        if all(not check.is_group(approver) for approver in approvers) and count > len(
            set(approvers)
        ):
            check.problem(
                node,
                f"{path}.approvals",
                f"{count} approvals can never be reached: approvers lists "
                f"{len(set(approvers))} user(s) and no group",
            )
        return count

    def auto_approve(self, node: yaml.Node, path: str) -> AutoApprove | None:
        check = self.check
        where = f"{path}.auto_approve"
        fields = check.mapping(
            node, where, ("max_per_requester_per_day",), required=("max_per_requester_per_day",)
        )
        if fields is None or "max_per_requester_per_day" not in fields:
            return None
        limit = check.integer(
            fields["max_per_requester_per_day"], f"{where}.max_per_requester_per_day", minimum=1
        )
        return AutoApprove(max_per_requester_per_day=limit) if limit is not None else None

    def match(self, node: yaml.Node, path: str, targets: list[Target]) -> Match | None:
        check = self.check
        fields = check.mapping(node, path, MATCH_KEYS)
        if fields is None:
            return None
        known = {target.key: target for target in targets}
        values: dict[str, Any] = {}
        if "target" in fields:
            keys = check.choice_list(
                fields["target"], f"{path}.target", self.declared, what="target"
            )
            values["targets"] = frozenset(keys) if keys is not None else None
        if "space" in fields:
            spaces = check.space_list(fields["space"], f"{path}.space")
            if spaces is not None:
                chosen = values.get("targets") or self.declared
                if all(key in known for key in chosen):  # a broken target is reported already
                    candidates = [known[key] for key in chosen]
                    self.spaces_offered(fields["space"], f"{path}.space", spaces, candidates)
                values["spaces"] = frozenset(spaces)
        if "provider" in fields:
            providers = check.choice_list(
                fields["provider"], f"{path}.provider", check.providers, what="provider"
            )
            values["providers"] = frozenset(providers) if providers is not None else None
        if "model" in fields:
            models = check.string_list(fields["model"], f"{path}.model")
            values["models"] = tuple(models) if models is not None else None
        if "requester" in fields:
            requesters = check.id_list(fields["requester"], f"{path}.requester")
            values["requesters"] = frozenset(requesters) if requesters is not None else None
        return Match(**values)

    def spaces_offered(
        self, node: yaml.Node, path: str, spaces: list[str], candidates: list[Target]
    ) -> None:
        """A space no matched target offers (every one has an allow-list without it)."""
        if not candidates or any(target.spaces is None for target in candidates):
            return
        offered = set().union(*(target.spaces or () for target in candidates))
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for position, space in enumerate(spaces):
            if space not in offered:
                where = f"{path}[{position}]" if isinstance(node, yaml.SequenceNode) else path
                names = ", ".join(target.key for target in candidates)
                self.check.problem(
                    items[position],
                    where,
                    f'"{space}" is not in the spaces allow-list of {names} '
                    f"({', '.join(sorted(offered))})",
                )

    # --- reminders and lifecycle --------------------------------------------------------

    def reminders(self, node: yaml.Node, path: str, base: Reminders) -> Reminders | None:
        check = self.check
        fields = check.mapping(node, path, REMINDER_KEYS)
        if fields is None:
            return None
        before = len(check.problems)
        values: dict[str, Any] = {}
        for key in ("after", "repeat", "escalate_after", "expire_after"):
            if key in fields:
                values[key] = check.duration(fields[key], f"{path}.{key}", nullable=True)
        if "escalate_to" in fields:
            ids = check.id_list(fields["escalate_to"], f"{path}.escalate_to", empty=None)
            values["escalate_to"] = tuple(ids or ())
        if len(check.problems) > before:
            return None
        merged = replace(base, **values)
        if merged.escalate_after is not None and not merged.escalate_to:
            check.problem(node, path, "escalate_after needs escalate_to (whom to escalate to)")
            return None
        if merged.repeat is not None and merged.after is None:
            check.problem(node, path, "repeat needs after (when the first reminder goes)")
            return None
        return merged

    def lifecycle(self, node: yaml.Node, path: str, base: Lifecycle) -> Lifecycle | None:
        check = self.check
        fields = check.mapping(node, path, LIFECYCLE_KEYS)
        if fields is None:
            return None
        before = len(check.problems)
        values: dict[str, Any] = {}
        for key in ("retest_every", "reconcile_every"):
            if key in fields:
                values[key] = check.duration(fields[key], f"{path}.{key}", nullable=False)
        if "failing_after" in fields:
            values["failing_after"] = check.integer(
                fields["failing_after"], f"{path}.failing_after", minimum=1
            )
        if "max_lifetime_days" in fields:
            values["max_lifetime_days"] = check.integer(
                fields["max_lifetime_days"], f"{path}.max_lifetime_days", minimum=1, nullable=True
            )
        if len(check.problems) > before:
            return None
        return replace(base, **values)


__all__ = ["ParsedPolicy", "PolicyFileError", "Problem", "parse_policy", "read_policy"]
