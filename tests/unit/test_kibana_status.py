"""KibanaClient.status(): Kibana's version and build flavour, read from GET /api/status."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.domain.backends import StackVersion
from bot.kibana.client import KibanaClient, make_http_client
from bot.kibana.errors import KibanaAuthError, KibanaError, KibanaUnavailableError
from tests.fakes.kibana import FakeKibana

KEY = "status-test-key"


@pytest.fixture
def fake() -> Iterator[FakeKibana]:
    with FakeKibana(api_key=KEY) as kibana:
        yield kibana


def _client(url: str, *, key: str = KEY, deadline: float | None = None) -> KibanaClient:
    return KibanaClient(make_http_client(url, key, timeout=5.0), deadline=deadline)


def _answering(body: Any) -> KibanaClient:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/status"
        return httpx.Response(
            200, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
        )

    return KibanaClient(
        httpx.Client(base_url="http://kibana.test", transport=httpx.MockTransport(handler))
    )


@pytest.mark.parametrize(
    ("version", "flavor", "expected"),
    [
        ("9.4.0", "traditional", StackVersion(9, 4, 0)),
        ("9.4.0-SNAPSHOT", "traditional", StackVersion(9, 4, 0, "SNAPSHOT")),
        ("8.19.3", "traditional", StackVersion(8, 19, 3)),
        ("9.3.4", "traditional", StackVersion(9, 3, 4)),
        ("9.2.0", "serverless", StackVersion(serverless=True)),
    ],
)
def test_status_reads_the_version_over_http(
    fake: FakeKibana, version: str, flavor: str, expected: StackVersion
) -> None:
    fake.version, fake.build_flavor = version, flavor
    client = _client(fake.url)
    try:
        assert client.status() == expected
    finally:
        client.close()
    [request] = fake.requests_to("GET", "/api/status")
    assert request.status == 200
    assert request.headers["authorization"] == f"ApiKey {KEY}"


def test_status_of_a_kibana_without_build_flavor_is_traditional() -> None:
    # 7.x answers without build_flavor.
    client = _answering({"name": "k", "version": {"number": "7.17.9", "build_snapshot": False}})
    assert client.status() == StackVersion(7, 17, 9)


def test_a_redacted_status_is_an_error(fake: FakeKibana) -> None:
    fake.status_redacted = True
    client = _client(fake.url)
    try:
        with pytest.raises(KibanaError, match="does not say its version"):
            client.status()
    finally:
        client.close()


@pytest.mark.parametrize(
    "body",
    [
        {"version": {"number": "banana", "build_flavor": "traditional"}},
        {"version": {"build_flavor": "traditional"}},
        {"version": "9.4.0"},
        [],
        None,
    ],
)
def test_an_unreadable_status_is_an_error(body: Any) -> None:
    with pytest.raises(KibanaError) as caught:
        _answering(body).status()
    assert "version" in caught.value.message
    assert not isinstance(caught.value, KibanaUnavailableError)


def test_a_rejected_key_is_an_auth_error(fake: FakeKibana) -> None:
    client = _client(fake.url, key="wrong-key")
    try:
        with pytest.raises(KibanaAuthError):
            client.status()
    finally:
        client.close()


def test_status_with_a_deadline_ends_in_time(fake: FakeKibana) -> None:
    fake.set_delay(3.0, method="GET", path_contains="/api/status")
    client = _client(fake.url, deadline=0.6)
    try:
        started = time.monotonic()
        with pytest.raises(KibanaUnavailableError, match=r"within 0\.6 s"):
            client.status()
        assert time.monotonic() - started < 1.5
    finally:
        client.close()
