"""Each check: bad input gives the specific error under the field that caused it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bot.domain.enums import Provider
from bot.domain.fields import (
    COMMON_FIELDS,
    JUSTIFICATION_FIELD,
    FieldKind,
    FormValues,
    Validation,
    check_common,
    check_url,
    is_private_host,
)
from bot.domain.providers import PROVIDERS, provider_spec
from bot.domain.providers.spec import ParseResult
from tests.unit.domain import samples as s

CREATING = [key for key, spec in PROVIDERS.items() if spec.creates_connector]
SELF_MANAGED = [key for key in CREATING if PROVIDERS[key].self_managed]
CLOUD = [key for key in CREATING if not PROVIDERS[key].self_managed]
COMMON_KEYS = {spec.key for spec in (*COMMON_FIELDS, JUSTIFICATION_FIELD)}
CERT = s.certificate_pem
KEY = s.private_key_pem


@dataclass(frozen=True)
class Bad:
    id: str
    provider: Provider
    overrides: dict[str, str | None]
    key: str
    fragment: str


def _form_keys(provider: Provider) -> set[str]:
    return {spec.key for spec in provider_spec(provider).fields} | COMMON_KEYS


def _check(provider: Provider, **overrides: str | None) -> ParseResult[Any, Any]:
    return provider_spec(provider).parse(s.valid_values(provider, **overrides))


def _assert_only_error(result: ParseResult[Any, Any], key: str, fragment: str) -> None:
    assert list(result.errors) == [key], result.errors
    assert fragment in result.errors[key]


# --------------------------------------------------------------------------- common fields


@pytest.mark.parametrize("provider", CREATING)
@pytest.mark.parametrize(
    ("overrides", "key", "fragment"),
    [
        ({"name": ""}, "name", "Give the connector a name"),
        ({"name": "   "}, "name", "Give the connector a name"),
        ({"name": None}, "name", "Give the connector a name"),
        ({"name": "n" * 81}, "name", "Keep the name to 80 characters (it has 81)"),
        ({"space": ""}, "space", "Give the Kibana space id"),
        ({"space": "Security Team"}, "space", "lowercase letters, digits, - and _"),
        ({"space": "security.team"}, "space", "lowercase letters, digits, - and _"),
        ({"space": "s" * 101}, "space", "at most 100 characters"),
        ({"justification": ""}, "justification", "approvers decide"),
        ({"justification": " \n "}, "justification", "approvers decide"),
        ({"justification": "j" * 1001}, "justification", "Keep it to 1000 characters"),
    ],
)
def test_common_field_errors(
    provider: Provider, overrides: dict[str, str | None], key: str, fragment: str
) -> None:
    _assert_only_error(_check(provider, **overrides), key, fragment)


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": "n" * 80},
        {"name": "  Équipe sécurité 🚀  "},
        {"space": "default"},
        {"space": "s" * 100},
        {"space": "team_a-1"},
        {"justification": "j" * 1000},
    ],
)
def test_common_field_boundaries_pass(overrides: dict[str, str]) -> None:
    result = Validation()
    check_common({**s.COMMON, **overrides}, result)
    assert result.errors == {}


def test_common_errors_are_reported_together() -> None:
    result = Validation()
    check_common({"name": "", "space": "Bad Space", "justification": ""}, result)
    assert set(result.errors) == {"name", "space", "justification"}


def test_elastic_managed_has_nothing_to_check() -> None:
    spec = provider_spec(Provider.ELASTIC_MANAGED)
    assert not spec.creates_connector
    assert spec.fields == ()
    result = spec.parse({})
    assert result.ok
    assert result.warnings == []
    assert result.draft is None  # nothing to provision
    assert spec.supported_backends == frozenset()


# --------------------------------------------------------------------------- URLs


@pytest.mark.parametrize("provider", CREATING)
@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("", "Give the API URL"),
        ("not a url", "contains spaces or line breaks"),
        ("https://host.example.com/v1/chat/\ncompletions", "contains spaces or line breaks"),
        ("api.openai.com/v1/chat/completions", "Give a full URL starting with https://"),
        ("ftp://files.example.com/v1/chat/completions", "Give a full URL starting with https://"),
        ("https:///v1/chat/completions", "Give a full URL starting with https://"),
        ("https://host.example.com:99999/v1/chat/completions", "not a valid URL"),
        ("https://host.example.com:port/v1/chat/completions", "not a valid URL"),
        ("https://[::1/v1/chat/completions", "not a valid URL"),
        ("https://user:pass@host.example.com/v1/chat/completions", "Don't put credentials"),
        ("https://token@host.example.com/v1/chat/completions", "Don't put credentials"),
        ("https://host.example.com/v1/chat/completions#top", "Remove the #fragment"),
    ],
)
def test_malformed_urls_are_errors_for_every_provider(
    provider: Provider, url: str, fragment: str
) -> None:
    result = _check(provider, api_url=url)
    assert "api_url" in result.errors
    assert fragment in result.errors["api_url"]


@pytest.mark.parametrize("provider", CLOUD)
def test_plain_http_is_an_error_for_cloud_providers(provider: Provider) -> None:
    url = s.valid_values(provider)["api_url"].replace("https://", "http://")
    result = _check(provider, api_url=url)
    assert "Use https://" in result.errors["api_url"]


@pytest.mark.parametrize("provider", SELF_MANAGED)
def test_plain_http_is_a_warning_for_self_managed(provider: Provider) -> None:
    result = _check(provider, api_url="http://llm.example.com/v1/chat/completions")
    assert result.errors == {}
    assert result.warnings == [
        "The API URL uses plain http (http://llm.example.com/v1/chat/completions): the key "
        "travels unencrypted."
    ]


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://localhost:8000/v1/chat/completions", "localhost"),
        ("https://127.0.0.1:8443/v1/chat/completions", "127.0.0.1"),
        ("https://10.20.30.40/v1/chat/completions", "10.20.30.40"),
        ("https://[::1]:8443/v1/chat/completions", "::1"),
        ("https://gpu-box/v1/chat/completions", "gpu-box"),
        ("https://llm.internal/v1/chat/completions", "llm.internal"),
    ],
)
def test_local_or_private_host_is_a_warning_mentioning_kibana(url: str, host: str) -> None:
    result = _check(Provider.VLLM, api_url=url)
    assert result.errors == {}
    private = [w for w in result.warnings if "local or private address" in w]
    assert len(private) == 1
    assert f"({host})" in private[0]
    assert "Kibana, not the bot, must be able to reach it" in private[0]


def test_private_host_warning_also_for_a_cloud_provider() -> None:
    result = _check(Provider.OPENAI, api_url="https://localhost/v1/chat/completions")
    assert result.errors == {}
    assert any("Kibana, not the bot" in w for w in result.warnings)
    assert any("not api.openai.com (localhost)" in w for w in result.warnings)


def test_check_url_returns_the_parsed_url() -> None:
    result = Validation()
    parsed = check_url({"u": " https://API.Example.com:8443/v1?x=1 "}, result, key="u")
    assert parsed is not None
    assert parsed.host == "api.example.com"
    assert parsed.is_https
    assert parsed.parts.path == "/v1"
    assert result.errors == {}
    assert result.warnings == []
    assert check_url({}, result, key="u") is None
    assert result.errors == {"u": "Give the API URL."}


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "api.localhost",
        "host.docker.internal",
        "llm.local",
        "llm.lan",
        "llm.home.arpa",
        "127.0.0.1",
        "10.0.0.5",
        "172.16.4.2",
        "192.168.1.20",
        "169.254.169.254",
        "::1",
        "[::1]",
        "fd12:3456::1",
        "fe80::1",
        "gpu-box",
    ],
)
def test_private_hosts(host: str) -> None:
    assert is_private_host(host)


@pytest.mark.parametrize(
    "host",
    [
        "api.openai.com",
        "my-resource.openai.azure.com",
        "bedrock-runtime.us-east-1.amazonaws.com",
        "8.8.8.8",
        "2001:4860:4860::8888",
        "llm.example.com",
    ],
)
def test_public_hosts(host: str) -> None:
    assert not is_private_host(host)


# --------------------------------------------------------------------------- per provider

BAD: list[Bad] = [
    # OpenAI
    Bad("openai-org", Provider.OPENAI, {"organization_id": "acme"}, "organization_id", "org-"),
    Bad(
        "openai-org-short",
        Provider.OPENAI,
        {"organization_id": "org-abc"},
        "organization_id",
        "org-",
    ),
    Bad("openai-project", Provider.OPENAI, {"project_id": "project-1"}, "project_id", "proj_"),
    Bad(
        "openai-key-prefix",
        Provider.OPENAI,
        {"api_key": "abc123def456"},
        "api_key",
        "start with sk-",
    ),
    Bad(
        "openai-key-blank",
        Provider.OPENAI,
        {"api_key": "  "},
        "api_key",
        "Paste the OpenAI API key",
    ),
    Bad(
        "openai-key-space",
        Provider.OPENAI,
        {"api_key": "sk-abc def"},
        "api_key",
        "spaces or line breaks",
    ),
    Bad("openai-model", Provider.OPENAI, {"model": ""}, "model", "Give the model"),
    Bad("openai-model-space", Provider.OPENAI, {"model": "gpt 4.1"}, "model", "Remove the spaces"),
    # Azure OpenAI
    Bad(
        "azure-no-api-version",
        Provider.AZURE_OPENAI,
        {"api_url": s.AZURE_URL.split("?")[0]},
        "api_url",
        "Add the api-version",
    ),
    Bad(
        "azure-empty-api-version",
        Provider.AZURE_OPENAI,
        {"api_url": s.AZURE_URL.split("?")[0] + "?api-version="},
        "api_url",
        "Add the api-version",
    ),
    Bad(
        "azure-no-chat-completions",
        Provider.AZURE_OPENAI,
        {"api_url": s.AZURE_URL.replace("/chat/completions", "")},
        "api_url",
        "/openai/deployments/{deployment}/chat/completions",
    ),
    Bad(
        "azure-resource-root",
        Provider.AZURE_OPENAI,
        {"api_url": "https://my-resource.openai.azure.com/"},
        "api_url",
        "View code",
    ),
    Bad(
        "azure-bad-api-version",
        Provider.AZURE_OPENAI,
        {"api_url": s.AZURE_URL.replace("2024-10-21", "2024-10")},
        "api_url",
        "api-version looks like 2024-10-21",
    ),
    Bad(
        "azure-api-version-word",
        Provider.AZURE_OPENAI,
        {"api_url": s.AZURE_URL.replace("2024-10-21", "latest")},
        "api_url",
        "api-version looks like",
    ),
    Bad(
        "azure-gateway-without-model",
        Provider.AZURE_OPENAI,
        {"api_url": s.APIM_URL},
        "model",
        "contoso-apim.azure-api.net is not an Azure OpenAI host",
    ),
    Bad(
        "azure-gateway-without-api-version",
        Provider.AZURE_OPENAI,
        {"api_url": s.APIM_URL.split("?")[0], "model": "gpt-4o"},
        "api_url",
        "Add the api-version",
    ),
    Bad(
        "azure-model-space",
        Provider.AZURE_OPENAI,
        {"api_url": s.APIM_URL, "model": "gpt 4o"},
        "model",
        "Remove the spaces",
    ),
    Bad("azure-key", Provider.AZURE_OPENAI, {"api_key": None}, "api_key", "KEY 1 or KEY 2"),
    # Amazon Bedrock
    Bad(
        "bedrock-control-plane-host",
        Provider.BEDROCK,
        {"api_url": "https://bedrock.us-east-1.amazonaws.com"},
        "api_url",
        "control-plane host; the connector calls the runtime: "
        "https://bedrock-runtime.us-east-1.amazonaws.com",
    ),
    Bad(
        "bedrock-control-plane-host-eu",
        Provider.BEDROCK,
        {"api_url": "https://bedrock.eu-west-3.amazonaws.com/"},
        "api_url",
        "https://bedrock-runtime.eu-west-3.amazonaws.com",
    ),
    Bad(
        "bedrock-non-aws-host",
        Provider.BEDROCK,
        {"api_url": "https://bedrock.example.com"},
        "api_url",
        "Use https://bedrock-runtime.{region}.amazonaws.com",
    ),
    Bad(
        "bedrock-no-region",
        Provider.BEDROCK,
        {"api_url": "https://bedrock-runtime.amazonaws.com"},
        "api_url",
        "Use https://bedrock-runtime.{region}.amazonaws.com",
    ),
    Bad(
        "bedrock-path",
        Provider.BEDROCK,
        {"api_url": s.BEDROCK_URL + "/model/x/invoke"},
        "api_url",
        "Give only the host",
    ),
    Bad(
        "bedrock-query",
        Provider.BEDROCK,
        {"api_url": s.BEDROCK_URL + "/?region=us-east-1"},
        "api_url",
        "Give only the host",
    ),
    Bad(
        "bedrock-asia-key",
        Provider.BEDROCK,
        {"access_key": "ASIAIOSFODNN7EXAMPLE"},
        "access_key",
        "temporary and need a session token",
    ),
    Bad(
        "bedrock-short-key",
        Provider.BEDROCK,
        {"access_key": "AKIA1234"},
        "access_key",
        "Access key ids are 20 characters",
    ),
    Bad(
        "bedrock-lowercase-key",
        Provider.BEDROCK,
        {"access_key": "akiaiosfodnn7example"},
        "access_key",
        "Access key ids are 20 characters",
    ),
    Bad(
        "bedrock-key-missing",
        Provider.BEDROCK,
        {"access_key": ""},
        "access_key",
        "Paste the access key id",
    ),
    Bad(
        "bedrock-secret-39",
        Provider.BEDROCK,
        {"secret_key": s.AWS_SECRET_KEY[:-1]},
        "secret_key",
        "Secret access keys are 40 characters",
    ),
    Bad(
        "bedrock-secret-41",
        Provider.BEDROCK,
        {"secret_key": s.AWS_SECRET_KEY + "A"},
        "secret_key",
        "Secret access keys are 40 characters",
    ),
    Bad(
        "bedrock-secret-charset",
        Provider.BEDROCK,
        {"secret_key": "!" * 40},
        "secret_key",
        "Secret access keys are 40 characters",
    ),
    Bad(
        "bedrock-secret-missing",
        Provider.BEDROCK,
        {"secret_key": None},
        "secret_key",
        "Paste the secret",
    ),
    Bad(
        "bedrock-raw-arn",
        Provider.BEDROCK,
        {"api_url": "https://bedrock-runtime.us-east-2.amazonaws.com", "model": s.PROVISIONED_ARN},
        "model",
        "URL-encode the provisioned-throughput ARN, i.e. use " + s.PROVISIONED_ARN_ENCODED,
    ),
    Bad(
        "bedrock-eu-profile-in-us-east-1",
        Provider.BEDROCK,
        {"model": "eu.anthropic.claude-3-7-sonnet-20250219-v1:0"},
        "model",
        "The eu. inference profile isn't served in us-east-1",
    ),
    Bad(
        "bedrock-us-profile-in-eu-central-1",
        Provider.BEDROCK,
        {"api_url": "https://bedrock-runtime.eu-central-1.amazonaws.com"},
        "model",
        "The us. inference profile isn't served in eu-central-1",
    ),
    Bad(
        "bedrock-apac-profile-in-us-west-2",
        Provider.BEDROCK,
        {
            "api_url": "https://bedrock-runtime.us-west-2.amazonaws.com",
            "model": "apac.anthropic.claude-sonnet-4-5-20250929-v1:0",
        },
        "model",
        "The apac. inference profile isn't served in us-west-2",
    ),
    Bad(
        "bedrock-model-words",
        Provider.BEDROCK,
        {"model": "Claude Sonnet 4.5"},
        "model",
        "Model ids look like",
    ),
    Bad("bedrock-model-missing", Provider.BEDROCK, {"model": ""}, "model", "Give the model id"),
    # Google Vertex AI
    Bad(
        "vertex-region-mismatch",
        Provider.VERTEX,
        {"api_url": "https://europe-west4-aiplatform.googleapis.com"},
        "api_url",
        "The URL is for europe-west4 but the region is us-central1",
    ),
    Bad(
        "vertex-global-host",
        Provider.VERTEX,
        {"api_url": "https://aiplatform.googleapis.com"},
        "api_url",
        "Use the regional endpoint",
    ),
    Bad(
        "vertex-path",
        Provider.VERTEX,
        {"api_url": s.VERTEX_URL + "/v1/projects/my-project-123"},
        "api_url",
        "Give only the host",
    ),
    Bad(
        "vertex-region-missing",
        Provider.VERTEX,
        {"gcp_region": ""},
        "gcp_region",
        "Give the GCP region",
    ),
    Bad(
        "vertex-project-digit",
        Provider.VERTEX,
        {"gcp_project_id": "123456789012"},
        "gcp_project_id",
        "Project ids are 6 to 30 lowercase letters",
    ),
    Bad(
        "vertex-project-uppercase",
        Provider.VERTEX,
        {"gcp_project_id": "My-Project-123"},
        "gcp_project_id",
        "Project ids are 6 to 30 lowercase letters",
    ),
    Bad(
        "vertex-project-short",
        Provider.VERTEX,
        {"gcp_project_id": "proj"},
        "gcp_project_id",
        "Project ids are 6 to 30",
    ),
    Bad(
        "vertex-project-trailing-hyphen",
        Provider.VERTEX,
        {"gcp_project_id": "my-project-"},
        "gcp_project_id",
        "Project ids are 6 to 30",
    ),
    Bad(
        "vertex-project-differs-from-key",
        Provider.VERTEX,
        {"credentials_json": s.service_account_json(project_id="other-project-456")},
        "gcp_project_id",
        "The service account belongs to other-project-456, not my-project-123",
    ),
    Bad("vertex-model-missing", Provider.VERTEX, {"model": ""}, "model", "Give the model"),
    Bad(
        "vertex-json-truncated",
        Provider.VERTEX,
        {"credentials_json": s.service_account_json()[:200]},
        "credentials_json",
        "That is not valid JSON (line",
    ),
    Bad(
        "vertex-json-garbage",
        Provider.VERTEX,
        {"credentials_json": "my-key.json"},
        "credentials_json",
        "That is not valid JSON (line 1, column 1)",
    ),
    Bad(
        "vertex-json-array",
        Provider.VERTEX,
        {"credentials_json": "[]"},
        "credentials_json",
        "JSON object",
    ),
    Bad(
        "vertex-external-account",
        Provider.VERTEX,
        {"credentials_json": s.service_account_json(type="external_account")},
        "credentials_json",
        "type 'external_account'",
    ),
    Bad(
        "vertex-no-type",
        Provider.VERTEX,
        {"credentials_json": s.service_account_json(type=None)},
        "credentials_json",
        "Only service-account keys work",
    ),
    Bad(
        "vertex-missing-private-key",
        Provider.VERTEX,
        {"credentials_json": s.service_account_json(private_key=None)},
        "credentials_json",
        "The key file lacks private_key",
    ),
    Bad(
        "vertex-missing-client-email-and-project",
        Provider.VERTEX,
        {"credentials_json": s.service_account_json(client_email="", project_id=None)},
        "credentials_json",
        "The key file lacks project_id, client_email",
    ),
    Bad(
        "vertex-private-key-not-pem",
        Provider.VERTEX,
        {"credentials_json": s.service_account_json(private_key="MIIEvQIBADANBgkqhkiG9w0")},
        "credentials_json",
        "private_key is not a PEM key",
    ),
    Bad(
        "vertex-credentials-missing",
        Provider.VERTEX,
        {"credentials_json": ""},
        "credentials_json",
        "Paste the service account's JSON key file",
    ),
    # Self-managed (vLLM, LM Studio, Other)
    *[
        Bad(
            f"{p}-no-chat-path",
            p,
            {"api_url": "https://llm.example.com/v1"},
            "api_url",
            "add it to the URL (e.g. https://llm.example.com/v1/chat/completions)",
        )
        for p in SELF_MANAGED
    ],
    *[
        Bad(
            f"{p}-completions-path",
            p,
            {"api_url": "https://llm.example.com:8000/v1/completions"},
            "api_url",
            "https://llm.example.com:8000/v1/chat/completions",
        )
        for p in SELF_MANAGED
    ],
    *[Bad(f"{p}-no-model", p, {"model": ""}, "model", "Kibana requires it") for p in SELF_MANAGED],
    Bad("vllm-no-key", Provider.VLLM, {"api_key": ""}, "api_key", "VLLM_API_KEY"),
    Bad(
        "other-no-key",
        Provider.OPENAI_COMPATIBLE,
        {"api_key": None},
        "api_key",
        "Paste the API key or bearer token",
    ),
    *[
        Bad(
            f"{p}-cert-without-key",
            p,
            {"api_url": s.VLLM_URL, "certificate_pem": CERT()},
            "private_key_pem",
            "A client certificate needs its private key too",
        )
        for p in SELF_MANAGED
    ],
    *[
        Bad(
            f"{p}-key-without-cert",
            p,
            {"api_url": s.VLLM_URL, "private_key_pem": KEY()},
            "certificate_pem",
            "A private key needs its client certificate too",
        )
        for p in SELF_MANAGED
    ],
    Bad(
        "vllm-cert-not-pem",
        Provider.VLLM,
        {"certificate_pem": "MIIDazCCAlOgAwIBAgIUbase64only", "private_key_pem": KEY()},
        "certificate_pem",
        "Paste PEM text that starts with -----BEGIN CERTIFICATE-----",
    ),
    Bad(
        "vllm-key-is-a-certificate",
        Provider.VLLM,
        {"certificate_pem": CERT(), "private_key_pem": CERT()},
        "private_key_pem",
        "starts with -----BEGIN PRIVATE KEY-----",
    ),
    Bad(
        "vllm-ca-not-pem",
        Provider.VLLM,
        {"ca_pem": "not a certificate"},
        "ca_pem",
        "starts with -----BEGIN CERTIFICATE-----",
    ),
    *[
        Bad(
            f"{p}-pki-over-http",
            p,
            {
                "api_url": "http://llm.example.com/v1/chat/completions",
                "certificate_pem": CERT(),
                "private_key_pem": KEY(),
            },
            "api_url",
            "need an https:// URL",
        )
        for p in SELF_MANAGED
    ],
    Bad(
        "vllm-bad-verification-mode",
        Provider.VLLM,
        {"verification_mode": "strict"},
        "verification_mode",
        "Choose full, certificate or none",
    ),
    Bad(
        "vllm-model-space",
        Provider.VLLM,
        {"model": "Mistral Small"},
        "model",
        "Remove the spaces",
    ),
]


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
def test_bad_input_gives_the_specific_error(bad: Bad) -> None:
    result = _check(bad.provider, **bad.overrides)
    _assert_only_error(result, bad.key, bad.fragment)
    assert bad.key in _form_keys(bad.provider), "errors must point at a field of the form"


# --------------------------------------------------------------------------- warnings


@dataclass(frozen=True)
class Warn:
    id: str
    provider: Provider
    overrides: dict[str, str | None]
    fragments: tuple[str, ...]


WARN: list[Warn] = [
    Warn(
        "openai-proxy-host",
        Provider.OPENAI,
        {"api_url": "https://proxy.example.com/v1/chat/completions", "api_key": "not-sk-key"},
        ("not api.openai.com (proxy.example.com)", "Other OpenAI-compatible"),
    ),
    Warn(
        "bedrock-model-without-profile-prefix",
        Provider.BEDROCK,
        {"model": "anthropic.claude-3-5-sonnet-20240620-v1:0"},
        ("no inference-profile prefix", "on-demand throughput isn't supported"),
    ),
    Warn(
        "vllm-verification-none",
        Provider.VLLM,
        {"verification_mode": "none"},
        ("TLS verification is off",),
    ),
]


@pytest.mark.parametrize("warn", WARN, ids=[w.id for w in WARN])
def test_warnings_do_not_block(warn: Warn) -> None:
    result = _check(warn.provider, **warn.overrides)
    assert result.errors == {}
    assert len(result.warnings) == 1, result.warnings
    for fragment in warn.fragments:
        assert fragment in result.warnings[0]


@pytest.mark.parametrize("provider", CREATING)
def test_valid_forms_have_no_warning_except_lm_studio_http(provider: Provider) -> None:
    result = _check(provider)
    assert result.errors == {}
    assert len(result.warnings) == (2 if provider is Provider.LM_STUDIO else 0)


@pytest.mark.parametrize(
    ("region", "model"),
    [
        ("us-west-2", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("eu-west-3", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("ap-southeast-2", "apac.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("us-gov-west-1", "us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0"),
        ("eu-central-1", "global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ],
)
def test_bedrock_profile_prefix_matching_the_region_passes(region: str, model: str) -> None:
    result = _check(
        Provider.BEDROCK, api_url=f"https://bedrock-runtime.{region}.amazonaws.com", model=model
    )
    assert result.errors == {}
    assert result.warnings == []


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ("uscentral", "Regions look like us-central1 or europe-west4."),
        ("us central1", "Remove the spaces: this value is a single token."),
    ],
)
def test_vertex_malformed_region_is_an_error_under_gcp_region(region: str, message: str) -> None:
    assert _check(Provider.VERTEX, gcp_region=region).errors["gcp_region"] == message


@pytest.mark.parametrize("region", ["uscentral", "us central1"])
def test_vertex_malformed_region_does_not_suggest_a_bogus_url(region: str) -> None:
    result = _check(Provider.VERTEX, gcp_region=region)
    assert "api_url" not in result.errors


def test_openai_key_prefix_is_only_enforced_on_api_openai_com() -> None:
    result = _check(
        Provider.OPENAI,
        api_url="https://openai-proxy.example.com/v1/chat/completions",
        api_key="proxy-token",
    )
    assert "api_key" not in result.errors


def test_lm_studio_key_is_optional_but_vllm_key_is_not_with_pki() -> None:
    assert _check(Provider.LM_STUDIO, api_key=None).errors == {}
    pki = {"api_url": s.VLLM_URL, "certificate_pem": CERT(), "private_key_pem": KEY()}
    for provider in SELF_MANAGED:
        assert _check(provider, api_key=None, **pki).errors == {}


# --------------------------------------------------------------------------- fields vs checks


def _required_inputs(provider: Provider) -> list[str]:
    return [
        spec.key
        for spec in provider_spec(provider).fields
        if spec.required and spec.kind not in {FieldKind.SELECT, FieldKind.CHECKBOX}
    ]


@pytest.mark.parametrize(
    ("provider", "key"),
    [(p, key) for p in CREATING for key in _required_inputs(p)],
)
def test_every_required_field_is_checked(provider: Provider, key: str) -> None:
    result = _check(provider, **{key: None})
    assert key in result.errors


@pytest.mark.parametrize(
    ("provider", "key"),
    [(p, spec.key) for p in CREATING for spec in provider_spec(p).fields if not spec.required],
)
def test_optional_fields_may_be_left_out(provider: Provider, key: str) -> None:
    assert _check(provider, **{key: None}).errors == {}


def test_azure_model_is_optional_only_for_a_direct_url() -> None:
    assert _check(Provider.AZURE_OPENAI, model=None).errors == {}
    assert "model" in _check(Provider.AZURE_OPENAI, api_url=s.APIM_URL, model=None).errors


@pytest.mark.parametrize("provider", CREATING)
def test_sample_values_fit_the_fields(provider: Provider) -> None:
    values: FormValues = s.valid_values(provider)
    for spec in (*COMMON_FIELDS, *provider_spec(provider).fields, JUSTIFICATION_FIELD):
        assert len(values.get(spec.key, "")) <= spec.max_length, spec.key


@pytest.mark.parametrize("url", ["https://api.openai.com/v1", "https://api.openai.com"])
def test_openai_url_must_be_the_chat_completions_endpoint(url: str) -> None:
    assert "api_url" in _check(Provider.OPENAI, api_url=url).errors
