"""An in-process fake of Elasticsearch's inference API, for tests.

``FakeElasticsearch`` is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 (random port) serving

* ``GET /`` (version, ``build_flavor``: a stack release or serverless)
* ``GET /_inference``, ``/_inference/_all``, ``/_inference/{task}/_all``, ``/_inference/{id}``
* ``PUT|GET|DELETE /_inference/{task}/{id}`` (and ``/_inference/{id}``)
* ``PUT /_inference/{task}/{id}/_update`` (and ``/_inference/{id}/_update``)
* ``POST /_inference/chat_completion/{id}/_stream`` (server-sent events), ``POST`` to a
  ``completion`` endpoint and its ``_stream``

It enforces what Elasticsearch does for these routes: ``Authorization: ApiKey`` with cluster
privileges, licence, inference id rules, unknown keys refused per service
(``tests.fakes.elasticsearch_services``), "already exists", the provider validation call at
PUT (a secret starting with ``bad`` is refused as the provider would), the ``_stream`` body
parser and its SSE framing (a BOM before every event, ``[DONE]`` last), errors before and
inside the stream. Every answer carries ``X-elastic-product: Elasticsearch``. Faults, delays
and stream behaviours can be set, and every request is recorded.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hmac
import json
import re
import select
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes import elasticsearch_services as svc

__all__ = ["EsRequest", "FakeElasticsearch", "StreamPlan", "encode_api_key"]

BOM: Final = "\ufeff"
_ID = re.compile(r"^[a-z0-9](?:[a-z0-9_\-.]*[a-z0-9])?$")
_DURATION = re.compile(r"^(\d+)(nanos|micros|ms|s|m|h|d)$")
_UNITS: Final = {
    "nanos": 1e-9,
    "micros": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_ALL_PRIVILEGES: Final = frozenset({"monitor", "monitor_inference", "manage_inference"})
_CREATE_FAILED: Final = (
    "Could not complete inference endpoint creation as validation call to service threw an "
    "exception."
)
_PREFIX: Final = {
    400: "Received a bad request status code",
    401: "Received an authentication error status code",
    403: "Received a permission denied error status code",
    429: "Received a rate limit status code",
}
_DEFAULT_REPLY: Final = "Hello! How can I help you today?"
_DROPPED: Final = 0

StreamMode = Literal[
    "normal",  # role chunk, content chunks, usage chunk, [DONE]
    "no_usage",  # as normal, without the usage chunk (some providers)
    "length",  # finish_reason "length"
    "tool_call",  # one tool-call delta instead of content
    "single",  # one event with the whole reply (a provider that cannot stream), [DONE]
    "mid_error",  # some content, then an error event; no [DONE]
    "pre_error",  # HTTP error status and one error event before any chunk
    "cut",  # some content, then the connection is closed; no [DONE]
    "never_end",  # some content, then nothing more until the client goes away
    "malformed",  # an event whose data is not JSON, then the rest and [DONE]
]


def encode_api_key(key_id: str, key: str) -> str:
    """The ``encoded`` form of an Elasticsearch API key: base64 of ``id:key``."""
    return base64.b64encode(f"{key_id}:{key}".encode()).decode()


@dataclass(frozen=True)
class EsRequest:
    """One request the fake received, and what it answered."""

    method: str
    path: str  # without the query string
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON, or None
    status: int  # 0: the connection was closed without an answer
    at: float  # time.time() when the answer was decided


@dataclass
class StreamPlan:
    """How ``_stream`` answers (set with ``FakeElasticsearch.set_stream``)."""

    mode: StreamMode = "normal"
    reply: str = _DEFAULT_REPLY
    model: str | None = None  # None: the endpoint's model (a provider-like version of it)
    usage: tuple[int, int] = (14, 9)  # prompt, completion tokens
    first_token_delay: float = 0.0  # seconds between the headers and the first event
    chunk_delay: float = 0.0  # seconds between later events
    error_status: int = 500  # for pre_error
    error_code: str = "server_error"
    error_type: str = "server_error"
    error_message: str = "The server had an error while processing your request."


@dataclass
class _Fault:
    remaining: int
    method: str | None
    path_contains: str | None
    drop: bool
    status: int = 503
    body: dict[str, Any] | None = None

    def matches(self, method: str, target: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path_contains is None or self.path_contains in target


@dataclass
class _Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    events: Iterator[bytes | float | None] | None = None  # SSE: bytes, a pause, None = hang
    cut: bool = False  # SSE: close the connection instead of ending the body


class _EsError(Exception):
    """Becomes Elasticsearch's standard error envelope."""

    def __init__(
        self,
        status: int,
        error_type: str,
        reason: str,
        *,
        caused_by: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.error_type = error_type
        self.reason = reason
        self.caused_by = caused_by
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        root = self.caused_by or {"type": self.error_type, "reason": self.reason, **self.extra}
        error: dict[str, Any] = {
            "root_cause": [dict(root)],
            "type": self.error_type,
            "reason": self.reason,
            **self.extra,
        }
        if self.caused_by is not None:
            error["caused_by"] = dict(self.caused_by)
        return {"error": error, "status": self.status}


class _StreamError(Exception):
    """Becomes an HTTP error with one SSE ``error`` event (an error before the stream)."""

    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        super().__init__(str(payload))
        self.status = status
        self.payload = payload


def _unified(status: int, error_type: str, message: str, code: str | None = None) -> _StreamError:
    name = code if code is not None else HTTPStatus(status).name.lower()
    return _StreamError(status, {"error": {"code": name, "message": message, "type": error_type}})


def _bad_request(reason: str, error_type: str = "status_exception") -> _EsError:
    return _EsError(400, error_type, reason)


def _java(value: Any) -> str:
    """Java's toString of a parsed JSON value, as ES prints unknown settings."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_java(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_java(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _version(text: str) -> svc.Version:
    parts = [int("".join(c for c in p if c.isdigit()) or 0) for p in text.split("-")[0].split(".")]
    return (parts[0], parts[1] if len(parts) > 1 else 0)


def _event(data: str, name: str = "message") -> bytes:
    return f"{BOM}event: {name}\ndata: {data}\n\n".encode()


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _mask(secret: str) -> str:
    return secret[:3] + "*" * 8 + secret[-4:] if len(secret) > 8 else "*" * len(secret)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, fake: FakeElasticsearch) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # no getfqdn()
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.fake._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    def _handle(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length > 0 else b""
        except (ValueError, OSError):
            self.close_connection = True
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.fake._serve(self.command, self.path, headers, raw)
        try:
            if reply.drop:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if reply.events is not None:
                self._write_stream(reply)
                return
            payload = b"" if reply.body is None else _compact(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("X-elastic-product", "Elasticsearch")
            if reply.body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _write_stream(self, reply: _Reply) -> None:
        assert reply.events is not None
        self.send_response(reply.status)
        self.send_header("X-elastic-product", "Elasticsearch")
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        closing = self.server.fake._closing
        for item in reply.events:
            if item is None:  # hang until the client or the fake goes away
                while not closing.is_set() and not self._client_gone():
                    pass
                self.close_connection = True
                return
            if isinstance(item, float):
                if closing.wait(item):
                    self.close_connection = True
                    return
                continue
            self.wfile.write(f"{len(item):x}\r\n".encode() + item + b"\r\n")
            self.wfile.flush()
        if reply.cut:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _client_gone(self) -> bool:
        readable, _, _ = select.select([self.connection], [], [], 0.05)
        if not readable:
            return False
        try:
            peeked: bytes = self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return True
        return peeked == b""


class FakeElasticsearch:
    """A fake Elasticsearch on ``http://127.0.0.1:<random port>``; a context manager too.

    Attributes tests may change at any time: ``api_key`` (the encoded key accepted),
    ``privileges`` (cluster privileges of that key: ``monitor``, ``monitor_inference``,
    ``manage_inference``), ``license``, ``version``, ``serverless``, ``eis_enabled`` (the
    preconfigured Elastic Inference Service endpoints exist), ``validate_on_update`` (newest
    ES also calls the provider on ``_update``), ``provider_delay`` (seconds the provider takes
    to answer the validation call at PUT).
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        version: str = "9.5.0",
        serverless: bool = False,
        license: str = "enterprise",
        eis_enabled: bool = False,
    ) -> None:
        self.api_key = api_key or encode_api_key("fake-es-key-id", "fake-es-key-secret")
        self.privileges: set[str] = set(_ALL_PRIVILEGES)
        self.version = version
        self.serverless = serverless
        self.license = license
        self.eis_enabled = eis_enabled
        self.validate_on_update = True
        self.provider_delay = 0.0
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._closing = threading.Event()
        self._endpoints: dict[str, dict[str, Any]] = {}  # as stored, secrets included
        self._references: dict[str, tuple[list[str], list[str]]] = {}
        self._provider_failure: tuple[int, str] | None = None
        self._streams: dict[str | None, StreamPlan] = {}
        self._faults: list[_Fault] = []
        self._delays: list[tuple[float, str | None, str | None]] = []
        self._requests: list[EsRequest] = []
        self.validation_calls: list[tuple[str, str]] = []  # (inference id, service)
        # Data streams (name -> documents, as indexed) and plain indices auto-created by a write.
        self._data_streams: dict[str, list[dict[str, Any]]] = {}
        self._indices: dict[str, list[dict[str, Any]]] = {}
        self.can_write_documents = True  # the key's index privilege (create_doc) on them
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeElasticsearch:
        with self._lock:
            if self._server is not None:
                raise RuntimeError("FakeElasticsearch is already running")
            self._closing.clear()
            self._server = _Server(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.01},
                name=f"fake-es-{self._server.server_port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and close every open connection (streams included)."""
        self._closing.set()
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                connection.close()

    def __enter__(self) -> FakeElasticsearch:
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
        if self._server is None:
            raise RuntimeError("FakeElasticsearch is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    # ------------------------------------------------------------------ state and knobs

    @property
    def target(self) -> svc.Version:
        """The version whose rules apply (serverless: the newest)."""
        return svc.NEWEST if self.serverless else _version(self.version)

    def endpoints(self) -> dict[str, dict[str, Any]]:
        """Stored endpoints by id, secrets included (preconfigured ones excluded)."""
        with self._lock:
            return copy.deepcopy(self._endpoints)

    def add_endpoint(
        self, inference_id: str, body: dict[str, Any], *, task_type: str = "chat_completion"
    ) -> None:
        """Store an endpoint as if created earlier (not validated, no provider call)."""
        with self._lock:
            self._endpoints[inference_id] = {
                "inference_id": inference_id,
                "task_type": task_type,
                **copy.deepcopy(body),
            }
            self._changed.notify_all()

    def set_references(
        self, inference_id: str, *, pipelines: Sequence[str] = (), indexes: Sequence[str] = ()
    ) -> None:
        """Pretend ingest pipelines / index mappings use the endpoint (DELETE answers 409)."""
        with self._lock:
            self._references[inference_id] = (list(pipelines), list(indexes))

    def set_provider_failure(self, status: int | None, message: str = "") -> None:
        """Make every provider validation call fail with ``status`` (None: back to normal)."""
        with self._lock:
            self._provider_failure = None if status is None else (status, message)

    def set_stream(self, inference_id: str | None = None, **plan: Any) -> StreamPlan:
        """How ``_stream`` answers for one endpoint (or, with None, for all others)."""
        with self._lock:
            self._streams[inference_id] = StreamPlan(**plan)
            return self._streams[inference_id]

    def fail_next(
        self,
        times: int = 1,
        *,
        status: int = 503,
        body: dict[str, Any] | None = None,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """Answer the next matching requests with ``status`` (standard envelope, or ``body``)."""
        with self._lock:
            self._faults.append(_Fault(times, method, path_contains, False, status, body))

    def drop_next(
        self, times: int = 1, *, method: str | None = None, path_contains: str | None = None
    ) -> None:
        """Close the connection of the next matching requests without answering."""
        with self._lock:
            self._faults.append(_Fault(times, method, path_contains, True))

    def set_delay(
        self, seconds: float, *, method: str | None = None, path_contains: str | None = None
    ) -> None:
        """Wait ``seconds`` before answering matching requests (0 removes the rule)."""
        with self._lock:
            self._delays = [d for d in self._delays if d[1:] != (method, path_contains)]
            if seconds > 0:
                self._delays.append((seconds, method, path_contains))

    # ------------------------------------------------------------------ records

    @property
    def requests(self) -> list[EsRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, method: str, path_suffix: str) -> list[EsRequest]:
        with self._lock:
            return [
                r
                for r in self._requests
                if r.method == method.upper() and r.path.endswith(path_suffix)
            ]

    def wait_for_request(
        self, method: str, path_suffix: str, *, timeout: float = 10.0, count: int = 1
    ) -> list[EsRequest]:
        """Wait until ``count`` matching requests were answered; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(found := self.requests_to(method, path_suffix)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = ", ".join(f"{r.method} {r.path} -> {r.status}" for r in self._requests)
                    raise AssertionError(
                        f"expected {count} {method.upper()} *{path_suffix}; seen: {seen or 'none'}"
                    )
                self._changed.wait(remaining)
            return found

    # ------------------------------------------------------------------ dispatch

    def _serve(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> _Reply:
        method = method.upper()
        split = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            delay = max(
                (
                    s
                    for s, m, p in self._delays
                    if (m is None or m.upper() == method) and (p is None or p in target)
                ),
                default=0.0,
            )
        if delay:
            self._closing.wait(delay)
        with self._lock:
            fault = next((f for f in self._faults if f.matches(method, target)), None)
            if fault is not None:
                fault.remaining -= 1
                self._faults = [f for f in self._faults if f.remaining > 0]
        if fault is not None and fault.drop:
            reply = _Reply(_DROPPED, drop=True)
        elif fault is not None:
            error = _EsError(fault.status, "status_exception", HTTPStatus(fault.status).phrase)
            reply = _Reply(fault.status, fault.body if fault.body is not None else error.body())
        else:
            reply = self._process(method, split.path, query, headers, raw)
        with self._lock:
            self._requests.append(
                EsRequest(method, split.path, query, headers, body, reply.status, time.time())
            )
            self._changed.notify_all()
        return reply

    def _process(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> _Reply:
        try:
            return self._route(method, path, query, headers, raw)
        except _EsError as error:
            return _Reply(error.status, error.body(), error.headers)
        except _StreamError as error:
            return _Reply(error.status, events=iter([_event(_compact(error.payload), "error")]))
        except Exception as error:  # noqa: BLE001 - a bug in the fake: answer, don't hang
            return _Reply(500, _EsError(500, "fake_failure", repr(error)).body())

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> _Reply:
        segments = [unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []
        allowed, action = self._allowed_methods(segments)
        if not allowed:
            raise _EsError(
                400,
                "illegal_argument_exception",
                f"request [{path}] contains unrecognized parameter or path",
            )
        if method not in allowed:
            return _Reply(
                405,
                {
                    "error": f"Incorrect HTTP method for uri [{path}] and method [{method}], "
                    f"allowed: [{', '.join(sorted(allowed))}]",
                    "status": 405,
                },
            )
        self._authenticate(headers, path)
        if segments == []:
            self._authorize(headers, "cluster:monitor/main", {"monitor"})
            return _Reply(200, self._info())
        if action == "doc":
            return self._create_doc(segments[0], query, raw)
        rest = segments[1:]
        task, inference_id = self._task_and_id(method, rest, action)
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError as error:
                raise _bad_request(
                    f"Failed to parse content to map: {error}", "x_content_parse_exception"
                ) from None
        if action == "stream":
            return self._stream(task, inference_id, body, headers)
        if action == "update":
            self._authorize(headers, "cluster:admin/xpack/inference/update", {"manage_inference"})
            return self._update(task, inference_id, body)
        if method == "GET":
            self._authorize(headers, "cluster:monitor/xpack/inference/get", {"monitor_inference"})
            return self._get(task, inference_id)
        if method == "DELETE":
            self._authorize(headers, "cluster:admin/xpack/inference/delete", {"manage_inference"})
            return self._delete(task, inference_id, query)
        if method == "POST":
            return self._infer(task, inference_id, body, headers)
        self._authorize(headers, "cluster:admin/xpack/inference/put", {"manage_inference"})
        return self._put(task, inference_id, body, query)

    @staticmethod
    def _allowed_methods(segments: list[str]) -> tuple[set[str], str]:
        if segments == []:
            return {"GET", "HEAD"}, "info"
        if len(segments) == 2 and segments[1] == "_doc" and not segments[0].startswith("_"):
            return {"POST"}, "doc"
        if segments[0] != "_inference":
            return set(), ""
        rest = segments[1:]
        if len(rest) == 0:
            return {"GET"}, "get"
        if rest[-1] == "_update" and len(rest) in (2, 3):
            return {"PUT"}, "update"
        if rest[-1] == "_stream" and len(rest) in (2, 3):
            return {"POST"}, "stream"
        if len(rest) == 1:
            return ({"GET"} if rest[0] == "_all" else {"GET", "PUT", "DELETE", "POST"}), "crud"
        if len(rest) == 2:
            # PUT .../_all reaches the handler, whose id check refuses it
            return (
                {"GET", "PUT"} if rest[1] == "_all" else {"GET", "PUT", "DELETE", "POST"}
            ), "crud"
        return set(), ""

    @staticmethod
    def _task_and_id(method: str, rest: list[str], action: str) -> tuple[str | None, str | None]:
        parts = rest[:-1] if action in ("update", "stream") else rest
        if not parts or parts == ["_all"]:
            return None, None
        if len(parts) == 1:
            if method == "GET" and parts[0].lower() in svc.TASK_TYPES:
                return parts[0].lower(), None
            return None, parts[0]
        task = parts[0].lower()
        if task not in svc.TASK_TYPES:
            raise _bad_request(f"Unknown task_type [{parts[0]}]")
        return task, None if parts[1] == "_all" and method == "GET" else parts[1]

    # ------------------------------------------------------------------ documents

    def add_data_stream(self, name: str) -> None:
        """Make ``name`` a data stream (as a matching index template would on first write)."""
        with self._lock:
            self._data_streams.setdefault(name, [])

    def documents(self, name: str) -> list[dict[str, Any]]:
        """The documents indexed into data stream or index ``name``, in order."""
        with self._lock:
            stored = self._data_streams.get(name, self._indices.get(name, []))
            return copy.deepcopy(stored)

    def wait_for_documents(
        self, name: str, count: int, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._data_streams.get(name, self._indices.get(name, []))) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{name}: {len(self.documents(name))} documents, expected {count}"
                    )
                self._changed.wait(left)
            return self.documents(name)

    def _create_doc(self, index: str, query: dict[str, str], raw: bytes) -> _Reply:
        problem = _index_name_problem(index)
        if problem:
            raise _EsError(
                400,
                "invalid_index_name_exception",
                f"Invalid index name [{index}], {problem}",
                extra={"index": index, "index_uuid": "_na_"},
            )
        if not self.can_write_documents:
            raise _EsError(
                403,
                "security_exception",
                f"action [indices:data/write/index:op_type/{query.get('op_type', 'index')}] is "
                f"unauthorized for API key id [{self._key_id()}] of user [bot] on indices "
                f"[{index}], this action is granted by the index privileges "
                "[create_doc,create,index,write,all]",
            )
        op_type = query.get("op_type", "index")
        if op_type not in ("index", "create"):
            raise _bad_request(
                f"opType must be 'create' or 'index', found: [{op_type}]",
                "illegal_argument_exception",
            )
        try:
            document = json.loads(raw) if raw else None
        except ValueError as error:
            raise _bad_request(
                f"Failed to parse content to map: {error}", "x_content_parse_exception"
            ) from None
        if not isinstance(document, dict):
            raise _bad_request("request body is required", "action_request_validation_exception")
        with self._lock:
            stream = self._data_streams.get(index)
            if stream is not None:
                if op_type != "create":
                    raise _bad_request(
                        "only write ops with an op_type of create are allowed in data streams",
                        "illegal_argument_exception",
                    )
                if not isinstance(document.get("@timestamp"), str):
                    raise _EsError(
                        400,
                        "document_parsing_exception",
                        "[1:1] failed to parse: data stream timestamp field [@timestamp] is "
                        "missing",
                    )
                target, backing = stream, f".ds-{index}-2026.12.04-000001"
            else:
                target, backing = self._indices.setdefault(index, []), index
            target.append(copy.deepcopy(document))
            seq_no = len(target) - 1
        return _Reply(
            201,
            {
                "_index": backing,
                "_id": uuid.uuid4().hex[:20],
                "_version": 1,
                "result": "created",
                "_shards": {"total": 2, "successful": 1, "failed": 0},
                "_seq_no": seq_no,
                "_primary_term": 1,
            },
        )

    # ------------------------------------------------------------------ security

    def _authenticate(self, headers: dict[str, str], path: str) -> None:
        header = headers.get("authorization", "")
        challenge = {
            "WWW-Authenticate": 'Basic realm="security", charset="UTF-8", ApiKey',
        }
        if not header:
            reason = f"missing authentication credentials for REST request [{path}]"
        else:
            scheme, _, credentials = header.partition(" ")
            if scheme == "ApiKey" and hmac.compare_digest(
                credentials.strip().encode(), self.api_key.encode()
            ):
                return
            reason = (
                "unable to authenticate with provided credentials and anonymous access is not "
                "allowed for this request"
            )
        extra = {"header": {"WWW-Authenticate": [challenge["WWW-Authenticate"]]}}
        raise _EsError(401, "security_exception", reason, extra=extra, headers=challenge)

    def _key_id(self) -> str:
        try:
            return base64.b64decode(self.api_key).decode().split(":", 1)[0]
        except ValueError:
            return "unknown"

    def _authorize(self, _headers: dict[str, str], action: str, needed: set[str]) -> None:
        granted = set(self.privileges)
        if "manage_inference" in granted:
            granted.add("monitor_inference")
        if granted & needed:
            return
        names = sorted({*needed, "manage", "all"})
        raise _EsError(
            403,
            "security_exception",
            f"action [{action}] is unauthorized for API key id [{self._key_id()}] of user "
            f"[bot], this action is granted by the cluster privileges [{','.join(names)}]",
        )

    def _check_license(self, service: str) -> None:
        if service != "elastic" and self.license not in ("enterprise", "trial"):
            raise _EsError(
                403,
                "security_exception",
                "current license is non-compliant for [inference]",
                extra={"license.expired.feature": "inference"},
            )

    # ------------------------------------------------------------------ GET /

    def _info(self) -> dict[str, Any]:
        flavor = "serverless" if self.serverless else "default"
        return {
            "name": "instance-0000000001",
            "cluster_name": "fake-cluster",
            "cluster_uuid": "fK8sYq0ZQvOqz3Jw0y3n5A",
            "version": {
                "number": self.version,
                "build_flavor": flavor,
                "build_type": "docker",
                "build_hash": "0" * 40,
                "build_date": "2026-06-01T00:00:00.000Z",
                "build_snapshot": False,
                "lucene_version": "10.3.1",
                "minimum_wire_compatibility_version": "8.19.0",
                "minimum_index_compatibility_version": "8.0.0",
            },
            "tagline": "You Know, for Search",
        }

    # ------------------------------------------------------------------ endpoints

    def _all_endpoints(self) -> dict[str, dict[str, Any]]:
        found = dict(self._endpoints)
        if self.eis_enabled:
            for inference_id, (model, name) in svc.EIS_PRECONFIGURED.items():
                found[inference_id] = {
                    "inference_id": inference_id,
                    "task_type": "chat_completion",
                    "service": "elastic",
                    "service_settings": {"model_id": model},
                    "metadata": {"display": {"name": name}, "heuristics": {}},
                }
        return found

    def _view(self, stored: dict[str, Any]) -> dict[str, Any]:
        service = svc.SERVICES.get(stored["service"])
        settings = {
            k: v
            for k, v in stored["service_settings"].items()
            if service is None or k not in service.secrets()
        }
        if service is not None and service.default_rpm is not None:
            settings.setdefault("rate_limit", {"requests_per_minute": service.default_rpm})
        view: dict[str, Any] = {
            "inference_id": stored["inference_id"],
            "task_type": stored["task_type"],
            "service": stored["service"],
            "service_settings": settings,
        }
        if stored.get("task_settings"):
            view["task_settings"] = copy.deepcopy(stored["task_settings"])
        if "metadata" in stored:
            view["metadata"] = copy.deepcopy(stored["metadata"])
        return view

    def _find(self, task: str | None, inference_id: str) -> dict[str, Any]:
        with self._lock:
            stored = self._all_endpoints().get(inference_id)
        if stored is None:
            raise _EsError(
                404,
                "resource_not_found_exception",
                f"Inference endpoint not found [{inference_id}]",
            )
        if task is not None and task != stored["task_type"]:
            raise _bad_request(
                f"Requested task type [{task}] does not match the inference endpoint's task "
                f"type [{stored['task_type']}]"
            )
        return stored

    def _get(self, task: str | None, inference_id: str | None) -> _Reply:
        with self._lock:
            if inference_id is not None:
                found = [self._find(task, inference_id)]
            else:
                found = [
                    e
                    for e in self._all_endpoints().values()
                    if task is None or e["task_type"] == task
                ]
            return _Reply(200, {"endpoints": [self._view(e) for e in found]})

    def _delete(self, task: str | None, inference_id: str | None, query: dict[str, str]) -> _Reply:
        if inference_id is None:
            raise _bad_request(
                "an inference endpoint id is required", "action_request_validation_exception"
            )
        with self._lock:
            stored = self._find(task, inference_id)
            if inference_id not in self._endpoints:
                raise _bad_request(
                    f"[{inference_id}] is a reserved inference endpoint. Cannot delete a "
                    "reserved inference endpoint."
                )
            del stored
            pipelines, indexes = self._references.get(inference_id, ([], []))
            message = ""
            if pipelines:
                message += (
                    f"Inference endpoint {inference_id} is referenced by pipelines: "
                    f"[{', '.join(pipelines)}]. Ensure that no pipelines are using this inference "
                    "endpoint, or use force to ignore this warning and delete the inference "
                    "endpoint."
                )
            if indexes:
                message += (
                    f" Inference endpoint {inference_id} is being used in the mapping for indexes: "
                    f"[{', '.join(indexes)}]. Ensure that no index mappings are using this "
                    "inference endpoint, or use force to ignore this warning and delete the "
                    "inference endpoint."
                )
            if query.get("dry_run") == "true":
                answer: dict[str, Any] = {
                    "acknowledged": False,
                    "pipelines": pipelines,
                    "indexes": indexes,
                }
                if message:
                    answer["error_message"] = message
                return _Reply(200, answer)
            if message and query.get("force") != "true":
                raise _EsError(409, "status_exception", message)
            del self._endpoints[inference_id]
            self._references.pop(inference_id, None)
            self._changed.notify_all()
            return _Reply(200, {"acknowledged": True, "pipelines": [], "indexes": []})

    # ------------------------------------------------------------------ PUT

    def _put(
        self, task: str | None, inference_id: str | None, body: Any, query: dict[str, str]
    ) -> _Reply:
        if inference_id is None:
            raise _bad_request(
                "an inference endpoint id is required", "action_request_validation_exception"
            )
        if inference_id == "_all" or not _ID.match(inference_id):
            raise _EsError(
                400,
                "action_request_validation_exception",
                f"Validation Failed: 1: Invalid inference_id; '{inference_id}' can contain "
                "lowercase alphanumeric (a-z and 0-9), hyphens or underscores; must start and "
                "end with alphanumeric;",
            )
        timeout = self._timeout(query.get("timeout", "30s" if self.target < (9, 5) else "120s"))
        if not isinstance(body, dict):
            raise _bad_request("request body is required", "parse_exception")
        config = copy.deepcopy(body)
        body_task = config.pop("task_type", None)
        if task is not None and body_task is not None and str(body_task).lower() != task:
            raise _bad_request(
                "Cannot resolve conflicting task_type parameter in the request URL "
                f"[{task}] and the request body [{body_task}]"
            )
        task = task or (str(body_task).lower() if body_task is not None else None)
        if task is None:
            raise _bad_request("model is missing required setting [task_type]")
        if task not in svc.TASK_TYPES:
            raise _bad_request(f"Unknown task_type [{task}]")
        name = config.pop("service", None)
        if name is None:
            raise _bad_request("Inference endpoint configuration is missing the [service] setting")
        self._check_license(str(name))
        service = svc.SERVICES.get(str(name))
        if service is None:
            raise _bad_request(f"Unknown service [{name}]")
        since = service.tasks.get(task)
        if since is None or self.target < since:
            raise _bad_request(f"The [{name}] service does not support task type [{task}]")
        settings, task_settings = self._parse_config(service, config, task)
        self._validation_call(service, inference_id, task, settings, timeout)
        with self._lock:
            if inference_id in self._all_endpoints():
                raise _bad_request(
                    f"Inference endpoint [{inference_id}] already exists",
                    "resource_already_exists_exception",
                )
            stored: dict[str, Any] = {
                "inference_id": inference_id,
                "task_type": task,
                "service": service.name,
                "service_settings": settings,
            }
            if task_settings:
                stored["task_settings"] = task_settings
            self._endpoints[inference_id] = stored
            self._changed.notify_all()
            return _Reply(200, self._view(stored))

    @staticmethod
    def _timeout(text: str) -> float:
        match = _DURATION.match(text)
        if match is None:
            raise _bad_request(
                f"failed to parse setting [timeout] with value [{text}] as a time value: unit is "
                "missing or unrecognized",
                "illegal_argument_exception",
            )
        return int(match.group(1)) * _UNITS[match.group(2)]

    def _parse_config(
        self, service: svc.Service, config: dict[str, Any], task: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if "service_settings" not in config:
            raise _bad_request("Missing required field [service_settings]", "validation_exception")
        settings = config.pop("service_settings")
        task_settings = config.pop("task_settings", None) or {}
        if not isinstance(settings, dict) or not isinstance(task_settings, dict):
            raise _bad_request(
                "field [service_settings] is not of the expected type [object]",
                "validation_exception",
            )
        problems: list[str] = []
        known_settings = self._check_keys(
            service, settings, service.service_settings, "service_settings", problems
        )
        known_task = self._check_keys(
            service, task_settings, service.task_settings, "task_settings", problems
        )
        if service.secret_problems is not None:
            problems += service.secret_problems(settings, self.target)
        if service.mode_problems is not None:
            problems += service.mode_problems(settings, self.target)
        if "rate_limit" in settings and service.default_rpm is None:
            problems.append(
                f"[service_settings] rate limit settings are not permitted for service "
                f"[{service.name}] and task type [{task}]"
            )
        if problems:
            text = "".join(f"{i}: {p};" for i, p in enumerate(problems, 1))
            raise _bad_request(f"Validation Failed: {text}", "validation_exception")
        leftovers = [
            (config, service.name),
            ({k: v for k, v in settings.items() if k not in known_settings}, service.name),
            ({k: v for k, v in task_settings.items() if k not in known_task}, service.name),
        ]
        rate = settings.get("rate_limit")
        if isinstance(rate, dict):
            extra = {k: v for k, v in rate.items() if k != "requests_per_minute"}
            leftovers.append((extra, service.name))
        for unknown, name in leftovers:
            if unknown:
                raise _bad_request(
                    f"Configuration contains settings [{_java(unknown)}] unknown to the [{name}] "
                    "service"
                )
        return settings, task_settings

    def _check_keys(
        self,
        service: svc.Service,
        values: Mapping[str, Any],
        keys: Mapping[str, svc.Key],
        scope: str,
        problems: list[str],
    ) -> set[str]:
        known: set[str] = set()
        for name, key in keys.items():
            where = "secret_settings" if key.secret else scope
            if name not in values:
                if key.required:
                    problems.append(f"[{where}] does not contain the required setting [{name}]")
                continue
            if self.target < key.since:
                continue  # unknown on this version: reported as an unknown setting
            known.add(name)
            problem = _check_value(name, key, values[name], where)
            if problem:
                problems.append(problem)
        del service
        return known

    def _validation_call(
        self,
        service: svc.Service,
        inference_id: str,
        task: str,
        settings: Mapping[str, Any],
        timeout: float,
    ) -> None:
        with self._lock:
            self.validation_calls.append((inference_id, service.name))
            failure = self._provider_failure
        cause_type = (
            "unified_chat_completion_exception" if task == "chat_completion" else "status_exception"
        )
        if self.provider_delay:
            if self.provider_delay > timeout:
                self._closing.wait(timeout)
                raise _EsError(
                    400,
                    "status_exception",
                    _CREATE_FAILED,
                    caused_by={
                        "type": "elasticsearch_status_exception",
                        "reason": f"Timed out after [{timeout:g}s] waiting for the validation "
                        "call to complete",
                    },
                )
            self._closing.wait(self.provider_delay)
        status: int | None = None
        message = ""
        if failure is not None:
            status, message = failure
        elif service.bad_key is not None and (bad := _bad_secret(service, settings)) is not None:
            status, _code, _type, message = service.bad_key
            if service.name == "openai":
                message = f"{message}: {_mask(bad)}"
        elif service.name == "elastic" and not self.eis_enabled:
            status, message = 403, "Elastic Inference Service is not enabled for this deployment"
        if status is None:
            return
        if status == 404:
            reason = f"Resource not found at [{settings.get('url', 'provider')}] for request from"
            reason += (
                f" inference entity id [{inference_id}] status [404]. Error message: [{message}]"
            )
        else:
            prefix = _PREFIX.get(status, "Received a server error status code")
            reason = (
                f"{prefix} for request from inference entity id [{inference_id}] status "
                f"[{status}]. Error message: [{message}]"
            )
        raise _EsError(
            400,
            "status_exception",
            _CREATE_FAILED,
            caused_by={"type": cause_type, "reason": reason},
        )

    # ------------------------------------------------------------------ _update

    def _update(self, task: str | None, inference_id: str | None, body: Any) -> _Reply:
        assert inference_id is not None
        if not body:
            raise _bad_request("Request body is empty", "action_request_validation_exception")
        if not isinstance(body, dict):
            raise _bad_request("request body must be an object", "parse_exception")
        forbidden = {
            k: v
            for k, v in body.items()
            if k not in ("service_settings", "task_settings", "task_type")
        }
        if forbidden:
            raise _bad_request(
                "Request contained fields which cannot be updated, remove these fields and try "
                f"again [{_java(forbidden)}]"
            )
        with self._lock:
            stored = self._endpoints.get(inference_id)
            if stored is None:
                raise _EsError(
                    404,
                    "resource_not_found_exception",
                    f"The inference endpoint [{inference_id}] does not exist and cannot be updated",
                )
            stored = copy.deepcopy(stored)
        body_task = body.get("task_type")
        if (task and task != stored["task_type"]) or (
            body_task and str(body_task).lower() != stored["task_type"]
        ):
            raise _bad_request("Task type must match the task type of the existing endpoint")
        service = svc.SERVICES[stored["service"]]
        settings = body.get("service_settings") or {}
        task_settings = body.get("task_settings") or {}
        new_secrets = {k: v for k, v in settings.items() if k in service.secrets()}
        if new_secrets:
            needed = _secret_set(service, new_secrets)
            missing = [k for k in needed if k not in new_secrets]
            if missing:
                raise _bad_request(
                    f"Validation Failed: 1: [secret_settings] does not contain the required "
                    f"setting [{missing[0]}];",
                    "validation_exception",
                )
        problems: list[str] = []
        known = self._check_keys(
            service, task_settings, service.task_settings, "task_settings", problems
        )
        if problems:
            text = "".join(f"{i}: {p};" for i, p in enumerate(problems, 1))
            raise _bad_request(f"Validation Failed: {text}", "validation_exception")
        unknown = {k: v for k, v in task_settings.items() if k not in known}
        if unknown:
            raise _bad_request(
                f"Configuration contains settings [{_java(unknown)}] unknown to the "
                f"[{service.name}] service"
            )
        if new_secrets:
            for name in service.secrets():
                stored["service_settings"].pop(name, None)
            stored["service_settings"].update(new_secrets)
        if task_settings:
            stored["task_settings"] = {**stored.get("task_settings", {}), **task_settings}
        if self.validate_on_update and (new_secrets or task_settings):
            self._validation_call(
                service, inference_id, stored["task_type"], stored["service_settings"], 120.0
            )
        with self._lock:
            if inference_id not in self._endpoints:
                raise _EsError(
                    404,
                    "resource_not_found_exception",
                    f"The inference endpoint [{inference_id}] does not exist and cannot be updated",
                )
            self._endpoints[inference_id] = stored
            self._changed.notify_all()
            return _Reply(200, self._view(stored))

    # ------------------------------------------------------------------ inference

    def _infer(
        self, task: str | None, inference_id: str | None, body: Any, headers: dict[str, str]
    ) -> _Reply:
        assert inference_id is not None
        self._authorize(headers, "cluster:monitor/xpack/inference/post", {"monitor_inference"})
        stored = self._find(task, inference_id)
        if stored["task_type"] == "chat_completion":
            return _Reply(
                400,
                {
                    "error": {
                        "code": "bad_request",
                        "message": "The [chat_completion] task type only supports streaming, "
                        "please try again with the _stream API",
                        "type": "status_exception",
                    }
                },
            )
        if not isinstance(body, dict) or "input" not in body:
            raise _bad_request("Required [input]", "x_content_parse_exception")
        self._check_license(stored["service"])
        plan = self._plan(inference_id)
        return _Reply(200, {"completion": [{"result": plan.reply}]})

    def _plan(self, inference_id: str) -> StreamPlan:
        with self._lock:
            return copy.copy(
                self._streams.get(inference_id) or self._streams.get(None) or StreamPlan()
            )

    def _stream(
        self, task: str | None, inference_id: str | None, body: Any, headers: dict[str, str]
    ) -> _Reply:
        assert inference_id is not None
        if body is None:
            raise _bad_request("request body is required", "parse_exception")
        try:
            self._authorize(headers, "cluster:monitor/xpack/inference/post", {"monitor_inference"})
        except _EsError as error:
            raise _StreamError(error.status, error.body()) from None
        with self._lock:
            stored = self._all_endpoints().get(inference_id)
        if stored is None:
            raise _unified(
                404,
                "resource_not_found_exception",
                f"Inference endpoint not found [{inference_id}]",
            )
        actual = stored["task_type"]
        if task == "chat_completion" and actual != "chat_completion":
            raise _unified(
                400,
                "status_exception",
                "Incompatible task_type for unified API, the requested type [chat_completion] "
                "must be one of [chat_completion]",
            )
        if task not in (None, actual):
            raise _unified(
                400,
                "status_exception",
                f"Incompatible task_type, the requested type [{task}] does not match the model "
                f"type [{actual}]",
            )
        if stored["service"] != "elastic" and self.license not in ("enterprise", "trial"):
            raise _unified(
                403, "security_exception", "current license is non-compliant for [inference]"
            )
        if actual == "chat_completion":
            _parse_chat_request(body)
        elif not isinstance(body, dict) or "input" not in body:
            raise _StreamError(
                400,
                _EsError(400, "x_content_parse_exception", "Required [input]").body(),
            )
        service = svc.SERVICES.get(stored["service"])
        if service is not None and service.bad_key is not None:
            bad = _bad_secret(service, stored["service_settings"])
            if bad is not None:
                status, code, error_type, message = service.bad_key
                raise _unified(
                    status,
                    error_type,
                    f"{_PREFIX.get(status, 'Received an unsuccessful status code')} for request "
                    f"from inference entity id [{inference_id}] status [{status}]. Error "
                    f"message: [{message}]",
                    code,
                )
        plan = self._plan(inference_id)
        model = plan.model or _provider_model(stored)
        if plan.mode == "pre_error":
            raise _unified(plan.error_status, plan.error_type, plan.error_message, plan.error_code)
        if actual != "chat_completion":
            return _Reply(200, events=_completion_events(plan))
        return _Reply(200, events=_chat_events(plan, inference_id, model), cut=plan.mode == "cut")


def _check_value(name: str, key: svc.Key, value: Any, where: str) -> str | None:
    if key.kind == "str":
        if not isinstance(value, str):
            return f"[{where}] field [{name}] is not of the expected type. The value [{_java(value)}] cannot be converted to a [String]"  # noqa: E501 - ES's sentence
        if value == "":
            return f"[{where}] Invalid value empty string. [{name}] must be a non-empty string"
        if key.choices and value.lower() not in key.choices:
            return (
                f"[{where}] Invalid value [{value}] received. [{name}] must be one of "
                f"[{', '.join(key.choices)}]"
            )
    elif key.kind in ("int", "num"):
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not numeric or (key.kind == "int" and not isinstance(value, int)):
            kind = "Integer" if key.kind == "int" else "Double"
            return f"[{where}] field [{name}] is not of the expected type. The value [{_java(value)}] cannot be converted to a [{kind}]"  # noqa: E501 - ES's sentence
        if key.minimum is not None and value < key.minimum:
            return f"[{where}] Invalid value [{value}]. [{name}] must be a positive integer"
        if key.maximum is not None and value > key.maximum:
            return f"[{where}] Invalid value [{value}]. [{name}] must be <= {key.maximum:g}"
    elif key.kind == "str_list":
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v for v in value)
        ):
            return f"[{where}] field [{name}] must be a non-empty list of strings"
    elif key.kind == "str_map":
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            return f"[{where}] field [{name}] must be a map of strings"
    elif key.kind == "rate_limit":
        if not isinstance(value, dict):
            return f"[{where}] field [{name}] is not of the expected type [object]"
        rpm = value.get("requests_per_minute")
        if rpm is not None and (not isinstance(rpm, int) or isinstance(rpm, bool) or rpm < 1):
            return (
                f"[{name}] Invalid value [{rpm}]. [requests_per_minute] must be a positive integer"
            )
    elif key.kind == "object" and not isinstance(value, dict):
        return f"[{where}] field [{name}] is not of the expected type [object]"
    return None


def _bad_secret(service: svc.Service, settings: Mapping[str, Any]) -> str | None:
    """The secret the provider would refuse: one that starts with ``bad``."""
    for name in sorted(service.secrets()):
        value = settings.get(name)
        if not isinstance(value, str):
            continue
        if value.startswith("bad"):
            return value
        if name == "service_account_json":
            with contextlib.suppress(ValueError):
                parsed = json.loads(value)
                if isinstance(parsed, dict) and any(
                    isinstance(v, str) and v.startswith("bad") for v in parsed.values()
                ):
                    return value
    return None


def _secret_set(service: svc.Service, given: Mapping[str, Any]) -> list[str]:
    """The complete secret set that ``_update`` needs when it receives ``given``."""
    if service.name == "amazonbedrock":
        return ["access_key", "secret_key"]
    if service.name == "openai" and "client_secret" in given:
        return ["client_secret"]
    return sorted(given)


def _provider_model(stored: dict[str, Any]) -> str:
    service = svc.SERVICES.get(stored["service"])
    key = service.model_key if service is not None else "model_id"
    return str(
        stored["service_settings"].get(key)
        or stored["service_settings"].get("model_id")
        or "unknown"
    )


def _parse_chat_request(body: Any) -> None:
    """UnifiedCompletionRequest's strict parser: unknown fields and missing ones are errors."""
    raw = _compact(body)

    def unknown(name: str, parser: str) -> _StreamError:
        column = raw.find(f'"{name}"') + 1
        return _unified(
            400,
            "x_content_parse_exception",
            f"[1:{column}] [{parser}] unknown field [{name}]",
            "bad_request",
        )

    if not isinstance(body, dict):
        raise _unified(
            400,
            "x_content_parse_exception",
            "[1:1] [UnifiedCompletionRequest] expected an object",
            "bad_request",
        )
    for name in body:
        if name not in svc.STREAM_KEYS:
            raise unknown(name, "UnifiedCompletionRequest")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _unified(
            400,
            "x_content_parse_exception",
            "[1:2] [UnifiedCompletionRequest] failed to parse: Required [messages]",
            "bad_request",
        )
    for message in messages:
        if not isinstance(message, dict):
            raise _unified(
                400,
                "x_content_parse_exception",
                "[1:14] [Message] expected an object",
                "bad_request",
            )
        for name in message:
            if name not in svc.MESSAGE_KEYS:
                raise unknown(name, "Message")
        if not isinstance(message.get("role"), str):
            raise _unified(
                400,
                "x_content_parse_exception",
                "[1:14] [Message] failed to parse: Required [role]",
                "bad_request",
            )


def _words(text: str) -> list[str]:
    parts = re.findall(r"\S+\s*", text)
    return parts or [text]


def _chat_events(plan: StreamPlan, inference_id: str, model: str) -> Iterator[bytes | float | None]:
    chunk_id = f"chatcmpl-{uuid.uuid4().hex[:12]}"

    def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
        data: dict[str, Any] = {
            "id": chunk_id,
            "choices": choices,
            "model": model,
            "object": "chat.completion.chunk",
        }
        if usage is not None:
            data["usage"] = usage
        return _event(_compact(data))

    prompt, completion = plan.usage
    usage = {
        "completion_tokens": completion,
        "prompt_tokens": prompt,
        "total_tokens": prompt + completion,
    }
    if plan.first_token_delay:
        yield float(plan.first_token_delay)
    if plan.mode == "single":
        yield chunk(
            [
                {
                    "delta": {"content": plan.reply, "role": "assistant"},
                    "finish_reason": "stop",
                    "index": 0,
                }
            ],
            usage,
        )
        yield _event("[DONE]")
        return
    yield chunk([{"delta": {"content": "", "role": "assistant"}, "index": 0}])
    if plan.mode == "malformed":
        yield f'{BOM}event: message\ndata: {{"id":"{chunk_id}","choices":[{{"delta"\n\n'.encode()
    if plan.mode == "tool_call":
        call = {
            "index": 0,
            "id": "call_1",
            "function": {"arguments": "{}", "name": "ping"},
            "type": "function",
        }
        yield chunk([{"delta": {"tool_calls": [call]}, "finish_reason": "tool_calls", "index": 0}])
    else:
        words = _words(plan.reply)
        if plan.mode in ("mid_error", "cut", "never_end"):
            words = words[: max(1, len(words) // 2)]
        for position, word in enumerate(words):
            if position and plan.chunk_delay:
                yield float(plan.chunk_delay)
            last = position == len(words) - 1 and plan.mode not in ("mid_error", "cut", "never_end")
            choice: dict[str, Any] = {"delta": {"content": word}, "index": 0}
            if last:
                choice["finish_reason"] = "length" if plan.mode == "length" else "stop"
            yield chunk([choice])
    if plan.mode == "mid_error":
        error = {
            "error": {
                "code": plan.error_code,
                "message": f"Received an error response for request from inference entity id "
                f"[{inference_id}]. Error message: [{plan.error_message}]",
                "type": plan.error_type,
            }
        }
        yield _event(_compact(error), "error")
        return
    if plan.mode == "cut":
        return
    if plan.mode == "never_end":
        yield None
        return
    if plan.mode != "no_usage":
        yield chunk([], usage)
    yield _event("[DONE]")


def _completion_events(plan: StreamPlan) -> Iterator[bytes | float | None]:
    if plan.first_token_delay:
        yield float(plan.first_token_delay)
    for word in _words(plan.reply):
        yield _event(_compact({"completion": [{"delta": word}]}))
    yield _event("[DONE]")


def _index_name_problem(name: str) -> str | None:
    """Elasticsearch's index / data stream name rules (MetadataCreateIndexService)."""
    if name != name.lower():
        return "must be lowercase"
    bad = [char for char in '\\/*?"<>| ,#:' if char in name]
    if bad:
        return f"must not contain the following characters [{', '.join(bad)}]"
    if name[0] in "-_+":
        return "must not start with '_', '-', or '+'"
    if name in (".", ".."):
        return "must not be '.' or '..'"
    if len(name.encode()) > 255:
        return "index name is too long, (" + str(len(name.encode())) + " > 255)"
    return None
