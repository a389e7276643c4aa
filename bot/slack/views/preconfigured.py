"""The private message that hands an approver a kibana.yml preconfigured connector."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.domain.preconfigured import keystore_commands, preconfigured_yaml
from bot.domain.schemas import RequestSnapshot
from bot.slack.views.common import code_block, context, escape, section


def build_yaml_message(
    snapshot: RequestSnapshot, secret_names: list[str]
) -> tuple[str, list[Block]]:
    """The YAML entry, the keystore commands and the caveats; never a secret."""
    assert snapshot.kibana_connector_id is not None  # noqa: S101 - set at submission
    assert snapshot.connector_type_id is not None  # noqa: S101 - only connector requests
    yaml = preconfigured_yaml(
        connector_id=snapshot.kibana_connector_id,
        name=snapshot.connector_name,
        connector_type_id=snapshot.connector_type_id,
        config=snapshot.config,
        secret_keys=secret_names,
    )
    commands = keystore_commands(snapshot.kibana_connector_id, secret_names)
    text = f"{snapshot.reference}: kibana.yml entry for “{escape(snapshot.connector_name)}”"
    blocks: list[Block] = [
        section(
            f":package: *{snapshot.reference}* · {escape(snapshot.connector_name)} "
            f"({snapshot.provider_label}) as a preconfigured connector. Add this to "
            f"`kibana.yml` on every Kibana instance{_of(snapshot.target_label)}:"
        ),
        section(code_block(yaml)),
    ]
    if commands:
        blocks.append(
            section(
                "Then put the secrets in the Kibana keystore (ask the requester for them; the "
                "bot has erased its copy):\n" + code_block("\n".join(commands))
            )
        )
    blocks.append(
        context(
            ":warning: Kibana reads preconfigured connectors only at start: restart Kibana "
            "afterwards. Not available on Elastic Cloud Serverless (and Elastic Cloud "
            "deployments don't accept custom preconfigured connectors)."
        )
    )
    return text, blocks


def _of(target_label: str | None) -> str:
    """With several targets: whose Kibana instances (the entry is for that deployment only)."""
    return f" of *{escape(target_label)}*" if target_label else ""
