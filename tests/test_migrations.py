"""The Alembic migrations: one head, they build exactly the models, and go down and up again.

Run against an empty SQLite file and an empty PostgreSQL schema (the ``database_url`` fixture).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

import bot.db.models  # noqa: F401 - registers the tables on Base.metadata
from bot.db.base import Base
from bot.db.migrate import alembic_config, upgrade_database
from bot.db.session import make_engine

MODEL_TABLES = set(Base.metadata.tables)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _run(engine: Engine, action: str, revision: str) -> None:
    """``alembic upgrade|downgrade <revision>`` on a connection handed in, as the bot does."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def _version(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(text("SELECT version_num FROM alembic_version")))


def _diff(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return _compare(connection)


def _compare(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection=connection,
        opts={"compare_type": True, "target_metadata": Base.metadata},
    )
    return list(compare_metadata(context, Base.metadata))


def _head() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1
    return heads[0]


def test_there_is_exactly_one_head_and_one_base() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1
    revisions = list(script.walk_revisions())
    assert revisions, "no migrations"
    for revision in revisions:
        assert not revision.is_merge_point
        assert revision.module.__doc__, f"{revision.revision} has no description"


def test_the_models_have_tables() -> None:
    assert {
        "connector_request",
        "approval_decision",
        "audit_event",
        "provisioning_attempt",
        "job",
    } <= MODEL_TABLES


def test_an_empty_database_starts_without_tables(engine: Engine) -> None:
    assert _tables(engine) == set()


def test_upgrade_to_head_creates_exactly_the_model_tables(engine: Engine) -> None:
    _run(engine, "upgrade", "head")
    assert _tables(engine) == MODEL_TABLES | {"alembic_version"}
    assert _version(engine) == [_head()]


def test_after_upgrade_the_schema_matches_the_models(engine: Engine) -> None:
    """What `alembic check` does: autogenerate finds nothing to change."""
    _run(engine, "upgrade", "head")
    assert _diff(engine) == []


def test_downgrade_to_base_removes_every_table_and_upgrade_works_again(engine: Engine) -> None:
    _run(engine, "upgrade", "head")
    _run(engine, "downgrade", "base")
    assert _tables(engine) <= {"alembic_version"}
    if "alembic_version" in _tables(engine):
        assert _version(engine) == []
    _run(engine, "upgrade", "head")
    assert _tables(engine) == MODEL_TABLES | {"alembic_version"}
    assert _version(engine) == [_head()]
    assert _diff(engine) == []


def test_upgrading_twice_changes_nothing(engine: Engine) -> None:
    _run(engine, "upgrade", "head")
    tables, version = _tables(engine), _version(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_event (action, detail, created_at) "
                "VALUES ('submitted', '{}', CURRENT_TIMESTAMP)"
            )
        )
    _run(engine, "upgrade", "head")
    assert (_tables(engine), _version(engine)) == (tables, version)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM audit_event")) == 1


def test_the_bots_own_upgrade_is_idempotent_and_matches_the_models(engine: Engine) -> None:
    upgrade_database(engine)
    upgrade_database(engine)
    assert _tables(engine) == MODEL_TABLES | {"alembic_version"}
    assert _version(engine) == [_head()]
    assert _diff(engine) == []


def test_step_by_step_each_revision_goes_down_and_up(engine: Engine) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    for revision in revisions:
        _run(engine, "upgrade", revision)
        assert _version(engine) == [revision]
    for below in [*reversed(revisions[:-1]), None]:
        _run(engine, "downgrade", "-1")
        assert _version(engine) == ([] if below is None else [below])
    assert _tables(engine) <= {"alembic_version"}
