"""A request delivered as a `kibana.yml` preconfigured connector: YAML without secrets."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

MULTILINE_SECRETS = {"credentialsJson", "certificateData", "privateKeyData", "caData"}


def _scalar(value: Any) -> str:
    # JSON scalars are valid YAML scalars, and quoting every string avoids YAML's surprises.
    return json.dumps(value, ensure_ascii=False)


def preconfigured_yaml(
    *,
    connector_id: str,
    name: str,
    connector_type_id: str,
    config: Mapping[str, Any],
    secret_keys: Iterable[str],
) -> str:
    """The `xpack.actions.preconfigured` entry, secrets left as commented placeholders."""
    lines = [
        "xpack.actions.preconfigured:",
        f"  {connector_id}:",
        f"    name: {_scalar(name)}",
        f"    actionTypeId: {_scalar(connector_type_id)}",
        "    exposeConfig: true",
        "    config:",
    ]
    lines += [f"      {key}: {_scalar(value)}" for key, value in config.items()]
    keys = sorted(secret_keys)
    if keys:
        lines.append("    # secrets: filled from the Kibana keystore (commands below), never here")
        lines += [f"    #   {key}: <{key}>" for key in keys]
    return "\n".join(lines) + "\n"


def keystore_commands(connector_id: str, secret_keys: Iterable[str]) -> list[str]:
    """The `kibana-keystore add` commands that fill the connector's secrets."""
    commands = []
    for key in sorted(secret_keys):
        setting = f"xpack.actions.preconfigured.{connector_id}.secrets.{key}"
        if key in MULTILINE_SECRETS:
            commands.append(f"bin/kibana-keystore add --stdin {setting} < {key}.txt")
        else:
            commands.append(f"bin/kibana-keystore add {setting}")
    return commands
