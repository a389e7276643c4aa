"""Elastic Inference Service (EIS): an Elasticsearch `elastic` inference endpoint on one of
the chat models Elastic runs.

No key: EIS authenticates the deployment itself (Elastic Cloud, serverless, or a
self-managed cluster connected through Cloud Connect, 9.3+). Deployments without EIS refuse
the endpoint when it is created; the failure hint says what the deployment needs.
"""

from __future__ import annotations

import re

from bot.domain.enums import Provider
from bot.domain.fields import FieldSpec, FormValues, Validation, check_required_text
from bot.domain.providers.spec import (
    INFERENCE,
    InferencePayload,
    InferenceTarget,
    NoSecrets,
    ProviderSpec,
    Settings,
)

SERVICE = "elastic"
DEFAULT_MODEL = "anthropic-claude-4.5-sonnet"

# EIS chat models (Elastic's docs, "Chat models"); a model added since is allowed, with a
# warning, because the deployment is the one that knows.
CHAT_MODELS = (
    "anthropic-claude-3.7-sonnet",
    "anthropic-claude-4.5-sonnet",
    "google-gemini-2.5-flash",
    "google-gemini-2.5-pro",
    "openai-gpt-4.1",
    "openai-gpt-4.1-mini",
    "openai-gpt-5.2",
    "openai-gpt-oss-120b",
    "gp-llm-v2",
    "rainbow-sprinkles",
)
MODEL_ID = re.compile(r"^[a-z0-9]+(?:[-._][a-z0-9]+)*$")
NOT_CHAT = re.compile(r"elser|embed|rerank|jina", re.IGNORECASE)
ENDPOINT_SUFFIX = re.compile(r"-(?:chat_completion|elastic)$")
MODEL_EXAMPLE = "anthropic-claude-4.5-sonnet or openai-gpt-4.1"

FIELDS = (
    FieldSpec(
        key="model",
        label="EIS model",
        hint=f"An Elastic Inference Service chat model, e.g. {MODEL_EXAMPLE}. EIS needs an "
        "Elastic Cloud deployment, a serverless project, or Cloud Connect (9.3+).",
        placeholder=DEFAULT_MODEL,
        initial=DEFAULT_MODEL,
        max_length=100,
    ),
)


def check(values: FormValues, result: Validation) -> None:
    model = check_required_text(
        values, result, "model", missing=f"Give the EIS model id, e.g. {MODEL_EXAMPLE}."
    )
    if not model or "model" in result.errors:
        return
    if model.startswith(".") or ENDPOINT_SUFFIX.search(model):
        result.error(
            "model",
            f"{model} looks like a preconfigured EIS endpoint id: that endpoint already exists "
            "and can be picked in Kibana as it is. To create your own, give a model id, e.g. "
            f"{MODEL_EXAMPLE}.",
        )
    elif "://" in model:
        result.error("model", f"EIS takes no URL: give only the model id, e.g. {MODEL_EXAMPLE}.")
    elif not MODEL_ID.match(model):
        result.error(
            "model", f"EIS model ids are lowercase words joined by -, e.g. {MODEL_EXAMPLE}."
        )
    elif NOT_CHAT.search(model):
        result.error(
            "model",
            f"{model} is an embedding or rerank model, not a chat model: pick one of "
            f"{', '.join(CHAT_MODELS[:8])}.",
        )
    elif model not in CHAT_MODELS:
        result.warnings.append(
            f"{model} is not among the EIS chat models the bot knows ({', '.join(CHAT_MODELS)})"
            ": Elasticsearch refuses it at creation if the deployment does not offer it."
        )


class ElasticInferenceSettings(Settings):
    model: str


def inference_payload(settings: ElasticInferenceSettings, _secrets: NoSecrets) -> InferencePayload:
    # No rate_limit: the newest Elasticsearch refuses it for the elastic service.
    return InferencePayload(service=SERVICE, service_settings={"model_id": settings.model})


SPEC = ProviderSpec(
    key=Provider.ELASTIC_INFERENCE,
    label="Elastic Inference Service",
    summary="A chat model run by Elastic (EIS), billed per token with the deployment: an "
    "Elasticsearch inference endpoint (elastic service), no key needed.",
    fields=FIELDS,
    check=check,
    settings_model=ElasticInferenceSettings,
    secrets_model=NoSecrets,
    supported_backends=frozenset({INFERENCE}),
    inference=InferenceTarget(SERVICE, inference_payload),
    example={"model": DEFAULT_MODEL},
)
