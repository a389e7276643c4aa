"""The value checks of the policy file reader: each reads one YAML node, or records a problem
with its line and path and returns None."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import yaml

from bot.domain.enums import Provider
from bot.domain.policy.durations import parse_duration

TARGET_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
SPACE_ID = re.compile(r"[a-z0-9_-]{1,100}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
GROUP_ID = re.compile(r"S[A-Z0-9]{2,}")

EMPTY_MATCH = "is an empty list: leave the key out to match anything"
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based
    path: str
    message: str


def _shown(node: yaml.Node) -> str:
    """How a wrong value is named in a message."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag == _NULL:
        return "nothing (null)"
    if node.tag == _STR:
        return f'"{node.value}"'
    return str(node.value)


class Checker:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.key_nodes: dict[int, yaml.Node] = {}  # id(value node) -> its key node
        self.providers = [provider.value for provider in Provider]

    def lines(self, found: list[Problem]) -> list[str]:
        ordered = sorted(found, key=lambda problem: problem.line)  # stable: same line keeps order
        return [f"{self.source}:{p.line}: {p.path}: {p.message}" for p in ordered]

    def problem(self, node: yaml.Node, path: str, message: str) -> None:
        self.problems.append(Problem(node.start_mark.line + 1, path, message))

    def warning(self, node: yaml.Node, path: str, message: str) -> None:
        self.warnings.append(Problem(node.start_mark.line + 1, path, message))

    # --- structure ----------------------------------------------------------------------

    def mapping(
        self,
        node: yaml.Node,
        path: str,
        allowed: Sequence[str] | None,
        *,
        required: Sequence[str] = (),
    ) -> dict[str, yaml.Node] | None:
        """The entries of a mapping by key; unknown, repeated and missing keys are problems
        (``allowed`` None: any key)."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, path, f"expected a mapping (key: value lines), got {_shown(node)}")
            return None
        entries: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR:
                self.problem(key_node, path, f"a key must be a word, not {_shown(key_node)}")
                continue
            key = key_node.value
            where = f"{path}.{key}" if path != "(file)" else key
            if key in entries:
                self.problem(key_node, where, "appears twice (the second would be ignored)")
                continue
            if allowed is not None and key not in allowed:
                self.problem(key_node, where, _unknown(key, allowed))
                continue
            entries[key] = value_node
            self.key_nodes[id(value_node)] = key_node
        for key in required:
            if key not in entries:
                self.problem(node, path, f'missing "{key}"')
        return entries

    def sequence(self, node: yaml.Node, path: str) -> list[yaml.Node] | None:
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, path, f"expected a list (- item lines), got {_shown(node)}")
            return None
        return list(node.value)

    # --- scalars ------------------------------------------------------------------------

    def string(self, node: yaml.Node, path: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            quote = (
                " (quote it if it is meant as text)" if isinstance(node, yaml.ScalarNode) else ""
            )
            self.problem(node, path, f"expected a string, got {_shown(node)}{quote}")
            return None
        return str(node.value)

    def text(self, node: yaml.Node, path: str, *, limit: int) -> str | None:
        value = self.string(node, path)
        if value is None:
            return None
        if not value.strip():
            self.problem(node, path, "is blank")
            return None
        if len(value) > limit:
            self.problem(node, path, f"is longer than {limit} characters")
            return None
        if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in value):
            self.problem(
                node, path, "contains line breaks or invisible control characters: remove them"
            )
            return None
        return value.strip()

    def boolean(self, node: yaml.Node, path: str) -> bool | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == _BOOL:
            return node.value.lower() in ("true", "yes", "on", "y")
        self.problem(node, path, f"expected true or false, got {_shown(node)}")
        return None

    def integer(
        self, node: yaml.Node, path: str, *, minimum: int, nullable: bool = False
    ) -> int | None:
        if nullable and isinstance(node, yaml.ScalarNode) and node.tag == _NULL:
            return None
        if isinstance(node, yaml.ScalarNode) and node.tag == _INT:
            try:
                value = int(node.value.replace("_", ""), 0)
            except ValueError:
                value = None
            if value is not None and value >= minimum:
                return value
        or_null = " or null" if nullable else ""
        self.problem(
            node, path, f"expected a whole number ≥ {minimum}{or_null}, got {_shown(node)}"
        )
        return None

    def duration(self, node: yaml.Node, path: str, *, nullable: bool) -> timedelta | None:
        if nullable and isinstance(node, yaml.ScalarNode) and node.tag == _NULL:
            return None
        if isinstance(node, yaml.ScalarNode) and node.tag == _STR:
            try:
                return parse_duration(node.value)
            except ValueError:
                pass
        never = " (or null: never)" if nullable else ""
        self.problem(
            node,
            path,
            f"{_shown(node)} is not a duration: write a positive whole number and a unit "
            f"(s, m, h or d), e.g. 30s, 15m, 4h or 7d{never}",
        )
        return None

    def url(self, node: yaml.Node, path: str) -> str | None:
        value = self.string(node, path)
        if value is None:
            return None
        try:
            parts = urlsplit(value.strip())
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            self.problem(node, path, f'"{value}" is not an http(s) URL, e.g. https://host:5601')
            return None
        if parts.username is not None or parts.password is not None:
            # Never echo it: the part before @ may be a password.
            self.problem(
                node,
                path,
                "has credentials in it (user:password@): remove them; the API key's variable "
                "is named in *_api_key_env",
            )
            return None
        if parts.query or parts.fragment:
            self.problem(node, path, "must be a base URL, without ?query or #fragment")
            return None
        return value.strip().rstrip("/")

    def env_name(self, node: yaml.Node, path: str) -> str | None:
        value = self.string(node, path)
        if value is not None and not ENV_NAME.fullmatch(value):
            self.problem(
                node,
                path,
                f'"{value}" is not an environment variable name (letters, digits and _; '
                "the secret itself stays in the environment)",
            )
            return None
        return value

    def target_key(self, node: yaml.Node, path: str, key: str) -> bool:
        if TARGET_KEY.fullmatch(key):
            return True
        self.problem(
            node,
            path,
            f'"{key}" cannot be a target key: use lower-case letters, digits, - and _ '
            "(starting with a letter or digit, at most 40), as people type it in commands",
        )
        return False

    # --- lists --------------------------------------------------------------------------

    def string_list(
        self, node: yaml.Node, path: str, *, empty: str | None = EMPTY_MATCH
    ) -> list[str] | None:
        """A string or a list of strings (each problem at its own item); an empty list is
        the problem ``empty`` says, or allowed when it is None."""
        if isinstance(node, yaml.SequenceNode):
            if not node.value:
                if empty is None:
                    return []
                self.problem(node, path, empty)
                return None
            items = [self.string(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
            return [item for item in items if item is not None] if None not in items else None
        value = self.string(node, path)
        return [value] if value is not None else None

    def _items(
        self, node: yaml.Node, path: str, *, empty: str | None = EMPTY_MATCH
    ) -> list[tuple[yaml.Node, str, str]] | None:
        values = self.string_list(node, path, empty=empty)
        if values is None:
            return None
        if isinstance(node, yaml.SequenceNode):
            return [
                (item, f"{path}[{i}]", v)
                for i, (item, v) in enumerate(zip(node.value, values, strict=True))
            ]
        return [(node, path, values[0])]

    def choice_list(
        self, node: yaml.Node, path: str, choices: Sequence[str], *, what: str
    ) -> list[str] | None:
        items = self._items(node, path)
        if items is None:
            return None
        ok = True
        for item, where, value in items:
            if value not in choices:
                listed = ", ".join(choices) if choices else "none defined"
                hint = _did_you_mean(value, choices)
                self.problem(item, where, f'"{value}" is not a {what}{hint} ({what}s: {listed})')
                ok = False
        return [value for _, _, value in items] if ok else None

    def space_list(
        self, node: yaml.Node, path: str, *, empty: str | None = EMPTY_MATCH
    ) -> list[str] | None:
        items = self._items(node, path, empty=empty)
        if items is None:
            return None
        ok = True
        for item, where, value in items:
            if not SPACE_ID.fullmatch(value):
                self.problem(
                    item,
                    where,
                    f'"{value}" is not a Kibana space id (lower-case letters, digits, - and _)',
                )
                ok = False
        return [value for _, _, value in items] if ok else None

    def id_list(
        self, node: yaml.Node, path: str, *, empty: str | None = EMPTY_MATCH
    ) -> list[str] | None:
        """Slack user ids (U…, W…) and user-group ids (S…), each at most once."""
        items = self._items(node, path, empty=empty)
        if items is None:
            return None
        ok = True
        seen: set[str] = set()
        for item, where, value in items:
            if not (USER_ID.fullmatch(value) or GROUP_ID.fullmatch(value)):
                self.problem(
                    item, where, f'"{value}" is not a Slack user or group id (U…, W… or S…)'
                )
                ok = False
            elif value in seen:
                self.problem(item, where, f"{value} is listed twice")
                ok = False
            seen.add(value)
        return [value for _, _, value in items] if ok else None

    @staticmethod
    def is_group(slack_id: str) -> bool:
        return GROUP_ID.fullmatch(slack_id) is not None


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f'; did you mean "{close[0]}"?' if close else ""


def _unknown(key: str, allowed: Sequence[str]) -> str:
    hint = _did_you_mean(key, allowed)
    return f"unknown key{hint} (the keys here: {', '.join(allowed)})"
