"""explain_failure: what Kibana says when a connector fails → a plain-language cause and fix.

The texts are Kibana's (`message` / `service_message` of `_execute`, or a 400/403 body), in the
shapes documented for each connector type: `Status code: <n>. Message: <type-specific text>`.
"""

from __future__ import annotations

import pytest

from bot.domain.hints import HINTS, explain_failure

# A distinctive piece of each hint's text.
BAD_KEY = "The provider rejected the key"
REGION = "The access key is being used for another region"
PROFILE = "must be called through an inference profile"
MODEL_ACCESS = "Enable access to this model in the Bedrock console"
RUNTIME_HOST = "The URL points at the wrong Bedrock host"
AZURE = "Azure did not find the deployment or the api-version"
UNKNOWN_MODEL = "The model name is unknown to the provider"
PARAMETER = "The model rejects a parameter the connector sends"
VERTEX_ROLE = "The service account needs the Vertex AI User role"
UNREACHABLE = "Kibana cannot reach the host"
TIMEOUT = "did not answer in time"
CERTIFICATE = "Kibana does not trust the server's certificate"
NOT_OPENAI = "The endpoint's answer is not OpenAI-compatible"
LICENCE = "Enterprise licence"
ALLOWED_HOSTS = "add it to xpack.actions.allowedHosts in kibana.yml"
PRIVILEGE = "lacks “Actions and Connectors: All”"
NO_TEST = "tested with unified_completion"


ROWS: list[tuple[str, str | None, str, str]] = [
    # (id, connector type, Kibana's text, expected hint fragment)
    (
        "401-gen-ai",
        ".gen-ai",
        "Status code: 401. Message: Unauthorized API Error - Incorrect API key provided: sk-abc***",
        BAD_KEY,
    ),
    (
        "401-azure",
        ".gen-ai",
        "Status code: 401. Message: Unauthorized API Error - Access denied due to invalid "
        "subscription key or wrong API endpoint.",
        BAD_KEY,
    ),
    (
        "401-bedrock",
        ".bedrock",
        "Status code: 401. Message: Unauthorized API Error: The security token is invalid",
        BAD_KEY,
    ),
    ("401-gemini", ".gemini", "Status code: 401. Message: Unauthorized API Error: x", BAD_KEY),
    (
        "bedrock-bad-signature",
        ".bedrock",
        "Status code: 403. Message: API Error: Forbidden - The security token included in the "
        "request is invalid.",
        "AWS rejected the access key",
    ),
    (
        "bedrock-region",
        ".bedrock",
        "Status code: 403. Message: API Error: Forbidden - Credential should be scoped to a "
        "valid region.",
        REGION,
    ),
    (
        "bedrock-on-demand-curly",
        ".bedrock",
        "Status code: 400. Message: API Error: Bad Request - Invocation of model ID "
        "anthropic.claude-sonnet-4-5-20250929-v1:0 with on-demand throughput isn\u2019t supported. "
        "Retry your request with the ID or ARN of an inference profile that contains this model.",
        PROFILE,
    ),
    (
        "bedrock-on-demand-ascii",
        ".bedrock",
        "on-demand throughput isn't supported",
        PROFILE,
    ),
    (
        "bedrock-model-access",
        ".bedrock",
        "Status code: 403. Message: API Error: Forbidden - Model access is denied due to IAM "
        "user or service role is not authorized to perform the required AWS Marketplace actions",
        MODEL_ACCESS,
    ),
    (
        "bedrock-access-denied-exception",
        ".bedrock",
        "Status code: 403. Message: API Error: Forbidden - AccessDeniedException: You don't "
        "have access to the model with the specified model ID.",
        MODEL_ACCESS,
    ),
    (
        "bedrock-iam",
        ".bedrock",
        "User: arn:aws:iam::123456789012:user/kibana is not authorized to perform: "
        "bedrock:InvokeModel on resource",
        MODEL_ACCESS,
    ),
    (
        "bedrock-old-host",
        ".bedrock",
        "Status code: 400. Message: API Error: Bad Request - The requested operation is not "
        "recognized by the service.",
        RUNTIME_HOST,
    ),
    (
        "azure-deployment-not-found",
        ".gen-ai",
        "Status code: 404. Message: API Error: Not Found - DeploymentNotFound",
        AZURE,
    ),
    (
        "azure-resource-not-found",
        ".gen-ai",
        "Status code: 404. Message: API Error: Not Found - Resource not found",
        AZURE,
    ),
    (
        "azure-api-version",
        ".gen-ai",
        "Status code: 400. Message: API Error: Bad Request - Unsupported api-version 2019-01-01",
        AZURE,
    ),
    (
        "model-does-not-exist",
        ".gen-ai",
        "Status code: 422. Message: API Error: Unprocessable Entity - The model `bad model` does "
        "not exist",
        UNKNOWN_MODEL,
    ),
    (
        "model-does-not-exist-or-no-access",
        ".gen-ai",
        "Status code: 404. Message: API Error: Not Found - The model `gpt-5` does not exist or "
        "you do not have access to it.",
        UNKNOWN_MODEL,
    ),
    (
        "ollama-model-not-found",
        ".gen-ai",
        "Status code: 404. Message: API Error: Not Found - model 'llama3' not found",
        UNKNOWN_MODEL,
    ),
    (
        "temperature-bedrock",
        ".bedrock",
        "Status code: 400. Message: API Error: Bad Request - temperature is deprecated for this "
        "model.",
        PARAMETER,
    ),
    (
        "temperature-gen-ai",
        ".gen-ai",
        "Status code: 400. Message: API Error: Bad Request - Unsupported parameter: "
        "'temperature' is not supported with this model.",
        PARAMETER,
    ),
    (
        "gemini-permission-denied",
        ".gemini",
        "Status code: 403. Message: API Error: PERMISSION_DENIED: Permission "
        "'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/projects/"
        "my-project-123/locations/us-central1/publishers/google/models/gemini-2.5-pro' (or it "
        "may not exist).",
        VERTEX_ROLE,
    ),
    (
        "econnrefused",
        ".gen-ai",
        "Status code: undefined. Message: Unexpected API Error: ECONNREFUSED - connect "
        "ECONNREFUSED 127.0.0.1:1234",
        UNREACHABLE,
    ),
    (
        "enotfound",
        ".bedrock",
        "Unexpected API Error: ENOTFOUND - getaddrinfo ENOTFOUND llm.internal",
        UNREACHABLE,
    ),
    ("socket-hang-up", ".gemini", "Unexpected API Error: ECONNRESET - socket hang up", UNREACHABLE),
    (
        "timeout",
        ".gen-ai",
        "Status code: undefined. Message: Unexpected API Error: ECONNABORTED - timeout of "
        "120000ms exceeded",
        TIMEOUT,
    ),
    (
        "request-aborted",
        ".bedrock",
        "an error occurred while running the action: Request aborted; retry: true",
        TIMEOUT,
    ),
    (
        "pki-certificate-error",
        ".gen-ai",
        "Certificate error: UNABLE_TO_VERIFY_LEAF_SIGNATURE. Please check if your PKI "
        "certificates are valid or adjust SSL verification mode.",
        CERTIFICATE,
    ),
    (
        "tls-handshake",
        ".gen-ai",
        "TLS handshake failed: ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match "
        "certificate's altnames. Verify server certificate hostname and CA configuration.",
        CERTIFICATE,
    ),
    (
        "self-signed",
        ".gen-ai",
        "Unexpected API Error: SELF_SIGNED_CERT_IN_CHAIN - self-signed certificate in "
        "certificate chain",
        CERTIFICATE,
    ),
    (
        "response-validation",
        ".gen-ai",
        "Response validation failed (Error: [choices]: expected value of type [array] but got "
        "[undefined])",
        NOT_OPENAI,
    ),
    (
        "licence-basic",
        ".gen-ai",
        "Action type .gen-ai is disabled because your basic license does not support it. "
        "Please upgrade your license.",
        LICENCE,
    ),
    (
        "licence-expired",
        None,
        "Action type .bedrock is disabled because your enterprise license has expired.",
        LICENCE,
    ),
    (
        "allowed-hosts",
        ".gen-ai",
        "error validating connector type config: Error configuring OpenAI action: Error: error "
        'validating url: target url "http://llm.example.com" is not added to the Kibana config '
        "xpack.actions.allowedHosts",
        ALLOWED_HOSTS,
    ),
    (
        "allowed-hosts-old-wording",
        None,
        "error validating action type config: Error configuring Amazon Bedrock action: Error: "
        'error validating url: target url "https://x" is not added to the Kibana config '
        "xpack.actions.allowedHosts",
        ALLOWED_HOSTS,
    ),
    ("unauthorized-create", None, 'Unauthorized to create a ".gen-ai" action', PRIVILEGE),
    (
        "type-not-enabled",
        ".gen-ai",
        'action type ".gen-ai" is not enabled in the Kibana config '
        "xpack.actions.enabledActionTypes",
        PRIVILEGE,
    ),
    (
        "inference-test-not-registered",
        ".inference",
        'Sub action "test" is not registered. Connector id: x. Connector name: AI Connector. '
        "Connector type: .inference",
        NO_TEST,
    ),
]


@pytest.mark.parametrize(
    ("connector_type_id", "text", "fragment"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_each_failure_gets_its_hint(
    connector_type_id: str | None, text: str, fragment: str
) -> None:
    hint = explain_failure(connector_type_id, text)
    assert hint is not None
    assert fragment in hint


def test_every_hint_is_reachable() -> None:
    fragments = {row[3] for row in ROWS}
    for hint in HINTS:
        assert any(fragment in hint.text for fragment in fragments), hint.text


def test_message_and_service_message_are_read_together() -> None:
    hint = explain_failure(
        ".bedrock",
        "an error occurred while running the action",
        None,
        "Status code: 403. Message: API Error: Forbidden - Credential should be scoped to a "
        "valid region.",
    )
    assert hint is not None
    assert REGION in hint


def test_specific_hint_wins_over_a_generic_one() -> None:
    text = (
        "Status code: 401. Message: Unauthorized API Error: Credential should be scoped to a "
        "valid region."
    )
    bedrock = explain_failure(".bedrock", text)
    gen_ai = explain_failure(".gen-ai", text)
    assert bedrock is not None
    assert REGION in bedrock
    assert gen_ai is not None
    assert BAD_KEY in gen_ai


@pytest.mark.parametrize(
    "texts",
    [
        ("Something unexpected happened",),
        ("an error occurred while running the action",),
        ("",),
        (None,),
        (),
        ("", None, "   nothing known here   "),
    ],
)
def test_unknown_text_gives_none(texts: tuple[str | None, ...]) -> None:
    assert explain_failure(".gen-ai", *texts) is None


@pytest.mark.parametrize(
    ("connector_type_id", "text"),
    [
        (".gen-ai", "Credential should be scoped to a valid region."),
        (".gemini", "on-demand throughput isn't supported"),
        (".gen-ai", "Model access is denied"),
        (".gen-ai", "The requested operation is not recognized by the service."),
        (".bedrock", "Status code: 404. Message: API Error: Not Found - DeploymentNotFound"),
        (".gemini", "Resource not found"),
        (".gen-ai", "API Error: PERMISSION_DENIED: Permission denied"),
        (".bedrock", "API Error: PERMISSION_DENIED: Permission denied"),
        (None, "Credential should be scoped to a valid region."),
        (None, "API Error: PERMISSION_DENIED: Permission denied"),
    ],
)
def test_type_restricted_hints_do_not_fire_for_other_types(
    connector_type_id: str | None, text: str
) -> None:
    assert explain_failure(connector_type_id, text) is None


def test_hints_ignore_case() -> None:
    hint = explain_failure(".gen-ai", "unexpected api error: econnrefused")
    assert hint is not None
    assert UNREACHABLE in hint


def test_azure_missing_deployment_real_wording() -> None:
    hint = explain_failure(
        ".gen-ai",
        "Status code: 404. Message: API Error: Not Found - The API deployment for this resource "
        "does not exist. If you created the deployment within the last 5 minutes, please wait a "
        "moment and try again.",
    )
    assert hint is not None
    assert AZURE in hint
