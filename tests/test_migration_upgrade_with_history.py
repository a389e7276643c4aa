"""Upgrading a database that already has history: the previous release's rows survive.

SQLite rebuilds a table to change its constraints (Alembic's batch mode: copy, drop, rename);
with foreign keys enforced, dropping ``connector_request`` while audit events, decisions and
jobs point at it fails. The bot's own upgrade must carry such a database to the head.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Engine, text

from bot.db.migrate import alembic_config, upgrade_database
from bot.db.session import make_engine

PREVIOUS_RELEASE = "3b1f0c2d9e47"  # the head before governance and the lifecycle


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _at_previous_release_with_history(engine: Engine) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, PREVIOUS_RELEASE)
    with engine.begin() as connection:
        for status, reference in (("pending", "REQ-AAAAAA"), ("tested_ok", "REQ-BBBBBB")):
            connection.execute(
                text(
                    "INSERT INTO connector_request (reference, status, provider, "
                    "connector_type_id, connector_name, space_id, kibana_connector_id, config, "
                    "justification, warnings, requested_by_slack_id, created_at, updated_at, "
                    "expires_at) VALUES (:reference, :status, 'openai', '.gen-ai', :name, "
                    "'default', :connector, '{}', 'why', '[]', 'U1', CURRENT_TIMESTAMP, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {
                    "reference": reference,
                    "status": status,
                    "name": reference.lower(),
                    "connector": f"llm-{reference.lower()}",
                },
            )
        ids = list(connection.scalars(text("SELECT id FROM connector_request ORDER BY id")))
        for request_id in ids:
            connection.execute(
                text(
                    "INSERT INTO audit_event (request_id, actor_slack_id, action, detail, "
                    "created_at) VALUES (:id, 'U1', 'submitted', '{}', CURRENT_TIMESTAMP)"
                ),
                {"id": request_id},
            )
            connection.execute(
                text(
                    "INSERT INTO job (kind, request_id, payload, status, run_after, attempts, "
                    "created_at) VALUES ('card.post', :id, '{}', 'done', CURRENT_TIMESTAMP, 1, "
                    "CURRENT_TIMESTAMP)"
                ),
                {"id": request_id},
            )
        connection.execute(
            text(
                "INSERT INTO approval_decision (request_id, decision, decided_by_slack_id, "
                "decided_at) VALUES (:id, 'approved', 'U2', CURRENT_TIMESTAMP)"
            ),
            {"id": ids[1]},
        )


def test_the_bots_upgrade_keeps_the_history_of_the_previous_release(engine: Engine) -> None:
    _at_previous_release_with_history(engine)
    upgrade_database(engine)
    with engine.connect() as connection:
        requests = connection.execute(
            text("SELECT reference, status, kind, target FROM connector_request ORDER BY id")
        ).all()
        counts = [
            connection.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608 - fixed names
            for table in ("audit_event", "job", "approval_decision")
        ]
    assert [tuple(row) for row in requests] == [
        ("REQ-AAAAAA", "pending", "create", "default"),
        ("REQ-BBBBBB", "tested_ok", "create", "default"),
    ]
    assert counts == [2, 2, 1]


def test_foreign_keys_are_enforced_again_after_the_upgrade(engine: Engine) -> None:
    _at_previous_release_with_history(engine)
    upgrade_database(engine)
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        assert connection.scalar(text("PRAGMA foreign_keys")) == 1
