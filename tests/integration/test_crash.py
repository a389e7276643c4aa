"""Killed at any moment, restarted on the same database: nothing lost, nothing done twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from typing import Any

from sqlalchemy import select

from bot.db import queries
from bot.db.models import ConnectorRequest
from bot.db.session import make_engine, make_session_factory, session_scope
from bot.domain.enums import JobKind, JobStatus, Notice
from bot.services import requests
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    NOTIFY_CHANNEL,
    REQUESTER,
    bot_environment,
    bot_process,
    free_port,
    make_settings,
    reference_from,
    running_bot,
    wait_until,
)

REQUESTS = 10
KILLS = 8
KIBANA_SECONDS_PER_CALL = 0.5
SEED = int(os.environ.get("CRASH_TEST_SEED", "6014"))
OUTCOME = "Connector created and tested"
KILL_WINDOW = 0.5  # seconds: Slack's answer, then the database write that marks the job done


def _form(n: int) -> dict[str, str]:
    return {
        "name": f"Crash GPT {n}",
        "space": "default",
        "model": "gpt-4.1",
        "api_key": f"sk-proj-crash{n:04d}0123456789",
        "justification": "crash tests",
    }


def _rows(session_factory: Any) -> dict[str, ConnectorRequest]:
    with session_scope(session_factory) as session:
        rows = list(session.scalars(select(ConnectorRequest)))
        for row in rows:
            session.expunge(row)
    return {row.reference: row for row in rows}


def test_sigkill_at_random_moments_loses_nothing_and_repeats_nothing(
    database_url, slack, kibana, tmp_path
) -> None:
    settings = make_settings(
        database_url,
        slack,
        kibana,
        job_lease_seconds=1.0,
        kibana_max_attempts=None,
        kibana_retry_window_seconds=120.0,
        kibana_retry_base_seconds=0.2,
        kibana_timeout_seconds=5.0,
        worker_threads=2,  # one Slack and one Kibana thread: the work spans several lives
    )
    # Ten approved requests, decided while no worker runs: the killed processes do the rest.
    with running_bot(settings, slack, kibana, workers=False) as setup:
        keys = setup.keys
        references = [reference_from(setup.request_via_form(_form(n))) for n in range(REQUESTS)]
        for reference in references:
            row = setup.request_row(reference)
            requests.approve_request(setup.deps, request_id=row.id, actor=APPROVER)
    kibana.set_delay(KIBANA_SECONDS_PER_CALL)

    rng = random.Random(SEED)
    moments = [round(rng.uniform(0.05, 1.2), 3) for _ in range(KILLS)]
    story = f"seed {SEED}, killed {KILLS} times, each that many seconds after /healthz: {moments}"
    env = bot_environment(settings, keys, port=free_port())
    killed_at: list[float] = []
    for life, moment in enumerate(moments):
        with bot_process(env, log_path=str(tmp_path / f"life-{life}.log")) as process:
            try:
                process.wait(moment)
            except subprocess.TimeoutExpired:
                killed_at.append(time.monotonic())
                process.send_signal(signal.SIGKILL)
                process.wait(10)
            else:
                raise AssertionError(f"life {life} exited by itself ({story})")

    engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    try:
        # Where the killed lives left things (the last life must finish them).
        left = sorted(row.status for row in _rows(session_factory).values())
        story += f"; left by the killed lives: {left}"
        with bot_process(env, log_path=str(tmp_path / "last-life.log")):

            def settled() -> bool:
                rows = _rows(session_factory)
                with session_scope(session_factory) as session:
                    queued = queries.count_queued_jobs(session=session)
                return queued == 0 and all(
                    row.status in {"tested_ok", "test_failed", "failed"} for row in rows.values()
                )

            wait_until(settled, timeout=60, what=f"every request to finish ({story})")
        rows = _rows(session_factory)
        with session_scope(session_factory) as session:
            jobs = {
                reference: [
                    (job.kind, job.payload.get("notice"), job.status)
                    for job in queries.list_jobs(session=session, request_id=row.id)
                ]
                for reference, row in rows.items()
            }
    finally:
        engine.dispose()

    problems: list[str] = []
    saved = kibana.connectors("default")
    if len(saved) != REQUESTS:
        problems.append(f"{len(saved)} connectors in Kibana, not {REQUESTS}")
    posts = slack.calls_for("chat.postMessage")
    for reference in references:
        row = rows[reference]
        if row.status != "tested_ok":
            problems.append(f"{reference} ended {row.status}: {row.failure_message}")
            continue
        connector_id = row.kibana_connector_id
        if connector_id not in saved:
            problems.append(f"{reference}: connector {connector_id} missing in Kibana")
        creates = kibana.requests_to("POST", f"/api/actions/connector/{connector_id}")
        created = [call for call in creates if call.status == 200]
        if len(created) != 1:
            problems.append(f"{reference}: {len(created)} successful creates")
        # Each notice was queued once, and every job ended done (none buried, none twice).
        for kind, notice in (
            (JobKind.THREAD_REPLY, Notice.OUTCOME),
            (JobKind.DM_REQUESTER, Notice.OUTCOME),
            (JobKind.NOTIFY_CHANNEL, None),
            (JobKind.PROVISION, None),
            (JobKind.TEST_CONNECTOR, None),
        ):
            queued = [j for j in jobs[reference] if j[0] == kind and j[1] == notice]
            if len(queued) != 1:
                problems.append(f"{reference}: {len(queued)} {kind} {notice or ''} jobs")
        not_done = [j for j in jobs[reference] if j[2] != JobStatus.DONE]
        if not_done:
            problems.append(f"{reference}: jobs not done: {not_done}")
        mine = [call for call in posts if reference in json.dumps(call.args)]
        results = [call for call in mine if OUTCOME in json.dumps(call.args)]
        for where, sent in (
            ("approval card", [c for c in mine if _is_card(c.args)]),
            ("thread result", [c for c in results if c.args.get("thread_ts") == row.card_ts]),
            ("DM result", [c for c in results if c.args.get("channel") == REQUESTER]),
            (
                "notify-channel result",
                [
                    c
                    for c in mine
                    if c.args.get("channel") == NOTIFY_CHANNEL and "tested OK" in c.args["text"]
                ],
            ),
        ):
            if not sent:
                problems.append(f"{reference}: no {where} posted")
            # Slack has no idempotency key and the bot may not read channels back, so a kill
            # between Slack's answer and the database write repeats a message: that is the
            # only repeat allowed (every earlier copy came just before a kill).
            for copy in sent[:-1]:
                if not any(0 <= kill - copy.at <= KILL_WINDOW for kill in killed_at):
                    problems.append(f"{reference}: {where} posted twice, no kill in between")
    assert not problems, f"{story}:\n" + "\n".join(problems)
    assert left != ["tested_ok"] * REQUESTS, f"the kills came after all the work ({story})"


def _is_card(args: dict[str, Any]) -> bool:
    return args.get("channel") == APPROVAL_CHANNEL and not args.get("thread_ts")


def test_sigkill_during_a_kibana_outage_tells_once_and_finishes_when_kibana_is_back(
    database_url, slack, kibana, tmp_path
) -> None:
    settings = make_settings(
        database_url,
        slack,
        kibana,
        job_lease_seconds=1.0,
        kibana_max_attempts=None,
        kibana_retry_window_seconds=120.0,
        kibana_retry_base_seconds=0.2,
        worker_threads=2,
    )
    with running_bot(settings, slack, kibana, workers=False) as setup:
        keys = setup.keys
        references = [reference_from(setup.request_via_form(_form(n))) for n in range(3)]
        for reference in references:
            row = setup.request_row(reference)
            requests.approve_request(setup.deps, request_id=row.id, actor=APPROVER)
    rng = random.Random(SEED + 1)
    moments = [round(rng.uniform(0.3, 1.2), 3) for _ in range(4)]
    story = f"seed {SEED + 1}, killed during the outage after {moments} s"
    env = bot_environment(settings, keys, port=free_port())
    kibana.pause()  # Kibana restarting: connections refused through every killed life
    try:
        for life, moment in enumerate(moments):
            with bot_process(env, log_path=str(tmp_path / f"life-{life}.log")) as process:
                try:
                    process.wait(moment)
                except subprocess.TimeoutExpired:
                    process.send_signal(signal.SIGKILL)
                    process.wait(10)
                else:
                    raise AssertionError(f"life {life} exited by itself ({story})")
    finally:
        kibana.resume()
    engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    try:
        with bot_process(env, log_path=str(tmp_path / "last-life.log")):

            def settled() -> bool:
                with session_scope(session_factory) as session:
                    queued = queries.count_queued_jobs(session=session)
                statuses = {row.status for row in _rows(session_factory).values()}
                return queued == 0 and statuses <= {"tested_ok", "test_failed", "failed"}

            wait_until(settled, timeout=60, what=f"every request to finish ({story})")
        rows = _rows(session_factory)
        with session_scope(session_factory) as session:
            notices = {
                reference: [
                    (job.kind, job.status)
                    for job in queries.list_jobs(session=session, request_id=row.id)
                    if job.payload.get("notice") == Notice.KIBANA_RETRYING
                ]
                for reference, row in rows.items()
            }
    finally:
        engine.dispose()
    saved = kibana.connectors("default")
    for reference in references:
        row = rows[reference]
        assert row.status == "tested_ok", f"{reference}: {row.failure_message} ({story})"
        assert row.kibana_connector_id in saved
        creates = kibana.requests_to("POST", f"/api/actions/connector/{row.kibana_connector_id}")
        assert [c.status for c in creates].count(200) == 1, story
        # Told once for the outage, whatever the kills: thread and DM, both delivered.
        assert sorted(notices[reference]) == sorted(
            [(JobKind.THREAD_REPLY, JobStatus.DONE), (JobKind.DM_REQUESTER, JobStatus.DONE)]
        ), f"{reference}: {notices[reference]} ({story})"
    assert len(saved) == len(references)
