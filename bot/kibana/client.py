"""The one typed client for Kibana's connectors API."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter, ValidationError

from bot.domain.backends import StackVersion
from bot.kibana.errors import (
    KibanaAuthError,
    KibanaConflictError,
    KibanaError,
    KibanaNotFoundError,
    KibanaRequestError,
    KibanaUnavailableError,
)
from bot.kibana.models import (
    Connector,
    ConnectorType,
    CreateConnector,
    ExecuteResult,
    KibanaStatus,
    Space,
    UpdateConnector,
)

log = logging.getLogger(__name__)

_CONNECTORS = TypeAdapter(list[Connector])
_TYPES = TypeAdapter(list[ConnectorType])
_SPACES = TypeAdapter(list[Space])


def make_http_client(base_url: str, api_key: str, *, timeout: float) -> httpx.Client:
    """An httpx client with Kibana's headers; the key lives only in this client's headers."""
    return httpx.Client(
        base_url=base_url,
        timeout=httpx.Timeout(min(10.0, timeout), read=timeout),
        headers={
            "Authorization": f"ApiKey {api_key}",
            "kbn-xsrf": "true",
            "elastic-api-version": "2023-10-31",
        },
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
        follow_redirects=False,
    )


def space_prefix(space_id: str) -> str:
    return "" if space_id == "default" else f"/s/{quote(space_id, safe='')}"


class KibanaClient:
    """Calls Kibana's connectors API and maps failures to the KibanaError tree.

    httpx's timeouts bound each phase (connect, each read…), not the whole call. With
    ``deadline`` every call also ends, as KibanaUnavailableError, after that many seconds of
    wall-clock time in all: it runs on a small pool of the client's own and a late answer is
    abandoned (its thread is freed by the httpx timeouts). For calls made while Slack waits.
    """

    def __init__(self, http: httpx.Client, *, deadline: float | None = None) -> None:
        self._http = http
        self._deadline = deadline
        self._pool = (
            ThreadPoolExecutor(max_workers=8, thread_name_prefix="kibana-deadline")
            if deadline is not None
            else None
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def create_connector(
        self, space_id: str, connector_id: str, body: CreateConnector
    ) -> Connector:
        path = f"{space_prefix(space_id)}/api/actions/connector/{quote(connector_id, safe='')}"
        return Connector.model_validate(self._call("POST", path, json=body.model_dump()))

    def get_connector(self, space_id: str, connector_id: str) -> Connector:
        path = f"{space_prefix(space_id)}/api/actions/connector/{quote(connector_id, safe='')}"
        return Connector.model_validate(self._call("GET", path))

    def update_connector(
        self, space_id: str, connector_id: str, body: UpdateConnector
    ) -> Connector:
        """Replace name, config and secrets (``PUT``); 400 for a preconfigured connector, 404
        when there is none with that id."""
        path = f"{space_prefix(space_id)}/api/actions/connector/{quote(connector_id, safe='')}"
        return Connector.model_validate(self._call("PUT", path, json=body.model_dump()))

    def delete_connector(self, space_id: str, connector_id: str) -> None:
        """Delete (204); 400 for a preconfigured connector, 404 when there is none."""
        path = f"{space_prefix(space_id)}/api/actions/connector/{quote(connector_id, safe='')}"
        self._call("DELETE", path)

    def list_connectors(self, space_id: str) -> list[Connector]:
        return _CONNECTORS.validate_python(
            self._call("GET", f"{space_prefix(space_id)}/api/actions/connectors")
        )

    def list_connector_types(self) -> list[ConnectorType]:
        return _TYPES.validate_python(self._call("GET", "/api/actions/connector_types"))

    def list_spaces(self) -> list[Space]:
        """The spaces the API key may use (GET /api/spaces/space)."""
        return _SPACES.validate_python(self._call("GET", "/api/spaces/space"))

    def execute_connector(
        self, space_id: str, connector_id: str, params: dict[str, Any]
    ) -> ExecuteResult:
        path = (
            f"{space_prefix(space_id)}/api/actions/connector/"
            f"{quote(connector_id, safe='')}/_execute"
        )
        return ExecuteResult.model_validate(self._call("POST", path, json={"params": params}))

    def status(self) -> StackVersion:
        """Kibana's version, or serverless, from GET /api/status.

        Raises:
            KibanaError: Kibana could not be asked, or its answer does not say its version.
        """
        try:
            version = KibanaStatus.model_validate(self._call("GET", "/api/status")).version
        except ValidationError:
            version = None
        if version is None:
            raise KibanaError(
                "Kibana's status does not say its version (it answered as to an anonymous caller)",
                status=200,
            )
        try:
            return StackVersion.parse(version.number, build_flavor=version.build_flavor)
        except ValueError as error:
            raise KibanaError(f"Kibana's status has an unreadable version: {error}") from None

    def _call(self, method: str, path: str, *, json: Any = None) -> Any:
        if self._pool is None or self._deadline is None:
            return self._call_now(method, path, json=json)
        future = self._pool.submit(self._call_now, method, path, json=json)
        try:
            return future.result(timeout=self._deadline)
        except FutureTimeoutError:
            future.cancel()  # not started yet (the pool was busy): never sent
            log.info("kibana %s %s abandoned after %.1f s", method, path, self._deadline)
            raise KibanaUnavailableError(
                f"Kibana did not answer within {self._deadline:g} s"
            ) from None

    def _call_now(self, method: str, path: str, *, json: Any = None) -> Any:
        started = time.monotonic()
        status: int | str = "error"
        try:
            response = self._http.request(method, path, json=json)
            status = response.status_code
        except httpx.TimeoutException as error:
            raise KibanaUnavailableError(
                f"Kibana did not answer in time ({type(error).__name__})"
            ) from None
        except httpx.LocalProtocolError:
            # The request could not even be written (e.g. a header with a line break); the
            # error text would quote the header, so it is not passed on.
            raise KibanaRequestError(
                "The request to Kibana could not be built: check KIBANA_URL and KIBANA_API_KEY "
                "for spaces or line breaks."
            ) from None
        except httpx.TransportError as error:
            raise KibanaUnavailableError(
                f"Kibana could not be reached: {_describe(error)}"
            ) from None
        finally:
            elapsed_ms = round((time.monotonic() - started) * 1000)
            log.info("kibana %s %s -> %s in %d ms", method, path, status, elapsed_ms)
        return _read(response)


def _describe(error: httpx.TransportError) -> str:
    text = str(error) or type(error).__name__
    return text.split("\n", 1)[0][:300]


def _read(response: httpx.Response) -> Any:
    status = response.status_code
    if status < 300:
        try:
            return response.json() if response.content else None
        except ValueError:
            raise KibanaError(
                "Kibana answered with something that is not JSON", status=status
            ) from None
    message = _error_message(response)
    if status == 429 or status >= 500:
        raise KibanaUnavailableError(f"Kibana answered {status}: {message}", status=status)
    if status in {401, 403}:
        raise KibanaAuthError(message, status=status)
    if status == 404:
        raise KibanaNotFoundError(message, status=status)
    if status == 409:
        raise KibanaConflictError(message, status=status)
    raise KibanaRequestError(message, status=status)


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return (response.text or response.reason_phrase or str(response.status_code))[:500]
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return str(body)[:500]
