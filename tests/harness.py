"""Run the real bot (HTTP server, workers, database) and drive it the way Slack does."""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.fernet import Fernet
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import select

from bot.config import Settings
from bot.db import queries
from bot.db.models import ConnectorRequest
from bot.db.session import session_scope
from bot.domain.policy.model import PolicyDocument
from bot.runtime import Runtime, build_runtime
from bot.server import make_server, stop_server
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-test-token"
KIBANA_KEY = "test-kibana-api-key"
REQUESTER = "UREQUESTER1"
APPROVER = "UAPPROVER1"
APPROVER_2 = "UAPPROVER2"
STRANGER = "USTRANGER1"
APPROVAL_CHANNEL = "CAPPROVALS"
NOTIFY_CHANNEL = "CNOTIFY001"
TEAM = "T0001"


def wait_until(predicate: Callable[[], Any], *, timeout: float = 15.0, what: str = "") -> Any:
    """Poll a condition until it holds; fail with ``what`` when it doesn't in time."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.02)


def chosen_provider(view: dict[str, Any]) -> str | None:
    """The provider a request form shows as chosen."""
    for block in view.get("blocks", []):
        if block.get("block_id") == "connector_request.provider":
            element = block.get("element") or block.get("accessory") or {}
            option = element.get("initial_option") or {}
            value = option.get("value")
            return str(value) if value is not None else None
    return None


def make_settings(
    database_url: str, slack: FakeSlack, kibana: FakeKibana, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.base_url,
        "kibana_url": kibana.url,
        "kibana_api_key": KIBANA_KEY,
        "database_url": database_url,
        "approvers": [APPROVER, APPROVER_2, REQUESTER],
        "approval_channel": APPROVAL_CHANNEL,
        "notify_channel": NOTIFY_CHANNEL,
        "kibana_timeout_seconds": 5.0,
        "kibana_max_attempts": 3,
        "kibana_retry_base_seconds": 0.05,
        "job_lease_seconds": 5.0,
        "worker_threads": 4,
        "http_threads": 16,
        "log_level": "DEBUG",
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class BotHarness:
    """One running bot: real WSGI server on 127.0.0.1, real workers, real database."""

    settings: Settings
    slack: FakeSlack
    kibana: FakeKibana
    keys: list[bytes] = field(default_factory=lambda: [Fernet.generate_key()])
    runtime: Runtime | None = None
    url: str = ""
    _server: Any = None
    _thread: threading.Thread | None = None
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))
    _first_cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    governance: PolicyDocument | None = None  # replaces the policy built from the settings

    def start(self, *, workers: bool = True) -> BotHarness:
        self.runtime = build_runtime(
            self.settings, self.keys, poll_seconds=0.05, governance=self.governance
        )
        if workers:
            self.runtime.runner.start()
        self._server = make_server(
            self.runtime.wsgi(), host="127.0.0.1", port=0, threads=self.settings.http_threads
        )
        self.url = f"http://127.0.0.1:{self._server.effective_port}"
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.http.close()
        if self._server is not None:
            stop_server(self._server)
        if self._thread is not None:
            self._thread.join(5)
        if self.runtime is not None:
            self.runtime.close()

    @property
    def deps(self) -> Any:
        assert self.runtime is not None
        return self.runtime.deps

    # --- signed requests, as Slack sends them ----------------------------------------------
    def signed_headers(
        self,
        body: str,
        *,
        timestamp: int | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=ts, body=body)
        assert signature is not None
        return {
            "content-type": content_type,
            "x-slack-request-timestamp": ts,
            "x-slack-signature": signature,
        }

    def post(self, body: str, headers: dict[str, str]) -> httpx.Response:
        return self.http.post(f"{self.url}/slack/events", content=body.encode(), headers=headers)

    def post_signed(self, body: str, **kwargs: Any) -> httpx.Response:
        return self.post(body, self.signed_headers(body, **kwargs))

    def command(
        self, text: str = "", *, user: str = REQUESTER, trigger_id: str | None = None
    ) -> httpx.Response:
        fields: dict[str, str] = {
            "token": "legacy-verification-token",
            "team_id": TEAM,
            "team_domain": "fake",
            "channel_id": "CREQUESTS1",
            "channel_name": "requests",
            "user_id": user,
            "user_name": user.lower(),
            "command": self.settings.slash_command,
            "text": text,
            "api_app_id": "A0001",
            "response_url": self.slack.response_url(),
        }
        fields["trigger_id"] = trigger_id or self.slack.issue_trigger_id()
        return self.post_signed(urlencode(fields))

    def interact(self, payload: dict[str, Any]) -> httpx.Response:
        payload = {"team": {"id": TEAM}, "api_app_id": "A0001", "token": "x", **payload}
        return self.post_signed(urlencode({"payload": json.dumps(payload)}))

    # --- the request modal ------------------------------------------------------------------
    def open_form(self, *, user: str = REQUESTER) -> dict[str, Any]:
        before = len(self.slack.calls_for("views.open"))
        response = self.command("", user=user)
        assert response.status_code == 200, response.text
        calls = self.slack.wait_for("views.open", count=before + 1)
        return dict(calls[-1].response["view"])

    def current_view(self, view_id: str) -> dict[str, Any]:
        return copy.deepcopy(self.slack.views()[view_id])

    def switch_provider(
        self, view: dict[str, Any], provider: str, *, user: str = REQUESTER
    ) -> dict[str, Any]:
        """Choose ``provider`` in the form's menu and return the redrawn form.

        Slack sends the form as it is on screen (with its latest hash). A choice made while the
        bot's redraw after opening is on its way loses to it (Slack refuses the older hash), and
        the person simply chooses again: so does this, up to three times."""
        for _ in range(3):
            current = self.current_view(view["id"])
            self._choose_provider(current, provider, user=user)

            def switched() -> dict[str, Any] | None:
                shown = self.current_view(view["id"])
                return shown if chosen_provider(shown) == provider else None

            try:
                done: dict[str, Any] = wait_until(switched, timeout=5, what=f"the {provider} form")
            except AssertionError:
                continue
            return done
        raise AssertionError(f"the form never showed {provider}")

    def _choose_provider(self, view: dict[str, Any], provider: str, *, user: str) -> None:
        updates = len(self.slack.calls_for("views.update"))
        state = {
            "connector_request.provider": {
                "connector_request.provider": {
                    "type": "static_select",
                    "selected_option": {"value": provider},
                }
            }
        }
        response = self.interact(
            {
                "type": "block_actions",
                "user": {"id": user},
                "trigger_id": self.slack.issue_trigger_id(),
                "container": {"type": "view", "view_id": view["id"]},
                "view": {**view, "state": {"values": state}},
                "actions": [
                    {
                        "type": "static_select",
                        "action_id": "connector_request.provider",
                        "block_id": "connector_request.provider",
                        "selected_option": {"value": provider},
                        "action_ts": str(time.time()),
                    }
                ],
            }
        )
        assert response.status_code == 200, response.text
        self.slack.wait_for("views.update", count=updates + 1)

    def submit_form(
        self, view: dict[str, Any], values: dict[str, str], *, user: str = REQUESTER
    ) -> httpx.Response:
        """Fill the inputs of ``view`` by field key (the part after "field.") and submit."""
        state = fill_state(view, values)
        submitted = {**view, "state": {"values": state}}
        return self.interact({"type": "view_submission", "user": {"id": user}, "view": submitted})

    def request_via_form(
        self, values: dict[str, str], *, provider: str = "openai", user: str = REQUESTER
    ) -> httpx.Response:
        view = self.open_form(user=user)
        if provider != "openai":
            view = self.switch_provider(view, provider, user=user)
        return self.submit_form(view, values, user=user)

    # --- the approval card -------------------------------------------------------------------
    def card_for(self, reference: str) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for message in self.slack.messages_in(APPROVAL_CHANNEL):
                top_level = message.get("thread_ts", message["ts"]) == message["ts"]
                if reference in json.dumps(message) and top_level:
                    return message
            return None

        return dict(wait_until(find, what=f"the card of {reference}"))

    def click(self, reference: str, action_id: str, *, user: str) -> httpx.Response:
        """Click a button as rendered when the card was first seen (a stale client may)."""
        card = self._first_cards.setdefault(reference, self.card_for(reference))
        button = find_button(card, action_id)
        return self.interact(
            {
                "type": "block_actions",
                "user": {"id": user},
                "trigger_id": self.slack.issue_trigger_id(),
                "response_url": self.slack.response_url(),
                "container": {
                    "type": "message",
                    "channel_id": APPROVAL_CHANNEL,
                    "message_ts": card["ts"],
                },
                "channel": {"id": APPROVAL_CHANNEL},
                "message": card,
                "actions": [
                    {**button, "block_id": "approval.actions", "action_ts": str(time.time())}
                ],
            }
        )

    def reject(self, reference: str, reason: str, *, user: str = APPROVER) -> httpx.Response:
        opened = len(self.slack.calls_for("views.open"))
        response = self.click(reference, "approval.reject", user=user)
        assert response.status_code == 200, response.text
        view = self.slack.wait_for("views.open", count=opened + 1)[-1].response["view"]
        return self.submit_form(view, {"__reason": reason}, user=user)

    # --- the database ----------------------------------------------------------------------
    def request_row(self, reference: str) -> ConnectorRequest:
        with session_scope(self.deps.session_factory) as session:
            row = session.scalars(
                select(ConnectorRequest).where(ConnectorRequest.reference == reference)
            ).one()
            session.expunge(row)
            return row

    def attempts(self, reference: str) -> list[tuple[str, str, int | None]]:
        """The Kibana attempts recorded for a request: (operation, outcome, HTTP status)."""
        request_id = self.request_row(reference).id
        with session_scope(self.deps.session_factory) as session:
            rows = queries.list_attempts(session=session, request_id=request_id)
            return [(row.operation, row.outcome, row.http_status) for row in rows]

    def wait_status(
        self, reference: str, *statuses: str, timeout: float = 20.0
    ) -> ConnectorRequest:
        def reached() -> ConnectorRequest | None:
            row = self.request_row(reference)
            return row if row.status in statuses else None

        row: ConnectorRequest = wait_until(
            reached, timeout=timeout, what=f"{reference} to reach {statuses}"
        )
        return row

    def wait_idle(self, timeout: float = 20.0) -> None:
        """Wait until no job is due and none is running."""
        from bot.db import queries

        def idle() -> bool:
            with session_scope(self.deps.session_factory) as session:
                queued = queries.count_queued_jobs(session=session)
            return queued == 0 and not self.runtime.runner.busy  # type: ignore[union-attr]

        wait_until(idle, timeout=timeout, what="the job queue to drain")


def fill_state(view: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """Slack's view.state.values for ``view`` with ``values`` typed into its inputs."""
    state: dict[str, Any] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        block_id = block["block_id"]
        element = block["element"]
        key = (
            block_id.removeprefix("field.").split(".", 1)[0]
            if block_id.startswith("field.")
            else ("__reason" if block_id == "approval.reject_reason" else block_id)
        )
        kind = element["type"]
        if kind == "static_select":
            chosen = values.get(key)
            initial = element.get("initial_option")
            option = {"value": chosen} if chosen else initial
            state[block_id] = {element["action_id"]: {"type": kind, "selected_option": option}}
        elif kind == "checkboxes":
            checked = values.get(key, "true" if element.get("initial_options") else "") == "true"
            options = element["options"][:1] if checked else []
            state[block_id] = {element["action_id"]: {"type": kind, "selected_options": options}}
        else:
            value = values.get(key, element.get("initial_value"))
            state[block_id] = {element["action_id"]: {"type": kind, "value": value or None}}
    return state


def find_button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return dict(element)
    raise AssertionError(f"no {action_id} button on the message")


def reference_from(response: httpx.Response) -> str:
    body = response.json()
    assert body.get("response_action") == "update", body
    text = json.dumps(body["view"])
    start = text.index("REQ-")
    return text[start : start + 10]


@contextmanager
def running_bot(
    settings: Settings,
    slack: FakeSlack,
    kibana: FakeKibana,
    *,
    workers: bool = True,
    **kwargs: Any,
) -> Iterator[BotHarness]:
    harness = BotHarness(settings=settings, slack=slack, kibana=kibana, **kwargs)
    harness.start(workers=workers)
    try:
        yield harness
    finally:
        harness.stop()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bot_environment(settings: Settings, keys: list[bytes], *, port: int) -> dict[str, str]:
    """The environment variables of the runtime contract for ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "KIBANA_"))}
    env.update(
        {
            "SLACK_BOT_TOKEN": settings.slack_bot_token.get_secret_value(),
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": str(settings.slack_api_url),
            "KIBANA_URL": settings.kibana_base_url,
            "KIBANA_API_KEY": settings.kibana_api_key.get_secret_value(),
            "DATABASE_URL": settings.database_url,
            "APPROVERS": ",".join(settings.approvers),
            "APPROVAL_CHANNEL": settings.approval_channel,
            "NOTIFY_CHANNEL": settings.notify_channel or "",
            "ENCRYPTION_KEY": ",".join(key.decode() for key in keys),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "KIBANA_RETRY_BASE_SECONDS": str(settings.kibana_retry_base_seconds),
            "KIBANA_MAX_ATTEMPTS": str(settings.kibana_max_attempts or ""),
            "KIBANA_RETRY_WINDOW_SECONDS": str(settings.kibana_retry_window_seconds),
            "WORKER_THREADS": str(settings.worker_threads),
            "JOB_LEASE_SECONDS": str(settings.job_lease_seconds),
            "LOG_LEVEL": "DEBUG",
        }
    )
    return env


@contextmanager
def bot_process(
    env: dict[str, str], *, cwd: str | None = None, log_path: str | None = None
) -> Iterator[Any]:
    """Run `python -m bot` as a real process; yields the Popen once /healthz answers."""
    import subprocess
    import sys

    log = open(log_path or os.devnull, "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        [sys.executable, "-m", "bot"], env=env, cwd=cwd, stdout=log, stderr=log
    )
    url = f"http://{env['HOST']}:{env['PORT']}/healthz"

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the bot exited with {process.returncode}")
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, timeout=30, what="the bot process to answer /healthz")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        log.close()
