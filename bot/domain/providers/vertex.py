"""Google Vertex AI (Gemini): a `.gemini` connector with a service-account key."""

from __future__ import annotations

import json
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

DEFAULT_MODEL = "gemini-2.5-pro"
REGION = re.compile(r"^[a-z]+-[a-z]+\d{1,2}$")
REGIONAL_HOST = re.compile(r"^([a-z]+-[a-z]+\d{1,2})-aiplatform\.googleapis\.com$")
PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
REQUIRED_KEYS = ("project_id", "private_key", "client_email")

FIELDS = (
    FieldSpec(
        key="api_url",
        label="Vertex AI URL",
        hint="The regional endpoint https://{region}-aiplatform.googleapis.com, e.g. "
        "https://us-central1-aiplatform.googleapis.com",
        kind=FieldKind.URL,
        initial="https://us-central1-aiplatform.googleapis.com",
    ),
    FieldSpec(
        key="gcp_region",
        label="GCP region",
        hint="The same region as the URL, e.g. us-central1 or europe-west4.",
        initial="us-central1",
        max_length=40,
    ),
    FieldSpec(
        key="gcp_project_id",
        label="GCP project id",
        hint="The project id (not its number or display name), e.g. my-project-123.",
        placeholder="my-project-123",
        max_length=30,
    ),
    FieldSpec(
        key="model",
        label="Model",
        hint=f"The Gemini model, e.g. {DEFAULT_MODEL} or gemini-2.5-flash.",
        initial=DEFAULT_MODEL,
        max_length=100,
    ),
    FieldSpec(
        key="credentials_json",
        label="Service-account key (JSON)",
        hint="Paste the whole JSON key file of a service account with the Vertex AI User "
        "role. Encrypted until the connector exists, then erased.",
        kind=FieldKind.MULTILINE,
        secret=True,
        max_length=3000,
    ),
)


def check(values: FormValues, result: Validation) -> None:
    url = check_url(values, result)
    region = check_required_text(
        values,
        result,
        "gcp_region",
        missing="Give the GCP region, e.g. us-central1.",
        max_length=40,
    )
    if region and "gcp_region" not in result.errors and not REGION.match(region):
        result.error("gcp_region", "Regions look like us-central1 or europe-west4.")
    if url is not None:
        match = REGIONAL_HOST.match(url.host)
        if match is None:
            result.error(
                "api_url",
                "Use the regional endpoint https://{region}-aiplatform.googleapis.com, e.g. "
                "https://us-central1-aiplatform.googleapis.com",
            )
        elif url.parts.path not in {"", "/"} or url.parts.query:
            result.error("api_url", "Give only the host: the connector adds the model path.")
        elif region and "gcp_region" not in result.errors and match.group(1) != region:
            result.error(
                "api_url",
                f"The URL is for {match.group(1)} but the region is {region}: use "
                f"https://{region}-aiplatform.googleapis.com or change the region.",
            )
    project = check_required_text(
        values, result, "gcp_project_id", missing="Give the GCP project id.", max_length=30
    )
    if project and "gcp_project_id" not in result.errors and not PROJECT_ID.match(project):
        result.error(
            "gcp_project_id",
            "Project ids are 6 to 30 lowercase letters, digits and hyphens, led by a letter.",
        )
    check_required_text(values, result, "model", missing=f"Give the model, e.g. {DEFAULT_MODEL}.")
    check_credentials(values.get("credentials_json", "").strip(), project, result)


def check_credentials(raw: str, project: str, result: Validation) -> None:
    if not raw:
        result.error("credentials_json", "Paste the service account's JSON key file.")
        return
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        result.error(
            "credentials_json",
            f"That is not valid JSON (line {error.lineno}, column {error.colno}): paste the "
            "whole file, from { to }.",
        )
        return
    except RecursionError:  # nested deeper than a key file ever is
        result.error("credentials_json", "That is not a key file: paste the whole file.")
        return
    if not isinstance(document, dict):
        result.error("credentials_json", "The key file is a JSON object, from { to }.")
        return
    if document.get("type") != "service_account":
        result.error(
            "credentials_json",
            f"Only service-account keys work (this one is type {document.get('type')!r}): "
            "create a JSON key for a service account.",
        )
        return
    missing = [key for key in REQUIRED_KEYS if not document.get(key)]
    if missing:
        result.error(
            "credentials_json", f"The key file lacks {', '.join(missing)}: download it again."
        )
        return
    if "-----BEGIN PRIVATE KEY-----" not in str(document["private_key"]):
        result.error("credentials_json", "private_key is not a PEM key: download the key again.")
    elif project and document["project_id"] != project:
        result.error(
            "gcp_project_id",
            f"The service account belongs to {document['project_id']}, not {project}: use "
            f"{document['project_id']}, or a key from a service account of {project}.",
        )


class VertexSettings(Settings):
    api_url: str
    gcp_region: str
    gcp_project_id: str
    model: str


class VertexSecrets(Secrets):
    credentials_json: SecretStr


def connector_payload(
    settings: VertexSettings, secrets: VertexSecrets
) -> tuple[dict[str, Any], dict[str, str]]:
    config = non_empty(
        {
            "apiUrl": settings.api_url,
            "gcpRegion": settings.gcp_region,
            "gcpProjectID": settings.gcp_project_id,
            "defaultModel": settings.model,
        }
    )
    document = json.loads(secrets.credentials_json.get_secret_value())
    return config, {"credentialsJson": json.dumps(document)}


# The shape of a key file, belonging to nothing (the private key is not a key).
EXAMPLE_KEY_FILE = {
    "type": "service_account",
    "project_id": "my-project-123",
    "private_key_id": "0123456789abcdef0123456789abcdef01234567",
    "private_key": "-----BEGIN PRIVATE KEY-----\nexample\n-----END PRIVATE KEY-----\n",
    "client_email": "kibana-gemini@my-project-123.iam.gserviceaccount.com",
}


def inference_payload(settings: VertexSettings, secrets: VertexSecrets) -> InferencePayload:
    """The `googlevertexai` service (Gemini mode): the key file as one JSON string."""
    document = json.loads(secrets.credentials_json.get_secret_value())
    service_settings = {
        "service_account_json": json.dumps(document),
        "project_id": settings.gcp_project_id,
        "location": settings.gcp_region,
        "model_id": settings.model,
    }
    return InferencePayload(
        "googlevertexai", service_settings, secret_settings=frozenset({"service_account_json"})
    )


SPEC = ProviderSpec(
    key=Provider.VERTEX,
    label="Google Vertex AI (Gemini)",
    summary="Gemini models on Vertex AI with a service account (.gemini).",
    fields=FIELDS,
    check=check,
    settings_model=VertexSettings,
    secrets_model=VertexSecrets,
    supported_backends=frozenset({CONNECTOR, INFERENCE}),
    connector=ConnectorTarget(".gemini", connector_payload),
    inference=InferenceTarget("googlevertexai", inference_payload),
    example={
        "api_url": "https://us-central1-aiplatform.googleapis.com",
        "gcp_region": "us-central1",
        "gcp_project_id": "my-project-123",
        "model": DEFAULT_MODEL,
        "credentials_json": json.dumps(EXAMPLE_KEY_FILE, indent=2),
    },
)
