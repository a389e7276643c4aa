"""Mistral AI (api.mistral.ai): an Elasticsearch `mistral` inference endpoint.

Kibana has no connector for Mistral's API, so this provider is inference-only. The service
takes the key and the model (``model``, not ``model_id``) and no task settings.
"""

from __future__ import annotations

import re

from pydantic import SecretStr

from bot.domain.enums import Provider
from bot.domain.fields import (
    FieldSpec,
    FormValues,
    Validation,
    check_required_text,
    check_secret,
)
from bot.domain.providers.spec import (
    INFERENCE,
    InferencePayload,
    InferenceTarget,
    ProviderSpec,
    Secrets,
    Settings,
)

SERVICE = "mistral"
DEFAULT_MODEL = "mistral-small-latest"
MODEL_EXAMPLE = "mistral-small-latest, mistral-large-latest or codestral-latest"

# Mistral's keys are 32 letters and digits, with no prefix.
API_KEY = re.compile(r"^[A-Za-z0-9]{32}$")
# La Plateforme ids: lowercase words joined by -, ending in -latest or a version (2411, 24.09).
MODEL_ID = re.compile(r"^[a-z][a-z0-9]*(?:[-.][a-z0-9]+)*$")
NOT_CHAT = re.compile(r"(?:^|-)(?:embed|moderation|ocr)(?:-|$)")
BEDROCK_MODEL = re.compile(r"^(?:[a-z]{2,4}\.)?mistral\.|:\d+$|^arn:")

FIELDS = (
    FieldSpec(
        key="model",
        label="Model",
        hint=f"Mistral's model id, e.g. {MODEL_EXAMPLE} (docs.mistral.ai, Models).",
        placeholder=DEFAULT_MODEL,
        initial=DEFAULT_MODEL,
        max_length=100,
    ),
    FieldSpec(
        key="api_key",
        label="API key",
        hint="A key from console.mistral.ai (API keys: 32 letters and digits). Encrypted "
        "until the endpoint exists, then erased; never shown.",
        placeholder="32 letters and digits",
        secret=True,
        max_length=300,
    ),
)


def check_model(values: FormValues, result: Validation) -> None:
    model = check_required_text(
        values, result, "model", missing=f"Give the model id, e.g. {MODEL_EXAMPLE}."
    )
    if not model or "model" in result.errors:
        return
    if "://" in model or model.startswith("api.mistral.ai"):
        result.error(
            "model",
            "Elasticsearch's mistral service always calls api.mistral.ai and takes no URL: give "
            f"only the model id, e.g. {DEFAULT_MODEL}. A self-hosted Mistral model goes through "
            "the vLLM or OpenAI-compatible provider.",
        )
    elif "/" in model:
        result.error(
            "model",
            "That is an open-weights model name (as on Hugging Face): for a model you host, use "
            f"the vLLM or OpenAI-compatible provider; for Mistral's API, e.g. {DEFAULT_MODEL}.",
        )
    elif BEDROCK_MODEL.search(model) or "@" in model:
        result.error(
            "model",
            "That is an Amazon Bedrock or Google Vertex AI model id: use that provider, or give "
            f"Mistral's own id, e.g. {DEFAULT_MODEL}.",
        )
    elif not MODEL_ID.match(model):
        result.error(
            "model", f"Mistral model ids are lowercase words joined by -, e.g. {MODEL_EXAMPLE}."
        )
    elif NOT_CHAT.search(model):
        result.error(
            "model",
            f"{model} is not a chat model (embeddings, moderation or OCR): pick a chat model, "
            f"e.g. {MODEL_EXAMPLE}.",
        )


def check_key(values: FormValues, result: Validation) -> None:
    key = check_secret(values, result, "api_key", missing="Paste the Mistral API key.")
    if not key or "api_key" in result.errors:
        return
    if key.startswith("sk-"):
        result.error(
            "api_key",
            "That looks like an OpenAI or Anthropic key (sk-…): Mistral keys are 32 letters and "
            "digits without a prefix, from console.mistral.ai.",
        )
    elif not API_KEY.match(key):
        result.error(
            "api_key",
            f"Mistral API keys are 32 letters and digits (this one has {len(key)} characters"
            f"{'' if key.isalnum() else ', some of them not letters or digits'}): paste the "
            "whole key again.",
        )


def check(values: FormValues, result: Validation) -> None:
    check_model(values, result)
    check_key(values, result)


class MistralSettings(Settings):
    model: str


class MistralSecrets(Secrets):
    api_key: SecretStr


def inference_payload(settings: MistralSettings, secrets: MistralSecrets) -> InferencePayload:
    return InferencePayload(
        service=SERVICE,
        service_settings={"api_key": secrets.api_key.get_secret_value(), "model": settings.model},
        secret_settings=frozenset({"api_key"}),
    )


SPEC = ProviderSpec(
    key=Provider.MISTRAL,
    label="Mistral AI",
    summary="Mistral's API (La Plateforme) with your organisation's key: an Elasticsearch "
    "inference endpoint (mistral service); no Kibana connector exists for it.",
    fields=FIELDS,
    check=check,
    settings_model=MistralSettings,
    secrets_model=MistralSecrets,
    supported_backends=frozenset({INFERENCE}),
    inference=InferenceTarget(SERVICE, inference_payload),
    example={"model": DEFAULT_MODEL, "api_key": "Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56"},
)
