"""The shapes of Slack's requests that the listeners rely on, checked once at the edge.

A request that passed the signature check but does not have the fields a listener reads
(a command without ``user_id``, a view submission without its view, state values that are
not objects...) is answered 400 by the HTTP front instead of raising inside a listener.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.slack.ids import ActionId

_ID = Field(min_length=1, max_length=255)


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", hide_input_in_errors=True)


class _User(_Loose):
    id: str = _ID


class _Option(_Loose):
    value: str | None = None


class _StateElement(_Loose):
    type: str | None = None
    value: str | None = None
    selected_option: _Option | None = None
    selected_options: list[Any] | None = None


class _State(_Loose):
    values: dict[str, dict[str, _StateElement]] = {}


class _View(_Loose):
    id: str = _ID
    type: str = _ID
    callback_id: str = ""
    hash: str | None = None
    private_metadata: str = ""
    state: _State | None = None
    blocks: list[dict[str, Any]] = []


class _Action(_Loose):
    action_id: str = _ID
    block_id: str | None = None
    value: str | None = None
    selected_option: _Option | None = None


class _Container(_Loose):
    type: str | None = None


class _BlockActions(_Loose):
    type: Literal["block_actions"]
    user: _User
    actions: list[_Action] = Field(min_length=1)
    trigger_id: str | None = None
    response_url: str | None = None
    container: _Container | None = None
    view: _View | None = None


class _ViewPayload(_Loose):
    type: Literal["view_submission", "view_closed"]
    user: _User
    view: _View


class _Command(_Loose):
    command: str = _ID
    user_id: str = _ID
    trigger_id: str = _ID
    text: str = ""
    response_url: str | None = None


class _Envelope(_Loose):
    """Fields Bolt itself reads from any request, before a listener is chosen (present but
    null is refused where Bolt would index into it)."""

    type: str | None = None
    event: dict[str, Any] = {}
    authorizations: list[dict[str, Any]] = []
    response_url: str | None = None
    response_urls: list[dict[str, Any]] = []
    user: dict[str, Any] | str | None = None
    team: dict[str, Any] | str | None = None
    enterprise: dict[str, Any] | str | None = None
    channel: dict[str, Any] | str | None = None


# Actions whose listener reads the view the action happened in.
_VIEW_ACTIONS = {ActionId.PROVIDER.value}


def malformed_reason(body: dict[str, Any]) -> str | None:
    """Why a parsed Slack body cannot be handed to the listeners, or None when it can.

    The reason is a fixed phrase naming the request kind and the top-level field: it never
    quotes the body.
    """
    problem = _problem("request", _Envelope, body)
    if problem is not None:
        return problem
    if "command" in body:
        return _problem("command", _Command, body)
    kind = body.get("type")
    if not isinstance(kind, str):
        return None if body.get("ssl_check") == "1" else "no request type"
    if kind == "block_actions":
        problem = _problem(kind, _BlockActions, body)
        if problem is not None:
            return problem
        actions = _BlockActions.model_validate(body)
        if actions.view is None and any(a.action_id in _VIEW_ACTIONS for a in actions.actions):
            return "block_actions without its view"
        return None
    if kind in {"view_submission", "view_closed"}:
        return _problem(kind, _ViewPayload, body)
    return None  # other kinds have no listener here; Bolt answers them 404


def _problem(kind: str, model: type[BaseModel], body: dict[str, Any]) -> str | None:
    try:
        model.model_validate(body)
    except ValidationError as error:
        field = error.errors()[0]["loc"][:1]
        return f"{kind}: bad or missing {field[0] if field else 'body'}"
    return None
