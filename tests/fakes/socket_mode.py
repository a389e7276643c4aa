"""A fake of Slack's Socket Mode WebSocket endpoint, served on ws://127.0.0.1:<ephemeral>/link.

It plays Slack's side of the protocol (docs.slack.dev/apis/events-api/using-socket-mode):

- on connect it sends ``{"type": "hello", ...}``;
- the test pushes envelopes (``slash_commands``, ``interactive``, ``events_api``) with
  :meth:`FakeSocketMode.send_envelope`;
- the app answers each envelope with an ack ``{"envelope_id": ..., "payload": {...}?}``, which
  :meth:`FakeSocketMode.wait_ack` returns (Bolt puts its response body, e.g. a view_submission
  ``response_action``, in ``payload``).

Point the app at it through ``apps.connections.open``: ``FakeSlack.socket_url = fake.url``.

The server is a ``websockets`` asyncio server on its own event loop in a background thread; every
public method is thread-safe and blocks on a condition, never on a bare sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Literal, Self

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

EnvelopeKind = Literal["slash_commands", "interactive", "events_api"]
ENVELOPE_KINDS: frozenset[str] = frozenset({"slash_commands", "interactive", "events_api"})
# Interactive payloads whose envelope says Slack accepts a response payload in the ack.
_RESPONDING_INTERACTIONS = frozenset({"view_submission", "block_suggestion"})
SOCKET_PATH = "/link"


class FakeSocketMode:
    """Slack's Socket Mode server side, for one app, in a background thread."""

    def __init__(self, *, app_id: str = "A0001", send_timeout: float = 5.0) -> None:
        self._app_id = app_id
        self._send_timeout = send_timeout
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._port: int | None = None
        self._startup_error: BaseException | None = None
        self._connections: list[ServerConnection] = []  # open, oldest first
        self._connected_total = 0
        self._paths: list[str] = []
        self._acks: dict[str, dict[str, Any]] = {}
        self._received: list[Any] = []  # every message from the app, decoded when JSON
        self._sent: dict[str, dict[str, Any]] = {}  # envelope id -> envelope

    # --- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> Self:
        if self._thread is not None:
            raise RuntimeError("FakeSocketMode already started")
        self._thread = threading.Thread(target=self._run, name="fake-socket-mode", daemon=True)
        self._thread.start()
        self._wait(
            lambda: self._port is not None or self._startup_error is not None,
            timeout,
            "the fake Socket Mode server to listen",
        )
        if self._startup_error is not None:
            self._thread.join(timeout)
            self._thread = None
            raise RuntimeError("FakeSocketMode failed to start") from self._startup_error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        thread, loop, stopping = self._thread, self._loop, self._stopping
        self._thread = None
        if thread is None:
            return
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError("FakeSocketMode did not stop in time")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """What ``apps.connections.open`` should answer."""
        if self._port is None:
            raise RuntimeError("FakeSocketMode is not started")
        return f"ws://127.0.0.1:{self._port}{SOCKET_PATH}"

    # --- inspection ------------------------------------------------------------------------
    @property
    def connected(self) -> int:
        """How many app connections are open now."""
        with self._lock:
            return len(self._connections)

    @property
    def connections_made(self) -> int:
        """How many app connections were accepted (hello sent) since start."""
        with self._lock:
            return self._connected_total

    @property
    def paths(self) -> list[str]:
        """The request path (with query) of every connection, in order."""
        with self._lock:
            return list(self._paths)

    def received(self) -> list[Any]:
        """Every message the app sent, in order (decoded JSON, or the raw text)."""
        with self._lock:
            return list(self._received)

    def wait_connected(self, timeout: float = 10.0, *, count: int = 1) -> None:
        """Block until ``count`` connections have been accepted since start (hello sent)."""
        self._wait(
            lambda: self._connected_total >= count,
            timeout,
            f"{count} Socket Mode connection(s)",
        )

    # --- driving the app -------------------------------------------------------------------
    def send_envelope(
        self,
        kind: EnvelopeKind,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        envelope_id: str | None = None,
    ) -> str:
        """Send an envelope to the newest connection; returns its envelope_id.

        ``accepts_response_payload`` defaults to what Slack sends: true for slash commands and
        for view_submission / block_suggestion interactions, false otherwise.
        """
        if kind not in ENVELOPE_KINDS:
            raise ValueError(f"unknown envelope type {kind!r}; one of {sorted(ENVELOPE_KINDS)}")
        if accepts_response_payload is None:
            accepts_response_payload = kind == "slash_commands" or (
                kind == "interactive" and payload.get("type") in _RESPONDING_INTERACTIONS
            )
        envelope_id = envelope_id or str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        with self._lock:
            self._sent[envelope_id] = envelope
        self._send_to_newest(envelope)
        return envelope_id

    def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the app to reconnect, the way Slack does before it recycles a connection."""
        self._send_to_newest(
            {
                "type": "disconnect",
                "reason": reason,
                "debug_info": {"host": "applink-fake"},
            }
        )

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The app's ack of the envelope: ``{"envelope_id": ..., "payload": ...?}``."""
        with self._cond:
            if envelope_id not in self._sent:
                raise KeyError(f"no envelope {envelope_id!r} was sent")
        self._wait(lambda: envelope_id in self._acks, timeout, f"the ack of {envelope_id}")
        with self._lock:
            return dict(self._acks[envelope_id])

    def acked(self, envelope_id: str) -> bool:
        with self._lock:
            return envelope_id in self._acks

    # --- internals -------------------------------------------------------------------------
    def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for {what}; "
                        f"{self._connected_total} connection(s) made, "
                        f"{len(self._connections)} open, "
                        f"messages received: {json.dumps(self._received)[:2000]}"
                    )
                self._cond.wait(remaining)

    def _send_to_newest(self, message: dict[str, Any]) -> None:
        with self._lock:
            loop = self._loop
            connection = self._connections[-1] if self._connections else None
        if loop is None or connection is None:
            raise AssertionError("no app is connected to the fake Socket Mode server")
        future = asyncio.run_coroutine_threadsafe(connection.send(json.dumps(message)), loop)
        future.result(self._send_timeout)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # noqa: BLE001 - handed to start() to re-raise
            with self._cond:
                self._startup_error = error
                self._cond.notify_all()

    async def _main(self) -> None:
        stopping = asyncio.Event()
        async with serve(
            self._handle,
            "127.0.0.1",
            0,
            ping_interval=None,  # the app pings; Slack's own keepalive would add noise
            close_timeout=2,
        ) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            with self._cond:
                self._loop = asyncio.get_running_loop()
                self._stopping = stopping
                self._port = int(port)
                self._cond.notify_all()
            await stopping.wait()
        with self._cond:
            self._loop = None
            self._cond.notify_all()

    async def _handle(self, connection: ServerConnection) -> None:
        path = connection.request.path if connection.request is not None else ""
        if path.split("?", 1)[0] != SOCKET_PATH:
            await connection.close(code=1008, reason="unknown path")
            return
        await connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": self.connected + 1,
                    "debug_info": {
                        "host": "applink-fake",
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": self._app_id},
                }
            )
        )
        with self._cond:
            self._connections.append(connection)
            self._connected_total += 1
            self._paths.append(path)
            self._cond.notify_all()
        try:
            async for raw in connection:
                self._record(raw)
        except ConnectionClosed:
            pass  # the app went away without a close handshake; nothing to answer
        finally:
            with self._cond:
                self._connections.remove(connection)
                self._cond.notify_all()

    def _record(self, raw: str | bytes) -> None:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        try:
            message: Any = json.loads(text)
        except ValueError:
            message = text
        with self._cond:
            self._received.append(message)
            if isinstance(message, dict) and isinstance(message.get("envelope_id"), str):
                self._acks.setdefault(message["envelope_id"], message)
            self._cond.notify_all()
