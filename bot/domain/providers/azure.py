"""Azure OpenAI: a `.gen-ai` connector with apiProvider "Azure OpenAI"."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr

from bot.domain.enums import Provider
from bot.domain.fields import FieldKind, FieldSpec, FormValues, Validation, check_secret, check_url
from bot.domain.providers.spec import (
    CONNECTOR,
    INFERENCE,
    ConnectorTarget,
    InferencePayload,
    InferenceTarget,
    ProviderSpec,
    Secrets,
    Settings,
    non_empty,
)

AZURE_HOSTS = (".openai.azure.com", ".cognitiveservices.azure.com")
DEPLOYMENT_PATH = re.compile(r"^/openai/deployments/([A-Za-z0-9._-]+)/chat/completions/?$")
API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
EXAMPLE_URL = (
    "https://my-resource.openai.azure.com/openai/deployments/gpt-4o/chat/completions"
    "?api-version=2024-10-21"
)

FIELDS = (
    FieldSpec(
        key="api_url",
        label="Deployment URL",
        hint="From Azure AI Foundry → your deployment → View code. Shape: https://{resource}"
        ".openai.azure.com/openai/deployments/{deployment}/chat/completions?api-version=…",
        kind=FieldKind.URL,
        placeholder="https://my-resource.openai.azure.com/openai/deployments/…",
        max_length=1000,
    ),
    FieldSpec(
        key="api_key",
        label="API key",
        hint="KEY 1 or KEY 2 of the Azure OpenAI resource. Encrypted until the connector "
        "exists, then erased.",
        secret=True,
        max_length=300,
    ),
    FieldSpec(
        key="model",
        label="Model",
        hint="Only needed behind API Management or another gateway, e.g. gpt-4o "
        "(Kibana 9.2+). Leave empty for a direct Azure URL.",
        required=False,
        placeholder="gpt-4o",
        max_length=100,
    ),
)


def check(values: FormValues, result: Validation) -> None:
    url = check_url(values, result)
    model = values.get("model", "").strip()
    if url is not None:
        query = parse_qs(url.parts.query)
        versions = query.get("api-version", [])
        direct = url.host.endswith(AZURE_HOSTS)
        if direct and not DEPLOYMENT_PATH.match(url.parts.path):
            result.error(
                "api_url",
                "The path must be /openai/deployments/{deployment}/chat/completions. "
                f"Copy it from the deployment's View code, e.g. {EXAMPLE_URL}",
            )
        elif not versions:
            result.error(
                "api_url",
                "Add the api-version to the URL, e.g. …/chat/completions?api-version=2024-10-21 "
                "(Azure answers 404 without it).",
            )
        elif not API_VERSION.match(versions[0]):
            result.error("api_url", "api-version looks like 2024-10-21 or 2025-01-01-preview.")
        elif not direct and not model:
            result.error(
                "model",
                f"{url.host} is not an Azure OpenAI host, so it is a gateway (e.g. API "
                "Management): give the model it should route to, e.g. gpt-4o.",
            )
    check_secret(values, result, "api_key", missing="Paste KEY 1 or KEY 2 of the resource.")
    if model and " " in model:
        result.error("model", "Remove the spaces: the model is a single name, e.g. gpt-4o.")


class AzureSettings(Settings):
    api_url: str
    model: str | None = None  # only behind a gateway


class AzureSecrets(Secrets):
    api_key: SecretStr


def connector_payload(
    settings: AzureSettings, secrets: AzureSecrets
) -> tuple[dict[str, Any], dict[str, str]]:
    config = non_empty(
        {"apiProvider": "Azure OpenAI", "apiUrl": settings.api_url, "defaultModel": settings.model}
    )
    return config, {"apiKey": secrets.api_key.get_secret_value()}


def inference_payload(settings: AzureSettings, secrets: AzureSecrets) -> InferencePayload:
    """The `azureopenai` service: Elasticsearch builds the URL from its three parts, read
    here from the deployment URL the form checked."""
    url = urlsplit(settings.api_url)
    host = url.hostname or ""
    deployment = DEPLOYMENT_PATH.match(url.path)
    versions = parse_qs(url.query).get("api-version", [])
    suffix = next((s for s in AZURE_HOSTS if host.endswith(s)), None)
    if suffix is None or deployment is None or not versions:
        raise ValueError(
            "An inference endpoint needs an Azure deployment URL "
            "(https://{resource}.openai.azure.com/openai/deployments/{deployment}/chat/"
            "completions?api-version=…); a gateway URL can only be a connector."
        )
    service_settings = {
        "api_key": secrets.api_key.get_secret_value(),
        "resource_name": host[: -len(suffix)],
        "deployment_id": deployment.group(1),
        "api_version": versions[0],
    }
    return InferencePayload("azureopenai", service_settings, secret_settings=frozenset({"api_key"}))


SPEC = ProviderSpec(
    key=Provider.AZURE_OPENAI,
    label="Azure OpenAI",
    summary="A model deployment in Azure OpenAI (.gen-ai, provider Azure OpenAI).",
    fields=FIELDS,
    check=check,
    settings_model=AzureSettings,
    secrets_model=AzureSecrets,
    supported_backends=frozenset({CONNECTOR, INFERENCE}),
    connector=ConnectorTarget(".gen-ai", connector_payload),
    inference=InferenceTarget("azureopenai", inference_payload),
    example={"api_url": EXAMPLE_URL, "api_key": "0123456789abcdef0123456789abcdef"},
)
