"""The HTTP front: Slack on POST /slack/events, readiness on GET /healthz, served by waitress."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import resource
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl

from slack_bolt import App, BoltRequest
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import MultiSocketServer, TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

from bot.slack.error_handler import VERIFIED
from bot.slack.payloads import malformed_reason

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from waitress.server import BaseWSGIServer

log = logging.getLogger(__name__)
SLACK_PATH = "/slack/events"
# Slack's bodies are a few KB; a form with PEM keys is far below this.
MAX_BODY_BYTES = 1024 * 1024
# Slack's own rule: a request signed more than five minutes ago (or ahead) is a replay.
SIGNATURE_WINDOW_SECONDS = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_STATUS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Content Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def signature_problem(
    secret: str, *, timestamp: str | None, signature: str | None, body: bytes, now: float
) -> str | None:
    """Why a request is not Slack's (a fixed phrase, never a header value), or None."""
    if not body:
        return "empty body"
    if timestamp is None:
        return "no timestamp"
    if not _TIMESTAMP.fullmatch(timestamp):
        return "timestamp is not a number of seconds"
    if abs(now - int(timestamp)) > SIGNATURE_WINDOW_SECONDS:
        return "timestamp outside the 5-minute window"
    if signature is None:
        return "no signature"
    if not _SIGNATURE.fullmatch(signature):
        return "signature is not v0= and 64 hex digits"
    expected = hmac.new(
        secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(f"v0={expected}".encode(), signature.encode()):
        return "signature does not match"
    return None


def make_wsgi_app(
    app: App | None,
    *,
    ready: Callable[[], bool],
    metrics: Callable[[], str] | None = None,
    signing_secret: str | None = None,
) -> WSGIApplication:
    """Route Slack's requests to Bolt (HTTP mode; None in Socket Mode), answer health checks
    without calling Slack or Kibana, and serve metrics.

    Every Slack request is verified here before Bolt sees it; without a signing secret every
    one is refused.
    """

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/healthz" and method in {"GET", "HEAD"}:
            ok = ready()
            return _json(
                start_response, 200 if ok else 503, {"status": "ok" if ok else "unavailable"}
            )
        if path == "/metrics" and method == "GET" and metrics is not None:
            payload = metrics().encode()
            start_response(
                "200 OK",
                [
                    ("Content-Type", "text/plain; version=0.0.4"),
                    ("Content-Length", str(len(payload))),
                ],
            )
            return [payload]
        if app is None or path != SLACK_PATH:
            return _json(start_response, 404, {"error": "not found"})
        if method != "POST":
            return _json(start_response, 405, {"error": "use POST"}, allow="POST")
        return _slack(app, signing_secret, environ, start_response)

    return application


def _slack(
    app: App, secret: str | None, environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    """Verify, then check the shape, then let Bolt dispatch: each step can only refuse."""
    length_header = str(environ.get("CONTENT_LENGTH") or "0")
    if not length_header.isascii() or not length_header.isdigit():
        log.info("refused a Slack request: bad Content-Length")
        return _json(start_response, 400, {"error": "bad content length"})
    length = int(length_header)
    if length > MAX_BODY_BYTES:
        log.info("refused a Slack request: body of %d bytes is over the limit", length)
        return _json(start_response, 413, {"error": "body too large"})
    stream = environ.get("wsgi.input")
    body: bytes = stream.read(length) if stream is not None and length else b""
    headers = WsgiHttpRequest(environ).get_headers()
    problem = (
        "no signing secret configured"
        if secret is None
        else signature_problem(
            secret,
            timestamp=_header(headers, "x-slack-request-timestamp"),
            signature=_header(headers, "x-slack-signature"),
            body=body,
            now=time.time(),
        )
    )
    if problem is not None:
        log.info("refused an unverified Slack request: %s", problem)
        return _json(start_response, 401, {"error": "invalid request"})
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        log.info("refused a signed Slack request: body is not UTF-8")
        return _json(start_response, 400, {"error": "malformed request"})
    headers["content-length"] = str(len(body))
    try:
        content_type = str(headers.get("content-type") or "").split(";")[0]
        if content_type != "application/json" and not text.startswith("{"):
            # Bolt reads anything else as a form, turning bad percent-escapes into
            # replacement characters: refuse those instead.
            parse_qsl(text, keep_blank_values=True, errors="strict")
        request = BoltRequest(
            body=text,
            query=str(environ.get("QUERY_STRING", "")),
            headers=headers,
            context={VERIFIED: True},  # what the error handler needs to answer the user
        )
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as error:
        # UnicodeDecodeError is a ValueError
        log.info("refused a signed Slack request: unreadable (%s)", type(error).__name__)
        return _json(start_response, 400, {"error": "malformed request"})
    reason = (
        malformed_reason(request.body) if isinstance(request.body, dict) else "body not an object"
    )
    if reason is not None:
        log.info("refused a signed Slack request: %s", reason)
        return _json(start_response, 400, {"error": "malformed request"})
    try:
        answer = app.dispatch(request)
    except Exception as error:  # noqa: BLE001 - one short line, never the body or a traceback
        log.error("a signed Slack request failed inside Bolt (%s)", type(error).__name__)
        return _json(start_response, 500, {"error": "internal error"})
    response = WsgiHttpResponse(status=answer.status, headers=answer.headers, body=answer.body)
    start_response(response.status, response.get_headers())
    return response.get_body()


def _header(headers: dict[str, Any], name: str) -> str | None:
    value = headers.get(name)
    return value if isinstance(value, str) else None


def _json(
    start_response: StartResponse, status: int, body: dict[str, str], *, allow: str | None = None
) -> list[bytes]:
    payload = json.dumps(body).encode()
    reason = _STATUS[status]
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    if allow:
        headers.append(("Allow", allow))
    start_response(f"{status} {reason}", headers)
    return [payload]


class _DeadlineChannel(HTTPChannel):
    """A connection that must deliver each request whole within the server's deadline.

    waitress only closes connections that have been silent for ``channel_timeout``; a client
    trickling one byte every few seconds would hold its connection forever. The clock starts
    when the connection is accepted, and again at the first byte of each later request, and
    trickled bytes do not reset it.
    """

    started_at: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started_at = time.monotonic()

    def received(self, data: bytes) -> bool:
        if data and self.request is None and self.started_at is None:
            self.started_at = time.monotonic()
        result = super().received(data)
        if self.request is None:  # nothing half-received: the last request was complete
            self.started_at = None
        return result


class _DeadlineServer(TcpWSGIServer):
    channel_class = _DeadlineChannel
    request_deadline = 10.0

    def maintenance(self, now: int) -> None:  # waitress passes time.time(), a float
        super().maintenance(now)
        cutoff = time.monotonic() - self.request_deadline
        # The stubs type active_channels as one channel; it is a dict of them.
        channels = cast("dict[int, HTTPChannel]", self.active_channels)
        for channel in list(channels.values()):
            started = getattr(channel, "started_at", None)
            if started is not None and started < cutoff and not channel.requests:
                channel.will_close = True


def make_server(
    application: WSGIApplication,
    *,
    host: str,
    port: int,
    threads: int,
    request_deadline: float = 10.0,
    connection_limit: int = 4000,
) -> BaseWSGIServer | MultiSocketServer:
    """A production WSGI server that handles requests on a pool of threads.

    A client has ``request_deadline`` seconds to send a whole request (headers and body);
    idle and slow connections are closed, and the connection limit is far above what
    stalled clients could hold, with poll() instead of select() (no FD_SETSIZE ceiling).
    """
    limit = _fit_open_file_limit(connection_limit)
    adj = Adjustments(
        host=host,
        port=port,
        threads=threads,
        ident="connector-bot",
        channel_timeout=30,
        cleanup_interval=1,
        connection_limit=limit,
        asyncore_use_poll=True,
        max_request_header_size=64 * 1024,
        max_request_body_size=MAX_BODY_BYTES,
        clear_untrusted_proxy_headers=True,
    )
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(threads)
    socket_map: dict[int, Any] = {}
    servers: list[Any] = []  # the stubs lack effective_host/effective_port
    for sockinfo in cast("list[tuple[int, int, int | None, Any]]", adj.listen):
        server = _DeadlineServer(
            application, socket_map, dispatcher=dispatcher, adj=adj, sockinfo=sockinfo
        )
        server.request_deadline = request_deadline
        servers.append(server)
    if len(servers) == 1:
        return cast("BaseWSGIServer", servers[0])
    return MultiSocketServer(
        socket_map,
        adj=adj,
        effective_listen=[(s.effective_host, s.effective_port) for s in servers],
        dispatcher=dispatcher,
        log_info=servers[-1].log_info,
    )


# File descriptors kept for everything but client connections: database, Slack, Kibana, logs.
_SPARE_FILES = 200


def _fit_open_file_limit(connection_limit: int) -> int:
    """Raise the soft RLIMIT_NOFILE toward the hard one so the connection limit fits in it;
    return the connection limit that fits."""
    wanted = connection_limit + _SPARE_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            log.warning("could not raise the open-file limit from %d", soft)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        fitted = max(64, soft - _SPARE_FILES)
        log.warning(
            "open-file limit %d allows only %d HTTP connections (wanted %d); raise ulimit -n",
            soft,
            fitted,
            connection_limit,
        )
        return fitted
    return connection_limit


def stop_server(server: BaseWSGIServer | MultiSocketServer) -> None:
    """Make run() return: every channel is closed from inside the server's own loop thread."""
    # waitress has no public stop(); its trigger runs a callable in the loop thread, where
    # closing every channel empties the loop's map and ends it without racing select().
    channels = getattr(server, "_map", None) or getattr(server, "map", None)
    trigger = getattr(server, "trigger", None)
    try:
        if trigger is None:
            raise OSError("no trigger")
        trigger.pull_trigger(lambda: wasyncore.close_all(channels))
    except OSError:
        # The trigger is already closed (the loop ended, or its pipe was lost): close from here.
        log.warning("the HTTP server's wake-up pipe was closed; closing its connections directly")
        wasyncore.close_all(channels, ignore_all=True)
    server.task_dispatcher.shutdown(cancel_pending=False, timeout=5)
