"""The back-end migration: a request stored before it provisions a connector, as it did."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Engine, text

from bot.db.migrate import alembic_config
from bot.db.session import make_engine

BEFORE = "6965610ef8d8"  # the revision the back-end migration follows
AFTER = "3b1f0c2d9e47"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _run(engine: Engine, action: str, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def test_rows_stored_before_the_migration_are_connector_requests(engine: Engine) -> None:
    _run(engine, "upgrade", BEFORE)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO connector_request (reference, status, provider, connector_type_id, "
                "connector_name, space_id, kibana_connector_id, config, justification, warnings, "
                "requested_by_slack_id, created_at, updated_at, expires_at) VALUES "
                "('REQ-AAAAAA', 'pending', 'openai', '.gen-ai', 'Old', 'default', "
                "'llm-old-aaaaaa', '{}', 'why', '[]', 'U1', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    _run(engine, "upgrade", AFTER)
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT backend, backend_reason FROM connector_request")
        ).one()
    assert tuple(row) == ("connector", None)
    _run(engine, "downgrade", BEFORE)
    _run(engine, "upgrade", "head")
