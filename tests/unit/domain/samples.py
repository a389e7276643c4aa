"""Valid form values for every provider, and throwaway key material to put in them.

The keys and certificates are generated once per test session with ``cryptography``: they are
real PEM documents, but belong to nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from bot.domain.enums import Provider
from bot.domain.fields import FormValues
from bot.domain.providers import provider_spec
from bot.domain.providers.spec import ConnectorPayload, ProviderSpec

COMMON: FormValues = {
    "name": "Security team GPT-4.1",
    "space": "security-team",
    "justification": "AI Assistant and Attack Discovery for the SOC.",
}

OPENAI_URL = "https://api.openai.com/v1/chat/completions"
AZURE_URL = (
    "https://my-resource.openai.azure.com/openai/deployments/gpt-4o/chat/completions"
    "?api-version=2024-10-21"
)
APIM_URL = (
    "https://contoso-apim.azure-api.net/openai/deployments/gpt-4o/chat/completions"
    "?api-version=2024-10-21"
)
BEDROCK_URL = "https://bedrock-runtime.us-east-1.amazonaws.com"
BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
# The example of Elastic's Bedrock guide for provisioned throughput.
PROVISIONED_ARN = "arn:aws:bedrock:us-east-2:123456789102:provisioned-model/3Ztr7hbzmkrqy1"
PROVISIONED_ARN_ENCODED = (
    "arn%3Aaws%3Abedrock%3Aus-east-2%3A123456789102%3Aprovisioned-model%2F3Ztr7hbzmkrqy1"
)
AWS_ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
VERTEX_URL = "https://us-central1-aiplatform.googleapis.com"
GCP_PROJECT = "my-project-123"
VLLM_URL = "https://llm.example.com/v1/chat/completions"
VLLM_MODEL = "mistralai/Mistral-Small-3.2-24B-Instruct-2506"
LM_STUDIO_URL = "http://192.168.1.20:1234/v1/chat/completions"
GATEWAY_URL = "https://gateway.example.com/v1/chat/completions"


@functools.cache
def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def private_key_pem() -> str:
    """A PKCS#8 private key: -----BEGIN PRIVATE KEY----- … (with a final newline)."""
    return (
        _rsa_key()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


@functools.cache
def certificate_pem(common_name: str = "llm-client") -> str:
    """A self-signed certificate: -----BEGIN CERTIFICATE----- … (with a final newline)."""
    key = _rsa_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def service_account(**overrides: Any) -> dict[str, Any]:
    """A Google service-account key file as Google writes it (``None`` drops a key)."""
    document: dict[str, Any] = {
        "type": "service_account",
        "project_id": GCP_PROJECT,
        "private_key_id": "3f1c9a0d5e7b2c4a6f8e0d1b3c5a7e9f1b2d4c6e",
        "private_key": private_key_pem(),
        "client_email": f"kibana-gemini@{GCP_PROJECT}.iam.gserviceaccount.com",
        "client_id": "103658219786540123456",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
        f"kibana-gemini%40{GCP_PROJECT}.iam.gserviceaccount.com",
        "universe_domain": "googleapis.com",
    }
    for key, value in overrides.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    return document


def service_account_json(**overrides: Any) -> str:
    return json.dumps(service_account(**overrides), indent=2) + "\n"


# Where a test needs more realistic material than the provider's example values.
REALISTIC: dict[Provider, Callable[[], FormValues]] = {
    Provider.VERTEX: lambda: {"credentials_json": service_account_json()},
}


def valid_values(provider: Provider, **overrides: str | None) -> FormValues:
    """A valid form for ``provider`` (its description's example values); ``overrides``
    replace values (``None`` removes one)."""
    realistic = REALISTIC.get(provider)
    specific = {**provider_spec(provider).example, **(realistic() if realistic else {})}
    values = {**COMMON, **specific}
    for key, value in overrides.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    return values


def payload_of(spec: ProviderSpec[Any, Any], values: FormValues) -> ConnectorPayload:
    """The connector payload the bot builds from ``values`` (read as a draft, unchecked)."""
    return spec.connector_payload(spec.draft_from(values))


def config_of(spec: ProviderSpec[Any, Any], values: FormValues) -> dict[str, Any]:
    return payload_of(spec, values).config


def secrets_of(spec: ProviderSpec[Any, Any], values: FormValues) -> dict[str, str]:
    return payload_of(spec, values).secrets


def create_body(spec: ProviderSpec[Any, Any], values: FormValues) -> dict[str, Any]:
    """The body the bot sends to ``POST /api/actions/connector/{id}``."""
    payload = payload_of(spec, values)
    return {
        "name": values["name"].strip(),
        "connector_type_id": payload.type_id,
        "config": payload.config,
        "secrets": payload.secrets,
    }
