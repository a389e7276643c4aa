"""SecretBox (Fernet at rest) and where the key comes from: ENCRYPTION_KEY or a key file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.config import ConfigError
from bot.crypto import SecretBox, resolve_keys, sqlite_key_file

SECRETS = {"apiKey": "sk-proj-CRYPTOTEST0123456789abcdef", "secret": "wJalrXUtnFEMI/K7MDENG"}


def _key() -> bytes:
    return Fernet.generate_key()


# --- SecretBox --------------------------------------------------------------------------------


def test_round_trip() -> None:
    box = SecretBox([_key()])
    assert box.open(box.seal(SECRETS)) == SECRETS


def test_round_trip_of_multi_line_and_unicode_values() -> None:
    pem = (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
    )
    values = {"credentialsJson": json.dumps({"private_key": pem}), "note": "clé ✓"}
    box = SecretBox([_key()])
    assert box.open(box.seal(values)) == values


def test_the_ciphertext_holds_no_plaintext() -> None:
    box = SecretBox([_key()])
    token = box.seal(SECRETS)
    for value in SECRETS.values():
        assert value.encode() not in token
        assert value[:12].encode() not in token
    assert b"apiKey" not in token


def test_every_seal_is_different() -> None:
    box = SecretBox([_key()])
    assert box.seal(SECRETS) != box.seal(SECRETS)


def test_rotation_new_key_first_still_opens_old_tokens() -> None:
    old, new = _key(), _key()
    old_token = SecretBox([old]).seal(SECRETS)
    rotated = SecretBox([new, old])
    assert rotated.open(old_token) == SECRETS
    new_token = rotated.seal(SECRETS)
    assert SecretBox([new]).open(new_token) == SECRETS  # the first key encrypts
    with pytest.raises(ValueError, match="could not be decrypted"):
        SecretBox([old]).open(new_token)


def test_rotation_through_resolve_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = _key(), _key()
    old_token = SecretBox([old]).seal(SECRETS)
    keys = resolve_keys(
        configured=f" {new.decode()} , {old.decode()} ",
        database_url="postgresql+psycopg://db/bot",
        is_sqlite=False,
    )
    assert keys == [new, old]
    assert SecretBox(keys).open(old_token) == SECRETS


def test_the_wrong_key_is_a_value_error_without_the_plaintext() -> None:
    token = SecretBox([_key()]).seal(SECRETS)
    with pytest.raises(ValueError, match="could not be decrypted") as caught:
        SecretBox([_key()]).open(token)
    text = str(caught.value) + repr(caught.value)
    for value in SECRETS.values():
        assert value not in text
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_a_tampered_token_is_refused() -> None:
    box = SecretBox([_key()])
    token = bytearray(box.seal(SECRETS))
    token[len(token) // 2] ^= 0x01
    with pytest.raises(ValueError, match="could not be decrypted"):
        box.open(bytes(token))


def test_a_token_that_is_not_a_mapping_is_refused() -> None:
    key = _key()
    token = Fernet(key).encrypt(b'["not", "a", "mapping"]')
    with pytest.raises(ValueError, match="not a mapping"):
        SecretBox([key]).open(token)


# --- resolve_keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "configured",
    ["not-a-fernet-key", "c2hvcnQ=", f"{Fernet.generate_key().decode()},garbage", ","],
)
def test_an_invalid_encryption_key_names_encryption_key(configured: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_keys(configured=configured, database_url="sqlite://", is_sqlite=True)
    [problem] = caught.value.problems
    assert problem.startswith("ENCRYPTION_KEY: ")
    if configured.strip(","):
        assert configured not in problem
        assert "garbage" not in problem


def test_a_valid_encryption_key_is_used_even_on_sqlite(tmp_path: Path) -> None:
    key = _key()
    database = tmp_path / "bot.sqlite3"
    keys = resolve_keys(
        configured=key.decode(), database_url=f"sqlite:///{database}", is_sqlite=True
    )
    assert keys == [key]
    assert list(tmp_path.iterdir()) == []  # no key file when a key is configured


def test_a_database_other_than_sqlite_needs_a_key() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_keys(
            configured=None,
            database_url="postgresql+psycopg://bot:pw@db.example.com/bot",
            is_sqlite=False,
        )
    [problem] = caught.value.problems
    assert problem.startswith("ENCRYPTION_KEY: missing")
    assert "pw@" not in problem


def test_an_empty_key_counts_as_none() -> None:
    with pytest.raises(ConfigError, match="ENCRYPTION_KEY"):
        resolve_keys(configured="", database_url="postgresql+psycopg://db/bot", is_sqlite=False)


def test_sqlite_file_gets_a_key_file_beside_it_with_mode_0600(tmp_path: Path) -> None:
    database = tmp_path / "data" / "bot.sqlite3"
    url = f"sqlite:///{database}"
    first = resolve_keys(configured=None, database_url=url, is_sqlite=True)
    key_file = tmp_path / "data" / "bot.sqlite3.key"
    assert sqlite_key_file(url) == key_file
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() == first[0].decode()
    assert not database.exists()  # only the key file: the database is not touched
    Fernet(first[0])  # a usable key

    second = resolve_keys(configured=None, database_url=url, is_sqlite=True)
    assert second == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = SecretBox(first).seal(SECRETS)
    assert SecretBox(second).open(token) == SECRETS


def test_the_key_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    import os

    previous = os.umask(0)
    try:
        resolve_keys(
            configured=None, database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}", is_sqlite=True
        )
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "x.sqlite3.key").stat().st_mode) == 0o600


def test_a_relative_sqlite_path_keeps_the_key_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    keys = resolve_keys(configured=None, database_url="sqlite:///rel.sqlite3", is_sqlite=True)
    assert (tmp_path / "rel.sqlite3.key").read_text().strip() == keys[0].decode()


def test_a_corrupt_key_file_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "bot.sqlite3.key").write_text("this is not a key")
    with pytest.raises(ConfigError) as caught:
        resolve_keys(
            configured=None, database_url=f"sqlite:///{tmp_path / 'bot.sqlite3'}", is_sqlite=True
        )
    [problem] = caught.value.problems
    assert "bot.sqlite3.key" in problem
    assert "this is not a key" not in problem


def test_a_key_file_with_a_trailing_newline_is_accepted(tmp_path: Path) -> None:
    key = _key()
    (tmp_path / "bot.sqlite3.key").write_text(key.decode() + "\n")
    keys = resolve_keys(
        configured=None, database_url=f"sqlite:///{tmp_path / 'bot.sqlite3'}", is_sqlite=True
    )
    assert keys == [key]


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_gets_an_ephemeral_key_and_no_file(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert sqlite_key_file(url) is None
    first = resolve_keys(configured=None, database_url=url, is_sqlite=True)
    second = resolve_keys(configured=None, database_url=url, is_sqlite=True)
    assert len(first) == 1
    Fernet(first[0])
    assert first != second
    assert list(tmp_path.iterdir()) == []
