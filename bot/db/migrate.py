"""Apply the Alembic migrations: the only thing that creates or changes the schema."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
# Any fixed number: replicas starting together take turns migrating.
ADVISORY_LOCK_KEY = 7_427_003_119


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade_database(engine: Engine) -> None:
    """Bring the schema to the newest revision, one replica at a time."""
    config = alembic_config()
    if engine.dialect.name == "sqlite":
        _upgrade_sqlite(engine, config)
        log.info("database schema is up to date")
        return
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    log.info("database schema is up to date")


def _upgrade_sqlite(engine: Engine, config: Config) -> None:
    """SQLite changes a table's constraints by rebuilding it (copy, drop, rename): with foreign
    keys enforced, dropping a table other rows point at fails. So they are off while the
    migrations run (SQLite only honours the pragma outside a transaction), checked before the
    commit, and on again after."""
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        if raw is None:  # pragma: no cover - a pooled connection always has one
            raise RuntimeError("no SQLite connection to migrate with")
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"the migrations left {len(broken)} dangling references")
        finally:
            raw.execute("PRAGMA foreign_keys=ON")
