"""The Elasticsearch client stays at the edge: the domain never imports it, it imports no layer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[3] / "bot"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted((BOT / "domain").rglob("*.py")), ids=str)
def test_domain_does_not_import_the_elasticsearch_client(path: Path) -> None:
    assert not any(name.startswith("bot.elasticsearch") for name in _imports(path))


@pytest.mark.parametrize("path", sorted((BOT / "elasticsearch").rglob("*.py")), ids=str)
def test_the_client_imports_only_itself_from_the_bot(path: Path) -> None:
    names = {n for n in _imports(path) if n == "bot" or n.startswith("bot.")}
    assert all(n.startswith("bot.elasticsearch") for n in names), names
