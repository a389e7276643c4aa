"""The second connector check: the call Kibana's AI features make, run after `test`.

For a `.gen-ai` connector `test` can pass where AI Assistant then fails (a proxy or gateway
in front of the model, kibana#214057, kibana#188190). The streamed sub-action `stream` with
`"stream": true` cannot be checked through the HTTP API: the connector returns the upstream's
IncomingMessage as `data`, the `_execute` route answers `res.ok({body: {status, data,
connector_id}})`, and hapi `JSON.stringify`s that body (it streams only a top-level stream), so
Kibana answers HTTP 500 whether or not the upstream streams (`invokeStream` and
`invokeAsyncIterator` are the same: their streams are read only by Kibana's own plugins). The
second check is therefore `invokeAI`, the AI Assistant's non-streamed call: the messages go as
an object, Kibana builds the request and fills the model, and the reply is read from
`choices[0].message.content`. It does not prove that server-sent events get through a proxy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.domain.hints import explain_failure

GREETING = "Hello world"
REPLY_PREVIEW = 300
SUB_ACTION = "invokeAI"
# What invokeAI returns, with status "ok", when the answer has no choices[0].message.content.
_UNRECOGNIZED_FORMAT = "The response from OpenAI was in an unrecognized format"

PROVES = (
    "Kibana's invokeAI call, the one AI Assistant makes without streaming, got a reply from "
    "the model."
)
NO_CONTENT_HINT = (
    "The server answered without text in choices[0].message.content (some gateways and "
    "reasoning models put the reply elsewhere), so AI Assistant would show nothing: use an "
    "endpoint that returns OpenAI chat completions with the reply in message.content."
)
NOT_PROVEN = (
    "Streaming (server-sent events) through a proxy is not checked: Kibana's _execute API "
    "cannot return a stream. If AI Assistant stalls or times out, make sure the proxy passes "
    "SSE, or turn streaming off in the assistant."
)


class SecondCheckResult(BaseModel):
    """The outcome of the second check: ok or not with why, and what passing shows."""

    model_config = ConfigDict(frozen=True)

    sub_action: str
    ok: bool
    message: str | None = None  # why it failed; None when ok
    hint: str | None = None  # a likely cause and fix, when one is known
    reply: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    proves: str = PROVES
    not_proven: str = NOT_PROVEN


def second_check_params(connector_type_id: str, config: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the `_execute` params of the second check, or None where it does not apply."""
    if connector_type_id != ".gen-ai":
        return None
    sub_params: dict[str, Any] = {"messages": [{"role": "user", "content": GREETING}]}
    if config.get("apiProvider") == "Other" and config.get("defaultModel"):
        sub_params["model"] = config["defaultModel"]
    return {"subAction": SUB_ACTION, "subActionParams": sub_params}


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= REPLY_PREVIEW else flat[: REPLY_PREVIEW - 1] + "…"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_second_check(
    *,
    status: str,
    data: Any = None,
    message: str | None = None,
    service_message: str | None = None,
) -> SecondCheckResult:
    """Read an `_execute` answer to the second check (its status, data and messages)."""
    if status != "ok":
        why = service_message or message or "Kibana reported an error without a message"
        return SecondCheckResult(
            sub_action=SUB_ACTION,
            ok=False,
            message=why,
            hint=explain_failure(".gen-ai", message, service_message),
        )
    reply = data.get("message") if isinstance(data, Mapping) else None
    if not isinstance(reply, str) or not reply.strip():
        return SecondCheckResult(
            sub_action=SUB_ACTION,
            ok=False,
            message="Kibana's invokeAI answered without a reply from the model",
        )
    if _UNRECOGNIZED_FORMAT in reply:
        return SecondCheckResult(
            sub_action=SUB_ACTION,
            ok=False,
            message=(
                "The model's answer had no text in choices[0].message.content, which is where "
                f"AI Assistant reads it (Kibana: {_preview(reply)})"
            ),
            hint=NO_CONTENT_HINT,
        )
    usage = data.get("usage") if isinstance(data, Mapping) else None
    usage = usage if isinstance(usage, Mapping) else {}
    return SecondCheckResult(
        sub_action=SUB_ACTION,
        ok=True,
        reply=_preview(reply),
        prompt_tokens=_int(usage.get("prompt_tokens")),
        completion_tokens=_int(usage.get("completion_tokens")),
        total_tokens=_int(usage.get("total_tokens")),
    )
