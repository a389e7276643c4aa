"""OpenAI-compatible servers (vLLM, LM Studio, others): `.gen-ai` with apiProvider Other."""

from __future__ import annotations

import base64
from typing import Any, Literal

from pydantic import SecretStr, field_validator

from bot.domain.enums import Provider
from bot.domain.fields import (
    FieldKind,
    FieldSpec,
    FormValues,
    Validation,
    check_required_text,
    check_secret,
    check_url,
)
from bot.domain.providers.spec import (
    CONNECTOR,
    INFERENCE,
    ConnectorTarget,
    InferencePayload,
    InferenceTarget,
    ProviderSpec,
    Secrets,
    Settings,
    non_empty,
    secret,
)

CHAT_PATH = "/v1/chat/completions"
LM_STUDIO_PLACEHOLDER_KEY = "lm-studio"
VERIFICATION_MODES = (
    ("full", "Full: check the certificate and host name"),
    ("certificate", "Certificate: check the certificate only"),
    ("none", "None: no TLS verification (not for production)"),
)
PEM_MARKERS = {
    "certificate_pem": "-----BEGIN CERTIFICATE-----",
    "private_key_pem": "PRIVATE KEY-----",
    "ca_pem": "-----BEGIN CERTIFICATE-----",
}


def _fields(
    *, url_example: str, model_example: str, key_hint: str, key_required: bool, native_default: bool
) -> tuple[FieldSpec, ...]:
    return (
        FieldSpec(
            key="api_url",
            label="Chat completions URL",
            hint=f"The server's OpenAI-compatible endpoint ending in {CHAT_PATH}, e.g. "
            f"{url_example}. Kibana, not the bot, must reach it.",
            kind=FieldKind.URL,
            placeholder=url_example,
            max_length=1000,
        ),
        FieldSpec(
            key="model",
            label="Model",
            hint=f"Required for this provider: the model name the server serves, e.g. "
            f"{model_example}.",
            placeholder=model_example,
            max_length=200,
        ),
        FieldSpec(
            key="api_key",
            label="API key or bearer token",
            hint=key_hint,
            required=key_required,
            secret=True,
            max_length=500,
        ),
        FieldSpec(
            key="verification_mode",
            label="TLS verification",
            hint="How Kibana checks the server's certificate.",
            kind=FieldKind.SELECT,
            initial="full",
            options=VERIFICATION_MODES,
        ),
        FieldSpec(
            key="native_function_calling",
            label="Native function calling",
            hint="Let the model call tools natively (vLLM with --enable-auto-tool-choice).",
            kind=FieldKind.CHECKBOX,
            required=False,
            initial="true" if native_default else "",
        ),
        FieldSpec(
            key="certificate_pem",
            label="Client certificate (PEM)",
            hint="Optional, for mutual TLS: -----BEGIN CERTIFICATE----- … (with the key below).",
            kind=FieldKind.MULTILINE,
            required=False,
            secret=True,
            max_length=3000,
        ),
        FieldSpec(
            key="private_key_pem",
            label="Client private key (PEM)",
            hint="Optional, with the certificate: -----BEGIN PRIVATE KEY----- … (PKCS#8).",
            kind=FieldKind.MULTILINE,
            required=False,
            secret=True,
            max_length=3000,
        ),
        FieldSpec(
            key="ca_pem",
            label="CA certificate (PEM)",
            hint="Optional: the CA that signed the server's certificate, if not public.",
            kind=FieldKind.MULTILINE,
            required=False,
            secret=True,
            max_length=3000,
        ),
    )


def _check(values: FormValues, result: Validation, *, key_required: bool, key_missing: str) -> None:
    url = check_url(values, result, scheme="http-warn")
    if url is not None and not url.parts.path.rstrip("/").endswith(CHAT_PATH):
        result.error(
            "api_url",
            f"OpenAI-compatible servers take chat requests at …{CHAT_PATH}: add it to the URL "
            f"(e.g. https://{url.parts.netloc}{CHAT_PATH}).",
        )
    check_required_text(
        values,
        result,
        "model",
        missing="Give the model name: Kibana requires it for this provider.",
    )
    pki = _check_pki(values, result)
    check_secret(values, result, "api_key", missing=key_missing, required=key_required and not pki)
    mode = values.get("verification_mode") or "full"
    if mode not in {value for value, _ in VERIFICATION_MODES}:
        result.error("verification_mode", "Choose full, certificate or none.")
    elif mode == "none":
        result.warnings.append("TLS verification is off: Kibana will trust any certificate.")
    if pki and url is not None and not url.is_https:
        result.error("api_url", "Certificates (client or CA) need an https:// URL.")


def _check_pki(values: FormValues, result: Validation) -> bool:
    present = {key: values.get(key, "").strip() for key in PEM_MARKERS}
    for key, marker in PEM_MARKERS.items():
        if present[key] and marker not in present[key]:
            shown = "-----BEGIN PRIVATE KEY-----" if key == "private_key_pem" else marker
            result.error(key, f"Paste PEM text that starts with {shown}.")
    if present["certificate_pem"] and not present["private_key_pem"]:
        result.error("private_key_pem", "A client certificate needs its private key too.")
    if present["private_key_pem"] and not present["certificate_pem"]:
        result.error("certificate_pem", "A private key needs its client certificate too.")
    if present["ca_pem"] and not present["certificate_pem"]:
        result.error(
            "ca_pem",
            "Kibana only uses a CA here together with a client certificate and key (mutual "
            "TLS). To trust a private CA alone, add it to xpack.actions.customHostSettings in "
            "kibana.yml and leave this empty.",
        )
    return bool(present["certificate_pem"] or present["ca_pem"])


def _b64(text: str) -> str:
    return base64.b64encode(text.strip().encode()).decode() if text.strip() else ""


class OpenAICompatibleSettings(Settings):
    api_url: str
    model: str
    verification_mode: Literal["full", "certificate", "none"] = "full"
    native_function_calling: bool = False

    @field_validator("native_function_calling", mode="before")
    @classmethod
    def _checked(cls, value: object) -> object:
        # The checkbox sends "true" when ticked; anything else is unticked.
        return value == "true" if isinstance(value, str) else value


class OpenAICompatibleSecrets(Secrets):
    api_key: SecretStr | None = None
    certificate_pem: SecretStr | None = None
    private_key_pem: SecretStr | None = None
    ca_pem: SecretStr | None = None


def _connector_payload(
    settings: OpenAICompatibleSettings,
    secrets: OpenAICompatibleSecrets,
    *,
    placeholder_key: str | None,
) -> tuple[dict[str, Any], dict[str, str]]:
    certificate, ca = secret(secrets.certificate_pem), secret(secrets.ca_pem)
    pki = bool(certificate or ca)
    mode = settings.verification_mode
    config = non_empty(
        {
            "apiProvider": "Other",
            "apiUrl": settings.api_url,
            "defaultModel": settings.model,
            # Older Kibana versions reject verificationMode; send it only when it matters.
            "verificationMode": mode if pki or mode != "full" else None,
            "enableNativeFunctionCalling": settings.native_function_calling,
        }
    )
    key = secret(secrets.api_key)
    if not key and placeholder_key and not certificate:
        key = placeholder_key
    return config, non_empty(
        {
            "apiKey": key,
            "certificateData": _b64(certificate),
            "privateKeyData": _b64(secret(secrets.private_key_pem)),
            "caData": _b64(ca),
        }
    )


def _without_placeholder(
    settings: OpenAICompatibleSettings, secrets: OpenAICompatibleSecrets
) -> tuple[dict[str, Any], dict[str, str]]:
    return _connector_payload(settings, secrets, placeholder_key=None)


def _with_lm_studio_placeholder(
    settings: OpenAICompatibleSettings, secrets: OpenAICompatibleSecrets
) -> tuple[dict[str, Any], dict[str, str]]:
    return _connector_payload(settings, secrets, placeholder_key=LM_STUDIO_PLACEHOLDER_KEY)


# Elasticsearch's openai service needs a key even when the server ignores it.
UNUSED_KEY = "unused"


def _inference_payload(
    settings: OpenAICompatibleSettings, secrets: OpenAICompatibleSecrets
) -> InferencePayload:
    """The `openai` service with the server's full chat-completions ``url``. Elasticsearch's
    openai service has no client certificates or CA: those servers stay connectors."""
    if secret(secrets.certificate_pem) or secret(secrets.ca_pem):
        raise ValueError(
            "Elasticsearch's openai service cannot use client certificates or a custom CA; "
            "a server that needs them can only be a connector."
        )
    service_settings = {
        "api_key": secret(secrets.api_key) or UNUSED_KEY,
        "model_id": settings.model,
        "url": settings.api_url,
    }
    return InferencePayload("openai", service_settings, secret_settings=frozenset({"api_key"}))


def _check_vllm(values: FormValues, result: Validation) -> None:
    _check(
        values,
        result,
        key_required=True,
        key_missing="Paste the bearer token your proxy (or VLLM_API_KEY) expects.",
    )


def _check_lm_studio(values: FormValues, result: Validation) -> None:
    _check(values, result, key_required=False, key_missing="")


def _check_other(values: FormValues, result: Validation) -> None:
    _check(
        values,
        result,
        key_required=True,
        key_missing="Paste the API key or bearer token the service expects.",
    )


VLLM = ProviderSpec(
    key=Provider.VLLM,
    label="vLLM (self-managed)",
    summary="A vLLM server behind TLS, for production or air-gapped use (.gen-ai, Other).",
    fields=_fields(
        url_example="https://llm.example.com/v1/chat/completions",
        model_example="mistralai/Mistral-Small-3.2-24B-Instruct-2506",
        key_hint="The bearer token your TLS proxy checks (or VLLM_API_KEY).",
        key_required=True,
        native_default=True,
    ),
    check=_check_vllm,
    settings_model=OpenAICompatibleSettings,
    secrets_model=OpenAICompatibleSecrets,
    supported_backends=frozenset({CONNECTOR, INFERENCE}),
    inference=InferenceTarget("openai", _inference_payload),
    connector=ConnectorTarget(".gen-ai", _without_placeholder),
    example={
        "api_url": "https://llm.example.com/v1/chat/completions",
        "model": "mistralai/Mistral-Small-3.2-24B-Instruct-2506",
        "api_key": "nginx-bearer-token-123",
        "verification_mode": "full",
        "native_function_calling": "true",
    },
    self_managed=True,
)

LM_STUDIO = ProviderSpec(
    key=Provider.LM_STUDIO,
    label="LM Studio",
    summary="An LM Studio server (experimental; for tests and labs) (.gen-ai, Other).",
    fields=_fields(
        url_example="http://192.168.1.20:1234/v1/chat/completions",
        model_example="llama-3.3-70b-instruct",
        key_hint="Optional: LM Studio ignores it unless a proxy checks a token; left empty, "
        f"the placeholder “{LM_STUDIO_PLACEHOLDER_KEY}” is sent.",
        key_required=False,
        native_default=False,
    ),
    check=_check_lm_studio,
    settings_model=OpenAICompatibleSettings,
    secrets_model=OpenAICompatibleSecrets,
    supported_backends=frozenset({CONNECTOR, INFERENCE}),
    inference=InferenceTarget("openai", _inference_payload),
    connector=ConnectorTarget(".gen-ai", _with_lm_studio_placeholder),
    example={
        "api_url": "http://192.168.1.20:1234/v1/chat/completions",
        "model": "llama-3.3-70b-instruct",
        "verification_mode": "full",
    },
    self_managed=True,
)

OPENAI_COMPATIBLE = ProviderSpec(
    key=Provider.OPENAI_COMPATIBLE,
    label="Other OpenAI-compatible service",
    summary="Any server or gateway speaking OpenAI's chat completions API (.gen-ai, Other).",
    fields=_fields(
        url_example="https://gateway.example.com/v1/chat/completions",
        model_example="gpt-4o",
        key_hint="The API key or bearer token the service expects.",
        key_required=True,
        native_default=False,
    ),
    check=_check_other,
    settings_model=OpenAICompatibleSettings,
    secrets_model=OpenAICompatibleSecrets,
    supported_backends=frozenset({CONNECTOR, INFERENCE}),
    inference=InferenceTarget("openai", _inference_payload),
    connector=ConnectorTarget(".gen-ai", _without_placeholder),
    example={
        "api_url": "https://gateway.example.com/v1/chat/completions",
        "model": "gpt-4o",
        "api_key": "gw-key-0123456789",
        "verification_mode": "full",
    },
    self_managed=True,
)
