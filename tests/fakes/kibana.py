"""An in-process fake of Kibana's connectors (actions) HTTP API, for tests.

``FakeKibana`` is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 (random port) that serves

* ``GET  /api/status``
* ``GET  /api/actions/connector_types[?feature_id=...]``
* ``GET  /api/actions/connectors``
* ``POST /api/actions/connector`` and ``POST /api/actions/connector/{id}``
* ``GET|PUT|DELETE /api/actions/connector/{id}``
* ``POST /api/actions/connector/{id}/_execute``
* ``GET  /api/spaces/space[?purpose=...|include_authorized_purposes=...]``

each also under ``/s/{space_id}``. It checks what real Kibana checks (API key, ``kbn-xsrf``,
JSON content type, spaces, connector ids, the strict LLM connector schemas and rules of
``tests.fakes.kibana_schemas``, licence, enabled types, ``allowedHosts``, privileges) and
answers with Kibana's status codes and Boom error bodies. Faults (errors, dropped
connections, delays, a paused listener) can be injected, and every request is recorded.
"""

from __future__ import annotations

import contextlib
import copy
import hmac
import json
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes import kibana_schemas as ks

__all__ = ["FakeKibana", "KibanaRequest"]

_SPACES_QUERY: Final = ("purpose", "include_authorized_purposes")
_SPACE_PURPOSES: Final = ("any", "copySavedObjectsIntoSpace", "shareSavedObjectsIntoSpace")

_LICENSE_RANK: Final[dict[str, int]] = {
    "basic": 0,
    "standard": 1,
    "gold": 2,
    "platinum": 3,
    "enterprise": 4,
    "trial": 5,
}
_GEN_AI_FEATURES: Final = (
    "generativeAIForSecurity",
    "generativeAIForObservability",
    "generativeAIForSearchPlayground",
)
_BUILD_FLAVORS: Final = ("traditional", "serverless")
_CANNED_TEXT: Final = "Hello! How can I help you today?"
_RUNTIME_ERROR: Final = "an error occurred while running the action"
_DROPPED: Final = 0  # KibanaRequest.status of a request answered by closing the connection
# What the .gen-ai connector's invokeAI returns (status "ok") when the upstream answer has no
# choices[0].message.content (openai.ts, invokeAI).
GEN_AI_UNRECOGNIZED_FORMAT: Final = (
    "An error occurred sending your message. \n\nAPI Error: The response from OpenAI was in an "
    "unrecognized format."
)
# A gateway that refuses "stream": true, as Kibana reports its HTTP 400.
GEN_AI_STREAM_REFUSED: Final = (
    "Status code: 400. Message: API Error: Bad Request - Streaming is not supported"
)


@dataclass(frozen=True)
class _TypeInfo:
    name: str
    minimum_license: str
    features: tuple[str, ...]


_CONNECTOR_TYPES: Final[dict[str, _TypeInfo]] = {
    ks.GEN_AI: _TypeInfo("OpenAI", "enterprise", _GEN_AI_FEATURES),
    ks.BEDROCK: _TypeInfo("Amazon Bedrock", "enterprise", (*_GEN_AI_FEATURES, "workflows")),
    ks.GEMINI: _TypeInfo("Google Gemini", "enterprise", _GEN_AI_FEATURES),
    ks.INFERENCE: _TypeInfo("AI Connector", "enterprise", _GEN_AI_FEATURES),
    ".email": _TypeInfo("Email", "gold", ("alerting", "uptime", "siem", "workflows")),
    ".slack": _TypeInfo("Slack", "gold", ("alerting", "uptime", "siem", "workflows")),
}


@dataclass(frozen=True, eq=False)
class InFlight:
    method: str
    path: str
    space: str


@dataclass(frozen=True)
class KibanaRequest:
    """One request the fake received, and what it answered."""

    method: str
    path: str  # without the /s/<space> prefix and without the query string
    space: str
    headers: dict[str, str]  # lower-cased header names
    body: Any  # parsed JSON, or None (no body or not JSON)
    status: int  # what the fake answered; 0 = connection closed without an answer
    at: float  # time.time() when the answer was decided
    query: str = ""  # raw query string, e.g. "feature_id=generativeAIForSecurity"


@dataclass
class _FaultRule:
    remaining: int
    method: str | None
    path_contains: str | None
    drop: bool
    status: int = 503
    body: dict[str, Any] | None = None
    after_processing: bool = False

    def matches(self, method: str, target: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path_contains is None or self.path_contains in target


@dataclass(frozen=True)
class _DelayRule:
    seconds: float
    method: str | None
    path_contains: str | None

    def matches(self, method: str, target: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path_contains is None or self.path_contains in target


@dataclass(frozen=True)
class _ExecuteResult:
    status: str
    data: Any
    message: str | None
    service_message: str | None
    retry: bool | None
    error_source: str | None


@dataclass(frozen=True)
class _GenAiGateway:
    sse: bool
    reply_content: bool


@dataclass
class _Reply:
    status: int
    body: Any = None  # JSON-serialisable; None = empty body
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


_RouteHandler = Callable[[str, list[str], str, Any, bool], _Reply]


class _KibanaError(Exception):
    """Raised inside request handling; becomes a Boom error answer."""

    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message if message is not None else _reason(status)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _boom(status: int, message: str | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "error": _reason(status),
        "message": message if message is not None else _reason(status),
    }


def _version_tuple(version: str) -> tuple[int, ...]:
    numbers: list[int] = []
    for part in version.split("-", 1)[0].split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        numbers.append(int(digits) if digits else 0)
    return tuple(numbers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, port: int, fake: FakeKibana) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would resolve the host name (getfqdn); not needed here.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes; without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to each answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._track_connection(self.connection, self.server, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.fake._track_connection(self.connection, self.server, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_GET
    do_PUT = do_GET
    do_DELETE = do_GET
    do_PATCH = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        try:
            raw = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        reply = self.server.fake._serve(self.command, self.path, headers, raw)
        if reply.drop:
            self.close_connection = True
            _close_quietly(self.connection)
            return
        payload = b"" if reply.body is None else json.dumps(reply.body).encode("utf-8")
        try:
            self.send_response(reply.status)
            if reply.body is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            if reply.status != HTTPStatus.NO_CONTENT:
                self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if payload:
                self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            self.close_connection = True


class FakeKibana:
    """A fake Kibana serving the connectors API on ``http://127.0.0.1:<random port>``.

    Use as a context manager or call ``start()``/``stop()``. State is thread-safe; the
    server answers each connection in its own daemon thread.

    Public attributes that tests may change at any time: ``api_key``, ``license``,
    ``version``, ``allowed_hosts`` (``xpack.actions.allowedHosts``, default ``["*"]``) and
    ``privileges_ok`` (False: the caller lacks the "Actions and Connectors: All" privilege,
    so creates, updates, deletes and executes answer 403). ``version`` and ``build_flavor``
    (``traditional`` or ``serverless``: serverless deprecates the LLM connector types, as 9.5+
    does) are what ``GET /api/status`` reports; with ``status_redacted`` it answers as Kibana
    does an anonymous caller, without the version.
    """

    def __init__(
        self,
        *,
        api_key: str = "test-kibana-api-key",
        license: str = "enterprise",
        version: str = "9.1.0",
        build_flavor: str = "traditional",
        spaces: Iterable[str] = ("default",),
    ) -> None:
        if license not in _LICENSE_RANK:
            raise ValueError(f"unknown licence {license!r}; one of {sorted(_LICENSE_RANK)}")
        if build_flavor not in _BUILD_FLAVORS:
            raise ValueError(f"unknown build flavour {build_flavor!r}; one of {_BUILD_FLAVORS}")
        self.api_key = api_key
        self.license = license
        self.version = version
        self.build_flavor = build_flavor
        self.status_redacted = False
        self.allowed_hosts: list[str] = ["*"]
        self.privileges_ok = True
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._spaces: set[str] = {"default", *spaces}
        self._saved: dict[str, dict[str, dict[str, Any]]] = {s: {} for s in self._spaces}
        self._space_names: dict[str, str] = {"default": "Default"}
        self._preconfigured: dict[str, dict[str, Any]] = {}
        self._type_overrides: dict[str, dict[str, bool]] = {}
        self._faults: list[_FaultRule] = []
        self._delays: list[_DelayRule] = []
        self._execute_results: dict[str | None, _ExecuteResult] = {}
        self._gen_ai_gateways: dict[str | None, _GenAiGateway] = {}
        self._requests: list[KibanaRequest] = []
        self._in_flight: list[InFlight] = []
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._closing = threading.Event()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeKibana:
        """Start listening on a free port of 127.0.0.1 (the port is kept across pause())."""
        with self._lock:
            if self._server is not None:
                raise RuntimeError("FakeKibana is already running")
            self._closing.clear()
            self._listen(self._port or 0)
        return self

    def stop(self) -> None:
        """Stop listening and close all connections (state is kept)."""
        self._closing.set()
        self._unlisten()

    def pause(self) -> None:
        """Stop listening (new connections are refused) and close open connections.

        State and port are kept; ``resume()`` listens again on the same port.
        """
        self._unlisten()

    def resume(self) -> None:
        """Listen again on the port used before ``pause()``."""
        with self._lock:
            if self._server is not None:
                return
            if self._port is None:
                raise RuntimeError("FakeKibana was never started")
            self._listen(self._port)

    def __enter__(self) -> FakeKibana:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        if self._port is None:
            raise RuntimeError("FakeKibana is not started")
        return f"http://127.0.0.1:{self._port}"

    def _listen(self, port: int) -> None:
        server = _Server(port, self)
        self._port = int(server.server_address[1])
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"fake-kibana-{self._port}",
            daemon=True,
        )
        self._server = server
        self._thread = thread
        thread.start()

    def _unlisten(self) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            self._server = None
            self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            _close_quietly(connection)

    def _track_connection(self, connection: socket.socket, server: _Server, *, add: bool) -> None:
        with self._lock:
            if not add:
                self._connections.discard(connection)
            elif server is not self._server:
                # Accepted just before pause()/stop(): do not serve it.
                _close_quietly(connection)
            else:
                self._connections.add(connection)

    # ------------------------------------------------------------------ state

    def add_space(self, space_id: str, name: str | None = None) -> None:
        """A space (``name`` defaults to its id, as the Kibana UI suggests one)."""
        with self._lock:
            self._spaces.add(space_id)
            self._saved.setdefault(space_id, {})
            if name is not None:
                self._space_names[space_id] = name

    def connectors(self, space: str = "default") -> dict[str, dict[str, Any]]:
        """Saved connectors of a space by id, as stored (including ``secrets``)."""
        with self._lock:
            return copy.deepcopy(self._saved.get(space, {}))

    def add_connector(self, space: str, connector_id: str, body: dict[str, Any]) -> None:
        """Store a pre-existing connector (``{name, connector_type_id, config, secrets}``).

        Not validated; server defaults are filled in as Kibana would.
        """
        with self._lock:
            if space not in self._spaces:
                raise ValueError(f"unknown space {space!r}; call add_space() first")
            type_id = str(body["connector_type_id"])
            config, secrets = ks.apply_server_defaults(
                type_id, body.get("config") or {}, body.get("secrets") or {}
            )
            self._saved[space][connector_id] = copy.deepcopy(
                {
                    "id": connector_id,
                    "name": body["name"],
                    "connector_type_id": type_id,
                    "config": config,
                    "secrets": secrets,
                }
            )
            self._changed.notify_all()

    def add_preconfigured(
        self,
        connector_id: str,
        *,
        name: str,
        connector_type_id: str,
        config: dict[str, Any] | None = None,
        expose_config: bool = True,
    ) -> None:
        """A kibana.yml connector: visible in every space, cannot be updated or deleted."""
        with self._lock:
            self._preconfigured[connector_id] = {
                "id": connector_id,
                "name": name,
                "connector_type_id": connector_type_id,
                "config": copy.deepcopy(config or {}),
                "expose_config": expose_config,
            }

    def set_type_state(
        self,
        connector_type_id: str,
        *,
        enabled: bool | None = None,
        enabled_in_license: bool | None = None,
        is_deprecated: bool | None = None,
    ) -> None:
        """Override a connector type: ``enabled`` (``xpack.actions.enabledActionTypes``),
        ``enabled_in_license`` (else derived from the licence), ``is_deprecated`` (else
        true from Kibana 9.5 for the LLM types). ``None`` leaves a setting unchanged."""
        with self._lock:
            state = self._type_overrides.setdefault(connector_type_id, {})
            for key, value in (
                ("enabled", enabled),
                ("enabled_in_license", enabled_in_license),
                ("is_deprecated", is_deprecated),
            ):
                if value is not None:
                    state[key] = value

    # ------------------------------------------------------------------ faults

    def fail_next(
        self,
        times: int = 1,
        *,
        status: int = 503,
        body: dict[str, Any] | None = None,
        method: str | None = None,
        path_contains: str | None = None,
        after_processing: bool = False,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and a Boom body
        (or ``body``). With ``after_processing`` the request takes effect first (e.g. the
        connector is created) and only the answer is replaced."""
        with self._lock:
            self._faults.append(
                _FaultRule(times, method, path_contains, False, status, body, after_processing)
            )

    def drop_next(
        self,
        times: int = 1,
        *,
        method: str | None = None,
        path_contains: str | None = None,
        after_processing: bool = False,
    ) -> None:
        """Close the connection of the next ``times`` matching requests without answering.
        With ``after_processing`` the request takes effect before the connection is closed."""
        with self._lock:
            self._faults.append(
                _FaultRule(times, method, path_contains, True, after_processing=after_processing)
            )

    def set_delay(
        self, seconds: float, *, method: str | None = None, path_contains: str | None = None
    ) -> None:
        """Sleep ``seconds`` before answering matching requests (0 removes the rule)."""
        with self._lock:
            self._delays = [
                d for d in self._delays if (d.method, d.path_contains) != (method, path_contains)
            ]
            if seconds > 0:
                self._delays.append(_DelayRule(seconds, method, path_contains))

    def set_execute_result(
        self,
        connector_id: str | None = None,
        *,
        status: str = "ok",
        data: Any = None,
        message: str | None = None,
        service_message: str | None = None,
        retry: bool | None = None,
        error_source: str | None = None,
    ) -> None:
        """What ``_execute`` answers (after its params passed validation).

        ``connector_id=None`` sets the default for all connectors. With ``status="ok"`` and
        ``data=None`` the canned per-type result is used; with ``status="error"`` and no
        ``message`` the message is "an error occurred while running the action".
        """
        if status not in ("ok", "error"):
            raise ValueError("status must be 'ok' or 'error'")
        with self._lock:
            self._execute_results[connector_id] = _ExecuteResult(
                status, copy.deepcopy(data), message, service_message, retry, error_source
            )

    def set_gen_ai_gateway(
        self, connector_id: str | None = None, *, sse: bool = True, reply_content: bool = True
    ) -> None:
        """How the upstream behind a ``.gen-ai`` connector (a proxy or gateway) behaves.

        ``connector_id=None`` sets the default for all ``.gen-ai`` connectors.

        * ``reply_content=False``: its chat completions carry ``message.content: null``.
          ``test``/``run`` still pass (Kibana's response schema allows it); ``invokeAI``
          answers ``status: "ok"`` with Kibana's "unrecognized format" message.
        * ``sse=False``: it refuses ``"stream": true`` with HTTP 400, so ``stream`` with
          ``stream: true`` fails as Kibana reports an upstream 400. With ``sse=True`` (the
          upstream streams, or buffers and answers 200) that call answers HTTP 500: Kibana's
          route puts the upstream IncomingMessage in a JSON body that hapi cannot serialise.
          ``test`` and ``invokeAI`` are not streamed and behave the same either way.
        """
        with self._lock:
            self._gen_ai_gateways[connector_id] = _GenAiGateway(sse, reply_content)

    def clear_gen_ai_gateway(self, connector_id: str | None = None) -> None:
        """Forget a gateway set with ``set_gen_ai_gateway`` (back to a plain upstream)."""
        with self._lock:
            self._gen_ai_gateways.pop(connector_id, None)

    def clear_execute_result(self, connector_id: str | None = None) -> None:
        """Forget a result set with ``set_execute_result`` (back to the canned one)."""
        with self._lock:
            self._execute_results.pop(connector_id, None)

    # ------------------------------------------------------------------ records

    def requests_in_flight(self) -> list[InFlight]:
        """Requests received and not answered yet (e.g. held by set_delay)."""
        with self._lock:
            return list(self._in_flight)

    @property
    def requests(self) -> list[KibanaRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, method: str, path_suffix: str) -> list[KibanaRequest]:
        """Recorded requests with that method whose path (no space prefix) ends with
        ``path_suffix``."""
        with self._lock:
            return self._matching(method, path_suffix)

    def wait_for_request(
        self, method: str, path_suffix: str, *, timeout: float = 10.0, count: int = 1
    ) -> list[KibanaRequest]:
        """Wait until ``count`` matching requests were answered; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = self._matching(method, path_suffix)
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = "\n".join(
                        f"  {r.method} {r.path} (space {r.space}) -> {r.status}"
                        for r in self._requests
                    )
                    raise AssertionError(
                        f"expected {count} request(s) {method.upper()} *{path_suffix}, "
                        f"got {len(found)} within {timeout}s; requests seen:\n{seen or '  none'}"
                    )
                self._changed.wait(remaining)

    def _matching(self, method: str, path_suffix: str) -> list[KibanaRequest]:
        wanted = method.upper()
        return [r for r in self._requests if r.method == wanted and r.path.endswith(path_suffix)]

    # ------------------------------------------------------------------ request handling

    def _serve(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> _Reply:
        method = method.upper()
        split = urlsplit(target)
        space, path = self._split_space(split.path)
        body = self._parse_json_quietly(raw, headers)
        in_flight = InFlight(method=method, path=path, space=space)
        with self._lock:
            delay = max((d.seconds for d in self._delays if d.matches(method, target)), default=0.0)
            self._in_flight.append(in_flight)
        try:
            if delay > 0:
                self._closing.wait(delay)
            return self._answer(method, target, split, space, path, headers, raw, body)
        finally:
            with self._lock:
                self._in_flight.remove(in_flight)

    def _answer(
        self,
        method: str,
        target: str,
        split: Any,
        space: str,
        path: str,
        headers: dict[str, str],
        raw: bytes,
        body: Any,
    ) -> _Reply:
        with self._lock:
            fault = next(
                (f for f in self._faults if f.remaining > 0 and f.matches(method, target)), None
            )
            if fault is not None:
                fault.remaining -= 1
                self._faults = [f for f in self._faults if f.remaining > 0]
            if fault is None or fault.after_processing:
                reply = self._process(method, space, path, split.query, headers, raw)
            else:
                reply = _Reply(0)
            if fault is not None:
                if fault.drop:
                    reply = _Reply(_DROPPED, drop=True)
                else:
                    reply = _Reply(
                        fault.status,
                        copy.deepcopy(fault.body)
                        if fault.body is not None
                        else _boom(fault.status),
                    )
            self._requests.append(
                KibanaRequest(
                    method=method,
                    path=path,
                    space=space,
                    headers=dict(headers),
                    body=body,
                    status=reply.status,
                    at=time.time(),
                    query=split.query,
                )
            )
            self._changed.notify_all()
        return reply

    @staticmethod
    def _split_space(path: str) -> tuple[str, str]:
        if path.startswith("/s/"):
            space, _, rest = path[3:].partition("/")
            return unquote(space), "/" + rest
        return "default", path

    @staticmethod
    def _parse_json_quietly(raw: bytes, headers: dict[str, str]) -> Any:
        if not raw or not _is_json(headers):
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def _process(
        self,
        method: str,
        space: str,
        path: str,
        query: str,
        headers: dict[str, str],
        raw: bytes,
    ) -> _Reply:
        try:
            return self._route(method, space, path, query, headers, raw)
        except _KibanaError as error:
            extra = {}
            if error.status == HTTPStatus.UNAUTHORIZED:
                extra["WWW-Authenticate"] = 'Basic realm="kibana", charset="UTF-8", ApiKey'
            return _Reply(error.status, _boom(error.status, error.message), extra)
        except Exception as error:  # noqa: BLE001 - a bug in the fake: answer 500 rather than hang
            return _Reply(500, _boom(500, f"fake Kibana failed: {error!r}"))

    def _route(
        self,
        method: str,
        space: str,
        path: str,
        query: str,
        headers: dict[str, str],
        raw: bytes,
    ) -> _Reply:
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]  # Kibana strips one trailing slash
        segments = [unquote(s) for s in path.split("/")[1:]]
        handler = self._find_route(method, segments)
        if handler is None:
            raise _KibanaError(404)
        self._authenticate(headers)
        body: Any = None
        if raw:
            if not _is_json(headers):
                raise _KibanaError(415)
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise _KibanaError(400, "Invalid request payload JSON format") from exc
        if method in ("POST", "PUT", "DELETE", "PATCH") and "kbn-xsrf" not in headers:
            raise _KibanaError(400, "Request must contain a kbn-xsrf header.")
        if space not in self._spaces:
            raise _KibanaError(404)
        return handler(space, segments, query, body, raw != b"")

    def _find_route(self, method: str, segments: list[str]) -> _RouteHandler | None:
        if segments == ["api", "status"] and method == "GET":
            return self._get_status
        if segments == ["api", "spaces", "space"] and method == "GET":
            return self._list_spaces
        if segments[:2] != ["api", "actions"]:
            return None
        rest = segments[2:]
        if rest == ["connector_types"] and method == "GET":
            return self._list_types
        if rest == ["connectors"] and method == "GET":
            return self._list_connectors
        if rest == ["connector"] and method == "POST":
            return self._create
        if len(rest) == 2 and rest[0] == "connector" and rest[1]:
            return {
                "POST": self._create,
                "GET": self._get,
                "PUT": self._update,
                "DELETE": self._delete,
            }.get(method)
        if len(rest) == 3 and rest[0] == "connector" and rest[2] == "_execute":
            return self._execute if method == "POST" else None
        return None

    def _authenticate(self, headers: dict[str, str]) -> None:
        scheme, _, credentials = headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "apikey" or not hmac.compare_digest(
            credentials.strip().encode(), self.api_key.encode()
        ):
            raise _KibanaError(401)

    # ------------------------------------------------------------------ helpers

    def _type_deprecated(self, type_id: str) -> bool:
        override = self._type_overrides.get(type_id, {}).get("is_deprecated")
        if override is not None:
            return override
        return type_id in ks.LLM_CONNECTOR_TYPES and (
            self.build_flavor == "serverless" or _version_tuple(self.version) >= (9, 5)
        )

    def _type_enabled_in_config(self, type_id: str) -> bool:
        return self._type_overrides.get(type_id, {}).get("enabled", True)

    def _type_enabled_in_license(self, type_id: str) -> bool:
        override = self._type_overrides.get(type_id, {}).get("enabled_in_license")
        if override is not None:
            return override
        info = _CONNECTOR_TYPES.get(type_id)
        minimum = info.minimum_license if info else "basic"
        return _LICENSE_RANK[self.license] >= _LICENSE_RANK[minimum]

    def _ensure_type_enabled(self, type_id: str) -> None:
        if not self._type_enabled_in_config(type_id):
            raise _KibanaError(
                403,
                f'action type "{type_id}" is not enabled in the Kibana config '
                "xpack.actions.enabledActionTypes",
            )
        if not self._type_enabled_in_license(type_id):
            raise _KibanaError(
                403,
                f"Action type {type_id} is disabled because your {self.license} license "
                "does not support it. Please upgrade your license.",
            )

    def _ensure_privileges(self, operation: str, type_id: str) -> None:
        if not self.privileges_ok:
            raise _KibanaError(403, f'Unauthorized to {operation} a "{type_id}" action')

    def _saved_view(self, stored: dict[str, Any]) -> dict[str, Any]:
        type_id = stored["connector_type_id"]
        return {
            "id": stored["id"],
            "name": stored["name"],
            "connector_type_id": type_id,
            "config": copy.deepcopy(stored["config"]),
            "is_preconfigured": False,
            "is_deprecated": False,
            "is_system_action": False,
            "is_missing_secrets": False,
            "is_connector_type_deprecated": self._type_deprecated(type_id),
        }

    def _preconfigured_view(self, stored: dict[str, Any]) -> dict[str, Any]:
        type_id = stored["connector_type_id"]
        view: dict[str, Any] = {
            "id": stored["id"],
            "name": stored["name"],
            "connector_type_id": type_id,
            "is_preconfigured": True,
            "is_deprecated": False,
            "is_system_action": False,
            "is_connector_type_deprecated": self._type_deprecated(type_id),
        }
        if stored["expose_config"]:
            view["config"] = copy.deepcopy(stored["config"])
        return view

    def _lookup(self, space: str, connector_id: str) -> tuple[dict[str, Any], bool]:
        """(stored connector, is_preconfigured); 404 when unknown in that space."""
        if connector_id in self._preconfigured:
            return self._preconfigured[connector_id], True
        stored = self._saved[space].get(connector_id)
        if stored is None:
            raise _KibanaError(404, f"Saved object [action/{connector_id}] not found")
        return stored, False

    def _inference_endpoint_owner(self, inference_id: str) -> dict[str, Any] | None:
        for connectors in self._saved.values():
            for stored in connectors.values():
                if (
                    stored["connector_type_id"] == ks.INFERENCE
                    and stored["config"].get("inferenceId") == inference_id
                ):
                    return stored
        return None

    # ------------------------------------------------------------------ routes

    def _get_status(self, *_: Any) -> _Reply:
        if self.status_redacted:
            return _Reply(200, {"status": {"overall": {"level": "available"}}})
        return _Reply(
            200,
            {
                "name": "fake-kibana",
                "uuid": "5b2de169-2785-441b-ae8c-186a1936b17d",
                "version": {
                    "number": self.version,
                    "build_hash": "0" * 40,
                    "build_number": 1,
                    "build_snapshot": False,
                    "build_flavor": self.build_flavor,
                    "build_date": "2026-01-01T00:00:00.000Z",
                },
                "status": {"overall": {"level": "available"}},
            },
        )

    def _list_types(self, _space: str, _segments: list[str], query: str, *_: Any) -> _Reply:
        feature_id = parse_qs(query).get("feature_id", [None])[0]
        entries = []
        for type_id, info in _CONNECTOR_TYPES.items():
            if feature_id is not None and feature_id not in info.features:
                continue
            in_config = self._type_enabled_in_config(type_id)
            in_license = self._type_enabled_in_license(type_id)
            entries.append(
                {
                    "id": type_id,
                    "name": info.name,
                    "enabled": in_config and in_license,
                    "enabled_in_config": in_config,
                    "enabled_in_license": in_license,
                    "minimum_license_required": info.minimum_license,
                    "supported_feature_ids": list(info.features),
                    "is_system_action_type": False,
                    "is_deprecated": self._type_deprecated(type_id),
                    "source": "stack",
                }
            )
        return _Reply(200, entries)

    def _list_spaces(self, _space: str, _segments: list[str], query: str, *_: Any) -> _Reply:
        """Kibana validates the query strictly (unknown keys, purpose values, and
        include_authorized_purposes only without a purpose) and lists the spaces by name."""
        params = parse_qs(query, keep_blank_values=True)
        for key in params:
            if key not in _SPACES_QUERY:
                raise _KibanaError(
                    400, f"[request query.{key}]: definition for this key is missing"
                )
        purpose = params.get("purpose", [None])[-1]
        if purpose is not None and purpose not in _SPACE_PURPOSES:
            raise _KibanaError(
                400,
                "[request query.purpose]: types that failed validation:\n"
                + "\n".join(
                    f"- [request query.purpose.{i}]: expected value to equal [{p}]"
                    for i, p in enumerate(_SPACE_PURPOSES)
                ),
            )
        authorized = params.get("include_authorized_purposes", [None])[-1]
        if authorized is not None:
            if authorized not in ("true", "false"):
                raise _KibanaError(
                    400,
                    "[request query.include_authorized_purposes]: expected value of type "
                    "[boolean] but got [string]",
                )
            if purpose is not None and authorized == "true":
                raise _KibanaError(
                    400,
                    "[request query.include_authorized_purposes]: expected value to equal [false]",
                )
        entries = [self._space_view(space_id) for space_id in self._spaces]
        entries.sort(key=lambda entry: (str(entry["name"]).casefold(), str(entry["id"])))
        return _Reply(200, entries)

    def _space_view(self, space_id: str) -> dict[str, Any]:
        name = self._space_names.get(space_id, space_id)
        entry: dict[str, Any] = {
            "id": space_id,
            "name": name,
            "description": "This is your default space!" if space_id == "default" else "",
            "color": "#00BFB3",
            "initials": name[:2].upper(),
            "imageUrl": "",
            "disabledFeatures": [],
            "solution": "classic",
        }
        if space_id == "default":
            entry["_reserved"] = True
        return entry

    def _list_connectors(self, space: str, *_: Any) -> _Reply:
        items = [self._saved_view(c) for c in self._saved[space].values()]
        items += [self._preconfigured_view(c) for c in self._preconfigured.values()]
        for item in items:
            item["referenced_by_count"] = 0
        items.sort(key=lambda c: (str(c["name"]).casefold(), str(c["name"]), str(c["id"])))
        return _Reply(200, items)

    def _create(
        self, space: str, segments: list[str], _query: str, body: Any, _has_body: bool
    ) -> _Reply:
        connector_id = segments[3] if len(segments) > 3 else None
        if connector_id is not None:
            problem = ks.connector_id_problem(connector_id)
            if problem:
                raise _KibanaError(400, problem)
        shape = ks.validate_create_request_shape(body)
        if shape:
            raise _KibanaError(400, shape[0])
        type_id = str(body["connector_type_id"])
        self._ensure_privileges("create", type_id)
        if connector_id is not None and connector_id in self._preconfigured:
            raise _KibanaError(
                400, f"This {connector_id} already exists in a preconfigured action."
            )
        if type_id not in _CONNECTOR_TYPES:
            raise _KibanaError(400, f'Action type "{type_id}" is not registered.')
        if type_id not in ks.LLM_CONNECTOR_TYPES:
            raise _KibanaError(400, f"the fake Kibana does not model creating {type_id} connectors")
        config = body.get("config", {})
        secrets = body.get("secrets", {})
        errors = ks.validate_connector_fields(
            type_id, config, secrets, allowed_hosts=list(self.allowed_hosts)
        )
        if errors:
            raise _KibanaError(400, errors[0])
        self._ensure_type_enabled(type_id)
        if type_id == ks.INFERENCE and self._inference_endpoint_owner(config["inferenceId"]):
            raise _KibanaError(
                400,
                f"Inference with id {config['inferenceId']} and task type "
                f"{config['taskType']} already exists.",
            )
        if connector_id is None:
            connector_id = str(uuid.uuid4())
        if connector_id in self._saved[space]:
            raise _KibanaError(409, f"Saved object [action/{connector_id}] conflict")
        stored_config, stored_secrets = ks.apply_server_defaults(type_id, config, secrets)
        stored = copy.deepcopy(
            {
                "id": connector_id,
                "name": body["name"],
                "connector_type_id": type_id,
                "config": stored_config,
                "secrets": stored_secrets,
            }
        )
        self._saved[space][connector_id] = stored
        return _Reply(200, self._saved_view(stored))

    def _get(self, space: str, segments: list[str], *_: Any) -> _Reply:
        stored, preconfigured = self._lookup(space, segments[3])
        view = self._preconfigured_view(stored) if preconfigured else self._saved_view(stored)
        return _Reply(200, view)

    def _update(
        self, space: str, segments: list[str], _query: str, body: Any, _has_body: bool
    ) -> _Reply:
        connector_id = segments[3]
        shape = ks.validate_update_request_shape(body)
        if shape:
            raise _KibanaError(400, shape[0])
        if connector_id in self._preconfigured:
            type_id = self._preconfigured[connector_id]["connector_type_id"]
            self._ensure_privileges("update", type_id)
            raise _KibanaError(
                400, f"Preconfigured action {connector_id} is not allowed to update."
            )
        stored = self._lookup(space, connector_id)[0]
        type_id = stored["connector_type_id"]
        self._ensure_privileges("update", type_id)
        config = body.get("config", {})
        secrets = body.get("secrets", {})
        if type_id in ks.LLM_CONNECTOR_TYPES:
            errors = ks.validate_connector_fields(
                type_id, config, secrets, allowed_hosts=list(self.allowed_hosts)
            )
            if errors:
                raise _KibanaError(400, errors[0])
        self._ensure_type_enabled(type_id)
        if type_id == ks.INFERENCE:
            owner = self._inference_endpoint_owner(config["inferenceId"])
            if owner is not None and owner is not stored:
                raise _KibanaError(
                    400,
                    f"Inference with id {config['inferenceId']} and task type "
                    f"{config['taskType']} already exists.",
                )
        stored_config, stored_secrets = ks.apply_server_defaults(type_id, config, secrets)
        stored.update(
            name=body["name"],
            config=copy.deepcopy(stored_config),
            secrets=copy.deepcopy(stored_secrets),
        )
        return _Reply(200, self._saved_view(stored))

    def _delete(self, space: str, segments: list[str], *_: Any) -> _Reply:
        connector_id = segments[3]
        if connector_id in self._preconfigured:
            type_id = self._preconfigured[connector_id]["connector_type_id"]
            self._ensure_privileges("delete", type_id)
            raise _KibanaError(
                400, f"Preconfigured action {connector_id} is not allowed to delete."
            )
        stored = self._lookup(space, connector_id)[0]
        self._ensure_privileges("delete", stored["connector_type_id"])
        del self._saved[space][connector_id]
        return _Reply(204)

    def _execute(
        self, space: str, segments: list[str], _query: str, body: Any, _has_body: bool
    ) -> _Reply:
        connector_id = segments[3]
        problem = ks.execute_body_problem(body)
        if problem:
            raise _KibanaError(400, problem)
        stored = self._lookup(space, connector_id)[0]
        type_id = stored["connector_type_id"]
        self._ensure_privileges("execute", type_id)
        self._ensure_type_enabled(type_id)
        params = body["params"]
        if type_id in ks.LLM_CONNECTOR_TYPES:
            issue = ks.check_execute_params(type_id, params, connector_id=connector_id)
            if issue is not None:
                return _Reply(200, _execute_problem_answer(connector_id, issue))
        configured = self._execute_results.get(connector_id) or self._execute_results.get(None)
        if configured is not None and configured.status == "error":
            return _Reply(
                200,
                _execute_error(
                    connector_id,
                    configured.message or _RUNTIME_ERROR,
                    service_message=configured.service_message,
                    retry=configured.retry,
                    error_source=configured.error_source,
                ),
            )
        gateway = self._gen_ai_gateway(type_id, connector_id)
        streamed = _streamed_answer(type_id, connector_id, params, gateway)
        if streamed is not None:
            return streamed
        if configured is not None and configured.data is not None:
            data = copy.deepcopy(configured.data)
        else:
            canned = _canned_result(type_id, stored.get("config") or {}, params)
            if isinstance(canned, str):
                return _Reply(
                    200,
                    _execute_error(
                        connector_id,
                        _RUNTIME_ERROR,
                        service_message=canned,
                        retry=True,
                        error_source="user",
                    ),
                )
            data = _through_gateway(canned, params, gateway)
        return _Reply(200, {"status": "ok", "connector_id": connector_id, "data": data})

    def _gen_ai_gateway(self, type_id: str, connector_id: str) -> _GenAiGateway | None:
        if type_id != ks.GEN_AI:
            return None
        return self._gen_ai_gateways.get(connector_id) or self._gen_ai_gateways.get(None)


# ---------------------------------------------------------------------- execute helpers


def _close_quietly(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


def _is_json(headers: dict[str, str]) -> bool:
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type == "application/json"


def _execute_error(
    connector_id: str,
    message: str,
    *,
    service_message: str | None = None,
    retry: bool | None = None,
    error_source: str | None = None,
) -> dict[str, Any]:
    answer: dict[str, Any] = {"status": "error", "connector_id": connector_id, "message": message}
    for key, value in (
        ("service_message", service_message),
        ("retry", retry),
        ("errorSource", error_source),
    ):
        if value is not None:
            answer[key] = value
    return answer


def _execute_problem_answer(connector_id: str, problem: ks.ExecuteProblem) -> dict[str, Any]:
    if problem.kind == "params":
        return _execute_error(connector_id, problem.text, retry=False, error_source="user")
    if problem.kind == "not_registered":
        return _execute_error(
            connector_id,
            _RUNTIME_ERROR,
            service_message=problem.text,
            retry=True,
            error_source="framework",
        )
    return _execute_error(
        connector_id, _RUNTIME_ERROR, service_message=problem.text, retry=True, error_source="user"
    )


def _streamed_answer(
    type_id: str, connector_id: str, params: dict[str, Any], gateway: _GenAiGateway | None
) -> _Reply | None:
    """What the HTTP API answers for ``.gen-ai`` ``stream`` with ``stream: true``, or None.

    Kibana's ``streamApi`` returns the upstream's IncomingMessage as ``data``; the route
    answers ``res.ok({body: {status, data, connector_id}})`` and hapi ``JSON.stringify``s that
    body (only a top-level stream is streamed): the circular IncomingMessage makes it throw,
    and hapi answers 500. An upstream HTTP error is caught earlier and answered as usual.
    """
    if type_id != ks.GEN_AI or params.get("subAction") != "stream":
        return None
    sub_params = params.get("subActionParams") or {}
    if sub_params.get("stream") is not True:
        return None
    if gateway is not None and not gateway.sse:
        return _Reply(
            200,
            _execute_error(
                connector_id,
                _RUNTIME_ERROR,
                service_message=GEN_AI_STREAM_REFUSED,
                retry=True,
                error_source="user",
            ),
        )
    return _Reply(500, _boom(500, "An internal server error occurred"))


def _through_gateway(data: Any, params: dict[str, Any], gateway: _GenAiGateway | None) -> Any:
    """The canned ``.gen-ai`` data as it comes back through ``gateway``."""
    if gateway is None or gateway.reply_content:
        return data
    if params.get("subAction") == "invokeAI":
        return {"message": GEN_AI_UNRECOGNIZED_FORMAT, "usage": data["usage"]}
    for choice in data.get("choices", []):
        choice["message"]["content"] = None
    return data


def _json_object(text: Any) -> dict[str, Any] | None:
    if isinstance(text, dict):
        return text
    if not isinstance(text, str):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _azure_deployment(api_url: str) -> str | None:
    parts = urlsplit(api_url).path.split("/")
    if "deployments" in parts:
        index = parts.index("deployments")
        if index + 1 < len(parts) and parts[index + 1]:
            return parts[index + 1]
    return None


def _openai_completion(model: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
        "choices": [
            {
                "message": {"role": "assistant", "content": _CANNED_TEXT},
                "finish_reason": "stop",
                "index": 0,
            }
        ],
    }


def _canned_result(type_id: str, config: dict[str, Any], params: dict[str, Any]) -> Any:
    """The per-type success data, or a ``service_message`` string for an upstream error."""
    sub_action = params.get("subAction")
    sub_params = params.get("subActionParams") or {}
    default_model = config.get("defaultModel")
    if type_id == ks.GEN_AI:
        if sub_action == "invokeAI":
            return {
                "message": _CANNED_TEXT,
                "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
            }
        request = _json_object(sub_params.get("body"))
        if request is None:
            return (
                "Status code: 400. Message: API Error: Bad Request - We could not parse the JSON "
                "body of your request."
            )
        if not isinstance(request.get("messages"), list) or not request["messages"]:
            return (
                "Status code: 400. Message: API Error: Bad Request - Missing required "
                "parameter: 'messages'."
            )
        model = request.get("model") or default_model
        if not model and config.get("apiProvider") == "Azure OpenAI":
            model = _azure_deployment(str(config.get("apiUrl", ""))) or "gpt-4o"
        return _openai_completion(str(model or ks.DEFAULT_MODELS[ks.GEN_AI]))
    if type_id == ks.BEDROCK:
        usage = {"input_tokens": 12, "output_tokens": 9}
        if sub_action == "invokeAI":
            return {"message": _CANNED_TEXT, "usage": usage}
        request = _json_object(sub_params.get("body"))
        if request is None or not (request.get("messages") or request.get("prompt")):
            return (
                "Status code: 400. Message: API Error: Bad Request - Malformed input request, "
                "please reformat your input and try again."
            )
        if sub_params.get("raw"):
            return {
                "id": f"msg_bdrk_{uuid.uuid4().hex[:24]}",
                "type": "message",
                "role": "assistant",
                "model": sub_params.get("model") or default_model,
                "content": [{"type": "text", "text": _CANNED_TEXT}],
                "stop_reason": "end_turn",
                "usage": usage,
            }
        return {"completion": _CANNED_TEXT, "stop_reason": "end_turn", "usage": usage}
    if type_id == ks.GEMINI:
        usage_metadata = {"promptTokenCount": 12, "candidatesTokenCount": 9, "totalTokenCount": 21}
        if sub_action == "invokeAI":
            return {"message": _CANNED_TEXT, "usageMetadata": usage_metadata}
        request = _json_object(sub_params.get("body"))
        if request is None or not request.get("contents"):
            return (
                "Status code: 400. Message: API Error: INVALID_ARGUMENT: Invalid JSON payload "
                "received."
            )
        if sub_params.get("raw"):
            return {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [{"text": _CANNED_TEXT}]},
                        "finishReason": "STOP",
                    }
                ],
                "usageMetadata": usage_metadata,
                "modelVersion": sub_params.get("model") or default_model,
            }
        return {"completion": _CANNED_TEXT, "usageMetadata": usage_metadata}
    if type_id == ks.INFERENCE:
        if sub_action == "completion":
            return [{"result": _CANNED_TEXT}]
        request = sub_params.get("body") or {}
        provider_config = config.get("providerConfig") or {}
        model = request.get("model") or provider_config.get("model_id") or config.get("inferenceId")
        completion = _openai_completion(str(model))
        completion["choices"][0]["message"]["tool_calls"] = []
        return completion
    return {}
