"""Reading POLICY_FILE from disk (the parsing itself is pure: bot.domain.policy.document)."""

from __future__ import annotations

from pathlib import Path

from bot.config import ConfigError
from bot.domain.policy.document import ParsedPolicy, read_policy


def load_policy_file(path: Path) -> ParsedPolicy:
    """The policy in ``path``; PolicyFileError lists its problems, ConfigError (one line
    naming the file) when it cannot be read at all."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError([f"POLICY_FILE: {path} is not UTF-8 text"]) from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ConfigError([f"POLICY_FILE: cannot read {path} ({reason})"]) from None
    return read_policy(text, source=str(path))
