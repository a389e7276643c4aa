"""Plain-language causes and fixes for what Elasticsearch (or the provider behind it) says when
an inference endpoint cannot be created or its streamed test fails."""

from __future__ import annotations

from bot.domain.connector_types.spec import Hint, hint

# By the provider's HTTP status, when Elasticsearch quoted it at PUT.
_BY_STATUS: dict[int, str] = {
    401: "The provider rejected the credentials: create a new key (for Bedrock an access key "
    "pair, for Vertex a service-account key file) and request the endpoint again.",
    403: "The provider refused these credentials for this model or region: check the key's "
    "permissions (Bedrock: model access in this region; Vertex: the Vertex AI User role).",
    404: "The provider does not know this model, deployment or URL: check the exact model id "
    "(Azure: the deployment name and api-version; Bedrock: the region offers the model).",
    429: "The provider's quota or rate limit is exhausted: wait, or raise the quota, then "
    "request again.",
}

INFERENCE_HINTS: tuple[Hint, ...] = (
    hint(
        r"Incorrect API key|invalid.api.key|invalid x-api-key|Unauthorized|UNAUTHENTICATED|"
        r"security token included in the request is invalid|invalid subscription key|"
        r"\b401\b",
        _BY_STATUS[401],
    ),
    hint(
        r"model.{0,40}(does not exist|not found|unknown|not supported)|DeploymentNotFound|"
        r"\b404\b",
        _BY_STATUS[404],
    ),
    hint(
        r"region|not available in|AccessDenied|PERMISSION_DENIED|\b403\b",
        _BY_STATUS[403],
    ),
    hint(r"rate.?limit|quota|\b429\b|Too Many Requests", _BY_STATUS[429]),
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


def explain_inference_failure(provider_status: int | None, *texts: str | None) -> str | None:
    """The likely cause and fix of an inference failure, or None when nothing matches."""
    if provider_status is not None and provider_status in _BY_STATUS:
        return _BY_STATUS[provider_status]
    haystack = "\n".join(text for text in texts if text)
    if not haystack:
        return None
    for candidate in INFERENCE_HINTS:
        if candidate.pattern.search(haystack):
            return candidate.text
    return None
