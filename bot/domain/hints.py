"""Plain-language causes and fixes for what Kibana says when a connector fails."""

from __future__ import annotations

import re
from dataclasses import dataclass

ALLOWED_HOSTS = "xpack.actions.allowedHosts"
CUSTOM_HOSTS = "xpack.actions.customHostSettings"


@dataclass(frozen=True)
class Hint:
    pattern: re.Pattern[str]
    text: str
    types: frozenset[str] = frozenset()  # empty: any connector type


def _hint(pattern: str, text: str, *types: str) -> Hint:
    return Hint(re.compile(pattern, re.IGNORECASE), text, frozenset(types))


HINTS: tuple[Hint, ...] = (
    _hint(
        r"not added to the Kibana config xpack\.actions\.allowedHosts",
        f"Kibana may not call this host: add it to {ALLOWED_HOSTS} in kibana.yml and restart "
        "Kibana, or use an allowed host.",
    ),
    _hint(
        r"license does not support|license has expired|Please upgrade your license",
        "LLM connectors need an Enterprise licence (or a trial) on this Kibana.",
    ),
    _hint(
        r"Unauthorized to (create|execute)|not enabled in the Kibana config",
        "The bot's Kibana API key lacks “Actions and Connectors: All” in this space, or the "
        "connector type is disabled in xpack.actions.enabledActionTypes.",
    ),
    _hint(
        r"Credential should be scoped to a valid region",
        "The access key is being used for another region: make the URL's region the one where "
        "model access is enabled.",
        ".bedrock",
    ),
    _hint(
        r"on-demand throughput isn.t supported|inference profile",
        "This model must be called through an inference profile: use the us./eu./apac. model id "
        "(e.g. us.anthropic.claude-sonnet-4-5-20250929-v1:0).",
        ".bedrock",
    ),
    _hint(
        r"security token included in the request is invalid|signature we calculated does not"
        r"|InvalidSignatureException|UnrecognizedClientException",
        "AWS rejected the access key or secret: check both were copied whole (the secret is "
        "40 characters), and that the key is active.",
        ".bedrock",
    ),
    _hint(
        r"Model access is denied|AccessDenied|not authorized to perform: bedrock",
        "Enable access to this model in the Bedrock console, and grant the IAM user "
        "bedrock:InvokeModel and bedrock:InvokeModelWithResponseStream.",
        ".bedrock",
    ),
    _hint(
        r"operation is not recognized by the service",
        "The URL points at the wrong Bedrock host: use https://bedrock-runtime.{region}"
        ".amazonaws.com.",
        ".bedrock",
    ),
    _hint(
        r"Status code: 401|Unauthorized API Error|invalid.api.key|Incorrect API key",
        "The provider rejected the key: create a new one and request the connector again "
        "(for Azure use KEY 1/KEY 2 of the resource; for self-managed servers, the proxy's "
        "bearer token).",
    ),
    _hint(
        r"DeploymentNotFound|deployment for this resource does not exist|api-version"
        r"|Resource not found",
        "Azure did not find the deployment or the api-version: copy the URL from Azure AI "
        "Foundry → deployment → View code.",
        ".gen-ai",
    ),
    _hint(
        r"model.{0,40}(does not exist|not found|unknown)|The model `",
        "The model name is unknown to the provider (or your key has no access to it): check "
        "the exact model id.",
    ),
    _hint(
        r"is deprecated for this model|Unsupported parameter|unsupported_parameter",
        "The model rejects a parameter the connector sends (e.g. temperature): remove it from "
        "the connector settings, or pick another model.",
    ),
    _hint(
        r"PERMISSION_DENIED",
        "The service account needs the Vertex AI User role, and the Vertex AI API must be "
        "enabled in the project.",
        ".gemini",
    ),
    _hint(
        r"Response validation failed",
        "The endpoint's answer is not OpenAI-compatible (no usage/choices): check the server "
        "really speaks /v1/chat/completions, and use the “Other OpenAI-compatible” provider.",
        ".gen-ai",
        ".inference",
    ),
    _hint(
        r"Certificate error|TLS handshake failed|self.signed|CERT_|certificate",
        f"Kibana does not trust the server's certificate: supply the CA, fix the host name, "
        f"configure {CUSTOM_HOSTS}, or change the TLS verification mode.",
    ),
    _hint(
        r"ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ECONNRESET|ETIMEDOUT|socket hang up",
        f"Kibana cannot reach the host (refused, unknown name or no route). Remember Kibana, "
        f"not the bot, makes the call: localhost means Kibana's own machine. Check DNS, "
        f"firewalls, {ALLOWED_HOSTS} and proxies.",
    ),
    _hint(
        r"ECONNABORTED|timeout of \d+ms exceeded|Request aborted",
        "The model server did not answer in time: check it is up and the model is loaded, "
        "then test again.",
    ),
    _hint(
        r"Sub action \"test\" is not registered",
        "This connector type has no `test` sub-action (it is an .inference connector): it is "
        "tested with unified_completion.",
    ),
)


def explain_failure(connector_type_id: str | None, *texts: str | None) -> str | None:
    """Return the first matching cause-and-fix for Kibana's message(s), or None."""
    haystack = "\n".join(text for text in texts if text)
    if not haystack:
        return None
    for hint in HINTS:
        if hint.types and connector_type_id not in hint.types:
            continue
        if hint.pattern.search(haystack):
            return hint.text
    return None
