"""Helpers for the lifecycle tests: provision or seed managed connectors, make work due."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from bot.db import lifecycle_queries as lq
from bot.db.models import ManagedConnector
from bot.db.session import session_scope
from bot.services.lifecycle.schedule import run_lifecycle_sweep
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.harness import (
    APPROVER,
    KIBANA_KEY,
    REQUESTER,
    BotHarness,
    make_settings,
    reference_from,
    running_bot,
    wait_until,
)

OPENAI_KEY = "sk-proj-LIFECYCLEKEY1234567890SECRET"
VALUES = {
    "name": "Lifecycle GPT",
    "space": "default",
    "model": "gpt-4.1",
    "api_key": OPENAI_KEY,
    "justification": "AI Assistant for the SOC team",
}
REVOKED = "Status code: 401. Message: API Error: Unauthorized - Incorrect API key provided"


@contextmanager
def lifecycle_bot(
    database_url: str, slack: FakeSlack, kibana: FakeKibana, **overrides: Any
) -> Iterator[BotHarness]:
    """A bot whose own sweep waits (tests run the sweep themselves), unless told otherwise."""
    settings = make_settings(
        database_url, slack, kibana, **{"lifecycle_sweep_seconds": 3600.0, **overrides}
    )
    with running_bot(settings, slack, kibana) as bot:
        yield bot


def provision(bot: BotHarness, values: dict[str, str] | None = None) -> str:
    """Request, approve and wait for the tested connector; return its Kibana id."""
    reference = reference_from(bot.request_via_form(values or VALUES))
    bot.wait_status(reference, "pending")
    assert bot.click(reference, "approval.approve", user=APPROVER).status_code == 200
    row = bot.wait_status(reference, "tested_ok", "test_failed")
    bot.wait_idle()
    assert row.kibana_connector_id is not None
    return row.kibana_connector_id


def managed(bot: BotHarness, resource_id: str) -> ManagedConnector:
    with session_scope(bot.deps.session_factory) as session:
        row = session.scalars(
            select(ManagedConnector).where(ManagedConnector.resource_id == resource_id)
        ).one()
        session.expunge(row)
        return row


def make_due(bot: BotHarness, resource_id: str | None = None) -> None:
    """Put the re-test of one row (or all) in the past."""
    past = bot.deps.clock() - timedelta(seconds=1)
    statement = update(ManagedConnector).values(next_test_at=past)
    if resource_id is not None:
        statement = statement.where(ManagedConnector.resource_id == resource_id)
    with session_scope(bot.deps.session_factory) as session:
        session.execute(statement)


def make_task_due(bot: BotHarness, name: str) -> None:
    with session_scope(bot.deps.session_factory) as session:
        lq.set_task_due(session=session, name=name, at=bot.deps.clock() - timedelta(seconds=1))


def sweep_and_settle(bot: BotHarness) -> None:
    run_lifecycle_sweep(bot.deps)
    bot.wait_idle()


def retest(bot: BotHarness, resource_id: str) -> ManagedConnector:
    before = managed(bot, resource_id).version
    make_due(bot, resource_id)
    run_lifecycle_sweep(bot.deps)
    wait_until(lambda: managed(bot, resource_id).version > before, what="the re-test")
    bot.wait_idle()
    return managed(bot, resource_id)


def kibana_call(kibana: FakeKibana, method: str, path: str, body: Any = None) -> httpx.Response:
    """Change Kibana behind the bot's back, as a person with the API would."""
    return httpx.request(
        method,
        f"{kibana.url}{path}",
        json=body,
        headers={"Authorization": f"ApiKey {KIBANA_KEY}", "kbn-xsrf": "true"},
        timeout=10,
    )


def texts(messages: list[dict[str, Any]]) -> str:
    import json

    return json.dumps(messages, ensure_ascii=False)


__all__ = ["APPROVER", "REQUESTER"]


SEEDS: dict[str, tuple[str, str, dict[str, Any], dict[str, str]]] = {
    # kind: (connector type, provider, config, secrets); a .gen-ai test is two _execute calls
    # (test, then invokeAI), a .bedrock test one.
    "gen-ai": (
        ".gen-ai",
        "openai",
        {
            "apiProvider": "OpenAI",
            "apiUrl": "https://api.openai.com/v1/chat/completions",
            "defaultModel": "gpt-4o",
        },
        {"apiKey": "sk-proj-SEEDED0000"},
    ),
    "bedrock": (
        ".bedrock",
        "bedrock",
        {
            "apiUrl": "https://bedrock-runtime.us-east-1.amazonaws.com",
            "defaultModel": "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
        },
        {"accessKey": "AKIASEEDED0000000000", "secret": "seeded-secret"},
    ),
}


def seed_managed(
    bot: BotHarness, count: int, *, space: str = "default", kind: str = "gen-ai"
) -> list[str]:
    """``count`` connectors in the fake Kibana, each in the inventory and due now."""
    now = bot.deps.clock()
    target = bot.deps.governance.default_target.key
    type_id, provider, config, secrets = SEEDS[kind]
    ids = [f"seeded-{n:05d}" for n in range(count)]
    for connector_id in ids:
        bot.kibana.add_connector(
            space,
            connector_id,
            {
                "name": f"Seeded {connector_id}",
                "connector_type_id": type_id,
                "config": config,
                "secrets": secrets,
            },
        )
    with session_scope(bot.deps.session_factory) as session:
        for connector_id in ids:
            session.add(
                ManagedConnector(
                    target=target,
                    space_id=space,
                    resource_id=connector_id,
                    backend="connector",
                    type_id=type_id,
                    name=f"Seeded {connector_id}",
                    provider=provider,
                    model=str(config["defaultModel"]),
                    owner_slack_id=REQUESTER,
                    approvers=[APPROVER],
                    thread_channel="CAPPROVALS",
                    thread_ts="1700000000.000100",
                    created_at=now,
                    updated_at=now,
                    state="active",
                    consecutive_failures=0,
                    next_test_at=now - timedelta(seconds=1),
                    retest_every_seconds=24 * 3600,
                    failing_after=2,
                    settings_snapshot=dict(config),
                    version=1,
                )
            )
    return ids
