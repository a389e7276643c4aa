"""The one typed client for Elasticsearch's inference API."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from bot.elasticsearch.errors import (
    ElasticsearchAuthError,
    ElasticsearchConflictError,
    ElasticsearchError,
    ElasticsearchNotFoundError,
    ElasticsearchRequestError,
    ElasticsearchUnavailableError,
    ProviderRejectedError,
)
from bot.elasticsearch.models import (
    SECRET_KEYS,
    ChatChunk,
    ClusterInfo,
    DeleteResult,
    EndpointList,
    InferenceEndpoint,
    PutEndpoint,
    StreamTestResult,
    TokenUsage,
    UpdateEndpoint,
)
from bot.elasticsearch.sse import SSEError, SSEParser

log = logging.getLogger(__name__)

_CREATE_FAILED = "Could not complete inference endpoint creation"
_PRODUCT = "x-elastic-product"


def make_http_client(base_url: str, api_key: str, *, timeout: float) -> httpx.Client:
    """An httpx client with Elasticsearch's headers; the key lives only in its headers."""
    return httpx.Client(
        base_url=base_url,
        timeout=httpx.Timeout(min(10.0, timeout), read=timeout),
        headers={"Authorization": f"ApiKey {api_key}", "Accept": "application/json"},
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=5),
        follow_redirects=False,
    )


def _path(task: str | None, inference_id: str | None = None, suffix: str = "") -> str:
    parts = ["/_inference"]
    if task is not None:
        parts.append(quote(task, safe=""))
    if inference_id is not None:
        parts.append(quote(inference_id, safe=""))
    if suffix:
        parts.append(suffix)
    return "/".join(parts)


class ElasticsearchClient:
    """Calls the inference API and maps failures to the ElasticsearchError tree.

    ``put_timeout`` is sent as PUT's ``?timeout=`` (it bounds Elasticsearch's call to the
    provider) and the HTTP read timeout of that call is set above it. ``reply_limit`` bounds
    the reply a streamed test keeps.
    """

    def __init__(
        self, http: httpx.Client, *, put_timeout: float = 90.0, reply_limit: int = 500
    ) -> None:
        self._http = http
        self._put_timeout = put_timeout
        self._reply_limit = reply_limit

    def close(self) -> None:
        self._http.close()

    def info(self) -> ClusterInfo:
        """``GET /``: the version number and build flavour (serverless or not)."""
        return ClusterInfo.model_validate(self._call("GET", "/"))

    def get_endpoint(self, task: str, inference_id: str) -> InferenceEndpoint:
        """One endpoint; ElasticsearchNotFoundError when there is none with that id."""
        found = EndpointList.model_validate(self._call("GET", _path(task, inference_id)))
        if len(found.endpoints) != 1:
            raise ElasticsearchError(
                f"Elasticsearch returned {len(found.endpoints)} endpoints for one id"
            )
        return found.endpoints[0]

    def list_endpoints(self, task: str | None = None) -> list[InferenceEndpoint]:
        """Every endpoint (of one task type), Elastic's preconfigured ones included."""
        path = _path(task, "_all") if task is not None else "/_inference/_all"
        return EndpointList.model_validate(self._call("GET", path)).endpoints

    def put_endpoint(self, task: str, inference_id: str, body: PutEndpoint) -> InferenceEndpoint:
        """Create an endpoint; Elasticsearch calls the provider first (ProviderRejectedError)."""
        timeout = httpx.Timeout(10.0, read=self._put_timeout + 15.0)
        data = self._call(
            "PUT",
            _path(task, inference_id),
            json=body.body(),
            params={"timeout": f"{math.ceil(self._put_timeout)}s"},
            timeout=timeout,
            secrets=_secret_values(body.service_settings),
        )
        return InferenceEndpoint.model_validate(data)

    def update_endpoint(
        self, task: str, inference_id: str, body: UpdateEndpoint
    ) -> InferenceEndpoint:
        """Change secrets or task settings (``PUT …/_update``)."""
        timeout = httpx.Timeout(10.0, read=self._put_timeout + 15.0)
        data = self._call(
            "PUT",
            _path(task, inference_id, "_update"),
            json=body.body(),
            timeout=timeout,
            secrets=_secret_values(body.service_settings or {}),
        )
        return InferenceEndpoint.model_validate(data)

    def delete_endpoint(
        self, task: str, inference_id: str, *, force: bool = False, dry_run: bool = False
    ) -> DeleteResult:
        """Delete an endpoint (cluster-wide); ElasticsearchConflictError when still used."""
        params = {k: "true" for k, on in (("force", force), ("dry_run", dry_run)) if on}
        data = self._call("DELETE", _path(task, inference_id), params=params)
        return DeleteResult.model_validate(data)

    def create_document(self, index: str, document: dict[str, Any]) -> str:
        """Add a document to ``index`` (a data stream takes only ``op_type=create`` and needs
        ``@timestamp``); returns the id Elasticsearch gave it."""
        data = self._call(
            "POST", f"/{quote(index, safe='')}/_doc", json=document, params={"op_type": "create"}
        )
        return str(data.get("_id", "")) if isinstance(data, dict) else ""

    # ------------------------------------------------------------------ calls

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
        secrets: tuple[str, ...] = (),
    ) -> Any:
        started = time.monotonic()
        status: int | str = "error"
        try:
            extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
            response = self._http.request(method, path, json=json, params=params, **extra)
            status = response.status_code
            return _read(response)
        except ElasticsearchError as error:
            raise _scrubbed(error, secrets) from None
        except httpx.TimeoutException as error:
            raise ElasticsearchUnavailableError(
                f"Elasticsearch did not answer in time ({type(error).__name__})"
            ) from None
        except httpx.LocalProtocolError:
            raise _unbuildable() from None
        except httpx.TransportError as error:
            raise ElasticsearchUnavailableError(
                f"Elasticsearch could not be reached: {_describe(error)}"
            ) from None
        finally:
            elapsed_ms = round((time.monotonic() - started) * 1000)
            log.info("elasticsearch %s %s -> %s in %d ms", method, path, status, elapsed_ms)

    # ------------------------------------------------------------------ the streamed test

    def stream_test(
        self,
        inference_id: str,
        message: str,
        *,
        deadline: float,
        max_completion_tokens: int | None = 64,
    ) -> StreamTestResult:
        """Chat once through ``_stream`` and read the events to ``[DONE]`` within ``deadline``.

        A failure of the model (the provider's error before the stream, an error event, a
        stream cut short, malformed events, the deadline) is a result with ``ok=False``.
        Elasticsearch refusing the call itself (its own 4xx), or being unreachable, raises
        the ElasticsearchError tree as the other calls do.
        """
        body: dict[str, Any] = {"messages": [{"role": "user", "content": message}]}
        if max_completion_tokens is not None:
            body["max_completion_tokens"] = max_completion_tokens
        state = _StreamState(started=time.monotonic(), limit=self._reply_limit)
        done = threading.Event()
        outcome: list[StreamTestResult | BaseException] = []

        def run() -> None:
            try:
                outcome.append(self._read_stream(inference_id, body, state, deadline))
            except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
                outcome.append(error)
            finally:
                done.set()

        # The reading runs on a thread of its own so that the deadline is wall-clock time in
        # all, however the server trickles; after it the read is abandoned and the thread
        # ends at its next chunk or at the HTTP read timeout (just over the deadline).
        threading.Thread(target=run, name="es-stream-test", daemon=True).start()
        if not done.wait(deadline):
            state.abandon()
            log.info("elasticsearch stream %s abandoned after %.1f s", inference_id, deadline)
            return state.result(
                error=f"The stream did not end within {deadline:g} s", deadline_hit=True
            )
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def _read_stream(
        self, inference_id: str, body: dict[str, Any], state: _StreamState, deadline: float
    ) -> StreamTestResult:
        path = _path("chat_completion", inference_id, "_stream")
        # A little over the deadline, so that the caller's wait always ends first.
        limit = deadline + 1.0
        timeout = httpx.Timeout(min(10.0, limit), read=limit, write=limit, pool=limit)
        status: int | str = "error"
        try:
            with self._http.stream(
                "POST",
                path,
                json=body,
                params={"timeout": f"{math.ceil(deadline)}s"},
                headers={"Accept": "text/event-stream"},
                timeout=timeout,
            ) as response:
                status = response.status_code
                return self._events(response, state)
        except httpx.TimeoutException as error:
            if state.started_streaming:
                return state.result(error=f"The stream stalled ({type(error).__name__})")
            raise ElasticsearchUnavailableError(
                f"Elasticsearch did not answer in time ({type(error).__name__})"
            ) from None
        except httpx.LocalProtocolError:
            raise _unbuildable() from None
        except httpx.TransportError as error:
            if state.started_streaming:
                return state.result(error=f"The stream was cut short: {_describe(error)}")
            raise ElasticsearchUnavailableError(
                f"Elasticsearch could not be reached: {_describe(error)}"
            ) from None
        finally:
            elapsed_ms = round((time.monotonic() - state.started) * 1000)
            log.info("elasticsearch POST %s -> %s in %d ms", path, status, elapsed_ms)

    def _events(self, response: httpx.Response, state: _StreamState) -> StreamTestResult:
        status = response.status_code
        is_stream = response.headers.get("content-type", "").startswith("text/event-stream")
        if status >= 400:
            return _stream_failure(response, is_stream)
        if not is_stream:
            response.read()
            return state.result(
                error="Elasticsearch did not answer with a stream "
                f"(content type {response.headers.get('content-type', 'none')!r})",
                status=status,
            )
        state.started_streaming = True
        parser = SSEParser()
        try:
            for data in response.iter_bytes():
                if state.abandoned:
                    return state.result(error="abandoned")
                for event in parser.feed(data):
                    ended = state.take(event.event, event.data)
                    if ended is not None:
                        return ended
        except SSEError as error:
            return state.result(error=f"Malformed stream: {error}")
        return state.result(error="The stream ended without its end marker ([DONE])")


@dataclass
class _StreamState:
    """What the stream said so far; read by the caller's thread when the deadline passes."""

    started: float
    limit: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    parts: list[str] = field(default_factory=list)
    length: int = 0
    model: str | None = None
    usage: TokenUsage | None = None
    finish_reason: str | None = None
    first_token_at: float | None = None
    tool_call: bool = False
    started_streaming: bool = False
    abandoned: bool = False

    def abandon(self) -> None:
        with self.lock:
            self.abandoned = True

    def take(self, name: str, data: str) -> StreamTestResult | None:
        """Account for one event; a result when the stream ends with it."""
        if data == "[DONE]":
            with self.lock:
                answered = self.length > 0 or self.tool_call
            if answered:
                return self.result(ok=True)
            return self.result(error="The model's stream ended without any reply")
        try:
            payload = json.loads(data)
        except ValueError:
            return self.result(error=f"Malformed event (not JSON): {data[:120]!r}")
        if isinstance(payload, dict) and ("error" in payload or name == "error"):
            message, code = _error_text(payload)
            return self.result(error=message, error_code=code)
        if name == "error":
            return self.result(error=f"Error event: {data[:300]}")
        if isinstance(payload, dict) and set(payload) == {"chat_completion"}:
            payload = payload["chat_completion"]  # the spec's example wraps chunks; ES does not
        try:
            chunk = ChatChunk.model_validate(payload)
        except ValidationError:
            return self.result(error=f"Malformed event (not a chat chunk): {data[:120]!r}")
        self._add(chunk)
        return None

    def _add(self, chunk: ChatChunk) -> None:
        now = time.monotonic()
        with self.lock:
            if chunk.model:
                self.model = chunk.model
            if chunk.usage is not None:
                u = chunk.usage
                self.usage = TokenUsage(u.prompt_tokens, u.completion_tokens, u.total_tokens)
            for choice in chunk.choices:
                if choice.index != 0:
                    continue
                if choice.finish_reason:
                    self.finish_reason = choice.finish_reason
                content = choice.delta.content or ""
                if content or choice.delta.tool_calls:
                    if self.first_token_at is None:
                        self.first_token_at = now
                    self.tool_call = self.tool_call or bool(choice.delta.tool_calls)
                if content and self.length < self.limit:
                    piece = content[: self.limit - self.length]
                    self.parts.append(piece)
                    self.length += len(piece)

    def result(
        self,
        *,
        ok: bool = False,
        error: str | None = None,
        error_code: str | None = None,
        status: int | None = None,
        deadline_hit: bool = False,
    ) -> StreamTestResult:
        now = time.monotonic()
        with self.lock:
            return StreamTestResult(
                ok=ok,
                model=self.model,
                reply="".join(self.parts),
                usage=self.usage,
                finish_reason=self.finish_reason,
                time_to_first_token=(
                    None if self.first_token_at is None else self.first_token_at - self.started
                ),
                total_time=now - self.started,
                error=error,
                error_code=error_code,
                status=status,
                deadline_hit=deadline_hit,
            )


def _stream_failure(response: httpx.Response, is_stream: bool) -> StreamTestResult:
    """An HTTP error before the stream: the provider's failure, or ES refusing (raised)."""
    status = response.status_code
    raw = response.read()[:65536]
    payload: Any = None
    if is_stream:
        parser = SSEParser()
        try:
            events = list(parser.feed(raw)) + list(parser.feed(b"\n\n"))
        except SSEError:
            events = []
        for event in events:
            try:
                payload = json.loads(event.data)
            except ValueError:
                continue
            break
    else:
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if (
        isinstance(error, dict)
        and "status" not in payload
        and "root_cause" not in error
        and not str(error.get("type", "")).endswith("_exception")
        and status != 429
        and status < 500
    ):
        message, code = _error_text(payload)
        return StreamTestResult(
            ok=False,
            model=None,
            reply="",
            usage=None,
            finish_reason=None,
            time_to_first_token=None,
            total_time=response.elapsed.total_seconds(),
            error=message,
            error_code=code,
            status=status,
        )
    raise _error_for(status, payload, raw)


def _error_text(payload: dict[str, Any]) -> tuple[str, str | None]:
    error = payload.get("error")
    if isinstance(error, dict):
        message = error.get("message") or error.get("reason") or json.dumps(error)[:500]
        code = error.get("code") or error.get("type")
        return str(message), None if code is None else str(code)
    return str(error or payload)[:500], None


def _read(response: httpx.Response) -> Any:
    status = response.status_code
    if status < 300:
        if _PRODUCT not in response.headers:
            raise ElasticsearchRequestError(
                "The server did not say it is Elasticsearch (no X-elastic-product header): "
                "check ELASTICSEARCH_URL",
                status=status,
            )
        try:
            return response.json() if response.content else None
        except ValueError:
            raise ElasticsearchError(
                "Elasticsearch answered with something that is not JSON", status=status
            ) from None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    raise _error_for(status, payload, response.content)


def _error_for(status: int, payload: Any, raw: bytes) -> ElasticsearchError:
    """The error of the tree for an answer of Elasticsearch's."""
    error_type: str | None = None
    reason: str | None = None
    root_causes: tuple[str, ...] = ()
    cause = ""
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        error_type = _text(error.get("type"))
        reason = _text(error.get("reason")) or _text(error.get("message"))
        roots = error.get("root_cause")
        if isinstance(roots, list):
            root_causes = tuple(
                f"{r.get('type')}: {r.get('reason')}" for r in roots if isinstance(r, dict)
            )
        caused = error.get("caused_by")
        if isinstance(caused, dict):
            cause = _text(caused.get("reason")) or ""
        elif isinstance(roots, list) and roots and isinstance(roots[0], dict):
            cause = _text(roots[0].get("reason")) or ""
    elif isinstance(error, str):
        reason = error
    message = reason or raw.decode("utf-8", "replace")[:500] or f"HTTP {status}"
    if reason is not None and reason.startswith(_CREATE_FAILED) and status == 400:
        return ProviderRejectedError(
            f"{message} {cause}".strip(),
            status=status,
            error_type=error_type,
            reason=reason,
            root_causes=root_causes,
            cause=cause,
        )
    kind: type[ElasticsearchError] = ElasticsearchRequestError
    if status == 429 or status >= 500:
        kind = ElasticsearchUnavailableError
        message = f"Elasticsearch answered {status}: {message}"
    elif status in (401, 403):
        kind = ElasticsearchAuthError
    elif status == 404:
        kind = ElasticsearchNotFoundError
    elif status == 409 or error_type == "resource_already_exists_exception":
        kind = ElasticsearchConflictError
    return kind(
        message, status=status, error_type=error_type, reason=reason, root_causes=root_causes
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _secret_values(settings: dict[str, Any]) -> tuple[str, ...]:
    return tuple(v for k, v in settings.items() if k in SECRET_KEYS and isinstance(v, str) and v)


def _scrubbed(error: ElasticsearchError, secrets: tuple[str, ...]) -> ElasticsearchError:
    """Elasticsearch may quote a setting back (an unknown key with its value): hide secrets."""
    if not secrets:
        return error

    def clean(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "[secret]")
        return text

    error.message = clean(error.message)
    error.args = (error.message,)
    if error.reason is not None:
        error.reason = clean(error.reason)
    error.root_causes = tuple(clean(r) for r in error.root_causes)
    if isinstance(error, ProviderRejectedError):
        error.provider_message = clean(error.provider_message)
    return error


def _unbuildable() -> ElasticsearchRequestError:
    # The request could not even be written (e.g. a header with a line break); httpx's text
    # would quote the header, so it is not passed on.
    return ElasticsearchRequestError(
        "The request to Elasticsearch could not be built: check ELASTICSEARCH_URL and "
        "ELASTICSEARCH_API_KEY for spaces or line breaks."
    )


def _describe(error: httpx.TransportError) -> str:
    text = str(error) or type(error).__name__
    return text.split("\n", 1)[0][:300]
