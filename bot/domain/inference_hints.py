"""Plain-language causes and fixes for what Elasticsearch (and the provider behind it) says
when an inference endpoint fails: at PUT (Elasticsearch calls the provider when the endpoint
is created) or in the `_stream` test.

Hints are keyed by Elasticsearch inference service (``anthropic``, ``mistral``, ``elastic``…):
a service's own hints are tried after Elasticsearch's refusals, then what the provider's
status says (as a number when Elasticsearch quoted it, or in its text), then generic ones.
A service adds its hints to ``SERVICE_HINTS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from bot.domain.connector_types.spec import Hint, hint

# Elasticsearch's own refusals, whatever the service.
ELASTICSEARCH_HINTS: tuple[Hint, ...] = (
    hint(
        r"license is non-compliant for \[inference\]|license\.expired\.feature",
        "Inference endpoints for external providers need an Enterprise licence (or a trial) "
        "on this Elasticsearch; Elastic Inference Service models do not.",
    ),
    hint(
        r"action \[cluster:admin/xpack/inference/[a-z_/]+\] is unauthorized|"
        r"cluster:monitor/xpack/inference.{0,40}unauthorized",
        "The bot's Elasticsearch API key lacks the manage_inference cluster privilege: give "
        "the key's role manage_inference (and monitor_inference) and try again.",
    ),
    hint(
        r"Timed out after \[[^\]]+\] waiting for the validation call",
        "The provider did not answer Elasticsearch's validation call in time: check its "
        "status page and try again.",
    ),
)

ANTHROPIC_HINTS: tuple[Hint, ...] = (
    hint(
        r"invalid x-api-key|authentication_error",
        "Anthropic rejected the key: create an API key (sk-ant-api…) in console.anthropic.com "
        "under Settings → API keys and request the endpoint again.",
    ),
    hint(
        r"credit balance is too low|billing",
        "Anthropic refuses requests on this account for billing: add credits or a payment "
        "method in console.anthropic.com (Plans & Billing), then request again.",
    ),
    hint(
        r"not_found_error|model: ",
        "Anthropic does not know this model id (or the key's workspace has no access): use an "
        "id from docs.anthropic.com, Models, e.g. claude-sonnet-4-5.",
    ),
    hint(
        r"max_tokens",
        "Anthropic refused the answer length: lower Max output tokens to what the model "
        "supports (1024 suits most uses).",
    ),
    hint(
        r"overloaded_error|status \[529\]",
        "Anthropic is overloaded right now: test again in a few minutes.",
    ),
    hint(
        r"does not support task type \[chat_completion\]",
        "This Elasticsearch is older than 9.5: its anthropic service has no chat_completion "
        "endpoints (only completion, which Kibana's AI features do not list).",
    ),
)

MISTRAL_HINTS: tuple[Hint, ...] = (
    hint(
        r"status \[401\]|Unauthorized",
        "Mistral rejected the key: create a key in console.mistral.ai (API keys; the "
        "workspace needs an active plan) and request the endpoint again.",
    ),
    hint(
        r"Invalid model|invalid_model|model.{0,40}(not found|does not exist)|status \[404\]",
        "Mistral does not know this model id: use one from docs.mistral.ai, Models, e.g. "
        "mistral-small-latest.",
    ),
    hint(
        r"does not support task type \[chat_completion\]",
        "This Elasticsearch is older than 9.1 (8.19): its mistral service has no "
        "chat_completion endpoints.",
    ),
)

ELASTIC_HINTS: tuple[Hint, ...] = (
    hint(
        r"Elastic Inference Service is not enabled|not (enabled|available|authorized) for "
        r"(this|the) (deployment|cluster)|Cloud Connect",
        "This deployment has no Elastic Inference Service: EIS is on Elastic Cloud "
        "deployments and serverless projects, and on self-managed 9.3+ clusters connected "
        "with Cloud Connect. Use its preconfigured endpoints where it has them, or another "
        "provider.",
    ),
    hint(
        r"model.{0,40}(not found|not supported|unknown|does not exist)|status \[404\]",
        "EIS does not offer this model to this deployment: pick one of its chat models, "
        "e.g. anthropic-claude-4.5-sonnet or openai-gpt-4.1.",
    ),
    hint(
        r"rate limit settings are not permitted",
        "EIS sets its own rate limits: the endpoint must not carry rate_limit.",
    ),
)

SERVICE_HINTS: Mapping[str, tuple[Hint, ...]] = MappingProxyType(
    {"anthropic": ANTHROPIC_HINTS, "mistral": MISTRAL_HINTS, "elastic": ELASTIC_HINTS}
)

# What the provider's HTTP status says, quoted by Elasticsearch as `status [NNN]`.
STATUS_HINTS: tuple[Hint, ...] = (
    hint(
        r"status \[40[13]\]|Received an authentication error|permission denied error",
        "The provider rejected the credentials: create a new key and request the endpoint again.",
    ),
    hint(
        r"status \[429\]|Received a rate limit status code|rate.?limit|quota",
        "The provider's rate limit or quota for this key is used up: wait and test again, or "
        "raise the limit with the provider.",
    ),
    hint(
        r"status \[404\]|Resource not found at",
        "The provider does not know the model (or the URL): check the exact model id.",
    ),
    hint(
        r"status \[5\d\d\]|Received a server error status code",
        "The provider had an outage answering Elasticsearch: test again later.",
    ),
)


# By the provider's HTTP status, when Elasticsearch quoted it at PUT.
PROVIDER_STATUS: dict[int, str] = {
    401: "The provider rejected the credentials: create a new key (for Bedrock an access key "
    "pair, for Vertex a service-account key file) and request the endpoint again.",
    403: "The provider refused these credentials for this model or region: check the key's "
    "permissions (Bedrock: model access in this region; Vertex: the Vertex AI User role).",
    404: "The provider does not know this model, deployment or URL: check the exact model id "
    "(Azure: the deployment name and api-version; Bedrock: the region offers the model).",
    429: "The provider's quota or rate limit is exhausted: wait, or raise the quota, then "
    "request again.",
}

GENERIC_HINTS: tuple[Hint, ...] = (
    hint(
        r"Incorrect API key|invalid.api.key|invalid x-api-key|Unauthorized|UNAUTHENTICATED|"
        r"security token included in the request is invalid|invalid subscription key|"
        r"\b401\b",
        PROVIDER_STATUS[401],
    ),
    hint(
        r"model.{0,40}(does not exist|not found|unknown|not supported)|DeploymentNotFound|"
        r"\b404\b",
        PROVIDER_STATUS[404],
    ),
    hint(
        r"region|not available in|AccessDenied|PERMISSION_DENIED|\b403\b",
        PROVIDER_STATUS[403],
    ),
    hint(r"rate.?limit|quota|\b429\b|Too Many Requests", PROVIDER_STATUS[429]),
    hint(
        r"did not end within|stalled|did not answer in time|timed? ?out",
        "The model did not answer in time: check the server is up and the model loaded (a "
        "cold model can take minutes), then test again.",
    ),
    hint(
        r"unknown to the \[\w+\] service|does not contain the required setting|"
        r"does not support task type",
        "Elasticsearch refused the endpoint's settings: this stack's version may not support "
        "this service for chat_completion yet; ask an operator to check the version or use a "
        "connector (PROVISION_BACKEND=connector).",
    ),
    hint(
        r"manage_inference|security_exception|action \[cluster:",
        "The bot's Elasticsearch API key lacks the manage_inference cluster privilege.",
    ),
    hint(
        r"Connection refused|UnknownHost|No route|connect timed out|certificate",
        "Elasticsearch cannot reach the provider's URL (the Elasticsearch nodes make the call, "
        "not the bot or Kibana): check DNS, firewalls and egress rules.",
    ),
)


def inference_hints_for(service: str | None) -> tuple[Hint, ...]:
    """The text hints tried for a failure of this service, in order: Elasticsearch's, the
    service's own, what the provider's quoted status says, then the generic ones."""
    own = SERVICE_HINTS.get(service, ()) if service else ()
    return (*ELASTICSEARCH_HINTS, *own, *STATUS_HINTS, *GENERIC_HINTS)


def explain_inference_failure(
    service: str | None, *texts: str | None, provider_status: int | None = None
) -> str | None:
    """The first matching cause-and-fix for Elasticsearch's message(s), or None.

    Elasticsearch's own refusals and the service's hints come first; a provider status that
    Elasticsearch reported as a number is used before the text-based status hints."""
    haystack = "\n".join(text for text in texts if text)
    own = SERVICE_HINTS.get(service, ()) if service else ()
    for candidate in (*ELASTICSEARCH_HINTS, *own):
        if haystack and candidate.pattern.search(haystack):
            return candidate.text
    if provider_status is not None and provider_status in PROVIDER_STATUS:
        return PROVIDER_STATUS[provider_status]
    for candidate in (*STATUS_HINTS, *GENERIC_HINTS):
        if haystack and candidate.pattern.search(haystack):
            return candidate.text
    return None
