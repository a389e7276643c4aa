"""Pure helpers of a change to an existing connector: what to send so nothing else is lost."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def config_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """``after`` with ``None`` for each key ``before`` had and ``after`` dropped (an optional
    field cleared in the change form), so a merge removes it instead of keeping it."""
    changes = dict(after)
    for key in before:
        changes.setdefault(key, None)
    return changes


def merge_config(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """What the remote side has, with ``changes`` over it; a ``None`` change removes the key.
    Keys the bot does not know (set by hand, or server defaults) are kept as they are."""
    merged = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
