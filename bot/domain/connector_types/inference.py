"""`.inference`: a connector over an Elasticsearch inference endpoint (Elastic Managed LLM)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.domain.connector_types import gen_ai
from bot.domain.connector_types.spec import ConnectorType
from bot.domain.testing import GREETING

TYPE_ID = ".inference"


def build_test(_config: Mapping[str, Any]) -> dict[str, Any]:
    """The `unified_completion` sub-action (the type has no `test`), with a chat body."""
    return {
        "subAction": "unified_completion",
        "subActionParams": {"body": {"messages": [{"role": "user", "content": GREETING}]}},
    }


TYPE = ConnectorType(
    type_id=TYPE_ID,
    build_test=build_test,
    read_test=gen_ai.read_chat_completion,  # unified_completion answers OpenAI's shape
    hints=(gen_ai.NOT_OPENAI_COMPATIBLE,),
)
