"""The private message that hands an approver the Dev Tools request creating an inference
endpoint (and the Terraform resource): the secrets as placeholders, never the secret."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.domain.devtools import EndpointDelivery, devtools_request, terraform_resource
from bot.domain.schemas import RequestSnapshot
from bot.slack.views.common import code, code_block, context, escape, section


def build_devtools_message(
    snapshot: RequestSnapshot, delivery: EndpointDelivery, *, terraform: bool = True
) -> tuple[str, list[Block]]:
    """The `PUT _inference/chat_completion/{id}` request, optionally the Terraform resource,
    and which placeholders to fill; never a secret."""
    text = (
        f"{snapshot.reference}: Dev Tools request for the inference endpoint "
        f"“{escape(snapshot.connector_name)}”"
    )
    where = f" of *{escape(snapshot.target_label)}*" if snapshot.target_label else ""
    blocks: list[Block] = [
        section(
            f":package: *{snapshot.reference}* · {escape(snapshot.connector_name)} "
            f"({snapshot.provider_label}) as an Elasticsearch inference endpoint "
            f"{code(delivery.inference_id)}. Run this in Kibana{where} → Dev Tools (it "
            "needs the "
            "`manage_inference` cluster privilege):"
        ),
        section(code_block(devtools_request(delivery))),
    ]
    if delivery.secret_keys:
        names = ", ".join(code(f"<{key}>") for key in delivery.secret_keys)
        blocks.append(
            section(
                f"Replace {names} with the secret (ask the requester for it; the bot has "
                "erased its copy). Elasticsearch calls the provider when the endpoint is "
                "created, so a wrong key fails right there."
            )
        )
    if terraform:
        blocks.append(
            section(
                "Or with Terraform (elastic/elasticstack provider), the secrets left to "
                "sensitive variables:\n" + code_block(terraform_resource(delivery))
            )
        )
    blocks.append(
        context(
            ":information_source: Inference endpoints are cluster-wide: every space's AI "
            "features (Kibana 9.4+) can use it."
        )
    )
    return text, blocks
