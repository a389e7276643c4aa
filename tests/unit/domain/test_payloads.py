"""Valid requests of every provider pass the checks, and their create body is what Kibana accepts.

Issue requirement: "each provider's create body is exactly what Kibana accepts, no unknown keys,
secrets only under secrets". Kibana's rules are those of tests/fakes/kibana_schemas.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.domain.enums import Provider
from bot.domain.fields import FormValues
from bot.domain.providers import PROVIDERS, provider_spec
from tests.fakes.kibana_schemas import validate_create_body
from tests.unit.domain import samples as s

SECRET_CONFIG_KEYS = {
    "apiKey",
    "accessKey",
    "secret",
    "credentialsJson",
    "certificateData",
    "privateKeyData",
    "caData",
}


def _b64(text: str) -> str:
    return base64.b64encode(text.strip().encode()).decode()


@dataclass(frozen=True)
class Case:
    id: str
    provider: Provider
    overrides: dict[str, str | None]
    config: dict[str, Any]
    # None: computed from the PEM/JSON samples in the test itself.
    secrets: dict[str, str] | None
    warnings: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def values(self) -> FormValues:
        return s.valid_values(self.provider, **self.overrides)


def _cases() -> list[Case]:
    cert, key, ca = s.certificate_pem(), s.private_key_pem(), s.certificate_pem("private-ca")
    return [
        Case(
            "openai",
            Provider.OPENAI,
            {},
            {"apiProvider": "OpenAI", "apiUrl": s.OPENAI_URL, "defaultModel": "gpt-4.1"},
            {"apiKey": "sk-proj-Ab12Cd34Ef56"},
        ),
        Case(
            "openai-org-project",
            Provider.OPENAI,
            {"organization_id": " org-AbC123xyz9 ", "project_id": "proj_AbC123xyz9"},
            {
                "apiProvider": "OpenAI",
                "apiUrl": s.OPENAI_URL,
                "defaultModel": "gpt-4.1",
                "organizationId": "org-AbC123xyz9",
                "projectId": "proj_AbC123xyz9",
            },
            {"apiKey": "sk-proj-Ab12Cd34Ef56"},
        ),
        Case(
            "azure-direct",
            Provider.AZURE_OPENAI,
            {},
            {"apiProvider": "Azure OpenAI", "apiUrl": s.AZURE_URL},
            {"apiKey": "0123456789abcdef0123456789abcdef"},
        ),
        Case(
            "azure-cognitiveservices-preview",
            Provider.AZURE_OPENAI,
            {
                "api_url": "https://my-resource.cognitiveservices.azure.com/openai/deployments/"
                "gpt-4o-mini/chat/completions?api-version=2025-01-01-preview"
            },
            {
                "apiProvider": "Azure OpenAI",
                "apiUrl": "https://my-resource.cognitiveservices.azure.com/openai/deployments/"
                "gpt-4o-mini/chat/completions?api-version=2025-01-01-preview",
            },
            {"apiKey": "0123456789abcdef0123456789abcdef"},
        ),
        Case(
            "azure-apim-gateway",
            Provider.AZURE_OPENAI,
            {"api_url": s.APIM_URL, "model": "gpt-4o"},
            {"apiProvider": "Azure OpenAI", "apiUrl": s.APIM_URL, "defaultModel": "gpt-4o"},
            {"apiKey": "0123456789abcdef0123456789abcdef"},
        ),
        Case(
            "bedrock-us-profile",
            Provider.BEDROCK,
            {},
            {"apiUrl": s.BEDROCK_URL, "defaultModel": s.BEDROCK_MODEL},
            {"accessKey": s.AWS_ACCESS_KEY, "secret": s.AWS_SECRET_KEY},
        ),
        Case(
            "bedrock-eu-profile",
            Provider.BEDROCK,
            {
                "api_url": "https://bedrock-runtime.eu-central-1.amazonaws.com/",
                "model": "eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
            },
            {
                "apiUrl": "https://bedrock-runtime.eu-central-1.amazonaws.com/",
                "defaultModel": "eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
            },
            {"accessKey": s.AWS_ACCESS_KEY, "secret": s.AWS_SECRET_KEY},
        ),
        Case(
            "bedrock-global-profile-fips",
            Provider.BEDROCK,
            {
                "api_url": "https://bedrock-runtime-fips.us-west-2.amazonaws.com",
                "model": "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            },
            {
                "apiUrl": "https://bedrock-runtime-fips.us-west-2.amazonaws.com",
                "defaultModel": "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            },
            {"accessKey": s.AWS_ACCESS_KEY, "secret": s.AWS_SECRET_KEY},
        ),
        Case(
            "bedrock-provisioned-arn",
            Provider.BEDROCK,
            {
                "api_url": "https://bedrock-runtime.us-east-2.amazonaws.com",
                "model": s.PROVISIONED_ARN_ENCODED,
            },
            {
                "apiUrl": "https://bedrock-runtime.us-east-2.amazonaws.com",
                "defaultModel": s.PROVISIONED_ARN_ENCODED,
            },
            {"accessKey": s.AWS_ACCESS_KEY, "secret": s.AWS_SECRET_KEY},
        ),
        Case(
            "vertex",
            Provider.VERTEX,
            {},
            {
                "apiUrl": s.VERTEX_URL,
                "gcpRegion": "us-central1",
                "gcpProjectID": s.GCP_PROJECT,
                "defaultModel": "gemini-2.5-pro",
            },
            None,
        ),
        Case(
            "vertex-europe",
            Provider.VERTEX,
            {
                "api_url": "https://europe-west4-aiplatform.googleapis.com/",
                "gcp_region": "europe-west4",
                "model": "gemini-2.5-flash",
            },
            {
                "apiUrl": "https://europe-west4-aiplatform.googleapis.com/",
                "gcpRegion": "europe-west4",
                "gcpProjectID": s.GCP_PROJECT,
                "defaultModel": "gemini-2.5-flash",
            },
            None,
        ),
        Case(
            "vllm-native-function-calling",
            Provider.VLLM,
            {},
            {
                "apiProvider": "Other",
                "apiUrl": s.VLLM_URL,
                "defaultModel": s.VLLM_MODEL,
                "enableNativeFunctionCalling": True,
            },
            {"apiKey": "nginx-bearer-token-123"},
        ),
        Case(
            "vllm-mtls",
            Provider.VLLM,
            {"certificate_pem": cert, "private_key_pem": key, "ca_pem": ca},
            {
                "apiProvider": "Other",
                "apiUrl": s.VLLM_URL,
                "defaultModel": s.VLLM_MODEL,
                "verificationMode": "full",
                "enableNativeFunctionCalling": True,
            },
            {
                "apiKey": "nginx-bearer-token-123",
                "certificateData": _b64(cert),
                "privateKeyData": _b64(key),
                "caData": _b64(ca),
            },
        ),
        Case(
            "vllm-mtls-without-bearer-token",
            Provider.VLLM,
            {
                "api_key": None,
                "certificate_pem": cert,
                "private_key_pem": key,
                "verification_mode": "certificate",
                "native_function_calling": "",
            },
            {
                "apiProvider": "Other",
                "apiUrl": s.VLLM_URL,
                "defaultModel": s.VLLM_MODEL,
                "verificationMode": "certificate",
                "enableNativeFunctionCalling": False,
            },
            {"certificateData": _b64(cert), "privateKeyData": _b64(key)},
        ),
        Case(
            "vllm-verification-none",
            Provider.VLLM,
            {"verification_mode": "none"},
            {
                "apiProvider": "Other",
                "apiUrl": s.VLLM_URL,
                "defaultModel": s.VLLM_MODEL,
                "verificationMode": "none",
                "enableNativeFunctionCalling": True,
            },
            {"apiKey": "nginx-bearer-token-123"},
            warnings=("TLS verification is off",),
        ),
        Case(
            "lm-studio-lan-http-no-key",
            Provider.LM_STUDIO,
            {"api_key": ""},
            {
                "apiProvider": "Other",
                "apiUrl": s.LM_STUDIO_URL,
                "defaultModel": "llama-3.3-70b-instruct",
                "enableNativeFunctionCalling": False,
            },
            {"apiKey": "lm-studio"},
            warnings=("plain http", "local or private address (192.168.1.20)"),
        ),
        Case(
            "lm-studio-with-proxy-token",
            Provider.LM_STUDIO,
            {"api_url": "https://lmstudio.example.com/v1/chat/completions/", "api_key": "tok"},
            {
                "apiProvider": "Other",
                "apiUrl": "https://lmstudio.example.com/v1/chat/completions/",
                "defaultModel": "llama-3.3-70b-instruct",
                "enableNativeFunctionCalling": False,
            },
            {"apiKey": "tok"},
        ),
        Case(
            "other-openai-compatible",
            Provider.OPENAI_COMPATIBLE,
            {},
            {
                "apiProvider": "Other",
                "apiUrl": s.GATEWAY_URL,
                "defaultModel": "gpt-4o",
                "enableNativeFunctionCalling": False,
            },
            {"apiKey": "gw-key-0123456789"},
        ),
    ]


CASES = _cases()
CASE_IDS = [case.id for case in CASES]


def _leaf_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _leaf_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaf_strings(item)


def test_every_connector_provider_is_covered() -> None:
    creating = {key for key, spec in PROVIDERS.items() if spec.creates_connector}
    assert creating == {case.provider for case in CASES}
    assert set(PROVIDERS) == set(Provider), "every provider is registered, and only those"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_valid_request_passes_checks(case: Case) -> None:
    result = provider_spec(case.provider).parse(case.values())
    assert result.errors == {}
    assert result.ok
    assert len(result.warnings) == len(case.warnings), result.warnings
    for expected, warning in zip(case.warnings, result.warnings, strict=True):
        assert expected in warning


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_create_body_is_accepted_by_kibana(case: Case) -> None:
    spec = provider_spec(case.provider)
    body = s.create_body(spec, case.values())
    assert validate_create_body(body) == []
    assert set(body) == {"name", "connector_type_id", "config", "secrets"}
    assert body["connector_type_id"] == {
        Provider.BEDROCK: ".bedrock",
        Provider.VERTEX: ".gemini",
    }.get(case.provider, ".gen-ai")


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_create_body_config_and_secrets_are_exact(case: Case) -> None:
    spec = provider_spec(case.provider)
    values = case.values()
    assert s.config_of(spec, values) == case.config
    if case.secrets is not None:
        assert s.secrets_of(spec, values) == case.secrets


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_secrets_never_appear_in_config(case: Case) -> None:
    spec = provider_spec(case.provider)
    values = case.values()
    config, secrets = s.config_of(spec, values), s.secrets_of(spec, values)
    assert not SECRET_CONFIG_KEYS & set(config)
    dumped = json.dumps(config)
    leaves = list(_leaf_strings(config))
    sensitive = [*secrets.values(), *(values[k].strip() for k in spec.secret_keys if values.get(k))]
    assert sensitive, "every connector has at least one secret"
    for secret in sensitive:
        assert secret not in dumped
        assert not any(secret in leaf for leaf in leaves)
    # PEM bodies and key material must not leak in any form either.
    for leaf in leaves:
        assert "PRIVATE KEY" not in leaf
        assert "BEGIN CERTIFICATE" not in leaf


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_config_does_not_depend_on_secret_values(case: Case) -> None:
    spec = provider_spec(case.provider)
    values = case.values()
    changed = dict(values)
    for key in spec.secret_keys:
        if values.get(key):
            changed[key] = values[key].replace("a", "b").replace("1", "2")
    assert s.config_of(spec, changed) == s.config_of(spec, values)


def test_secrets_fields_are_exactly_the_secret_inputs() -> None:
    assert provider_spec(Provider.OPENAI).secret_keys == {"api_key"}
    assert provider_spec(Provider.AZURE_OPENAI).secret_keys == {"api_key"}
    assert provider_spec(Provider.BEDROCK).secret_keys == {"access_key", "secret_key"}
    assert provider_spec(Provider.VERTEX).secret_keys == {"credentials_json"}
    for provider in (Provider.VLLM, Provider.LM_STUDIO, Provider.OPENAI_COMPATIBLE):
        assert provider_spec(provider).secret_keys == {
            "api_key",
            "certificate_pem",
            "private_key_pem",
            "ca_pem",
        }


def test_vllm_mtls_secrets_are_base64_of_the_pem_texts() -> None:
    cert, key, ca = s.certificate_pem(), s.private_key_pem(), s.certificate_pem("private-ca")
    spec = provider_spec(Provider.VLLM)
    values = s.valid_values(
        Provider.VLLM,
        certificate_pem=cert,
        private_key_pem=key,
        ca_pem=ca,
        verification_mode="full",
    )
    secrets = s.secrets_of(spec, values)
    decoded = {
        name: base64.b64decode(secrets[name]).decode() for name in secrets if name != "apiKey"
    }
    assert decoded == {
        "certificateData": cert.strip(),
        "privateKeyData": key.strip(),
        "caData": ca.strip(),
    }
    assert decoded["certificateData"].startswith("-----BEGIN CERTIFICATE-----")
    assert decoded["privateKeyData"].startswith("-----BEGIN PRIVATE KEY-----")
    assert s.config_of(spec, values)["verificationMode"] == "full"


def test_vertex_credentials_are_the_key_file_as_one_json_string() -> None:
    spec = provider_spec(Provider.VERTEX)
    values = s.valid_values(Provider.VERTEX)
    secrets = s.secrets_of(spec, values)
    assert set(secrets) == {"credentialsJson"}
    assert isinstance(secrets["credentialsJson"], str)
    assert json.loads(secrets["credentialsJson"]) == s.service_account()
    assert json.loads(secrets["credentialsJson"])["private_key"] == s.private_key_pem()


def test_real_service_account_key_fits_the_field() -> None:
    field = provider_spec(Provider.VERTEX).field("credentials_json")
    assert field is not None
    assert len(s.service_account_json()) <= field.max_length


def test_lm_studio_placeholder_key_only_when_nothing_else_authenticates() -> None:
    spec = provider_spec(Provider.LM_STUDIO)
    assert s.secrets_of(spec, s.valid_values(Provider.LM_STUDIO)) == {"apiKey": "lm-studio"}
    with_pki = s.valid_values(
        Provider.LM_STUDIO,
        api_url="https://lmstudio.example.com/v1/chat/completions",
        certificate_pem=s.certificate_pem(),
        private_key_pem=s.private_key_pem(),
    )
    assert spec.parse(with_pki).errors == {}
    secrets = s.secrets_of(spec, with_pki)
    assert "apiKey" not in secrets
    assert validate_create_body(s.create_body(spec, with_pki)) == []
    # vLLM and Other never invent a key.
    for provider in (Provider.VLLM, Provider.OPENAI_COMPATIBLE):
        other = provider_spec(provider)
        assert s.secrets_of(other, s.valid_values(provider, api_key=None)) == {}


def test_body_is_refused_when_the_host_is_not_allowed() -> None:
    # Sanity check of the strict copy: allowedHosts is enforced on the config URL.
    spec = provider_spec(Provider.OPENAI)
    body = s.create_body(spec, s.valid_values(Provider.OPENAI))
    assert validate_create_body(body, allowed_hosts=["api.openai.com"]) == []
    errors = validate_create_body(body, allowed_hosts=["example.com"])
    assert len(errors) == 1
    assert "xpack.actions.allowedHosts" in errors[0]


@pytest.mark.parametrize(
    "provider", [Provider.VLLM, Provider.LM_STUDIO, Provider.OPENAI_COMPATIBLE]
)
def test_ca_only_request_is_refused_or_accepted_by_kibana(provider: Provider) -> None:
    spec = provider_spec(provider)
    values = s.valid_values(
        provider, api_url="https://llm.example.com/v1/chat/completions", ca_pem=s.certificate_pem()
    )
    result = spec.parse(values)
    assert not result.ok or validate_create_body(s.create_body(spec, values)) == []
