"""What the fake Elasticsearch knows about each inference service (chat endpoints).

The project's own summary of which keys Elasticsearch's services parse for ``chat_completion``
(and ``completion``) endpoints: allowed keys in ``service_settings`` and ``task_settings``,
which are required, which are secrets (never returned), since which version a key or a task
type exists, and the default rate limit echoed back. Where versions differ, the rule kept is
the strictest one common to the versions the fake emulates; ``since`` relaxes it for newer
stacks. Rules that a table cannot say (exactly-one-of secrets, Vertex's two modes) are in
``secret_problems`` and ``mode_problems``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

Kind = Literal["str", "int", "num", "str_list", "str_map", "rate_limit", "object"]
Version = tuple[int, int]

NEWEST: Final[Version] = (99, 0)

TASK_TYPES: Final = (
    "sparse_embedding",
    "text_embedding",
    "rerank",
    "completion",
    "chat_completion",
    "embedding",
)


@dataclass(frozen=True)
class Key:
    kind: Kind
    required: bool = False
    secret: bool = False
    since: Version = (8, 0)
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Service:
    name: str
    tasks: Mapping[str, Version]  # task type -> first version that has it
    service_settings: Mapping[str, Key]
    task_settings: Mapping[str, Key] = field(default_factory=dict)
    default_rpm: int | None = None  # None: rate_limit is refused (EIS)
    # The provider's answer to a bad key at the validation call: (status, OpenAI-style code,
    # type, message); None = the service has no key to be wrong (EIS).
    bad_key: tuple[int, str, str, str] | None = None
    secret_problems: Callable[[Mapping[str, Any], Version], list[str]] | None = None
    mode_problems: Callable[[Mapping[str, Any], Version], list[str]] | None = None
    model_key: str = "model_id"  # where the model name lives in service_settings

    def secrets(self) -> set[str]:
        return {name for name, key in self.service_settings.items() if key.secret}


_RATE = Key("rate_limit")


def _openai_secrets(settings: Mapping[str, Any], version: Version) -> list[str]:
    oauth: tuple[str, ...] = ("client_id", "client_secret", "scopes", "token_url")
    if version < (9, 5):  # no OAuth2 yet: its keys are unknown settings
        oauth = ()
    present = [k for k in oauth if k in settings]
    if "api_key" in settings and present:
        return ["[secret_settings] must have exactly one of [api_key] or [client_secret] field set"]
    if "api_key" in settings:
        return []
    if present and len(present) == len(oauth):
        return []
    if present:
        missing = [k for k in oauth if k not in settings]
        return [
            f"[service_settings] OAuth2 settings must be set together, missing {missing}",
        ]
    return ["[secret_settings] does not contain the required setting [api_key]"]


def _azure_secrets(settings: Mapping[str, Any], _version: Version) -> list[str]:
    chosen = [k for k in ("api_key", "entra_id", "client_secret") if k in settings]
    if len(chosen) == 1:
        if chosen == ["client_secret"]:
            missing = [k for k in ("client_id", "tenant_id", "scopes") if k not in settings]
            if missing:
                return [f"[service_settings] does not contain the required setting [{missing[0]}]"]
        return []
    message = (
        "[secret_settings] must have exactly one of [api_key], [entra_id], or [client_secret] "
        "field set"
    )
    if chosen:
        message += f", received: [{', '.join(chosen)}]"
    return [message]


def _vertex_mode(settings: Mapping[str, Any], _version: Version) -> list[str]:
    provider = settings.get("provider")
    if provider in (None, "google"):
        problems = [
            f"[service_settings] does not contain the required setting [{name}]"
            for name in ("project_id", "location", "model_id")
            # location became optional in 9.5; the strictest common rule keeps it required
            if name not in settings
        ]
        problems += [
            f"[service_settings] [{name}] is only valid for Model Garden providers"
            for name in ("url", "streaming_url")
            if name in settings
        ]
        return problems
    if "url" not in settings and "streaming_url" not in settings:
        return ["[service_settings] one of [url] or [streaming_url] is required for Model Garden"]
    return []


SERVICES: Final[dict[str, Service]] = {
    "openai": Service(
        name="openai",
        tasks={"chat_completion": (8, 18), "completion": (8, 12)},
        service_settings={
            "api_key": Key("str", secret=True),
            "model_id": Key("str", required=True),
            "organization_id": Key("str"),
            "url": Key("str"),
            "max_input_tokens": Key("int", minimum=1),
            "rate_limit": _RATE,
            "client_id": Key("str", since=(9, 5)),
            "client_secret": Key("str", secret=True, since=(9, 5)),
            "scopes": Key("str_list", since=(9, 5)),
            "token_url": Key("str", since=(9, 5)),
        },
        task_settings={"user": Key("str"), "headers": Key("str_map", since=(9, 2))},
        default_rpm=500,
        bad_key=(401, "invalid_api_key", "invalid_request_error", "Incorrect API key provided"),
        secret_problems=_openai_secrets,
    ),
    "azureopenai": Service(
        name="azureopenai",
        tasks={"chat_completion": (9, 3), "completion": (8, 14)},
        service_settings={
            "resource_name": Key("str", required=True),
            "deployment_id": Key("str", required=True),
            "api_version": Key("str", required=True),
            "api_key": Key("str", secret=True),
            "entra_id": Key("str", secret=True),
            "client_secret": Key("str", secret=True, since=(9, 4)),
            "client_id": Key("str", since=(9, 4)),
            "tenant_id": Key("str", since=(9, 4)),
            "scopes": Key("str_list", since=(9, 4)),
            "rate_limit": _RATE,
        },
        task_settings={"user": Key("str"), "headers": Key("str_map", since=(9, 4))},
        default_rpm=120,
        bad_key=(
            401,
            "401",
            "invalid_request_error",
            "Access denied due to invalid subscription key or wrong API endpoint.",
        ),
        secret_problems=_azure_secrets,
        model_key="deployment_id",
    ),
    "amazonbedrock": Service(
        name="amazonbedrock",
        tasks={"chat_completion": (9, 4), "completion": (8, 15)},
        service_settings={
            "access_key": Key("str", required=True, secret=True),
            "secret_key": Key("str", required=True, secret=True),
            "region": Key("str", required=True),
            "model": Key("str", required=True),
            "provider": Key(
                "str",
                required=True,
                choices=("anthropic", "ai21labs", "cohere", "meta", "mistral"),
            ),
            "rate_limit": _RATE,
        },
        task_settings={
            "max_new_tokens": Key("int", minimum=1),
            "temperature": Key("num", minimum=0, maximum=1),
            "top_p": Key("num", minimum=0, maximum=1),
            "top_k": Key("num", minimum=0, maximum=1),
        },
        default_rpm=240,
        bad_key=(
            403,
            "403",
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        model_key="model",
    ),
    "googlevertexai": Service(
        name="googlevertexai",
        tasks={"chat_completion": (9, 1), "completion": (9, 1)},
        service_settings={
            "service_account_json": Key("str", required=True, secret=True),
            "project_id": Key("str"),
            "location": Key("str"),
            "model_id": Key("str"),
            "provider": Key(
                "str",
                since=(9, 2),
                choices=("google", "anthropic", "meta", "hugging_face", "mistral", "ai21"),
            ),
            "url": Key("str", since=(9, 2)),
            "streaming_url": Key("str", since=(9, 2)),
            "rate_limit": _RATE,
        },
        task_settings={
            "thinking_config": Key("object"),
            "max_tokens": Key("int", minimum=1, since=(9, 2)),
        },
        default_rpm=1000,
        bad_key=(
            401,
            "401",
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential.",
        ),
        mode_problems=_vertex_mode,
    ),
    "anthropic": Service(
        name="anthropic",
        tasks={"chat_completion": (9, 5), "completion": (8, 15)},
        service_settings={
            "api_key": Key("str", required=True, secret=True),
            "model_id": Key("str", required=True),
            "rate_limit": _RATE,
        },
        task_settings={
            "max_tokens": Key("int", required=True, minimum=1),
            "temperature": Key("num"),
            "top_p": Key("num"),
            "top_k": Key("int"),
        },
        default_rpm=50,
        bad_key=(401, "authentication_error", "authentication_error", "invalid x-api-key"),
    ),
    "mistral": Service(
        name="mistral",
        tasks={"chat_completion": (9, 1), "completion": (9, 1)},
        service_settings={
            "api_key": Key("str", required=True, secret=True),
            "model": Key("str", required=True),
            "rate_limit": _RATE,
        },
        default_rpm=240,
        bad_key=(401, "unauthorized", "mistral_error", "Unauthorized"),
        model_key="model",
    ),
    "elastic": Service(
        name="elastic",
        tasks={"chat_completion": (8, 18)},
        service_settings={"model_id": Key("str", required=True)},
        task_settings={"reasoning": Key("object", since=NEWEST)},
        default_rpm=None,
    ),
}

# Elastic's preconfigured EIS chat endpoints (ids start with "." so no PUT can take them).
EIS_PRECONFIGURED: Final[dict[str, tuple[str, str]]] = {
    ".rainbow-sprinkles-elastic": ("rainbow-sprinkles", "Elastic Managed LLM"),
    ".gp-llm-v2-chat_completion": ("gp-llm-v2", "General Purpose LLM v2"),
    ".anthropic-claude-4.5-sonnet-chat_completion": (
        "anthropic-claude-4.5-sonnet",
        "Anthropic Claude Sonnet 4.5",
    ),
    ".openai-gpt-5.2-chat_completion": ("openai-gpt-5.2", "OpenAI GPT-5.2"),
}

# Keys of the _stream body (UnifiedCompletionRequest is a strict parser).
STREAM_KEYS: Final = frozenset(
    {
        "messages",
        "model",
        "max_completion_tokens",
        "stop",
        "temperature",
        "top_p",
        "tool_choice",
        "tools",
    }
)
MESSAGE_KEYS: Final = frozenset({"role", "content", "tool_call_id", "tool_calls"})

_SERVICE_ACCOUNT = (
    '{"type":"service_account","project_id":"my-proj","private_key_id":"k1",'
    '"private_key":"-----BEGIN PRIVATE KEY-----\\nx\\n-----END PRIVATE KEY-----\\n",'
    '"client_email":"bot@my-proj.iam.gserviceaccount.com"}'
)

# A valid chat_completion PUT body per form of each service, for tests.
EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    "openai": {
        "service": "openai",
        "service_settings": {"api_key": "sk-test-123456", "model_id": "gpt-4o"},
        "task_settings": {"user": "llm-request-bot"},
    },
    "openai_compatible": {
        "service": "openai",
        "service_settings": {
            "api_key": "unused",
            "model_id": "meta-llama/Llama-3.1-8B-Instruct",
            "url": "http://vllm.internal:8000/v1/chat/completions",
        },
    },
    "azureopenai": {
        "service": "azureopenai",
        "service_settings": {
            "api_key": "azure-key-123456",
            "resource_name": "my-aoai",
            "deployment_id": "gpt-4o",
            "api_version": "2024-10-21",
        },
    },
    "amazonbedrock": {
        "service": "amazonbedrock",
        "service_settings": {
            "access_key": "AKIAEXAMPLE123",
            "secret_key": "s3cr3t-value",
            "region": "us-east-1",
            "provider": "anthropic",
            "model": "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
        },
        "task_settings": {"max_new_tokens": 1024},
    },
    "googlevertexai": {
        "service": "googlevertexai",
        "service_settings": {
            "service_account_json": _SERVICE_ACCOUNT,
            "project_id": "my-proj",
            "location": "us-central1",
            "model_id": "gemini-2.5-flash",
        },
    },
    "anthropic": {
        "service": "anthropic",
        "service_settings": {"api_key": "sk-ant-test-123456", "model_id": "claude-sonnet-4-5"},
        "task_settings": {"max_tokens": 1024},
    },
    "mistral": {
        "service": "mistral",
        "service_settings": {"api_key": "mistral-key-123456", "model": "mistral-small-latest"},
    },
    "elastic": {
        "service": "elastic",
        "service_settings": {"model_id": "anthropic-claude-4.5-sonnet"},
    },
}
