"""KibanaClient's connector calls against the fake Kibana: create, get, update (PUT with name,
config and the full secrets, no type) and delete, with Kibana's refusals as KibanaError."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.kibana.client import KibanaClient, make_http_client
from bot.kibana.errors import KibanaNotFoundError, KibanaRequestError
from bot.kibana.models import CreateConnector, UpdateConnector
from tests.fakes.kibana import FakeKibana

URL = "https://api.openai.com/v1/chat/completions"
CONFIG = {"apiProvider": "OpenAI", "apiUrl": URL, "defaultModel": "gpt-4.1"}


@pytest.fixture
def client(kibana: FakeKibana) -> Iterator[KibanaClient]:
    made = KibanaClient(make_http_client(kibana.url, kibana.api_key, timeout=5))
    yield made
    made.close()


def _create(client: KibanaClient, space: str = "security") -> None:
    body = CreateConnector(
        name="Team GPT", connector_type_id=".gen-ai", config=CONFIG, secrets={"apiKey": "sk-old"}
    )
    client.create_connector(space, "llm-team-gpt", body)


def test_update_replaces_name_config_and_secrets(client: KibanaClient, kibana: FakeKibana) -> None:
    _create(client)
    body = UpdateConnector(
        name="Team GPT 4o",
        config={**CONFIG, "defaultModel": "gpt-4o"},
        secrets={"apiKey": "sk-new"},
    )
    updated = client.update_connector("security", "llm-team-gpt", body)
    assert (updated.name, updated.connector_type_id) == ("Team GPT 4o", ".gen-ai")
    assert updated.config is not None
    assert updated.config["defaultModel"] == "gpt-4o"
    stored = kibana.connectors("security")["llm-team-gpt"]
    assert stored["secrets"] == {"apiKey": "sk-new"}
    request = kibana.requests_to("PUT", "/api/actions/connector/llm-team-gpt")[-1]
    assert request.space == "security"
    assert set(request.body) == {"name", "config", "secrets"}  # no connector_type_id
    assert client.get_connector("security", "llm-team-gpt").name == "Team GPT 4o"


def test_update_needs_the_full_secrets_and_a_valid_config(client: KibanaClient) -> None:
    _create(client)
    with pytest.raises(KibanaRequestError) as no_secrets:
        client.update_connector(
            "security", "llm-team-gpt", UpdateConnector(name="x", config=CONFIG, secrets={})
        )
    assert no_secrets.value.status == 400
    assert no_secrets.value.message == (
        "error validating connector type secrets: [apiKey]: expected value of type [string] "
        "but got [undefined]"
    )
    bad_url = UpdateConnector(
        name="x", config={**CONFIG, "apiUrl": "not a url"}, secrets={"apiKey": "k"}
    )
    with pytest.raises(KibanaRequestError) as refused:
        client.update_connector("security", "llm-team-gpt", bad_url)
    assert refused.value.status == 400
    assert "Invalid URL" in refused.value.message


def test_update_and_delete_of_missing_or_preconfigured_connectors(
    client: KibanaClient, kibana: FakeKibana
) -> None:
    body = UpdateConnector(name="x", config=CONFIG, secrets={"apiKey": "k"})
    with pytest.raises(KibanaNotFoundError) as missing:
        client.update_connector("security", "nope", body)
    assert missing.value.message == "Saved object [action/nope] not found"
    with pytest.raises(KibanaNotFoundError):
        client.delete_connector("security", "nope")
    kibana.add_preconfigured("shared-gpt", name="Shared", connector_type_id=".gen-ai")
    with pytest.raises(KibanaRequestError) as update_refused:
        client.update_connector("security", "shared-gpt", body)
    assert update_refused.value.status == 400
    assert update_refused.value.message == (
        "Preconfigured action shared-gpt is not allowed to update."
    )
    with pytest.raises(KibanaRequestError) as delete_refused:
        client.delete_connector("security", "shared-gpt")
    assert delete_refused.value.message == (
        "Preconfigured action shared-gpt is not allowed to delete."
    )


def test_delete_removes_it_from_its_space_only(client: KibanaClient, kibana: FakeKibana) -> None:
    _create(client, "security")
    _create(client, "default")
    client.delete_connector("security", "llm-team-gpt")
    assert "llm-team-gpt" not in kibana.connectors("security")
    assert "llm-team-gpt" in kibana.connectors("default")
    with pytest.raises(KibanaNotFoundError):
        client.get_connector("security", "llm-team-gpt")


def test_update_connector_never_prints_its_secrets() -> None:
    body = UpdateConnector(name="n", config=CONFIG, secrets={"apiKey": "sk-very-secret"})
    assert "sk-very-secret" not in repr(body)
    assert "sk-very-secret" not in str(body)
