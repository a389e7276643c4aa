"""Benchmark: how fast the bot acknowledges Slack while Kibana is slow, next to a bare Bolt app.

Run from the repository root (everything binds to and connects to 127.0.0.1 only)::

    .venv/bin/python -m scripts.bench_ack
    .venv/bin/python -m scripts.bench_ack --database postgres \\
        --postgres-url postgresql://postgres@127.0.0.1:5432/test

What it does, in one process and on one machine:

* starts the fake Slack and the fake Kibana (every Kibana route answers after
  ``--kibana-delay`` seconds), a database (a SQLite file in a temporary directory, or a fresh
  PostgreSQL schema) and the real bot through ``tests.harness.BotHarness``: the real WSGI
  server, the real job workers (``worker_threads`` stays 4) and the real database;
* creates ``--concurrency`` pending requests per round (and ``--stress-concurrency`` more)
  through the modal while Kibana answers at once (setup, not measured), waits for their
  approval cards and for the job queue to drain, then makes Kibana slow;
* per round, fires ``--concurrency`` Approve clicks at once, then ``--concurrency`` slash
  commands at once (each with a fresh trigger id), and times each request from just before it is
  sent to the full HTTP response (``time.perf_counter``). The approvals queue provisioning, so
  the later bursts run while the workers wait on the slow Kibana;
* then one round of ``--stress-concurrency`` Approve clicks and slash commands at once (no ack
  may take Slack's 3 s);
* does the same against a bare Bolt ``App`` whose listeners only ``ack()``, served by the same
  ``bot.server.make_server`` with the same thread counts;
* prints each p99 of the bot over the bare app's, and the resident memory of the process
  (VmRSS/VmHWM) after the bot's runs, next to what it was before the bot was built;
* prints p50/p99/max per scenario, how many requests did not get HTTP 200, and what the
  background work reached (connectors in the fake Kibana, request statuses). The exit status
  is 1 when any measured request did not get HTTP 200.

The load generator runs in the same Python process as the servers: each burst is released at
once by a barrier, from a pool of ``--concurrency`` threads, each with its own keep-alive httpx
connection (warmed with a GET /healthz just before every burst, so timings exclude TCP connect).
The numbers therefore include client-side GIL contention, equally for the bot and the baseline.

Percentiles are nearest-rank over the sorted samples of a scenario (all measured rounds
together): the p-th percentile is ``sorted[ceil(p / 100 * n) - 1]``; e.g. with 150 samples p50
is the 75th smallest and p99 the 149th.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

if __package__ in (None, ""):  # run as a file: make `bot` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from waitress.server import BaseWSGIServer

from bot.db import queries
from bot.db.models import ConnectorRequest
from bot.db.session import session_scope
from bot.server import SLACK_PATH, make_server, make_wsgi_app
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack, SlackCall
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    APPROVER_2,
    BOT_TOKEN,
    NOTIFY_CHANNEL,
    REQUESTER,
    SIGNING_SECRET,
    STRANGER,
    TEAM,
    BotHarness,
    bot_environment,
    find_button,
    free_port,
    make_settings,
    reference_from,
    wait_until,
)

APPROVE_ACTION = "approval.approve"
SLASH_COMMAND = "/llm-connector"
IN_FLIGHT_STATUSES = ("approved", "provisioning", "provisioned")
BARRIER_TIMEOUT = 60.0
REQUEST_TIMEOUT = 60.0
VIEW_WAIT = 20.0
TRIGGER_TTL = 3.0  # Slack's trigger ids live 3 s
ACK_LIMIT = 3.0  # Slack gives up on an HTTP request after 3 s
P99_GOAL = 1.2  # bot p99 / bare Bolt p99
RSS_GOAL_MIB = 150


# --- measurements ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    seconds: float
    status: int  # HTTP status; 0 when the request failed without a response
    error: str = ""


@dataclass
class Burst:
    started: float  # time.time() when the burst was released
    ended: float  # time.time() when its last response arrived
    samples: list[Sample]
    requests: list[SignedRequest] = field(default_factory=list)


@dataclass
class Scenario:
    name: str
    bursts: list[Burst] = field(default_factory=list)

    @property
    def samples(self) -> list[Sample]:
        return [sample for burst in self.bursts for sample in burst.samples]

    @property
    def non_200(self) -> list[Sample]:
        return [sample for sample in self.samples if sample.status != 200]


def median_ms(burst: Burst) -> str:
    ordered = sorted(s.seconds for s in burst.samples)
    return f"{1000 * percentile(ordered, 50):.1f} (p99 {1000 * percentile(ordered, 99):.1f})"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values (p in 0..100)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


# --- Slack's requests ----------------------------------------------------------------------
def signed_headers(body: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body)
    if signature is None:
        raise RuntimeError("could not sign a request")
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": signature,
    }


@dataclass(frozen=True)
class SignedRequest:
    body: bytes
    headers: dict[str, str]
    trigger_id: str = ""
    issued_at: float = 0.0  # time.monotonic() when the trigger id was issued

    @classmethod
    def of(cls, body: str, *, trigger_id: str = "", issued_at: float = 0.0) -> SignedRequest:
        return cls(body.encode(), signed_headers(body), trigger_id, issued_at)


def slash_command(slack: FakeSlack, command: str) -> SignedRequest:
    """``command`` with empty text (opens the modal), as Slack posts it, with a fresh trigger."""
    issued_at = time.monotonic()
    trigger_id = slack.issue_trigger_id()
    fields = {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "team_domain": "fake",
        "channel_id": "CREQUESTS1",
        "channel_name": "requests",
        "user_id": REQUESTER,
        "user_name": REQUESTER.lower(),
        "command": command,
        "text": "",
        "api_app_id": "A0001",
        "response_url": slack.response_url(),
        "trigger_id": trigger_id,
    }
    return SignedRequest.of(urlencode(fields), trigger_id=trigger_id, issued_at=issued_at)


def slash_commands(slack: FakeSlack, command: str, count: int) -> list[SignedRequest]:
    return [slash_command(slack, command) for _ in range(count)]


def bare_clicks(slack: FakeSlack, message: dict[str, Any], count: int) -> list[SignedRequest]:
    button = find_button(message, APPROVE_ACTION)
    return [button_click(slack, message, button, user=APPROVER) for _ in range(count)]


def button_click(
    slack: FakeSlack, message: dict[str, Any], button: dict[str, Any], *, user: str
) -> SignedRequest:
    """A block_actions payload for ``button`` on ``message`` (as BotHarness.click sends it)."""
    payload = {
        "team": {"id": TEAM},
        "api_app_id": "A0001",
        "token": "x",
        "type": "block_actions",
        "user": {"id": user},
        "trigger_id": slack.issue_trigger_id(),
        "response_url": slack.response_url(),
        "container": {
            "type": "message",
            "channel_id": APPROVAL_CHANNEL,
            "message_ts": message["ts"],
        },
        "channel": {"id": APPROVAL_CHANNEL},
        "message": message,
        "actions": [{**button, "block_id": "approval.actions", "action_ts": str(time.time())}],
    }
    return SignedRequest.of(urlencode({"payload": json.dumps(payload)}))


# --- the load generator ----------------------------------------------------------------------
class Load:
    """A pool of ``concurrency`` threads, each with its own keep-alive httpx client."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bench")
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            for client in self._clients:
                client.close()
            self._clients.clear()

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(
                timeout=REQUEST_TIMEOUT,
                trust_env=False,
                limits=httpx.Limits(max_connections=4, max_keepalive_connections=4),
            )
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def _all_at_once(self, jobs: Sequence[Callable[[httpx.Client], Sample]]) -> Burst:
        if len(jobs) > self.concurrency:
            raise ValueError(f"{len(jobs)} jobs for {self.concurrency} threads")
        barrier = threading.Barrier(len(jobs))

        def run(job: Callable[[httpx.Client], Sample]) -> Sample:
            client = self._client()
            barrier.wait(BARRIER_TIMEOUT)
            return job(client)

        started = time.time()
        futures = [self._pool.submit(run, job) for job in jobs]
        samples = [future.result() for future in futures]
        return Burst(started, time.time(), samples)

    def warm(self, base_url: str) -> None:
        """One GET /healthz from every thread at once: each opens its keep-alive connection."""

        def get(client: httpx.Client) -> Sample:
            started = time.perf_counter()
            response = client.get(f"{base_url}/healthz")
            return Sample(time.perf_counter() - started, response.status_code)

        burst = self._all_at_once([get] * self.concurrency)
        bad = [s.status for s in burst.samples if s.status != 200]
        if bad:
            raise RuntimeError(f"{base_url}/healthz answered {bad[:5]} while warming up")

    def burst(self, base_url: str, build: Callable[[], Sequence[SignedRequest]]) -> Burst:
        """Warm the connections, build the requests, then POST them to /slack/events all at
        the same moment and time each one (building happens after warming, so the trigger ids
        are as fresh as Slack's)."""
        url = f"{base_url}{SLACK_PATH}"

        def post(request: SignedRequest) -> Callable[[httpx.Client], Sample]:
            def send(client: httpx.Client) -> Sample:
                started = time.perf_counter()
                try:
                    response = client.post(url, content=request.body, headers=request.headers)
                except httpx.HTTPError as error:
                    elapsed = time.perf_counter() - started
                    return Sample(elapsed, 0, f"{type(error).__name__}: {error}")
                elapsed = time.perf_counter() - started
                detail = "" if response.status_code == 200 else response.text[:200]
                return Sample(elapsed, response.status_code, detail)

            return send

        self.warm(base_url)
        requests = list(build())
        burst = self._all_at_once([post(request) for request in requests])
        burst.requests = requests
        return burst


# --- what runs ---------------------------------------------------------------------------------
REPO = Path(__file__).resolve().parents[1]


def wait_for_health(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            return httpx.get(f"{url}/healthz", timeout=1, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, timeout=60, what=f"{what} to answer /healthz")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@dataclass
class BenchHarness(BotHarness):
    """The bot as it runs in production: ``python -m bot`` in a process of its own, configured
    through its environment (production defaults apart from the thread counts, the log level
    and a Kibana timeout longer than Kibana's delay). Slack and Kibana are other machines in
    production, so their fakes and the load generator stay in this process and do not compete
    with the bot for its interpreter. The bench reads the database through an engine of its own;
    approval cards are remembered once seen."""

    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    reader: Engine | None = None
    log_path: Path | None = None

    def start(self, *, workers: bool = True) -> BenchHarness:
        if not workers:
            raise ValueError("the bot process always runs its workers")
        port = free_port()
        env = bot_environment(self.settings, self.keys, port=port)
        for name in ("KIBANA_RETRY_BASE_SECONDS", "KIBANA_MAX_ATTEMPTS", "JOB_LEASE_SECONDS"):
            env.pop(name, None)  # the production defaults
        env.update(
            {
                "HTTP_THREADS": str(self.settings.http_threads),
                "WORKER_THREADS": str(self.settings.worker_threads),
                "KIBANA_TIMEOUT_SECONDS": str(self.settings.kibana_timeout_seconds),
                "LOG_LEVEL": "WARNING",
            }
        )
        self.log_path = Path(tempfile.mkstemp(prefix="bench-bot-", suffix=".log")[1])
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot"], env=env, cwd=REPO, stdout=log, stderr=log
            )
        self.url = f"http://127.0.0.1:{port}"
        wait_for_health(self.url, self.process, "the bot")
        self.reader = create_engine(self.settings.database_url)
        return self

    def stop(self) -> None:
        self.http.close()
        if self.process is not None:
            stop_process(self.process)
        if self.reader is not None:
            self.reader.dispose()

    @property
    def session_factory(self) -> sessionmaker[Session]:
        if self.reader is None:
            raise RuntimeError("the bot is not started")
        return sessionmaker(self.reader)

    @property
    def server_threads(self) -> int:
        return self.settings.http_threads

    def wait_for_jobs(self, timeout: float) -> None:
        def idle() -> bool:
            with session_scope(self.session_factory) as session:
                return queries.count_queued_jobs(session=session) == 0

        wait_until(idle, timeout=timeout, what="the bot's job queue to drain")

    def status_kib(self, field_name: str) -> int:
        """A ``kB`` field (VmRSS, VmHWM) of the bot process's /proc/<pid>/status; 0 if none."""
        return proc_status_kib(field_name, self.process.pid if self.process else None)

    def log_problems(self) -> list[str]:
        """Lines of the bot's own log at WARNING or above."""
        if self.log_path is None or not self.log_path.exists():
            return []
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [line for line in lines if any(k in line for k in ("WARNING", "ERROR", "CRITICAL"))]


@contextmanager
def bare_bolt(slack_url: str, *, threads: int, command: str) -> Iterator[str]:
    """A Bolt app whose listeners only ack, behind the bot's WSGI front; yields its URL."""
    app = App(
        client=WebClient(token=BOT_TOKEN, base_url=slack_url, timeout=15),
        signing_secret=SIGNING_SECRET,
        token_verification_enabled=False,
        process_before_response=False,
        listener_executor=ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bare"),
        logger=logging.getLogger("bare_bolt"),
    )

    @app.command(command)
    def on_command(ack: Ack) -> None:
        ack()

    @app.action(APPROVE_ACTION)
    def on_approve(ack: Ack) -> None:
        ack()

    server = make_server(
        make_wsgi_app(app, ready=lambda: True, signing_secret=SIGNING_SECRET),
        host="127.0.0.1",
        port=0,
        threads=threads,
    )
    if not isinstance(server, BaseWSGIServer):
        raise RuntimeError("expected a server on one socket")
    port = int(server.getsockname()[1])
    thread = threading.Thread(target=server.run, name="bench-bare", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        thread.join(5)


@contextmanager
def bare_process(slack: FakeSlack, *, threads: int) -> Iterator[str]:
    """The bare Bolt app in a process of its own, as the bot is; yields its URL."""
    process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "scripts.bench_ack",
            "--serve-bare",
            slack.base_url,
            "--http-threads",
            str(threads),
        ],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None  # noqa: S101 - PIPE was asked for
        url = process.stdout.readline().decode().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"the bare Bolt app did not start ({url!r})")
        wait_for_health(url, process, "the bare Bolt app")
        yield url
    finally:
        if process.stdin is not None:
            process.stdin.close()
        stop_process(process)


def serve_bare(slack_url: str, threads: int) -> int:
    """``--serve-bare``: run the bare Bolt app until stdin closes."""
    with bare_bolt(slack_url, threads=threads, command=SLASH_COMMAND) as url:
        print(url, flush=True)
        sys.stdin.read()
    return 0


@contextmanager
def database(kind: str, postgres_url: str) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file or a PostgreSQL schema of its own."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-ack-") as directory:
            yield f"sqlite:///{Path(directory) / 'bot.sqlite3'}"
        return
    base = make_url(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    if base.host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"--postgres-url must point at 127.0.0.1, not {base.host}")
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except SQLAlchemyError as error:
        admin.dispose()
        raise SystemExit(f"PostgreSQL does not answer at {postgres_url}: {error}") from None
    try:
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def start_fakes(stack: ExitStack) -> tuple[FakeSlack, FakeKibana]:
    slack = FakeSlack()
    slack.start()
    stack.callback(slack.stop)
    for user in (REQUESTER, APPROVER, APPROVER_2, STRANGER):
        slack.add_user(user, name=user.lower(), real_name=user.title())
    slack.add_channel(APPROVAL_CHANNEL, name="llm-approvals", members=[APPROVER, APPROVER_2])
    slack.add_channel(NOTIFY_CHANNEL, name="llm-news")
    slack.add_channel("CREQUESTS1", name="requests", members=[REQUESTER, STRANGER])
    kibana = FakeKibana(spaces=("default", "security"))
    kibana.start()
    stack.callback(kibana.stop)
    return slack, kibana


# --- the bot's scenarios -----------------------------------------------------------------------
@dataclass
class BotRun:
    slash: Scenario
    approve: Scenario
    setup_seconds: float = 0.0
    views_opened: int = 0
    views_failed: Counter[str] = field(default_factory=Counter)
    view_lags: list[float] = field(default_factory=list)  # trigger issued -> first views.open
    approvals_recorded: int = 0
    approvals_expected: int = 0
    references: list[str] = field(default_factory=list)


def create_pending(bot: BotHarness, count: int, start: int) -> list[str]:
    """Submit ``count`` requests through the modal, as the requester would; their references."""
    references = []
    for number in range(start, start + count):
        response = bot.request_via_form(
            {
                "name": f"Bench {number}",
                "space": "default",
                "model": "gpt-4.1",
                "api_key": "sk-bench-0123456789abcdef",
                "justification": "bench",
            }
        )
        if response.status_code != 200:
            raise RuntimeError(f"submitting request {number}: HTTP {response.status_code}")
        references.append(reference_from(response))
    return references


def statuses(bot: BenchHarness, references: Sequence[str]) -> Counter[str]:
    with session_scope(bot.session_factory) as session:
        rows = session.execute(
            select(ConnectorRequest.status, func.count())
            .where(ConnectorRequest.reference.in_(references))
            .group_by(ConnectorRequest.status)
        ).all()
    return Counter({str(status): int(count) for status, count in rows})


def none_pending(bot: BenchHarness, references: Sequence[str]) -> bool:
    return statuses(bot, references)["pending"] == 0


def approve_requests(bot: BenchHarness, references: Sequence[str]) -> list[SignedRequest]:
    """One signed Approve click per reference, built before the clock starts."""
    clicks = []
    for reference in references:
        card = bot.cards[reference]
        clicks.append(
            button_click(bot.slack, card, find_button(card, APPROVE_ACTION), user=APPROVER)
        )
    return clicks


def check_views(bot: BotHarness, burst: Burst, run: BotRun) -> None:
    """Follow each acked command to the views.open its listener makes after the ack."""
    wanted = {request.trigger_id: request.issued_at for request in burst.requests}

    def ours() -> dict[str, list[SlackCall]]:
        found: dict[str, list[SlackCall]] = {}
        for call in bot.slack.calls_for("views.open"):
            trigger = str(call.args.get("trigger_id"))
            if trigger in wanted:
                found.setdefault(trigger, []).append(call)
        return found

    with contextlib.suppress(AssertionError):  # missing ones are counted below
        wait_until(lambda: len(ours()) == len(wanted), timeout=VIEW_WAIT, what="views.open")
    found = ours()
    for trigger, issued_at in wanted.items():
        calls = found.get(trigger, [])
        if calls:
            run.view_lags.append(calls[0].at - issued_at)
        if any(call.response.get("ok") for call in calls):
            run.views_opened += 1
        elif calls:
            run.views_failed[str(calls[-1].response.get("error"))] += 1
        else:
            run.views_failed[f"no views.open within {VIEW_WAIT:g} s"] += 1


def run_bot(
    bot: BenchHarness,
    load: Load,
    *,
    rounds: int,
    warmup: int,
    kibana_delay: float,
    stress: Load | None,
) -> tuple[BotRun, BotRun | None]:
    """The measured rounds at ``load``, then one round at ``stress`` (if any)."""
    run = BotRun(Scenario("bot slash command"), Scenario("bot approve click"))
    n = load.concurrency
    started = time.perf_counter()
    # Setup talks to a prompt Kibana: the form's checks would otherwise time out (1.5 s each)
    # for every one of the requests submitted one after the other.
    bot.kibana.set_delay(0)
    batches = [create_pending(bot, n, i * n) for i in range(warmup + rounds)]
    stress_batch = create_pending(bot, stress.concurrency, n * (warmup + rounds)) if stress else []
    for reference in [*(r for batch in batches for r in batch), *stress_batch]:
        bot.cards[reference] = bot.card_for(reference)
    bot.wait_for_jobs(timeout=120)
    bot.kibana.set_delay(kibana_delay)
    run.setup_seconds = time.perf_counter() - started
    for index, batch in enumerate(batches):
        measured = index >= warmup
        label = f"round {index + 1 - warmup}" if measured else f"warm-up {index + 1}"
        bot_round(bot, load, batch, run if measured else None, label)
        run.references.extend(batch)
    if stress is None:
        return run, None
    stressed = BotRun(
        Scenario(f"bot slash command x{stress.concurrency}"),
        Scenario(f"bot approve click x{stress.concurrency}"),
    )
    bot_round(bot, stress, stress_batch, stressed, f"{stress.concurrency} at once")
    stressed.references.extend(stress_batch)
    run.references.extend(stress_batch)
    return run, stressed


def bot_round(
    bot: BenchHarness, load: Load, batch: list[str], run: BotRun | None, label: str
) -> None:
    """Approve every request of ``batch`` at once, then as many slash commands at once."""
    burst = load.burst(bot.url, partial(approve_requests, bot, batch))
    wait_until(partial(none_pending, bot, batch), timeout=30, what="the approvals to be recorded")
    slash = load.burst(
        bot.url, partial(slash_commands, bot.slack, bot.settings.slash_command, len(batch))
    )
    if run is not None:
        run.approve.bursts.append(burst)
        run.slash.bursts.append(slash)
        run.approvals_expected += len(batch)
        run.approvals_recorded += len(batch) - statuses(bot, batch)["pending"]
        check_views(bot, slash, run)
    progress(
        f"bot {label}: approve p50 {median_ms(burst)} ms, slash command p50 {median_ms(slash)} ms"
    )


def run_bare(
    slack: FakeSlack,
    load: Load,
    *,
    threads: int,
    rounds: int,
    warmup: int,
    stress: Load | None,
) -> tuple[BotRun, BotRun | None]:
    run = BotRun(Scenario("bare Bolt slash command"), Scenario("bare Bolt button ack"))
    message = {
        "type": "message",
        "ts": "1700000000.000100",
        "text": "card",
        "blocks": [
            {
                "type": "actions",
                "block_id": "approval.actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": APPROVE_ACTION,
                        "text": {"type": "plain_text", "text": "Approve"},
                        "value": "bench",
                    }
                ],
            }
        ],
    }

    def one_round(load: Load, into: BotRun | None) -> None:
        n = load.concurrency
        burst = load.burst(url, partial(bare_clicks, slack, message, n))
        slash = load.burst(url, partial(slash_commands, slack, SLASH_COMMAND, n))
        if into is not None:
            into.approve.bursts.append(burst)
            into.slash.bursts.append(slash)
        progress(
            f"bare Bolt, {n} at once: button ack p50 {median_ms(burst)} ms, "
            f"slash command p50 {median_ms(slash)} ms"
        )

    stressed = None
    with bare_process(slack, threads=threads) as url:
        for index in range(warmup + rounds):
            one_round(load, run if index >= warmup else None)
        if stress is not None:
            stressed = BotRun(
                Scenario(f"bare Bolt slash command x{stress.concurrency}"),
                Scenario(f"bare Bolt button ack x{stress.concurrency}"),
            )
            one_round(stress, stressed)
    return run, stressed


# --- the report --------------------------------------------------------------------------------
class WarningCounter(logging.Handler):
    """Counts WARNING-and-above records by level, logger and kind of thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[tuple[str, str, str]] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        thread = (record.threadName or "?").rstrip("0123456789").rstrip("-_")
        self.counts[(record.levelname, record.name, thread)] += 1


def kibana_in_flight(kibana: FakeKibana, burst: Burst, delay: float) -> int:
    """Kibana calls answered so far whose (delayed) handling overlapped the burst."""
    return sum(1 for r in kibana.requests if r.at - delay < burst.ended and r.at > burst.started)


def kibana_route(path: str) -> str:
    """A request path with the connector id left out, e.g. /api/actions/connector/{id}."""
    head, _, last = path.rstrip("/").rpartition("/")
    if last.startswith("_"):
        head, _, _ = head.rpartition("/")
        return f"{head}/{{id}}/{last}"
    return f"{head}/{{id}}" if head.endswith("/connector") else path


def table(scenarios: Sequence[Scenario]) -> str:
    header = ("scenario", "requests", "non-200", "p50 ms", "p99 ms", "max ms")
    rows = [header]
    for scenario in scenarios:
        ordered = sorted(sample.seconds for sample in scenario.samples)
        rows.append(
            (
                scenario.name,
                str(len(ordered)),
                str(len(scenario.non_200)),
                f"{1000 * percentile(ordered, 50):.1f}",
                f"{1000 * percentile(ordered, 99):.1f}",
                f"{1000 * (ordered[-1] if ordered else math.nan):.1f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for number, row in enumerate(rows):
        cells = [
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ]
        lines.append(" | ".join(cells))
        if number == 0:
            lines.append("-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def wait_for_drain(bot: BenchHarness, references: Sequence[str], timeout: float) -> float:
    """Wait (at most ``timeout``) until no approved request is still being provisioned."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = statuses(bot, references)
        if not any(counts[status] for status in IN_FLIGHT_STATUSES):
            break
        time.sleep(0.5)
    return time.perf_counter() - started


def report(
    args: argparse.Namespace,
    bot: BenchHarness,
    bot_run: BotRun,
    bare_run: BotRun,
    stressed: tuple[BotRun, BotRun] | None,
    warnings: WarningCounter,
    drained_for: float,
    memory: Memory,
) -> int:
    scenarios = [bot_run.slash, bot_run.approve, bare_run.slash, bare_run.approve]
    if stressed is not None:
        bot_stress, bare_stress = stressed
        scenarios += [bot_stress.slash, bot_stress.approve, bare_stress.slash, bare_stress.approve]
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    print()
    print(
        f"machine: {cores} cores ({usable} usable), Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.platform()}"
    )
    print(
        f"database: {args.database}; Kibana answers after {args.kibana_delay:g} s on every "
        f"route; {args.concurrency} concurrent requests x {args.rounds} measured round(s) "
        f"(+{args.warmup_rounds} warm-up); bot WSGI threads {bot.server_threads}, Bolt "
        f"listener threads {bot.settings.http_threads}, job workers "
        f"{bot.settings.worker_threads}; bare Bolt: {args.http_threads} threads"
    )
    print(
        "percentiles: nearest rank over all measured samples of a scenario "
        "(sorted[ceil(p/100*n)-1]); time = perf_counter from send to full HTTP response"
    )
    print()
    print(table(scenarios))
    print()
    for bot_side, bare_side in (
        (bot_run.slash, bare_run.slash),
        (bot_run.approve, bare_run.approve),
    ):
        print(
            f"p99 {bot_side.name} / {bare_side.name}: {p99(bot_side) / p99(bare_side):.2f}x "
            f"(goal <= {P99_GOAL:g}x)"
        )
    failures = 0
    if stressed is not None:
        bot_stress, _ = stressed
        slowest = max(s.seconds for s in [*bot_stress.slash.samples, *bot_stress.approve.samples])
        over = slowest > ACK_LIMIT
        failures += over
        print(
            f"{bot_stress.slash.name} and {bot_stress.approve.name.removeprefix('bot ')}: "
            f"slowest ack {1000 * slowest:.0f} ms "
            f"({'MORE' if over else 'less'} than Slack's {ACK_LIMIT:g} s)"
        )
        lags = sorted(bot_stress.view_lags)
        print(
            f"modals opened after the {bot_stress.slash.name}: {bot_stress.views_opened}/"
            f"{len(bot_stress.slash.samples)}; trigger issued -> views.open at Slack: max "
            f"{1000 * (lags[-1] if lags else 0):.0f} ms"
        )
    print(memory.describe())
    print()
    for scenario in scenarios:
        bad = scenario.non_200
        failures += len(bad)
        if bad:
            kinds = Counter(f"{s.status} {s.error[:80]}" for s in bad)
            print(f"NOT 200 in {scenario.name}: {dict(kinds)}")
    if not failures:
        print(f"all {sum(len(s.samples) for s in scenarios)} measured requests got HTTP 200")

    delay_ms = 1000 * args.kibana_delay
    for scenario in (bot_run.slash, bot_run.approve):
        slow = [s for s in scenario.samples if s.seconds * 1000 >= delay_ms]
        in_flight = [
            kibana_in_flight(bot.kibana, burst, args.kibana_delay) for burst in scenario.bursts
        ]
        verdict = (
            f"{len(slow)} ack(s) took >= {delay_ms:.0f} ms (one Kibana call)"
            if slow
            else f"no ack took as long as one Kibana call ({delay_ms:.0f} ms)"
        )
        print(
            f"{scenario.name}: {verdict}; Kibana calls in flight per burst: "
            f"{in_flight} (answered ones only: a lower bound)"
        )

    print(
        f"setup: {len(bot_run.references)} requests submitted through the modal and carded in "
        f"{bot_run.setup_seconds:.1f} s (not measured)"
    )
    print(
        f"approve clicks recorded in the database before the next burst: "
        f"{bot_run.approvals_recorded}/{bot_run.approvals_expected}"
    )
    lags = sorted(bot_run.view_lags)
    late = sum(1 for lag in lags if lag > TRIGGER_TTL)
    print(
        f"modals opened after the measured slash-command acks: {bot_run.views_opened}/"
        f"{len(bot_run.slash.samples)}"
        + (f"; failed: {dict(bot_run.views_failed)}" if bot_run.views_failed else "")
        + f"; trigger issued -> views.open at Slack: p50 {1000 * percentile(lags, 50):.0f} ms, "
        f"p99 {1000 * percentile(lags, 99):.0f} ms, max {1000 * (lags[-1] if lags else 0):.0f} ms"
        f" ({late} later than Slack's {TRIGGER_TTL:g} s trigger life)"
    )
    final = statuses(bot, bot_run.references)
    connectors = len(bot.kibana.connectors("default"))
    answered = Counter(
        f"{r.method} {kibana_route(r.path)} -> {r.status}" for r in bot.kibana.requests
    )
    print(
        f"after the run (+{drained_for:.1f} s waiting, --drain-timeout {args.drain_timeout:g}): "
        f"{connectors} connector(s) in the fake Kibana; requests by status {dict(final)}"
    )
    print(f"Kibana requests answered: {len(bot.kibana.requests)} {dict(answered)}")
    slack_calls = Counter(call.method for call in bot.slack.calls)
    print(f"fake Slack API calls (bot and bare app, setup included): {dict(slack_calls)}")
    backlog = sum(final[status] for status in ("approved", "provisioning"))
    if backlog:
        per_request = 2 * args.kibana_delay  # create, then test
        estimate = math.ceil(backlog / bot.settings.worker_threads) * per_request
        print(
            f"provisioning still behind: {backlog} request(s) not yet created; at "
            f"{bot.settings.worker_threads} workers x ~{per_request:g} s per request, about "
            f"{estimate:.0f} s more (stopped here on purpose)"
        )
    if warnings.counts:
        print(
            "log records at WARNING or above: "
            + ", ".join(
                f"{n} x {level} {name} (thread {thread})"
                for (level, name, thread), n in warnings.counts.items()
            )
        )
    else:
        print("log records at WARNING or above: none")
    problems = bot.log_problems()
    print(f"bot process log lines at WARNING or above: {len(problems)}")
    for line in problems[:3]:
        print(f"  {line[:200]}")
    return 1 if failures else 0


def p99(scenario: Scenario) -> float:
    return percentile(sorted(sample.seconds for sample in scenario.samples), 99)


def proc_status_kib(field_name: str, pid: int | None) -> int:
    """A ``kB`` field of /proc/<pid>/status (VmRSS, VmHWM); 0 where there is none."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1])
    return 0


@dataclass
class Memory:
    """Resident memory of the bot's process (VmRSS now, VmHWM its peak), read from
    /proc/<pid>/status when it has started and again once its runs are over."""

    started_kib: int = 0
    after_kib: int = 0
    peak_kib: int = 0

    def describe(self) -> str:
        mib = 1024
        verdict = "under" if self.after_kib / mib < RSS_GOAL_MIB else "OVER"
        return (
            f"bot process resident memory: {self.started_kib / mib:.0f} MiB once started, "
            f"{self.after_kib / mib:.0f} MiB after its runs (peak {self.peak_kib / mib:.0f} "
            f"MiB): {verdict} the {RSS_GOAL_MIB} MiB goal"
        )


# --- main --------------------------------------------------------------------------------------
def scrub_environment() -> None:
    """Bolt reads SLACK_* silently and Slack's SDK honours proxy variables, even to 127.0.0.1."""
    for name in list(os.environ):
        if (
            name.startswith(("SLACK_", "KIBANA_"))
            or name.lower() in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
            or name
            in {"DATABASE_URL", "APPROVERS", "APPROVAL_CHANNEL", "NOTIFY_CHANNEL", "ENCRYPTION_KEY"}
        ):
            del os.environ[name]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench_ack",
        description="Ack latency of the bot (slash command, Approve click) under concurrent "
        "load while Kibana is slow, next to a bare Bolt app that only acks.",
    )
    parser.add_argument("--concurrency", type=int, default=50, help="requests per burst")
    parser.add_argument("--rounds", type=int, default=3, help="measured bursts per scenario")
    parser.add_argument(
        "--warmup-rounds", type=int, default=1, help="unmeasured bursts first (default 1)"
    )
    parser.add_argument(
        "--kibana-delay", type=float, default=5.0, help="seconds every Kibana route takes"
    )
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="server for --database postgres; a fresh schema is created and dropped",
    )
    parser.add_argument(
        "--http-threads",
        type=int,
        default=64,
        help="WSGI and Bolt listener threads, for the bot and the bare app (default 64)",
    )
    parser.add_argument("--worker-threads", type=int, default=4, help="the bot's job workers")
    parser.add_argument("--serve-bare", metavar="SLACK_URL", help=argparse.SUPPRESS)
    parser.add_argument(
        "--stress-concurrency",
        type=int,
        default=200,
        help="after the measured rounds, one round with this many requests at once "
        "(no ack may take 3 s or more); 0 skips it (default 200)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=15.0,
        help="seconds to wait at the end for provisioning to finish before reporting",
    )
    args = parser.parse_args(argv)
    if (
        args.concurrency < 1
        or args.rounds < 1
        or args.warmup_rounds < 0
        or args.stress_concurrency < 0
    ):
        parser.error(
            "--concurrency and --rounds must be >= 1, --warmup-rounds and --stress-concurrency >= 0"
        )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_bare:
        return serve_bare(args.serve_bare, args.http_threads)
    scrub_environment()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings = WarningCounter()
    logging.getLogger().addHandler(warnings)

    with ExitStack() as stack:
        slack, kibana = start_fakes(stack)
        kibana.set_delay(args.kibana_delay)
        database_url = stack.enter_context(database(args.database, args.postgres_url))
        settings = make_settings(
            database_url,
            slack,
            kibana,
            http_threads=args.http_threads,
            worker_threads=args.worker_threads,
            log_level="WARNING",
            # Longer than Kibana's delay, so the slow answers arrive instead of timing out.
            kibana_timeout_seconds=args.kibana_delay + 10,
        )
        load = Load(args.concurrency)
        stack.callback(load.close)
        stress = Load(args.stress_concurrency) if args.stress_concurrency else None
        if stress is not None:
            stack.callback(stress.close)
        bot = BenchHarness(settings=settings, slack=slack, kibana=kibana)
        stack.callback(bot.stop)
        bot.start()
        memory = Memory(started_kib=bot.status_kib("VmRSS"))
        progress(f"bot at {bot.url} ({bot.server_threads} WSGI threads), {args.database}")

        bot_run, bot_stress = run_bot(
            bot,
            load,
            rounds=args.rounds,
            warmup=args.warmup_rounds,
            kibana_delay=args.kibana_delay,
            stress=stress,
        )
        memory.after_kib = bot.status_kib("VmRSS")
        memory.peak_kib = bot.status_kib("VmHWM")
        bare_run, bare_stress = run_bare(
            slack,
            load,
            threads=args.http_threads,
            rounds=args.rounds,
            warmup=args.warmup_rounds,
            stress=stress,
        )
        stressed = (
            (bot_stress, bare_stress)
            if bot_stress is not None and bare_stress is not None
            else None
        )
        drained_for = wait_for_drain(bot, bot_run.references, args.drain_timeout)
        return report(args, bot, bot_run, bare_run, stressed, warnings, drained_for, memory)
    return 1  # unreachable: ExitStack does not swallow exceptions


if __name__ == "__main__":
    sys.exit(main())
