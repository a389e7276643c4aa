"""The providers only the inference back-end offers (Anthropic, Mistral, Elastic Inference
Service): their own checks, with the message under the field, and the exact body each builds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bot.domain.enums import Provider
from bot.domain.providers import provider_spec
from bot.domain.providers.spec import InferencePayload
from tests.fakes import elasticsearch_services as svc
from tests.unit.domain import samples as s


@dataclass(frozen=True)
class Bad:
    id: str
    provider: Provider
    overrides: dict[str, str | None]
    field: str
    says: str


BAD = [
    Bad(
        "anthropic-no-key", Provider.ANTHROPIC, {"api_key": None}, "api_key", "Paste the Anthropic"
    ),
    Bad(
        "anthropic-openai-key",
        Provider.ANTHROPIC,
        {"api_key": "sk-proj-Ab12Cd34Ef56"},
        "api_key",
        "start with sk-ant-api",
    ),
    Bad(
        "anthropic-admin-key",
        Provider.ANTHROPIC,
        {"api_key": "sk-ant-admin01-Ab12Cd34Ef56"},
        "api_key",
        "Admin key",
    ),
    Bad(
        "anthropic-short-key",
        Provider.ANTHROPIC,
        {"api_key": "sk-ant-api03-x"},
        "api_key",
        "paste the whole key",
    ),
    Bad(
        "anthropic-spaced-key",
        Provider.ANTHROPIC,
        {"api_key": "sk-ant-api03-Ab12 Cd34Ef56"},
        "api_key",
        "spaces",
    ),
    Bad(
        "anthropic-bedrock-model",
        Provider.ANTHROPIC,
        {"model": "anthropic.claude-3-5-sonnet-20240620-v1:0"},
        "model",
        "Amazon Bedrock",
    ),
    Bad(
        "anthropic-bedrock-profile",
        Provider.ANTHROPIC,
        {"model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
        "model",
        "Amazon Bedrock",
    ),
    Bad(
        "anthropic-vertex-model",
        Provider.ANTHROPIC,
        {"model": "claude-sonnet-4-5@20250929"},
        "model",
        "Vertex AI",
    ),
    Bad(
        "anthropic-url-as-model",
        Provider.ANTHROPIC,
        {"model": "https://api.anthropic.com/v1/messages"},
        "model",
        "takes no URL",
    ),
    Bad(
        "anthropic-not-claude",
        Provider.ANTHROPIC,
        {"model": "gpt-4.1"},
        "model",
        "start with claude-",
    ),
    Bad(
        "anthropic-capitals",
        Provider.ANTHROPIC,
        {"model": "Claude-Sonnet-4-5"},
        "model",
        "lowercase",
    ),
    Bad(
        "anthropic-no-max-tokens",
        Provider.ANTHROPIC,
        {"max_tokens": ""},
        "max_tokens",
        "answer length",
    ),
    Bad(
        "anthropic-zero-tokens", Provider.ANTHROPIC, {"max_tokens": "0"}, "max_tokens", "from 1 to"
    ),
    Bad(
        "anthropic-huge-tokens",
        Provider.ANTHROPIC,
        {"max_tokens": "1000000"},
        "max_tokens",
        "from 1 to",
    ),
    Bad(
        "anthropic-words-tokens",
        Provider.ANTHROPIC,
        {"max_tokens": "1k"},
        "max_tokens",
        "whole number",
    ),
    Bad(
        "anthropic-unicode-digits",
        Provider.ANTHROPIC,
        {"max_tokens": "١٠٢٤"},
        "max_tokens",
        "whole number",
    ),
    Bad("mistral-no-key", Provider.MISTRAL, {"api_key": None}, "api_key", "Paste the Mistral"),
    Bad(
        "mistral-openai-key",
        Provider.MISTRAL,
        {"api_key": "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn"},
        "api_key",
        "OpenAI or Anthropic",
    ),
    Bad(
        "mistral-short-key",
        Provider.MISTRAL,
        {"api_key": "Ab12Cd34"},
        "api_key",
        "32 letters and digits",
    ),
    Bad(
        "mistral-punctuated-key",
        Provider.MISTRAL,
        {"api_key": "Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op5-"},
        "api_key",
        "not letters or digits",
    ),
    Bad(
        "mistral-hf-model",
        Provider.MISTRAL,
        {"model": "mistralai/Mistral-7B-Instruct-v0.3"},
        "model",
        "vLLM",
    ),
    Bad(
        "mistral-bedrock-model",
        Provider.MISTRAL,
        {"model": "mistral.mistral-large-2402-v1:0"},
        "model",
        "Amazon Bedrock",
    ),
    Bad(
        "mistral-vertex-model",
        Provider.MISTRAL,
        {"model": "mistral-large@2407"},
        "model",
        "Vertex AI",
    ),
    Bad(
        "mistral-url-as-model",
        Provider.MISTRAL,
        {"model": "https://api.mistral.ai/v1/chat/completions"},
        "model",
        "takes no URL",
    ),
    Bad(
        "mistral-embedding",
        Provider.MISTRAL,
        {"model": "mistral-embed"},
        "model",
        "not a chat model",
    ),
    Bad(
        "mistral-moderation",
        Provider.MISTRAL,
        {"model": "mistral-moderation-latest"},
        "model",
        "not a chat model",
    ),
    Bad("mistral-capitals", Provider.MISTRAL, {"model": "Mistral-Large"}, "model", "lowercase"),
    Bad("eis-no-model", Provider.ELASTIC_INFERENCE, {"model": ""}, "model", "Give the EIS model"),
    Bad(
        "eis-endpoint-id",
        Provider.ELASTIC_INFERENCE,
        {"model": ".rainbow-sprinkles-elastic"},
        "model",
        "preconfigured EIS endpoint",
    ),
    Bad(
        "eis-endpoint-id-no-dot",
        Provider.ELASTIC_INFERENCE,
        {"model": "gp-llm-v2-chat_completion"},
        "model",
        "already exists",
    ),
    Bad(
        "eis-elser",
        Provider.ELASTIC_INFERENCE,
        {"model": "elser_model_2"},
        "model",
        "not a chat model",
    ),
    Bad(
        "eis-rerank",
        Provider.ELASTIC_INFERENCE,
        {"model": "jina-reranker-v2"},
        "model",
        "not a chat model",
    ),
    Bad(
        "eis-url",
        Provider.ELASTIC_INFERENCE,
        {"model": "https://eis.elastic.co/x"},
        "model",
        "takes no URL",
    ),
    Bad(
        "eis-capitals",
        Provider.ELASTIC_INFERENCE,
        {"model": "OpenAI-GPT-4.1"},
        "model",
        "lowercase",
    ),
]


@pytest.mark.parametrize("bad", BAD, ids=[b.id for b in BAD])
def test_a_bad_value_is_refused_under_its_field(bad: Bad) -> None:
    result = provider_spec(bad.provider).parse(s.valid_values(bad.provider, **bad.overrides))
    assert result.draft is None
    assert bad.field in result.errors, result.errors
    assert bad.says in result.errors[bad.field], result.errors[bad.field]
    assert set(result.errors) == {bad.field}, "only the broken field is blamed"


GOOD = [
    (Provider.ANTHROPIC, {"model": "claude-opus-4-1-20250805"}),
    (Provider.ANTHROPIC, {"model": "claude-3-5-haiku-latest", "max_tokens": "64000"}),
    (Provider.ANTHROPIC, {"api_key": "sk-ant-api03-" + "Ab_-" * 20}),
    (Provider.MISTRAL, {"model": "mistral-large-2411"}),
    (Provider.MISTRAL, {"model": "codestral-latest"}),
    (Provider.MISTRAL, {"model": "open-mistral-nemo"}),
    (Provider.ELASTIC_INFERENCE, {"model": "openai-gpt-4.1-mini"}),
    (Provider.ELASTIC_INFERENCE, {"model": "google-gemini-2.5-pro"}),
]


@pytest.mark.parametrize(("provider", "overrides"), GOOD, ids=[str(g) for g in GOOD])
def test_real_values_pass(provider: Provider, overrides: dict[str, str]) -> None:
    result = provider_spec(provider).parse(s.valid_values(provider, **overrides))
    assert result.errors == {}
    assert result.warnings == []


def test_an_eis_model_the_bot_does_not_know_passes_with_a_warning() -> None:
    spec = provider_spec(Provider.ELASTIC_INFERENCE)
    result = spec.parse(s.valid_values(Provider.ELASTIC_INFERENCE, model="openai-gpt-6"))
    assert result.errors == {}
    assert result.draft is not None
    assert len(result.warnings) == 1
    assert "openai-gpt-6 is not among the EIS chat models" in result.warnings[0]


def _payload(provider: Provider, **overrides: str) -> tuple[dict[str, Any], InferencePayload]:
    spec = provider_spec(provider)
    draft = spec.parse(s.valid_values(provider, **overrides)).draft
    assert draft is not None
    payload = spec.inference_payload(draft)
    body: dict[str, Any] = {
        "service": payload.service,
        "service_settings": payload.service_settings,
    }
    if payload.task_settings:
        body["task_settings"] = payload.task_settings
    return body, payload


def test_anthropic_builds_the_reference_body_with_max_tokens() -> None:
    key = "sk-ant-api03-Zz98Yy76Xx54"
    body, payload = _payload(Provider.ANTHROPIC, api_key=key, max_tokens="2048")
    reference = svc.EXAMPLES["anthropic"]  # the reference's PUT (section 2.7)
    assert body == {
        **reference,
        "service_settings": {**reference["service_settings"], "api_key": key},
        "task_settings": {"max_tokens": 2048},
    }
    assert payload.secret_settings == frozenset({"api_key"})


def test_mistral_builds_model_not_model_id_and_no_task_settings() -> None:
    key = "Zz98Yy76Xx54Ww32Vv10Uu98Tt76Ss54"
    body, payload = _payload(Provider.MISTRAL, api_key=key, model="mistral-small-latest")
    reference = svc.EXAMPLES["mistral"]  # the reference's PUT (section 2.8)
    assert body == {
        **reference,
        "service_settings": {**reference["service_settings"], "api_key": key},
    }
    assert payload.secret_settings == frozenset({"api_key"})


def test_eis_builds_only_the_model_id_with_no_secrets_and_no_rate_limit() -> None:
    body, payload = _payload(Provider.ELASTIC_INFERENCE)
    assert body == svc.EXAMPLES["elastic"]
    assert payload.secret_settings == frozenset()


@pytest.mark.parametrize(
    "provider", [Provider.ANTHROPIC, Provider.MISTRAL, Provider.ELASTIC_INFERENCE]
)
def test_inference_only_providers_have_no_connector(provider: Provider) -> None:
    spec = provider_spec(provider)
    assert spec.supported_backends == {"inference"}
    assert spec.connector is None
    assert spec.connector_type_id is None
    assert spec.provisions
    draft = spec.parse(s.valid_values(provider)).draft
    assert draft is not None
    with pytest.raises(ValueError, match="no connector back-end"):
        spec.connector_payload(draft)
