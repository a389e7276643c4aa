"""Amazon Bedrock: a `.bedrock` connector signed with an IAM access key."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

from pydantic import SecretStr

from bot.domain.enums import Provider
from bot.domain.fields import (
    FieldKind,
    FieldSpec,
    FormValues,
    Validation,
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
)

DEFAULT_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
RUNTIME_HOST = re.compile(r"^bedrock-runtime(-fips)?\.([a-z]{2}(-gov)?-[a-z]+-\d)\.amazonaws\.com$")
CONTROL_HOST = re.compile(r"^bedrock(-fips)?\.([a-z]{2}(-gov)?-[a-z]+-\d)\.amazonaws\.com$")
ACCESS_KEY = re.compile(r"^AKIA[A-Z0-9]{16}$")
SECRET_KEY = re.compile(r"^[A-Za-z0-9/+=]{40}$")
MODEL_ID = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?$")
PROFILE_PREFIXES = {
    "us": ("us-east-", "us-west-"),
    "eu": ("eu-",),
    "apac": ("ap-",),
    "jp": ("ap-northeast-",),
    "au": ("ap-southeast-",),
    "ca": ("ca-",),
    "us-gov": ("us-gov-",),
}

FIELDS = (
    FieldSpec(
        key="api_url",
        label="Bedrock runtime URL",
        hint="https://bedrock-runtime.{region}.amazonaws.com, in the region where model "
        "access is enabled, e.g. https://bedrock-runtime.us-east-1.amazonaws.com",
        kind=FieldKind.URL,
        initial="https://bedrock-runtime.us-east-1.amazonaws.com",
    ),
    FieldSpec(
        key="model",
        label="Model id",
        hint="An inference-profile id with its region prefix (us., eu., apac.), e.g. "
        f"{DEFAULT_MODEL}. A provisioned-throughput ARN must be URL-encoded.",
        initial=DEFAULT_MODEL,
        max_length=300,
    ),
    FieldSpec(
        key="access_key",
        label="Access key id",
        hint="An IAM user access key (20 characters, starts with AKIA) allowed "
        "bedrock:InvokeModel and bedrock:InvokeModelWithResponseStream.",
        placeholder="AKIA…",
        secret=True,
        max_length=40,
    ),
    FieldSpec(
        key="secret_key",
        label="Secret access key",
        hint="The 40-character secret shown once when the access key was created.",
        secret=True,
        max_length=80,
    ),
)


def region_of(host: str) -> str | None:
    match = RUNTIME_HOST.match(host)
    return match.group(2) if match else None


def check(values: FormValues, result: Validation) -> None:
    url = check_url(values, result)
    region: str | None = None
    if url is not None:
        region = region_of(url.host)
        control = CONTROL_HOST.match(url.host)
        if control:
            result.error(
                "api_url",
                f"{url.host} is Bedrock's control-plane host; the connector calls the runtime: "
                f"https://bedrock-runtime.{control.group(2)}.amazonaws.com",
            )
        elif region is None:
            result.error(
                "api_url",
                "Use https://bedrock-runtime.{region}.amazonaws.com, e.g. "
                "https://bedrock-runtime.us-east-1.amazonaws.com",
            )
        elif url.parts.path not in {"", "/"} or url.parts.query:
            result.error("api_url", "Give only the host: the connector adds /model/… itself.")
    check_model(values.get("model", "").strip(), region, result)
    access_key = check_secret(values, result, "access_key", missing="Paste the access key id.")
    if access_key.startswith("ASIA"):
        result.error(
            "access_key",
            "ASIA… keys are temporary and need a session token Kibana can't store: create an "
            "IAM user access key (AKIA…).",
        )
    elif access_key and not ACCESS_KEY.match(access_key):
        result.error("access_key", "Access key ids are 20 characters: AKIA and 16 capitals/digits.")
    secret = check_secret(values, result, "secret_key", missing="Paste the secret access key.")
    if secret and not SECRET_KEY.match(secret):
        result.error("secret_key", "Secret access keys are 40 characters (letters, digits, / + =).")


def check_model(model: str, region: str | None, result: Validation) -> None:
    if not model:
        result.error("model", f"Give the model id, e.g. {DEFAULT_MODEL}.")
        return
    if model.startswith("arn:"):
        result.error(
            "model",
            "URL-encode the provisioned-throughput ARN, i.e. use " + quote(model, safe=""),
        )
        return
    if model.lower().startswith("arn%3a"):
        return
    if not MODEL_ID.match(model):
        result.error("model", f"Model ids look like {DEFAULT_MODEL}.")
        return
    prefix = model.split(".", 1)[0]
    if prefix in PROFILE_PREFIXES:
        if region and not region.startswith(PROFILE_PREFIXES[prefix]):
            result.error(
                "model",
                f"The {prefix}. inference profile isn't served in {region}: use the prefix of "
                "the URL's region (us. for us-*, eu. for eu-*, apac. for ap-*).",
            )
    elif prefix != "global":
        result.warnings.append(
            f"Model {model} has no inference-profile prefix: newer models fail with “on-demand "
            "throughput isn't supported” unless called as us./eu./apac. profiles."
        )


class BedrockSettings(Settings):
    api_url: str
    model: str


class BedrockSecrets(Secrets):
    access_key: SecretStr
    secret_key: SecretStr


def connector_payload(
    settings: BedrockSettings, secrets: BedrockSecrets
) -> tuple[dict[str, Any], dict[str, str]]:
    config = non_empty({"apiUrl": settings.api_url, "defaultModel": settings.model})
    return config, {
        "accessKey": secrets.access_key.get_secret_value(),
        "secret": secrets.secret_key.get_secret_value(),
    }


# The model families Elasticsearch's amazonbedrock service can chat with.
INFERENCE_PROVIDERS = ("anthropic", "ai21labs", "cohere", "meta", "mistral")
# Elasticsearch's default reply limit is 64 tokens; a chat needs more.
MAX_NEW_TOKENS = 1024


def model_family(model: str) -> str | None:
    """The model's family from its id, inference profile (``us.anthropic.…``) or ARN."""
    name = model.rsplit("/", 1)[-1]
    for part in name.split(".")[:2]:
        if part in INFERENCE_PROVIDERS:
            return part
    return None


def inference_payload(settings: BedrockSettings, secrets: BedrockSecrets) -> InferencePayload:
    """The `amazonbedrock` service: region from the runtime URL, family from the model id."""
    region = region_of(urlsplit(settings.api_url).hostname or "")
    family = model_family(settings.model)
    if region is None or family is None:
        raise ValueError(
            "An inference endpoint needs a bedrock-runtime URL with its region and a model of "
            f"one of {', '.join(INFERENCE_PROVIDERS)}."
        )
    service_settings = {
        "access_key": secrets.access_key.get_secret_value(),
        "secret_key": secrets.secret_key.get_secret_value(),
        "region": region,
        "provider": family,
        "model": settings.model,
    }
    return InferencePayload(
        "amazonbedrock",
        service_settings,
        task_settings={"max_new_tokens": MAX_NEW_TOKENS},
        secret_settings=frozenset({"access_key", "secret_key"}),
    )


SPEC = ProviderSpec(
    key=Provider.BEDROCK,
    label="Amazon Bedrock",
    summary="Claude and other models on Amazon Bedrock (.bedrock).",
    fields=FIELDS,
    check=check,
    settings_model=BedrockSettings,
    secrets_model=BedrockSecrets,
    supported_backends=frozenset({CONNECTOR, INFERENCE}),
    connector=ConnectorTarget(".bedrock", connector_payload),
    inference=InferenceTarget("amazonbedrock", inference_payload),
    example={
        "api_url": "https://bedrock-runtime.us-east-1.amazonaws.com",
        "model": DEFAULT_MODEL,
        "access_key": "AKIAIOSFODNN7EXAMPLE",  # AWS's documentation example
        "secret_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    },
)
