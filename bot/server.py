"""The HTTP front: Slack on POST /slack/events, readiness on GET /healthz, served by waitress."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress import wasyncore
from waitress.server import create_server

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from waitress.server import BaseWSGIServer, MultiSocketServer

log = logging.getLogger(__name__)
SLACK_PATH = "/slack/events"


def make_wsgi_app(
    app: App | None,
    *,
    ready: Callable[[], bool],
    metrics: Callable[[], str] | None = None,
) -> WSGIApplication:
    """Route Slack's requests to Bolt (HTTP mode; None in Socket Mode), answer health checks
    without calling Slack or Kibana, and serve metrics."""
    slack = SlackRequestHandler(app, path=SLACK_PATH) if app is not None else None

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
        if slack is None:
            return _json(start_response, 404, {"error": "not found"})
        if path == SLACK_PATH and method != "POST":
            return _json(start_response, 405, {"error": "use POST"}, allow="POST")
        return slack(environ, start_response)

    return application


def _json(
    start_response: StartResponse, status: int, body: dict[str, str], *, allow: str | None = None
) -> list[bytes]:
    payload = json.dumps(body).encode()
    reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}[
        status
    ]
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    if allow:
        headers.append(("Allow", allow))
    start_response(f"{status} {reason}", headers)
    return [payload]


def make_server(
    application: WSGIApplication, *, host: str, port: int, threads: int
) -> BaseWSGIServer | MultiSocketServer:
    """A production WSGI server that handles requests on a pool of threads."""
    return create_server(
        application,
        host=host,
        port=port,
        threads=threads,
        ident="connector-bot",
        channel_timeout=30,
        connection_limit=max(100, threads * 4),
        clear_untrusted_proxy_headers=True,
    )


def stop_server(server: BaseWSGIServer | MultiSocketServer) -> None:
    """Make run() return: every channel is closed from inside the server's own loop thread."""
    # waitress has no public stop(); its trigger runs a callable in the loop thread, where
    # closing every channel empties the loop's map and ends it without racing select().
    channels = getattr(server, "_map", None) or getattr(server, "map", None)
    trigger = getattr(server, "trigger", None)
    if trigger is not None:
        trigger.pull_trigger(lambda: wasyncore.close_all(channels))
    else:
        wasyncore.close_all(channels)
    server.task_dispatcher.shutdown(cancel_pending=False, timeout=5)
