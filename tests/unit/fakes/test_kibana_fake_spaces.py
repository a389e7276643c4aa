"""The fake Kibana's spaces API answers like Kibana's GET /api/spaces/space."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.kibana import FakeKibana

API_KEY = "test-kibana-api-key"


@pytest.fixture
def kibana() -> Iterator[FakeKibana]:
    with FakeKibana(spaces=("security",)) as fake:
        fake.add_space("lab", name="AI lab")
        yield fake


@pytest.fixture
def client(kibana: FakeKibana) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"ApiKey {API_KEY}"}
    with httpx.Client(base_url=kibana.url, headers=headers, timeout=10, trust_env=False) as c:
        yield c


def test_lists_every_space_by_name_with_kibanas_fields(client: httpx.Client) -> None:
    response = client.get("/api/spaces/space")
    assert response.status_code == 200
    spaces = response.json()
    assert [(s["id"], s["name"]) for s in spaces] == [
        ("lab", "AI lab"),
        ("default", "Default"),
        ("security", "security"),
    ]
    default = next(s for s in spaces if s["id"] == "default")
    assert default["_reserved"] is True
    assert all(s["disabledFeatures"] == [] for s in spaces)
    assert "_reserved" not in spaces[0]


def test_needs_the_api_key(kibana: FakeKibana) -> None:
    with httpx.Client(base_url=kibana.url, trust_env=False) as anonymous:
        assert anonymous.get("/api/spaces/space").status_code == 401


def test_a_known_space_prefix_works_and_an_unknown_one_is_404(client: httpx.Client) -> None:
    assert client.get("/s/security/api/spaces/space").status_code == 200
    assert client.get("/s/nowhere/api/spaces/space").status_code == 404


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("purpose=any", 200),
        ("purpose=shareSavedObjectsIntoSpace", 200),
        ("include_authorized_purposes=true", 200),
        ("purpose=any&include_authorized_purposes=false", 200),
        ("purpose=everything", 400),
        ("purpose=any&include_authorized_purposes=true", 400),
        ("include_authorized_purposes=yes", 400),
        ("page=2", 400),
    ],
)
def test_the_query_is_validated_like_kibana(client: httpx.Client, query: str, status: int) -> None:
    response = client.get(f"/api/spaces/space?{query}")
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["message"].startswith("[request query.")
