"""A request delivered as the Dev Tools request (and Terraform resource) that creates its
inference endpoint: the approver runs it, the secrets left as placeholders, never filled in."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from bot.domain.providers.spec import InferencePayload

TASK_TYPE = "chat_completion"
TERRAFORM_RESOURCE = "elasticstack_elasticsearch_inference_endpoint"
# The decision reason a request delivered this way keeps (the results say how it was delivered).
DELIVERED_REASON = "delivered as a Dev Tools request for an inference endpoint"


@dataclass(frozen=True)
class EndpointDelivery:
    """What the approver is handed: the endpoint's id and body, secrets named, not held."""

    inference_id: str
    service: str
    service_settings: dict[str, Any]  # secret values replaced by placeholders
    task_settings: dict[str, Any] = field(default_factory=dict)
    secret_keys: tuple[str, ...] = ()


def placeholder(key: str) -> str:
    return f"<{key}>"


def endpoint_delivery(inference_id: str, payload: InferencePayload) -> EndpointDelivery:
    """The payload with every secret setting replaced by its placeholder."""
    keys = tuple(sorted(payload.secret_settings))
    settings = {
        key: placeholder(key) if key in payload.secret_settings else value
        for key, value in payload.service_settings.items()
    }
    return EndpointDelivery(
        inference_id=inference_id,
        service=payload.service,
        service_settings=settings,
        task_settings=dict(payload.task_settings),
        secret_keys=keys,
    )


def _body(delivery: EndpointDelivery) -> dict[str, Any]:
    body: dict[str, Any] = {
        "service": delivery.service,
        "service_settings": delivery.service_settings,
    }
    if delivery.task_settings:
        body["task_settings"] = delivery.task_settings
    return body


def devtools_request(delivery: EndpointDelivery) -> str:
    """`PUT _inference/chat_completion/{id}` and its JSON body, as Kibana Dev Tools takes it."""
    body = json.dumps(_body(delivery), indent=2, ensure_ascii=False)
    return f"PUT _inference/{TASK_TYPE}/{delivery.inference_id}\n{body}\n"


def _variable(key: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", key.lower())


def _hcl(value: Any, indent: int) -> str:
    """A JSON value as an HCL expression."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{pad}  {json.dumps(k)} = {_hcl(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list):
        return "[" + ", ".join(_hcl(v, indent) for v in value) + "]"
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("${", "$${").replace("%{", "%%{")  # no template interpolation


def _settings_hcl(delivery: EndpointDelivery) -> str:
    """service_settings with each secret as a reference to its variable."""
    items = [
        f"    {json.dumps(key)} = "
        + (f"var.{_variable(key)}" if key in delivery.secret_keys else _hcl(value, 2))
        for key, value in delivery.service_settings.items()
    ]
    return "{\n" + "\n".join(items) + "\n  }"


def terraform_resource(delivery: EndpointDelivery) -> str:
    """The `elasticstack_elasticsearch_inference_endpoint` resource; secrets are variables
    (marked sensitive), to be set outside the file (TF_VAR_… or a tfvars kept secret)."""
    name = _variable(delivery.inference_id) or "endpoint"
    lines = [
        f'variable "{_variable(key)}" {{\n  type      = string\n  sensitive = true\n}}\n'
        for key in delivery.secret_keys
    ]
    resource = [
        f'resource "{TERRAFORM_RESOURCE}" "{name}" {{',
        f"  inference_id     = {json.dumps(delivery.inference_id)}",
        f"  task_type        = {json.dumps(TASK_TYPE)}",
        f"  service          = {json.dumps(delivery.service)}",
        f"  service_settings = jsonencode({_settings_hcl(delivery)})",
    ]
    if delivery.task_settings:
        resource.append(f"  task_settings    = jsonencode({_hcl(delivery.task_settings, 1)})")
    resource.append("}")
    return "\n".join([*lines, "\n".join(resource)]) + "\n"
