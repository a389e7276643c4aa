"""The back-end choice asked of the fake Kibana over HTTP, under the quick client's deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from bot.deps import TtlValue
from bot.domain.backends import Backend, BackendSetting, StackVersion
from bot.kibana.client import KibanaClient, make_http_client
from bot.runtime import KIBANA_QUICK_DEADLINE_SECONDS
from bot.services.stack import CHOICE_TTL_SECONDS, choose_provisioning_backend
from tests.fakes.kibana import FakeKibana
from tests.harness import wait_until

KEY = "stack-test-key"
AUTO = BackendSetting.AUTO


@pytest.fixture
def fake() -> Iterator[FakeKibana]:
    with FakeKibana(api_key=KEY, version="9.5.1") as kibana:
        yield kibana


@pytest.fixture
def quick(fake: FakeKibana) -> Iterator[KibanaClient]:
    """Built as bot/runtime.py builds kibana_quick."""
    client = KibanaClient(
        make_http_client(fake.url, KEY, timeout=1.5), deadline=KIBANA_QUICK_DEADLINE_SECONDS
    )
    yield client
    client.close()


class Elasticsearch:
    """Stands in for the Elasticsearch client's GET /: a version, a failure or a stall."""

    def __init__(self, version: str | None = "9.5.1", *, flavor: str = "default") -> None:
        self.version = version
        self.flavor = flavor
        self.calls = 0
        self.error: Exception | None = None
        self.before: threading.Event | None = None  # wait for this (at most 5 s) first

    def __call__(self) -> StackVersion:
        self.calls += 1
        if self.before is not None:
            self.before.wait(5)
        if self.error is not None:
            raise self.error
        return StackVersion.parse(self.version, build_flavor=self.flavor)


def _status_requests(fake: FakeKibana) -> int:
    return len(fake.requests_to("GET", "/api/status"))


def test_without_elasticsearch_kibana_is_not_asked(fake: FakeKibana, quick: KibanaClient) -> None:
    for setting in BackendSetting:
        if setting is BackendSetting.INFERENCE:
            continue  # refused at start without ELASTICSEARCH_URL
        choice = choose_provisioning_backend(
            quick, setting=setting, elasticsearch=None, cache=TtlValue(CHOICE_TTL_SECONDS)
        )
        assert choice.backend is Backend.CONNECTOR
    assert fake.requests == []


def test_forced_connectors_ask_nothing(fake: FakeKibana, quick: KibanaClient) -> None:
    es = Elasticsearch()
    choice = choose_provisioning_backend(
        quick, setting=BackendSetting.CONNECTOR, elasticsearch=es, cache=TtlValue(300)
    )
    assert choice.backend is Backend.CONNECTOR
    assert choice.reason == "forced by PROVISION_BACKEND=connector"
    assert fake.requests == []
    assert es.calls == 0


@pytest.mark.parametrize(
    ("kibana_version", "flavor", "es_version", "es_flavor", "backend", "said"),
    [
        ("9.5.1", "traditional", "9.5.1", "default", Backend.INFERENCE, "Kibana 9.5.1 with"),
        ("9.4.0-SNAPSHOT", "traditional", "9.4.0-SNAPSHOT", "default", Backend.INFERENCE, "9.4"),
        ("9.3.4", "traditional", "9.3.4", "default", Backend.CONNECTOR, "need 9.4+"),
        ("8.19.3", "traditional", "8.19.3", "default", Backend.CONNECTOR, "Kibana 8.19.3:"),
        ("9.2.0", "serverless", "8.11.0", "serverless", Backend.INFERENCE, "serverless"),
        ("9.5.1", "traditional", "9.3.2", "default", Backend.CONNECTOR, "going by the lower"),
    ],
)
def test_the_choice_follows_what_the_stack_reports(
    fake: FakeKibana,
    quick: KibanaClient,
    kibana_version: str,
    flavor: str,
    es_version: str,
    es_flavor: str,
    backend: Backend,
    said: str,
) -> None:
    fake.version, fake.build_flavor = kibana_version, flavor
    choice = choose_provisioning_backend(
        quick,
        setting=AUTO,
        elasticsearch=Elasticsearch(es_version, flavor=es_flavor),
        cache=TtlValue(300),
    )
    assert choice.backend is backend, choice
    assert said in choice.reason
    [request] = fake.requests_to("GET", "/api/status")
    assert request.status == 200


def test_the_choice_is_remembered(fake: FakeKibana, quick: KibanaClient) -> None:
    es = Elasticsearch()
    cache = TtlValue(CHOICE_TTL_SECONDS)
    first = choose_provisioning_backend(quick, setting=AUTO, elasticsearch=es, cache=cache)
    fake.version = "9.3.0"  # not seen until the memory ends
    again = choose_provisioning_backend(quick, setting=AUTO, elasticsearch=es, cache=cache)
    assert first == again
    assert first.backend is Backend.INFERENCE
    assert (_status_requests(fake), es.calls) == (1, 1)
    # A memory of no time at all asks every time: what the cache above saved.
    fresh = choose_provisioning_backend(quick, setting=AUTO, elasticsearch=es, cache=TtlValue(0))
    assert fresh.backend is Backend.CONNECTOR
    assert (_status_requests(fake), es.calls) == (2, 2)


def test_a_remembered_choice_is_not_used_for_another_setting(
    fake: FakeKibana, quick: KibanaClient
) -> None:
    fake.version = "9.3.0"
    es = Elasticsearch("9.3.0")
    cache = TtlValue(300)
    auto = choose_provisioning_backend(quick, setting=AUTO, elasticsearch=es, cache=cache)
    forced = choose_provisioning_backend(
        quick, setting=BackendSetting.INFERENCE, elasticsearch=es, cache=cache
    )
    assert auto.backend is Backend.CONNECTOR
    assert forced.backend is Backend.INFERENCE
    assert "only from 9.4+" in forced.reason
    assert _status_requests(fake) == 2


def test_a_slow_kibana_is_given_up_at_the_deadline_and_not_remembered(
    fake: FakeKibana, quick: KibanaClient
) -> None:
    fake.set_delay(1.5, method="GET", path_contains="/api/status")
    cache = TtlValue(300)
    started = time.monotonic()
    choice = choose_provisioning_backend(
        quick, setting=AUTO, elasticsearch=Elasticsearch(), cache=cache
    )
    elapsed = time.monotonic() - started
    assert choice.backend is Backend.CONNECTOR
    assert choice.reason == "stack version unknown (Kibana did not answer): connectors"
    assert elapsed < 1.5, elapsed  # Slack gives 3 s for the whole answer
    fake.set_delay(0, method="GET", path_contains="/api/status")
    wait_until(lambda: not fake.requests_in_flight(), timeout=10, what="the slow status ends")
    later = choose_provisioning_backend(
        quick, setting=AUTO, elasticsearch=Elasticsearch(), cache=cache
    )
    assert later.backend is Backend.INFERENCE


def test_a_rejected_kibana_key_means_unknown(fake: FakeKibana) -> None:
    client = KibanaClient(make_http_client(fake.url, "wrong", timeout=1.5), deadline=0.6)
    try:
        choice = choose_provisioning_backend(
            client, setting=AUTO, elasticsearch=Elasticsearch(), cache=TtlValue(300)
        )
    finally:
        client.close()
    assert choice.backend is Backend.CONNECTOR
    assert "stack version unknown" in choice.reason
    assert [r.status for r in fake.requests] == [401]


def test_an_elasticsearch_failure_goes_by_kibana_and_is_not_remembered(
    fake: FakeKibana, quick: KibanaClient
) -> None:
    es = Elasticsearch()
    es.error = ConnectionError("connection refused")
    cache = TtlValue(300)
    choice = choose_provisioning_backend(quick, setting=AUTO, elasticsearch=es, cache=cache)
    assert choice.backend is Backend.INFERENCE
    assert "Kibana 9.5.1 (Elasticsearch did not answer)" in choice.reason
    es.error = None
    again = choose_provisioning_backend(quick, setting=AUTO, elasticsearch=es, cache=cache)
    assert "did not answer" not in again.reason
    assert es.calls == 2


def test_a_stalled_elasticsearch_is_given_up_at_the_deadline(
    fake: FakeKibana, quick: KibanaClient
) -> None:
    es = Elasticsearch()
    es.before = threading.Event()  # never set until the end: a stall
    try:
        started = time.monotonic()
        choice = choose_provisioning_backend(
            quick, setting=AUTO, elasticsearch=es, cache=TtlValue(300), deadline=0.6
        )
        elapsed = time.monotonic() - started
    finally:
        es.before.set()
    assert "Elasticsearch did not answer" in choice.reason
    assert elapsed < 1.5, elapsed


def test_kibana_and_elasticsearch_are_asked_at_the_same_time(
    fake: FakeKibana, quick: KibanaClient
) -> None:
    # Elasticsearch answers only once Kibana's status request is in flight (held 0.25 s): asked
    # one after the other, in either order, it would find none and fail.
    fake.set_delay(0.25, method="GET", path_contains="/api/status")

    class WaitsForKibana(Elasticsearch):
        def __call__(self) -> StackVersion:
            wait_until(fake.requests_in_flight, timeout=0.5, what="Kibana's status in flight")
            return super().__call__()

    choice = choose_provisioning_backend(
        quick, setting=AUTO, elasticsearch=WaitsForKibana(), cache=TtlValue(300)
    )
    assert choice.reason.startswith("Kibana 9.5.1 with Elasticsearch configured"), choice
