"""Alembic environment: the URL comes from DATABASE_URL (or a connection handed in)."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine, pool

import bot.db.models  # noqa: F401 - registers the tables on Base.metadata
from bot.config import DatabaseSettings
from bot.db.base import Base

config = context.config
target_metadata = Base.metadata


def _skip_empty(_context: Any, _revision: Any, directives: list[Any]) -> None:
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []


def _configure(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
        process_revision_directives=_skip_empty,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=DatabaseSettings().database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(DatabaseSettings().database_url, poolclass=pool.NullPool)
    with engine.connect() as connection_:
        _configure(connection_)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
