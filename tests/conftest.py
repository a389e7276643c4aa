"""Shared fixtures: the fakes, a real database (SQLite and PostgreSQL) and a running bot."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.fakes.elasticsearch import FakeElasticsearch
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    APPROVER_2,
    NOTIFY_CHANNEL,
    REQUESTER,
    STRANGER,
    BotHarness,
    make_settings,
)

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slack's SDK honours proxy variables over loopback, and Bolt reads SLACK_* silently."""
    for name in list(os.environ):
        if (
            name.startswith(("SLACK_", "KIBANA_", "ELASTICSEARCH_", "PROVISION_"))
            or name.lower() in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
            or name
            in {"DATABASE_URL", "APPROVERS", "APPROVAL_CHANNEL", "NOTIFY_CHANNEL", "ENCRYPTION_KEY"}
            or name == "POLICY_FILE"
        ):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    fake.start()
    for user in (REQUESTER, APPROVER, APPROVER_2, STRANGER):
        fake.add_user(user, name=user.lower(), real_name=user.title())
    fake.add_channel(APPROVAL_CHANNEL, name="llm-approvals", members=[APPROVER, APPROVER_2])
    fake.add_channel(NOTIFY_CHANNEL, name="llm-news")
    fake.add_channel("CREQUESTS1", name="requests", members=[REQUESTER, STRANGER])
    yield fake
    fake.stop()


@pytest.fixture
def kibana() -> Iterator[FakeKibana]:
    fake = FakeKibana(spaces=("default", "security"))
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def elasticsearch() -> Iterator[FakeElasticsearch]:
    fake = FakeElasticsearch()
    fake.start()
    yield fake
    fake.stop()


def _postgres_available() -> bool:
    try:
        engine = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception:  # noqa: BLE001 - any failure means "not here"
        return False
    return True


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bot.sqlite3'}"
        return
    if not _postgres_available():
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required but does not answer at {POSTGRES_URL}")
        pytest.skip(f"PostgreSQL does not answer at {POSTGRES_URL}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def bot(database_url: str, slack: FakeSlack, kibana: FakeKibana) -> Iterator[BotHarness]:
    harness = BotHarness(
        settings=make_settings(database_url, slack, kibana), slack=slack, kibana=kibana
    ).start()
    yield harness
    harness.stop()
