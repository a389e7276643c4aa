"""Strict request rules for Kibana's connectors API, limited to the LLM connector types.

Test-only module. It holds

* JSON Schemas (draft 2020-12, checked with the ``jsonschema`` package) for the create and
  update bodies of ``.gen-ai``, ``.bedrock``, ``.gemini`` and ``.inference`` connectors and for
  the ``params`` object of ``POST /api/actions/connector/{id}/_execute``;
* the checks JSON Schema cannot express (non-blank strings, PEM data inside base64, the
  Gemini service-account check, absolute http(s) URLs and ``xpack.actions.allowedHosts``,
  ``.inference`` provider and task type);
* ``validate_*`` functions that apply both and answer with the error texts Kibana would put
  in the ``message`` of its 400 answer (an empty list means "Kibana accepts this").

Kibana validates in stages and stops at the first failing stage: the route schema (body
shape, non-blank strings), then the connector type's config schema and config rules, then
the secrets schema and secrets rules. The functions below follow that order; their first
message is the one Kibana answers with. Type-level messages use the zod wording of newer
Kibana versions (``Field "apiUrl": Required``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

JsonSchema = dict[str, Any]

# --------------------------------------------------------------------------- constants

GEN_AI: Final = ".gen-ai"
BEDROCK: Final = ".bedrock"
GEMINI: Final = ".gemini"
INFERENCE: Final = ".inference"
LLM_CONNECTOR_TYPES: Final[tuple[str, ...]] = (GEN_AI, BEDROCK, GEMINI, INFERENCE)

#: Display names of the connector types (``name`` in ``GET /api/actions/connector_types``).
CONNECTOR_TYPE_TITLES: Final[Mapping[str, str]] = {
    GEN_AI: "OpenAI",
    BEDROCK: "Amazon Bedrock",
    GEMINI: "Google Gemini",
    INFERENCE: "AI Connector",
}

#: Server-side ``config.defaultModel`` filled in when a create/update omits it.
#: (.gen-ai only for apiProvider "OpenAI"; Azure and Other get no default.)
DEFAULT_MODELS: Final[Mapping[str, str]] = {
    GEN_AI: "gpt-4.1",
    BEDROCK: "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    GEMINI: "gemini-2.5-pro",
}

GEN_AI_PROVIDERS: Final[tuple[str, ...]] = ("OpenAI", "Azure OpenAI", "Other")

INFERENCE_PROVIDERS: Final[tuple[str, ...]] = (
    "amazonbedrock",
    "azureopenai",
    "azureaistudio",
    "cohere",
    "elasticsearch",
    "googleaistudio",
    "googlevertexai",
    "hugging_face",
    "mistral",
    "openai",
    "anthropic",
    "watsonxai",
    "alibabacloud-ai-search",
    "elastic",
)
INFERENCE_TASK_TYPES: Final[tuple[str, ...]] = (
    "chat_completion",
    "completion",
    "rerank",
    "text_embedding",
    "sparse_embedding",
)

#: Every sub-action each LLM connector type registers in Kibana. ``_execute`` with any other
#: name fails with 'Sub action "<name>" is not registered. ...'.
REGISTERED_SUB_ACTIONS: Final[Mapping[str, tuple[str, ...]]] = {
    GEN_AI: (
        "run",
        "invokeAI",
        "invokeStream",
        "invokeAsyncIterator",
        "stream",
        "getDashboard",
        "test",
    ),
    BEDROCK: (
        "run",
        "invokeAI",
        "invokeAIRaw",
        "invokeStream",
        "getDashboard",
        "test",
        "bedrockClientSend",
        "converse",
        "converseStream",
    ),
    GEMINI: ("run", "getDashboard", "test", "invokeAI", "invokeAIRaw", "invokeStream"),
    INFERENCE: (
        "unified_completion",
        "unified_completion_stream",
        "unified_completion_async_iterator",
        "completion",
        "rerank",
        "text_embedding",
        "sparse_embedding",
        "completion_stream",
    ),
}

_PEM_CERTIFICATE: Final = ("-----BEGIN CERTIFICATE-----",)
_PEM_PRIVATE_KEY: Final = ("-----BEGIN PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----")

# --------------------------------------------------------------------------- schema pieces

#: Marks a schema node whose value check (enum, pattern) is reported by a rule of this module
#: with Kibana's own wording instead of a generic schema message.
_RULE_CHECKED: Final = "x-checked-by-rule"
#: Annotation naming keys of which exactly one must be present (expressed with ``oneOf``).
_EXACTLY_ONE: Final = "x-exactly-one-of"

_NON_BLANK: Final[JsonSchema] = {"type": "string", "minLength": 1, "pattern": r"\S"}
_NUMBER: Final[JsonSchema] = {"type": "number"}
_BOOLEAN: Final[JsonSchema] = {"type": "boolean"}
_STRING_ANY: Final[JsonSchema] = {"type": "string"}
_STRINGS: Final[JsonSchema] = {"type": "array", "items": _STRING_ANY}
_HEADERS: Final[JsonSchema] = {"type": "object", "additionalProperties": _NON_BLANK}
_FREE_OBJECT: Final[JsonSchema] = {"type": "object"}
_ABSOLUTE_HTTP_URL: Final[JsonSchema] = {
    "type": "string",
    "minLength": 1,
    "pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+(?:[/?#]\S*)?$",
    _RULE_CHECKED: True,
}
_BASE64_TEXT: Final[JsonSchema] = {
    "type": "string",
    "minLength": 1,
    "pattern": r"^[A-Za-z0-9+/=\s]+$",
    _RULE_CHECKED: True,
}


def _strict_object(
    properties: Mapping[str, JsonSchema], required: Iterable[str] = ()
) -> JsonSchema:
    """An object with exactly the listed keys (``additionalProperties: false``)."""
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(required),
        "additionalProperties": False,
    }


def _one_of_strings(values: Sequence[str], *, rule_checked: bool = False) -> JsonSchema:
    schema: JsonSchema = {"type": "string", "enum": list(values)}
    if rule_checked:
        schema[_RULE_CHECKED] = True
    return schema


# --------------------------------------------------------------------------- .gen-ai

GEN_AI_CONFIG_OPENAI_SCHEMA: Final[JsonSchema] = _strict_object(
    {
        "apiProvider": _one_of_strings(["OpenAI"]),
        "apiUrl": _ABSOLUTE_HTTP_URL,
        "organizationId": _NON_BLANK,
        "projectId": _NON_BLANK,
        "defaultModel": _NON_BLANK,
        "headers": _HEADERS,
        "contextWindowLength": _NUMBER,
        "temperature": _NUMBER,
    },
    ["apiProvider", "apiUrl"],
)
GEN_AI_CONFIG_AZURE_SCHEMA: Final[JsonSchema] = _strict_object(
    {
        "apiProvider": _one_of_strings(["Azure OpenAI"]),
        "apiUrl": _ABSOLUTE_HTTP_URL,
        "defaultModel": _NON_BLANK,
        "headers": _HEADERS,
        "contextWindowLength": _NUMBER,
        "temperature": _NUMBER,
    },
    ["apiProvider", "apiUrl"],
)
GEN_AI_CONFIG_OTHER_SCHEMA: Final[JsonSchema] = _strict_object(
    {
        "apiProvider": _one_of_strings(["Other"]),
        "apiUrl": _ABSOLUTE_HTTP_URL,
        "defaultModel": _NON_BLANK,
        "verificationMode": _one_of_strings(["full", "certificate", "none"]),
        "headers": _HEADERS,
        "contextWindowLength": _NUMBER,
        "temperature": _NUMBER,
        "enableNativeFunctionCalling": _BOOLEAN,
    },
    ["apiProvider", "apiUrl", "defaultModel"],
)
_GEN_AI_CONFIG_BY_PROVIDER: Final[Mapping[str, JsonSchema]] = {
    "OpenAI": GEN_AI_CONFIG_OPENAI_SCHEMA,
    "Azure OpenAI": GEN_AI_CONFIG_AZURE_SCHEMA,
    "Other": GEN_AI_CONFIG_OTHER_SCHEMA,
}
GEN_AI_CONFIG_SCHEMA: Final[JsonSchema] = {
    "oneOf": [GEN_AI_CONFIG_OPENAI_SCHEMA, GEN_AI_CONFIG_AZURE_SCHEMA, GEN_AI_CONFIG_OTHER_SCHEMA]
}

GEN_AI_SECRETS_API_KEY_SCHEMA: Final[JsonSchema] = _strict_object(
    {"apiKey": _NON_BLANK}, ["apiKey"]
)
GEN_AI_SECRETS_PKI_SCHEMA: Final[JsonSchema] = _strict_object(
    {
        "apiKey": _NON_BLANK,
        "certificateData": _BASE64_TEXT,
        "privateKeyData": _BASE64_TEXT,
        "caData": _BASE64_TEXT,
    },
    ["certificateData", "privateKeyData"],
)
GEN_AI_SECRETS_SCHEMA: Final[JsonSchema] = {
    "anyOf": [GEN_AI_SECRETS_API_KEY_SCHEMA, GEN_AI_SECRETS_PKI_SCHEMA]
}

# --------------------------------------------------------------------------- .bedrock

BEDROCK_CONFIG_SCHEMA: Final[JsonSchema] = _strict_object(
    {
        "apiUrl": _ABSOLUTE_HTTP_URL,
        "region": _NON_BLANK,
        "defaultModel": _NON_BLANK,
        "contextWindowLength": _NUMBER,
        "temperature": _NUMBER,
    },
    ["apiUrl"],
)
BEDROCK_SECRETS_SCHEMA: Final[JsonSchema] = _strict_object(
    {"accessKey": _NON_BLANK, "secret": _NON_BLANK}, ["accessKey", "secret"]
)

# --------------------------------------------------------------------------- .gemini

GEMINI_CONFIG_SCHEMA: Final[JsonSchema] = _strict_object(
    {
        "apiUrl": _ABSOLUTE_HTTP_URL,
        "defaultModel": _NON_BLANK,
        "gcpRegion": _NON_BLANK,
        "gcpProjectID": _NON_BLANK,
        "contextWindowLength": _NUMBER,
        "temperature": _NUMBER,
    },
    ["apiUrl", "gcpRegion", "gcpProjectID"],
)
GEMINI_SECRETS_SCHEMA: Final[JsonSchema] = _strict_object(
    {"credentialsJson": {**_NON_BLANK, _RULE_CHECKED: True}}, ["credentialsJson"]
)

# --------------------------------------------------------------------------- .inference

INFERENCE_CONFIG_SCHEMA: Final[JsonSchema] = _strict_object(
    {
        "provider": _one_of_strings(INFERENCE_PROVIDERS, rule_checked=True),
        "taskType": _one_of_strings(INFERENCE_TASK_TYPES, rule_checked=True),
        "inferenceId": _NON_BLANK,
        "providerConfig": _FREE_OBJECT,
        "taskTypeConfig": _FREE_OBJECT,
        "contextWindowLength": _NUMBER,
        "headers": _HEADERS,
        "temperature": _NUMBER,
    },
    ["provider", "taskType", "inferenceId"],
)
INFERENCE_SECRETS_SCHEMA: Final[JsonSchema] = _strict_object({"providerSecrets": _FREE_OBJECT})

# --------------------------------------------------------------------------- bodies

CONFIG_SCHEMAS: Final[Mapping[str, JsonSchema]] = {
    GEN_AI: GEN_AI_CONFIG_SCHEMA,
    BEDROCK: BEDROCK_CONFIG_SCHEMA,
    GEMINI: GEMINI_CONFIG_SCHEMA,
    INFERENCE: INFERENCE_CONFIG_SCHEMA,
}
SECRETS_SCHEMAS: Final[Mapping[str, JsonSchema]] = {
    GEN_AI: GEN_AI_SECRETS_SCHEMA,
    BEDROCK: BEDROCK_SECRETS_SCHEMA,
    GEMINI: GEMINI_SECRETS_SCHEMA,
    INFERENCE: INFERENCE_SECRETS_SCHEMA,
}
#: Connector types whose ``secrets`` may be left out (Kibana then uses ``{}``).
_SECRETS_OPTIONAL: Final = frozenset({INFERENCE})


def _create_body_schema(connector_type_id: str) -> JsonSchema:
    required = ["name", "connector_type_id", "config"]
    if connector_type_id not in _SECRETS_OPTIONAL:
        required.append("secrets")
    return _strict_object(
        {
            "name": _NON_BLANK,
            "connector_type_id": {"type": "string", "const": connector_type_id},
            "config": CONFIG_SCHEMAS[connector_type_id],
            "secrets": SECRETS_SCHEMAS[connector_type_id],
        },
        required,
    )


def _update_body_schema(connector_type_id: str) -> JsonSchema:
    required = ["name", "config"]
    if connector_type_id not in _SECRETS_OPTIONAL:
        required.append("secrets")
    return _strict_object(
        {
            "name": _NON_BLANK,
            "config": CONFIG_SCHEMAS[connector_type_id],
            "secrets": SECRETS_SCHEMAS[connector_type_id],
        },
        required,
    )


_DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"

#: ``POST /api/actions/connector[/{id}]`` body per connector type.
CREATE_BODY_SCHEMAS: Final[Mapping[str, JsonSchema]] = {
    t: _create_body_schema(t) for t in LLM_CONNECTOR_TYPES
}
#: Any LLM create body (discriminated by ``connector_type_id``).
CREATE_BODY_SCHEMA: Final[JsonSchema] = {
    "$schema": _DRAFT,
    "oneOf": [CREATE_BODY_SCHEMAS[t] for t in LLM_CONNECTOR_TYPES],
}
#: ``PUT /api/actions/connector/{id}`` body per connector type (no ``connector_type_id``;
#: config and the complete secrets are sent every time).
UPDATE_BODY_SCHEMAS: Final[Mapping[str, JsonSchema]] = {
    t: _update_body_schema(t) for t in LLM_CONNECTOR_TYPES
}

# --------------------------------------------------------------------------- _execute params


def _telemetry(*, use_case: bool) -> JsonSchema:
    properties = {"pluginId": _STRING_ANY, "aggregateBy": _STRING_ANY}
    if use_case:
        properties["useCase"] = _STRING_ANY
    return _strict_object(properties)


_GEN_AI_TELEMETRY: Final = _telemetry(use_case=True)
_OTHER_TELEMETRY: Final = _telemetry(use_case=False)

_GEN_AI_RUN_PARAMS: Final[JsonSchema] = _strict_object(
    {"body": _STRING_ANY, "timeout": _NUMBER, "telemetryMetadata": _GEN_AI_TELEMETRY},
    ["body"],
)
# StreamActionParamsSchema (kbn-connector-schemas openai/schemas/v1.ts@e2971c75): run's keys
# plus ``stream`` (boolean, default false).
_GEN_AI_STREAM_PARAMS: Final[JsonSchema] = _strict_object(
    {
        "body": _STRING_ANY,
        "stream": _BOOLEAN,
        "timeout": _NUMBER,
        "telemetryMetadata": _GEN_AI_TELEMETRY,
    },
    ["body"],
)
_OPENAI_FUNCTION: Final[JsonSchema] = _strict_object(
    {"arguments": _STRING_ANY, "name": _STRING_ANY}, ["arguments", "name"]
)
_GEN_AI_INVOKE_PARAMS: Final[JsonSchema] = _strict_object(
    {
        "messages": {
            "type": "array",
            "items": _strict_object(
                {
                    "role": _STRING_ANY,
                    "content": _STRING_ANY,
                    "name": _STRING_ANY,
                    "function_call": _OPENAI_FUNCTION,
                    "tool_calls": {
                        "type": "array",
                        "items": _strict_object(
                            {"id": _STRING_ANY, "function": _OPENAI_FUNCTION, "type": _STRING_ANY},
                            ["id", "function", "type"],
                        ),
                    },
                    "tool_call_id": _STRING_ANY,
                },
                ["role", "content"],
            ),
        },
        "model": _STRING_ANY,
        "tools": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "function"],
                "properties": {
                    "type": {"type": "string", "const": "function"},
                    "function": {
                        "type": "object",
                        "required": ["name", "parameters"],
                        "properties": {
                            "description": _STRING_ANY,
                            "name": _STRING_ANY,
                            "parameters": _FREE_OBJECT,
                            "strict": _BOOLEAN,
                        },
                    },
                },
            },
        },
        "tool_choice": {
            "anyOf": [
                _one_of_strings(["none", "auto", "required"]),
                {
                    "type": "object",
                    "required": ["type", "function"],
                    "properties": {
                        "type": {"type": "string", "const": "function"},
                        "function": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {"name": _STRING_ANY},
                        },
                    },
                },
            ]
        },
        "functions": {"type": "array", "items": _FREE_OBJECT},
        "function_call": {"anyOf": [_one_of_strings(["none", "auto"]), _FREE_OBJECT]},
        "n": _NUMBER,
        "stop": {"type": ["string", "array", "null"], "items": _STRING_ANY},
        "temperature": _NUMBER,
        "response_format": {},
        "timeout": _NUMBER,
        "telemetryMetadata": _GEN_AI_TELEMETRY,
    },
    ["messages"],
)

_BEDROCK_RUN_PARAMS: Final[JsonSchema] = _strict_object(
    {
        "body": _STRING_ANY,
        "model": _STRING_ANY,
        "timeout": _NUMBER,
        "raw": _BOOLEAN,
        "telemetryMetadata": _OTHER_TELEMETRY,
    },
    ["body"],
)
_BEDROCK_INVOKE_PARAMS: Final[JsonSchema] = _strict_object(
    {
        "messages": {
            "type": "array",
            "items": {
                **_strict_object(
                    {"role": _STRING_ANY, "content": _STRING_ANY, "rawContent": {"type": "array"}},
                    ["role"],
                ),
                # exactly one of content / rawContent
                "oneOf": [{"required": ["content"]}, {"required": ["rawContent"]}],
                _EXACTLY_ONE: ["content", "rawContent"],
            },
        },
        "model": _STRING_ANY,
        "temperature": _NUMBER,
        "stopSequences": _STRINGS,
        "system": _STRING_ANY,
        "maxTokens": _NUMBER,
        "timeout": _NUMBER,
        "anthropicVersion": _STRING_ANY,
        "tools": {
            "type": "array",
            "items": _strict_object(
                {"name": _STRING_ANY, "description": _STRING_ANY, "input_schema": _FREE_OBJECT},
                ["name", "description", "input_schema"],
            ),
        },
        "toolChoice": _strict_object(
            {"type": _one_of_strings(["auto", "any", "tool"]), "name": _STRING_ANY}, ["type"]
        ),
        "telemetryMetadata": _OTHER_TELEMETRY,
    },
    ["messages"],
)

_GEMINI_RUN_PARAMS: Final[JsonSchema] = _strict_object(
    {
        # Kibana accepts any JSON here; the UI sends the generateContent body as a string.
        "body": {"type": ["string", "object"]},
        "model": _STRING_ANY,
        "timeout": _NUMBER,
        "temperature": _NUMBER,
        "stopSequences": _STRINGS,
        "raw": _BOOLEAN,
        "telemetryMetadata": _OTHER_TELEMETRY,
    },
    ["body"],
)
_GEMINI_INVOKE_PARAMS: Final[JsonSchema] = _strict_object(
    {
        "maxOutputTokens": _NUMBER,
        "messages": {"type": "array"},
        "systemInstruction": _STRING_ANY,
        "model": _STRING_ANY,
        "temperature": _NUMBER,
        "stopSequences": _STRINGS,
        "timeout": _NUMBER,
        "tools": {"type": "array"},
        "toolConfig": _strict_object(
            {
                "mode": _one_of_strings(["AUTO", "ANY", "NONE"]),
                "allowedFunctionNames": _STRINGS,
            },
            ["mode"],
        ),
        "telemetryMetadata": _OTHER_TELEMETRY,
    },
    ["messages"],
)

_INFERENCE_MESSAGE: Final[JsonSchema] = _strict_object(
    {
        "role": _STRING_ANY,
        "content": {"type": ["string", "null"]},
        "name": _STRING_ANY,
        "tool_calls": {
            "type": "array",
            "items": _strict_object(
                {
                    "id": _STRING_ANY,
                    "function": _strict_object({"arguments": _STRING_ANY, "name": _STRING_ANY}),
                    "type": _STRING_ANY,
                },
                ["id", "function", "type"],
            ),
        },
        "tool_call_id": _STRING_ANY,
    },
    ["role"],
)
_INFERENCE_UNIFIED_COMPLETION_PARAMS: Final[JsonSchema] = _strict_object(
    {
        "body": _strict_object(
            {
                "messages": {"type": "array", "items": _INFERENCE_MESSAGE},
                "model": _STRING_ANY,
                "max_tokens": _NUMBER,
                "metadata": {"type": "object", "additionalProperties": _STRING_ANY},
                "n": _NUMBER,
                "stop": {"type": ["string", "array", "null"], "items": _STRING_ANY},
                "temperature": _NUMBER,
                "tool_choice": {
                    "anyOf": [
                        _STRING_ANY,
                        _strict_object(
                            {
                                "type": _STRING_ANY,
                                "function": _strict_object({"name": _STRING_ANY}, ["name"]),
                            },
                            ["type", "function"],
                        ),
                    ]
                },
                "tools": {
                    "type": "array",
                    "items": _strict_object(
                        {
                            "type": _STRING_ANY,
                            "function": _strict_object(
                                {
                                    "name": _STRING_ANY,
                                    "description": _STRING_ANY,
                                    "parameters": _FREE_OBJECT,
                                },
                                ["name"],
                            ),
                        },
                        ["type", "function"],
                    ),
                },
                "top_p": _NUMBER,
                "user": _STRING_ANY,
            }
        ),
        "telemetryMetadata": _OTHER_TELEMETRY,
    },
    ["body"],
)
_INFERENCE_COMPLETION_PARAMS: Final[JsonSchema] = _strict_object({"input": _STRING_ANY}, ["input"])

#: ``subActionParams`` schema per connector type and modelled sub-action.
SUB_ACTION_PARAMS_SCHEMAS: Final[Mapping[str, Mapping[str, JsonSchema]]] = {
    GEN_AI: {
        "test": _GEN_AI_RUN_PARAMS,
        "run": _GEN_AI_RUN_PARAMS,
        "invokeAI": _GEN_AI_INVOKE_PARAMS,
        "stream": _GEN_AI_STREAM_PARAMS,
    },
    BEDROCK: {
        "test": _BEDROCK_RUN_PARAMS,
        "run": _BEDROCK_RUN_PARAMS,
        "invokeAI": _BEDROCK_INVOKE_PARAMS,
    },
    GEMINI: {
        "test": _GEMINI_RUN_PARAMS,
        "run": _GEMINI_RUN_PARAMS,
        "invokeAI": _GEMINI_INVOKE_PARAMS,
    },
    INFERENCE: {
        "unified_completion": _INFERENCE_UNIFIED_COMPLETION_PARAMS,
        "completion": _INFERENCE_COMPLETION_PARAMS,
    },
}


def _execute_params_schema(connector_type_id: str) -> JsonSchema:
    branches = [
        _strict_object(
            {
                "subAction": {"type": "string", "const": sub_action},
                "subActionParams": schema,
            },
            ["subAction", "subActionParams"],
        )
        for sub_action, schema in SUB_ACTION_PARAMS_SCHEMAS[connector_type_id].items()
    ]
    return {"$schema": _DRAFT, "oneOf": branches}


#: The ``params`` of ``_execute`` per connector type (only the modelled sub-actions).
EXECUTE_PARAMS_SCHEMAS: Final[Mapping[str, JsonSchema]] = {
    t: _execute_params_schema(t) for t in LLM_CONNECTOR_TYPES
}

# --------------------------------------------------------------------------- jsonschema glue


_VALIDATORS: dict[int, tuple[JsonSchema, Draft202012Validator]] = {}


def _validator(schema: JsonSchema) -> Draft202012Validator:
    entry = _VALIDATORS.get(id(schema))
    if entry is None or entry[0] is not schema:
        entry = (schema, Draft202012Validator(schema))
        _VALIDATORS[id(schema)] = entry
    return entry[1]


def _schema_accepts(schema: JsonSchema, value: object) -> bool:
    return bool(_validator(schema).is_valid(value))


def _describe_schema_error(error: ValidationError) -> str:
    where = ".".join(str(p) for p in error.path) or "<root>"
    if error.validator in ("required", "additionalProperties"):
        return f"{where}: {error.message}"
    detail = error.validator_value
    if isinstance(detail, dict | list) and error.validator not in ("type", "enum"):
        return f"{where}: does not satisfy '{error.validator}'"
    # The value itself is left out on purpose: it may be a secret.
    return f"{where}: does not satisfy '{error.validator}' {detail!r}"


def schema_errors(schema: JsonSchema, value: object) -> list[str]:
    """``jsonschema`` errors of ``value`` against ``schema`` (values are not echoed)."""
    errors = sorted(_validator(schema).iter_errors(value), key=lambda e: list(map(str, e.path)))
    return [_describe_schema_error(e) for e in errors]


def all_schemas() -> dict[str, JsonSchema]:
    """Every exported schema by name (used by the self-tests to check the schemas)."""
    named: dict[str, JsonSchema] = {
        "CREATE_BODY_SCHEMA": CREATE_BODY_SCHEMA,
        "GEN_AI_CONFIG_SCHEMA": GEN_AI_CONFIG_SCHEMA,
        "GEN_AI_SECRETS_SCHEMA": GEN_AI_SECRETS_SCHEMA,
    }
    for type_id in LLM_CONNECTOR_TYPES:
        named[f"create {type_id}"] = CREATE_BODY_SCHEMAS[type_id]
        named[f"update {type_id}"] = UPDATE_BODY_SCHEMAS[type_id]
        named[f"execute {type_id}"] = EXECUTE_PARAMS_SCHEMAS[type_id]
    return named


# --------------------------------------------------------------------------- zod-like messages

_MISSING: Final = object()


@dataclass(frozen=True)
class _Issue:
    path: tuple[str | int, ...]
    message: str


def _zod_type(value: object) -> str:
    if value is _MISSING:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_matches(expected: str, value: object) -> bool:
    checks: dict[str, bool] = {
        "string": isinstance(value, str),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "null": value is None,
    }
    return checks.get(expected, True)


def _same_json_value(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b


def _walk(schema: JsonSchema, value: object, path: tuple[str | int, ...]) -> list[_Issue]:
    """Issues in zod's words and order (declared keys first, unknown keys last).

    Value checks that a rule of this module reports itself (``minLength``/``pattern``, and
    enums marked ``_RULE_CHECKED``) are left out here.
    """
    union = schema.get("anyOf") or schema.get("oneOf")
    if union is not None and not any(key in schema for key in ("type", "properties")):
        if value is _MISSING:
            return [_Issue(path, "Required")]
        if any(not _walk(branch, value, path) for branch in union):
            return []
        return [_Issue(path, "Invalid input")]
    if value is _MISSING:
        return [_Issue(path, "Required")]
    expected = schema.get("type")
    if expected is not None:
        expected_types = [expected] if isinstance(expected, str) else list(expected)
        if not any(_type_matches(t, value) for t in expected_types):
            return [
                _Issue(path, f"Expected {' | '.join(expected_types)}, received {_zod_type(value)}")
            ]
    allowed = schema.get("enum")
    if allowed is None and "const" in schema:
        allowed = [schema["const"]]
    if (
        allowed is not None
        and not schema.get(_RULE_CHECKED)
        and not any(_same_json_value(a, value) for a in allowed)
    ):
        options = " | ".join(f"'{a}'" for a in allowed)
        return [_Issue(path, f"Invalid enum value. Expected {options}, received '{value}'")]
    issues: list[_Issue] = []
    if isinstance(value, dict):
        properties: dict[str, JsonSchema] = schema.get("properties", {})
        required = schema.get("required", [])
        for key, sub_schema in properties.items():
            if key in value:
                issues.extend(_walk(sub_schema, value[key], (*path, key)))
            elif key in required:
                issues.append(_Issue((*path, key), "Required"))
        extra = [key for key in value if key not in properties]
        additional = schema.get("additionalProperties", True)
        if additional is False and extra:
            issues.append(_Issue(path, "Unrecognized keys: " + ", ".join(f'"{k}"' for k in extra)))
        elif isinstance(additional, dict):
            for key in extra:
                issues.extend(_walk(additional, value[key], (*path, key)))
        exactly_one: list[str] | None = schema.get(_EXACTLY_ONE)
        if exactly_one and not issues:
            present = [key for key in exactly_one if key in value]
            if not present:
                issues.append(_Issue(path, f"Must specify either {' or '.join(exactly_one)}"))
            elif len(present) > 1:
                together = " and ".join(exactly_one)
                issues.append(_Issue(path, f"{together} can not be used at the same time"))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            issues.extend(_walk(schema["items"], item, (*path, index)))
    return issues


def _format_issues(issues: Sequence[_Issue]) -> str:
    texts = [
        f'Field "{".".join(str(p) for p in issue.path)}": {issue.message}'
        if issue.path
        else issue.message
        for issue in issues
    ]
    if len(texts) == 1:
        return texts[0]
    numbered = ";\n".join(f" [{n}]: {text}" for n, text in enumerate(texts, start=1))
    return f"{len(texts)} errors:\n{numbered}"


# --------------------------------------------------------------------------- route level (R4)


def _config_schema_type(value: object) -> str:
    """Type names as @kbn/config-schema prints them."""
    if value is _MISSING:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "Array"
    return "Object"


def _contains_blank_string(value: object) -> bool:
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, list):
        return any(_contains_blank_string(item) for item in value)
    if isinstance(value, dict):
        return any(_contains_blank_string(item) for item in value.values())
    return False


def _route_body_errors(
    body: object, *, string_keys: Sequence[str], record_keys: Sequence[str]
) -> list[str]:
    if not isinstance(body, dict):
        kind = _config_schema_type(body)
        return [f"[request body]: expected a plain object value, but found [{kind}] instead."]
    for key in string_keys:
        value = body.get(key, _MISSING)
        if not isinstance(value, str):
            kind = _config_schema_type(value)
            return [f"[request body.{key}]: expected value of type [string] but got [{kind}]"]
        if not value.strip():
            return [f"[request body.{key}]: value '' is not valid"]
    for key in record_keys:
        if key not in body:
            continue
        record = body[key]
        if not isinstance(record, dict):
            kind = _config_schema_type(record)
            return [f"[request body.{key}]: expected value of type [object] but got [{kind}]"]
        for item_key, item in record.items():
            if _contains_blank_string(item):
                return [f"[request body.{key}.{item_key}]: value '' is not valid"]
    for key in body:
        if key not in (*string_keys, *record_keys):
            return [f"[request body.{key}]: definition for this key is missing"]
    return []


def validate_create_request_shape(body: object) -> list[str]:
    """Route-level check of a create body: ``{name, connector_type_id, config, secrets}``.

    Non-blank ``name``/``connector_type_id``, objects for config/secrets, no empty or
    whitespace-only string anywhere inside them (R4), no other keys.
    """
    return _route_body_errors(
        body, string_keys=("name", "connector_type_id"), record_keys=("config", "secrets")
    )


def validate_update_request_shape(body: object) -> list[str]:
    """Route-level check of an update body: ``{name, config, secrets}`` (R4 as for create)."""
    return _route_body_errors(body, string_keys=("name",), record_keys=("config", "secrets"))


# --------------------------------------------------------------------------- rules R1-R3, R5


def host_allowed(hostname: str, allowed_hosts: Iterable[str]) -> bool:
    """``xpack.actions.allowedHosts`` semantics: ``*`` allows all, otherwise exact hostnames."""
    hosts = [h.lower() for h in allowed_hosts]
    return "*" in hosts or hostname.lower() in hosts


def url_problem(url: str, allowed_hosts: Iterable[str] = ("*",)) -> str | None:
    """R1: absolute http(s) URL whose host is allowed; Kibana's error text, or None."""
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or 0 <= parts.port <= 65535
    except ValueError:
        return f"URL Error: Invalid URL: {url}"
    if (
        not parts.scheme
        or not port_ok
        or any(ch.isspace() for ch in url)
        or (parts.scheme.lower() in ("http", "https") and not parts.netloc)
    ):
        return f"URL Error: Invalid URL: {url}"
    if not parts.hostname:
        return "URL Error: URL must contain hostname"
    if parts.scheme.lower() not in ("http", "https"):
        return "URL Error: Invalid protocol"
    if not host_allowed(parts.hostname, allowed_hosts):
        return (
            f'error validating url: target url "{url}" is not added to the Kibana config '
            "xpack.actions.allowedHosts"
        )
    return None


def _decode_base64_loosely(data: str) -> str:
    """Decode like Node's ``Buffer.from(data, 'base64')``: skip stray characters."""
    cleaned = re.sub(r"[^A-Za-z0-9+/]", "", data.replace("-", "+").replace("_", "/"))
    if len(cleaned) % 4 == 1:
        cleaned = cleaned[:-1]
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return ""


def _pem_problem(data: str, headers: Sequence[str], kind: str, description: str) -> str | None:
    decoded = _decode_base64_loosely(data)
    if not decoded or any(header in decoded for header in headers):
        return None
    quoted = " or ".join(f'"{h}"' for h in headers)
    return (
        f"Invalid {description} file format: The file must be a PEM-encoded {kind} "
        f"beginning with {quoted}."
    )


def _gen_ai_secrets_problem(secrets: Mapping[str, Any]) -> str | None:
    """R2: PKI secrets (base64 PEM) or a non-empty apiKey."""
    certificate = secrets.get("certificateData")
    private_key = secrets.get("privateKeyData")
    ca = secrets.get("caData")
    if certificate or private_key or "caData" in secrets:
        if not certificate:
            return "Certificate data must be provided for PKI"
        if not private_key:
            return "Private key data must be provided for PKI"
        checks = [
            (certificate, _PEM_CERTIFICATE, "certificate", "Certificate data"),
            (private_key, _PEM_PRIVATE_KEY, "private key", "Private key data"),
        ]
        if ca:
            checks.append((ca, _PEM_CERTIFICATE, "certificate", "CA certificate data"))
        for data, headers, kind, description in checks:
            problem = _pem_problem(str(data), headers, kind, description)
            if problem:
                return problem
        return None
    if not secrets.get("apiKey"):
        return "[apiKey]: expected value of type [string] but got [undefined]"
    return None


def _js_text(value: object) -> str:
    """How JavaScript would print ``value`` in a template string."""
    if value is _MISSING:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, list):
        return ",".join(_js_text(item) for item in value)
    return str(value)


def gemini_credentials_problem(credentials_json: str) -> str | None:
    """R3: the service-account key file must parse and have ``"type": "service_account"``."""
    try:
        credentials = json.loads(credentials_json)
    except ValueError:
        return "Invalid JSON format for credentials."
    kind = credentials.get("type", _MISSING) if isinstance(credentials, dict) else _MISSING
    if kind != "service_account":
        return (
            'Invalid credential type. Only "service_account" credentials are supported. '
            f'Type was "{_js_text(kind)}".'
        )
    return None


def _config_rules_problem(
    connector_type_id: str, config: Mapping[str, Any], allowed_hosts: Sequence[str]
) -> str | None:
    if connector_type_id == INFERENCE:
        provider = config.get("provider")
        if provider not in INFERENCE_PROVIDERS:
            return (
                "Error configuring Inference API action: Error: API Provider is not supported: "
                f"{_js_text(provider)} by Inference Endpoint."
            )
        task_type = config.get("taskType")
        if task_type not in INFERENCE_TASK_TYPES:
            return (
                "Error configuring Inference API action: Error: Task type is not supported: "
                f"{_js_text(task_type)} by Inference Endpoint."
            )
        return None
    problem = url_problem(str(config.get("apiUrl", "")), allowed_hosts)
    if problem:
        return (
            f"Error configuring {CONNECTOR_TYPE_TITLES[connector_type_id]} action: Error: {problem}"
        )
    return None


def _secrets_rules_problem(connector_type_id: str, secrets: Mapping[str, Any]) -> str | None:
    if connector_type_id == GEN_AI:
        return _gen_ai_secrets_problem(secrets)
    if connector_type_id == GEMINI:
        problem = gemini_credentials_problem(str(secrets.get("credentialsJson", "")))
        if problem:
            return f"Error configuring Google Gemini secrets: Error: {problem}"
    return None


def _gen_ai_config_issues(config: Mapping[str, Any]) -> list[_Issue]:
    provider = config.get("apiProvider", _MISSING)
    branch = _GEN_AI_CONFIG_BY_PROVIDER.get(provider) if isinstance(provider, str) else None
    if branch is not None:
        return _walk(branch, config, ())
    issues = _walk(_one_of_strings(GEN_AI_PROVIDERS), provider, ("apiProvider",))
    if "apiUrl" not in config:
        issues.append(_Issue(("apiUrl",), "Required"))
    return issues


def _gen_ai_secrets_issues(secrets: Mapping[str, Any]) -> list[_Issue]:
    known = GEN_AI_SECRETS_PKI_SCHEMA["properties"]
    issues = [
        _Issue((key,), f"Expected string, received {_zod_type(secrets[key])}")
        for key in known
        if key in secrets and not isinstance(secrets[key], str)
    ]
    extra = [key for key in secrets if key not in known]
    if extra:
        issues.append(_Issue((), "Unrecognized keys: " + ", ".join(f'"{k}"' for k in extra)))
    return issues


def _config_error(
    connector_type_id: str, config: Mapping[str, Any], allowed_hosts: Sequence[str]
) -> str | None:
    prefix = "error validating connector type config: "
    if connector_type_id == GEN_AI:
        issues = _gen_ai_config_issues(config)
    else:
        issues = _walk(CONFIG_SCHEMAS[connector_type_id], config, ())
    if issues:
        return prefix + _format_issues(issues)
    problem = _config_rules_problem(connector_type_id, config, allowed_hosts)
    if problem:
        return prefix + problem
    if not _schema_accepts(CONFIG_SCHEMAS[connector_type_id], config):
        # Safety net: never call a body valid that the strict JSON Schema rejects.
        return prefix + "; ".join(schema_errors(CONFIG_SCHEMAS[connector_type_id], config))
    return None


def _secrets_error(connector_type_id: str, secrets: Mapping[str, Any]) -> str | None:
    prefix = "error validating connector type secrets: "
    if connector_type_id == GEN_AI:
        issues = _gen_ai_secrets_issues(secrets)
    else:
        issues = _walk(SECRETS_SCHEMAS[connector_type_id], secrets, ())
    if issues:
        return prefix + _format_issues(issues)
    problem = _secrets_rules_problem(connector_type_id, secrets)
    if problem:
        return prefix + problem
    if not _schema_accepts(SECRETS_SCHEMAS[connector_type_id], secrets):
        return prefix + "; ".join(schema_errors(SECRETS_SCHEMAS[connector_type_id], secrets))
    return None


def validate_connector_fields(
    connector_type_id: str,
    config: object,
    secrets: object,
    *,
    allowed_hosts: Iterable[str] = ("*",),
) -> list[str]:
    """Type-level validation of ``config`` and ``secrets`` (schema, R1-R3, R5).

    Returns at most one message for config and one for secrets, config first (Kibana
    answers with the first one).
    """
    if connector_type_id not in LLM_CONNECTOR_TYPES:
        return [f'Action type "{connector_type_id}" is not registered.']
    errors: list[str] = []
    config = {} if config is None else config
    secrets = {} if secrets is None else secrets
    if isinstance(config, dict):
        config_error = _config_error(connector_type_id, config, list(allowed_hosts))
    else:
        config_error = (
            f"error validating connector type config: Expected object, received {_zod_type(config)}"
        )
    if config_error:
        errors.append(config_error)
    if isinstance(secrets, dict):
        secrets_error = _secrets_error(connector_type_id, secrets)
    else:
        secrets_error = (
            "error validating connector type secrets: Expected object, received "
            f"{_zod_type(secrets)}"
        )
    if secrets_error:
        errors.append(secrets_error)
    return errors


def validate_create_body(body: object, *, allowed_hosts: Iterable[str] = ("*",)) -> list[str]:
    """All Kibana error messages for a create body (``[]`` = Kibana accepts it).

    ``allowed_hosts`` mirrors ``xpack.actions.allowedHosts`` (default ``["*"]``).
    """
    errors = validate_create_request_shape(body)
    if errors or not isinstance(body, dict):
        return errors
    connector_type_id = body["connector_type_id"]
    errors = validate_connector_fields(
        connector_type_id,
        body.get("config", {}),
        body.get("secrets", {}),
        allowed_hosts=allowed_hosts,
    )
    if not errors and not _schema_accepts(CREATE_BODY_SCHEMAS[connector_type_id], body):
        errors = ["; ".join(schema_errors(CREATE_BODY_SCHEMAS[connector_type_id], body))]
    return errors


def validate_update_body(
    connector_type_id: str, body: object, *, allowed_hosts: Iterable[str] = ("*",)
) -> list[str]:
    """All Kibana error messages for an update body of a connector of that type."""
    errors = validate_update_request_shape(body)
    if errors or not isinstance(body, dict):
        return errors
    errors = validate_connector_fields(
        connector_type_id,
        body.get("config", {}),
        body.get("secrets", {}),
        allowed_hosts=allowed_hosts,
    )
    if not errors and not _schema_accepts(UPDATE_BODY_SCHEMAS[connector_type_id], body):
        errors = ["; ".join(schema_errors(UPDATE_BODY_SCHEMAS[connector_type_id], body))]
    return errors


def apply_server_defaults(
    connector_type_id: str, config: Mapping[str, Any], secrets: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The config and secrets Kibana stores after its schema filled in defaults."""
    filled_config = dict(config)
    filled_secrets = dict(secrets)
    if connector_type_id == GEN_AI:
        if filled_config.get("apiProvider") == "OpenAI":
            filled_config.setdefault("defaultModel", DEFAULT_MODELS[GEN_AI])
    elif connector_type_id in (BEDROCK, GEMINI):
        filled_config.setdefault("defaultModel", DEFAULT_MODELS[connector_type_id])
    elif connector_type_id == INFERENCE:
        filled_config.setdefault("providerConfig", {})
        filled_secrets.setdefault("providerSecrets", {})
    return filled_config, filled_secrets


# --------------------------------------------------------------------------- _execute


ExecuteProblemKind = Literal["params", "not_registered", "request"]


@dataclass(frozen=True)
class ExecuteProblem:
    """Why Kibana refuses ``_execute`` params, and how it says so.

    * ``params``: the framework check of ``{subAction, subActionParams}``; Kibana answers
      ``message = "error validating action params: ..."``, ``retry: false``, ``errorSource: user``.
    * ``not_registered``: unknown sub-action; ``message = "an error occurred while running the
      action"``, ``service_message = 'Sub action "x" is not registered. ...'``, ``retry: true``,
      ``errorSource: framework``.
    * ``request``: ``subActionParams`` fail the sub-action schema; ``service_message =
      "Request validation failed (...)"``, ``errorSource: user``.
    """

    kind: ExecuteProblemKind
    text: str


def check_execute_params(
    connector_type_id: str, params: object, *, connector_id: str = "<connector id>"
) -> ExecuteProblem | None:
    """The first problem Kibana finds in the ``params`` of ``_execute``, or None."""
    if not isinstance(params, dict):
        return ExecuteProblem(
            "params",
            f"error validating action params: Expected object, received {_zod_type(params)}",
        )
    # Kibana's framework check: subAction required, subActionParams an optional object.
    framework = _strict_object(
        {"subAction": _STRING_ANY, "subActionParams": {"type": ["object", "null"]}},
        ["subAction"],
    )
    issues = _walk(framework, params, ())
    if issues:
        return ExecuteProblem("params", "error validating action params: " + _format_issues(issues))
    sub_action = params["subAction"]
    registered = REGISTERED_SUB_ACTIONS.get(connector_type_id, ())
    if sub_action not in registered:
        title = CONNECTOR_TYPE_TITLES.get(connector_type_id, connector_type_id)
        return ExecuteProblem(
            "not_registered",
            f'Sub action "{sub_action}" is not registered. Connector id: {connector_id}. '
            f"Connector name: {title}. Connector type: {connector_type_id}",
        )
    schema = SUB_ACTION_PARAMS_SCHEMAS[connector_type_id].get(sub_action)
    if schema is None:
        return ExecuteProblem(
            "request",
            f"Request validation failed (Error: sub action {sub_action!r} of {connector_type_id} "
            "is not modelled by the strict schemas of the test suite)",
        )
    sub_action_params = params.get("subActionParams", _MISSING)
    if sub_action_params is None:
        sub_action_params = _MISSING
    issues = _walk(schema, sub_action_params, ())
    if not issues and not _schema_accepts(schema, sub_action_params):
        details = "; ".join(schema_errors(schema, sub_action_params))
        return ExecuteProblem("request", f"Request validation failed (Error: {details})")
    if issues:
        return ExecuteProblem(
            "request", f"Request validation failed (Error: {_format_issues(issues)})"
        )
    return None


def validate_execute_params(
    connector_type_id: str, params: object, *, connector_id: str = "<connector id>"
) -> list[str]:
    """Kibana's error text for the ``params`` of ``_execute`` (``[]`` = accepted).

    ``connector_type_id`` must be one of the LLM types; the sub-actions modelled strictly
    are ``test``/``run``/``invokeAI`` (.gen-ai, .bedrock, .gemini), ``stream`` (.gen-ai) and
    ``unified_completion``/``completion`` (.inference).
    """
    if connector_type_id not in LLM_CONNECTOR_TYPES:
        return [f'Action type "{connector_type_id}" is not registered.']
    problem = check_execute_params(connector_type_id, params, connector_id=connector_id)
    return [] if problem is None else [problem.text]


def execute_body_problem(body: object) -> str | None:
    """Route-level check of the ``_execute`` request body ``{"params": {...}}``."""
    if not isinstance(body, dict):
        kind = _config_schema_type(body)
        return f"[request body]: expected a plain object value, but found [{kind}] instead."
    params = body.get("params", _MISSING)
    if not isinstance(params, dict):
        kind = _config_schema_type(params)
        return f"[request body.params]: expected value of type [object] but got [{kind}]"
    for key in body:
        if key != "params":
            return f"[request body.{key}]: definition for this key is missing"
    return None


# --------------------------------------------------------------------------- connector ids

CONNECTOR_ID_MAX_LENGTH: Final = 36
_CONNECTOR_ID_PATTERN: Final = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def connector_id_problem(connector_id: str) -> str | None:
    """Newest Kibana's check of a client-chosen connector id (route param), or None."""
    prefix = "[request params.id]: "
    if not connector_id:
        return prefix + "Connector ID is required."
    if len(connector_id) > CONNECTOR_ID_MAX_LENGTH:
        return prefix + f"Connector ID must be {CONNECTOR_ID_MAX_LENGTH} characters or less."
    if (
        not _CONNECTOR_ID_PATTERN.fullmatch(connector_id)
        or ".." in connector_id
        or connector_id in ("__proto__", "constructor", "prototype")
    ):
        return prefix + "Connector ID must contain only lowercase letters, numbers, and hyphens."
    return None
