"""Anthropic (api.anthropic.com): an Elasticsearch `anthropic` inference endpoint.

Kibana has no connector for Anthropic's own API, so this provider is inference-only. The
service takes the key and the model id, and requires ``task_settings.max_tokens``.
"""

from __future__ import annotations

import re

from pydantic import PositiveInt, SecretStr

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

SERVICE = "anthropic"
DEFAULT_MODEL = "claude-sonnet-4-5"
DEFAULT_MAX_TOKENS = 1024
MAX_TOKENS_LIMIT = 128_000  # the largest output any Claude model takes

API_KEY = re.compile(r"^sk-ant-api\d{2}-[A-Za-z0-9_-]{8,}$")
ADMIN_KEY = re.compile(r"^sk-ant-admin\d{2}-")
# Anthropic's own ids: claude-sonnet-4-5, claude-opus-4-1-20250805, claude-3-5-haiku-latest…
MODEL_ID = re.compile(r"^claude-[a-z0-9]+(?:[-.][a-z0-9]+)*$")
BEDROCK_MODEL = re.compile(r"^(?:[a-z]{2,4}\.)?anthropic\.|:\d+$|^arn:")
VERTEX_MODEL = re.compile(r"@")
MODEL_EXAMPLE = "claude-sonnet-4-5 or claude-opus-4-1-20250805"

FIELDS = (
    FieldSpec(
        key="model",
        label="Model",
        hint=f"Anthropic's model id, e.g. {MODEL_EXAMPLE} (docs.anthropic.com, Models).",
        placeholder=DEFAULT_MODEL,
        initial=DEFAULT_MODEL,
        max_length=100,
    ),
    FieldSpec(
        key="api_key",
        label="API key",
        hint="A key from console.anthropic.com (starts with sk-ant-api). Encrypted until the "
        "endpoint exists, then erased; never shown.",
        placeholder="sk-ant-api03-…",
        secret=True,
        max_length=300,
    ),
    FieldSpec(
        key="max_tokens",
        label="Max output tokens",
        hint="Anthropic requires a limit on each answer's length; 1024 suits most uses.",
        placeholder=str(DEFAULT_MAX_TOKENS),
        initial=str(DEFAULT_MAX_TOKENS),
        max_length=6,
    ),
)


def check_model(values: FormValues, result: Validation) -> None:
    model = check_required_text(
        values, result, "model", missing=f"Give the model id, e.g. {MODEL_EXAMPLE}."
    )
    if not model or "model" in result.errors:
        return
    if "://" in model or model.startswith("api.anthropic.com"):
        result.error(
            "model",
            "Elasticsearch's anthropic service always calls api.anthropic.com and takes no URL: "
            f"give only the model id, e.g. {DEFAULT_MODEL}.",
        )
    elif BEDROCK_MODEL.search(model):
        result.error(
            "model",
            "That is an Amazon Bedrock model id: use the Amazon Bedrock provider, or give "
            f"Anthropic's own id, e.g. {DEFAULT_MODEL}.",
        )
    elif VERTEX_MODEL.search(model):
        result.error(
            "model",
            "That is a Google Vertex AI model id (with @version): use the Google Vertex AI "
            f"provider, or give Anthropic's own id, e.g. {DEFAULT_MODEL}.",
        )
    elif not MODEL_ID.match(model):
        result.error(
            "model",
            f"Anthropic model ids are lowercase and start with claude-, e.g. {MODEL_EXAMPLE}.",
        )


def check_key(values: FormValues, result: Validation) -> None:
    key = check_secret(values, result, "api_key", missing="Paste the Anthropic API key.")
    if not key or "api_key" in result.errors:
        return
    if ADMIN_KEY.match(key):
        result.error(
            "api_key",
            "That is an Anthropic Admin key (sk-ant-admin…), which cannot send messages: "
            "create an API key (sk-ant-api…) in console.anthropic.com.",
        )
    elif not key.startswith("sk-ant-"):
        result.error(
            "api_key",
            "Anthropic API keys start with sk-ant-api (an sk-… key without ant- is OpenAI's): "
            "check you copied the key from console.anthropic.com.",
        )
    elif not API_KEY.match(key):
        result.error(
            "api_key",
            "Anthropic API keys look like sk-ant-api03-… followed by letters, digits, - and _: "
            "paste the whole key again.",
        )


def check_max_tokens(values: FormValues, result: Validation) -> None:
    text = values.get("max_tokens", "").strip()
    if not text:
        result.error("max_tokens", f"Give the answer length limit, e.g. {DEFAULT_MAX_TOKENS}.")
    elif not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_TOKENS_LIMIT:
        result.error(
            "max_tokens",
            f"Give a whole number of tokens from 1 to {MAX_TOKENS_LIMIT}, e.g. "
            f"{DEFAULT_MAX_TOKENS}.",
        )


def check(values: FormValues, result: Validation) -> None:
    check_model(values, result)
    check_key(values, result)
    check_max_tokens(values, result)


class AnthropicSettings(Settings):
    model: str
    max_tokens: PositiveInt


class AnthropicSecrets(Secrets):
    api_key: SecretStr


def inference_payload(settings: AnthropicSettings, secrets: AnthropicSecrets) -> InferencePayload:
    return InferencePayload(
        service=SERVICE,
        service_settings={
            "api_key": secrets.api_key.get_secret_value(),
            "model_id": settings.model,
        },
        task_settings={"max_tokens": settings.max_tokens},
        secret_settings=frozenset({"api_key"}),
    )


SPEC = ProviderSpec(
    key=Provider.ANTHROPIC,
    label="Anthropic",
    summary="Anthropic's API (Claude) with your organisation's key: an Elasticsearch "
    "inference endpoint (anthropic service); no Kibana connector exists for it.",
    fields=FIELDS,
    check=check,
    settings_model=AnthropicSettings,
    secrets_model=AnthropicSecrets,
    supported_backends=frozenset({INFERENCE}),
    inference=InferenceTarget(SERVICE, inference_payload),
    example={
        "model": DEFAULT_MODEL,
        "api_key": "sk-ant-api03-Ab12Cd34Ef56Gh78",
        "max_tokens": str(DEFAULT_MAX_TOKENS),
    },
)
