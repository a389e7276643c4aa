"""Encryption of the secrets a requester typed, while the request waits (Fernet)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import make_url

from bot.config import ConfigError


class SecretBox:
    """Encrypts a small mapping of secrets; the first key encrypts, all keys decrypt."""

    def __init__(self, keys: list[bytes]) -> None:
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def seal(self, secrets: dict[str, str]) -> bytes:
        return self._fernet.encrypt(json.dumps(secrets, separators=(",", ":")).encode())

    def open(self, token: bytes) -> dict[str, str]:
        try:
            data = json.loads(self._fernet.decrypt(token))
        except InvalidToken:
            raise ValueError("secrets could not be decrypted with the configured key") from None
        if not isinstance(data, dict):
            raise ValueError("decrypted secrets are not a mapping")
        return {str(key): str(value) for key, value in data.items()}


def _parse_keys(raw: str, *, source: str) -> list[bytes]:
    keys = [part.strip().encode() for part in raw.split(",") if part.strip()]
    if not keys:
        raise ConfigError([f"{source}: is empty"])
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ConfigError(
                [
                    f"{source}: not a Fernet key (32 url-safe base64-encoded bytes; "
                    "make one with: python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())')"
                ]
            ) from None
    return keys


def sqlite_key_file(database_url: str) -> Path | None:
    """The key file beside a SQLite database file, or None for an in-memory database."""
    database = make_url(database_url).database
    if not database or database == ":memory:":
        return None
    return Path(database).resolve().with_name(Path(database).name + ".key")


def resolve_keys(*, configured: str | None, database_url: str, is_sqlite: bool) -> list[bytes]:
    """Use ENCRYPTION_KEY; on SQLite without it, keep a generated key beside the database."""
    if configured:
        return _parse_keys(configured, source="ENCRYPTION_KEY")
    if not is_sqlite:
        raise ConfigError(
            [
                "ENCRYPTION_KEY: missing; it is required with a database other than SQLite "
                "(every replica needs the same key)"
            ]
        )
    key_file = sqlite_key_file(database_url)
    if key_file is None:
        return [Fernet.generate_key()]
    if key_file.exists() and key_file.read_text().strip():
        return _parse_keys(key_file.read_text(), source=f"key file {key_file}")
    # Absent, or empty after a crash before anything was encrypted: write one atomically.
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    draft = key_file.with_name(f"{key_file.name}.{os.getpid()}.tmp")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.decode())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(draft, key_file)
    return [key]
