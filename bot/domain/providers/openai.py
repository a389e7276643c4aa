"""OpenAI (api.openai.com): a `.gen-ai` connector with apiProvider OpenAI."""

from __future__ import annotations

import re
from typing import Any

from pydantic import SecretStr

from bot.domain.enums import Provider
from bot.domain.fields import (
    FieldKind,
    FieldSpec,
    FormValues,
    Validation,
    check_required_text,
    check_secret,
    check_url,
)
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

OPENAI_URL = "https://api.openai.com/v1/chat/completions"
ORGANIZATION_ID = re.compile(r"^org-[A-Za-z0-9]{8,64}$")
PROJECT_ID = re.compile(r"^proj_[A-Za-z0-9]{8,64}$")

FIELDS = (
    FieldSpec(
        key="api_url",
        label="API URL",
        hint=f"OpenAI's chat completions endpoint; keep the default: {OPENAI_URL}",
        kind=FieldKind.URL,
        initial=OPENAI_URL,
    ),
    FieldSpec(
        key="model",
        label="Model",
        hint="The model the connector uses by default, e.g. gpt-4.1 or gpt-4o.",
        placeholder="gpt-4.1",
        initial="gpt-4.1",
        max_length=100,
    ),
    FieldSpec(
        key="api_key",
        label="API key",
        hint="A secret key from platform.openai.com (starts with sk-). Encrypted until the "
        "connector exists, then erased; never shown.",
        placeholder="sk-…",
        secret=True,
        max_length=300,
    ),
    FieldSpec(
        key="organization_id",
        label="Organization id",
        hint="Optional: sent as OpenAI-Organization, e.g. org-AbC123xyz.",
        required=False,
        placeholder="org-…",
        max_length=80,
    ),
    FieldSpec(
        key="project_id",
        label="Project id",
        hint="Optional: sent as OpenAI-Project, e.g. proj_AbC123xyz.",
        required=False,
        placeholder="proj_…",
        max_length=80,
    ),
)


def check(values: FormValues, result: Validation) -> None:
    url = check_url(values, result)
    if url is not None and not url.parts.path.rstrip("/").endswith("/chat/completions"):
        result.error(
            "api_url",
            f"Kibana posts to this URL as given: use the chat completions endpoint, {OPENAI_URL}",
        )
        url = None
    if url is not None and url.host != "api.openai.com":
        result.warnings.append(
            f"The URL is not api.openai.com ({url.host}). For a proxy or gateway, the "
            "“Other OpenAI-compatible service” provider passes the model through reliably."
        )
    check_required_text(values, result, "model", missing="Give the model, e.g. gpt-4.1.")
    key = check_secret(values, result, "api_key", missing="Paste the OpenAI API key.")
    if key and url is not None and url.host == "api.openai.com" and not key.startswith("sk-"):
        result.error("api_key", "OpenAI API keys start with sk-: check you copied the secret key.")
    organization = values.get("organization_id", "").strip()
    if organization and not ORGANIZATION_ID.match(organization):
        result.error(
            "organization_id", "Organization ids look like org-AbC123xyz (or leave empty)."
        )
    project = values.get("project_id", "").strip()
    if project and not PROJECT_ID.match(project):
        result.error("project_id", "Project ids look like proj_AbC123xyz (or leave empty).")


class OpenAISettings(Settings):
    api_url: str
    model: str
    organization_id: str | None = None
    project_id: str | None = None


class OpenAISecrets(Secrets):
    api_key: SecretStr


def connector_payload(
    settings: OpenAISettings, secrets: OpenAISecrets
) -> tuple[dict[str, Any], dict[str, str]]:
    config = non_empty(
        {
            "apiProvider": "OpenAI",
            "apiUrl": settings.api_url,
            "defaultModel": settings.model,
            "organizationId": settings.organization_id,
            "projectId": settings.project_id,
        }
    )
    return config, {"apiKey": secrets.api_key.get_secret_value()}


def inference_payload(settings: OpenAISettings, secrets: OpenAISecrets) -> InferencePayload:
    """The `openai` service; ``url`` only when it is not OpenAI's own (ES's default)."""
    service_settings = non_empty(
        {
            "api_key": secrets.api_key.get_secret_value(),
            "model_id": settings.model,
            "organization_id": settings.organization_id,
            "url": None if settings.api_url.rstrip("/") == OPENAI_URL else settings.api_url,
        }
    )
    return InferencePayload("openai", service_settings, secret_settings=frozenset({"api_key"}))


SPEC = ProviderSpec(
    key=Provider.OPENAI,
    label="OpenAI",
    summary="OpenAI's API with your organisation's key (.gen-ai, provider OpenAI).",
    fields=FIELDS,
    check=check,
    settings_model=OpenAISettings,
    secrets_model=OpenAISecrets,
    supported_backends=frozenset({CONNECTOR, INFERENCE}),
    connector=ConnectorTarget(".gen-ai", connector_payload),
    inference=InferenceTarget("openai", inference_payload),
    example={"api_url": OPENAI_URL, "model": "gpt-4.1", "api_key": "sk-proj-Ab12Cd34Ef56"},
)
