"""A strict fake of the Slack Web API, served over real HTTP on 127.0.0.1 for tests.

Point slack_sdk (and so Bolt) at it with ``WebClient(token=..., base_url=fake.base_url)``.

Warning: when HTTP_PROXY/HTTPS_PROXY (either case) is set, slack_sdk sends every request through
that proxy and ignores NO_PROXY, so calls to this fake would go to the proxy. Tests that use the
fake must not set the proxy variables.

The limits below are copied from Slack's documentation (Block Kit, modals, Web API methods), so
the bot fails here the way it would fail against Slack: bad Block Kit is answered with
``invalid_blocks`` (messages) or ``invalid_arguments`` (views), and ``response_metadata.messages``
names the problem with a JSON pointer. Methods the fake does not know answer HTTP 404
``unknown_method``, so missing support is loud.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, cast
from urllib.parse import parse_qsl, urlsplit

# ---------------------------------------------------------------------------------------------
# Slack limits
# ---------------------------------------------------------------------------------------------
MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
BLOCK_ID_MAX = 255
ACTION_ID_MAX = 255
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
CONTEXT_ELEMENTS_MAX = 10
ACTIONS_ELEMENTS_MAX = 25
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
URL_MAX = 3000
INPUT_LABEL_MAX = 2000
INPUT_HINT_MAX = 2000
PLACEHOLDER_MAX = 150
TEXT_INPUT_LENGTH_MAX = 3000
STATIC_SELECT_OPTIONS_MAX = 100
CHOICE_OPTIONS_MAX = 10  # radio_buttons, checkboxes
OVERFLOW_OPTIONS_MAX = 5
ALT_TXT_MAX = 1000  # files.getUploadURLExternal
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
CONFIRM_BUTTON_MAX = 30
IMAGE_ALT_TEXT_MAX = 2000
IMAGE_TITLE_MAX = 2000
MARKDOWN_BLOCK_MAX = 12000
MODAL_TITLE_MAX = 24
MODAL_BUTTON_MAX = 24  # submit, close
CALLBACK_ID_MAX = 255
PRIVATE_METADATA_MAX = 3000
EXTERNAL_ID_MAX = 255
VIEW_MAX_BYTES = 250_000
VIEW_STACK_MAX = 3
UPDATE_TEXT_MAX = 4000  # chat.update text, else msg_too_long
MARKDOWN_TEXT_MAX = 12000  # markdown_text argument
ATTACHMENTS_MAX = 100
TRIGGER_TTL_SECONDS = 3.0

BOT_ID = "B0001"
APP_ID = "A0001"

_TEXT_INPUTS = frozenset(
    {"plain_text_input", "email_text_input", "url_text_input", "number_input", "rich_text_input"}
)
_SELECTS = frozenset(
    {
        "static_select", "multi_static_select", "external_select", "multi_external_select",
        "users_select", "multi_users_select", "conversations_select",
        "multi_conversations_select", "channels_select", "multi_channels_select",
    }
)  # fmt: skip
_CHOICES = frozenset({"checkboxes", "radio_buttons"})
_PICKERS = frozenset({"datepicker", "timepicker", "datetimepicker"})
_INPUT_ELEMENTS = _TEXT_INPUTS | _SELECTS | _CHOICES | _PICKERS | {"file_input"}
_ACTION_ELEMENTS = _SELECTS | _CHOICES | _PICKERS | {"button", "overflow"}
_ACCESSORY_ELEMENTS = _ACTION_ELEMENTS | {"image"}
_STYLES = ("primary", "danger")


# ---------------------------------------------------------------------------------------------
# Block Kit validation
# ---------------------------------------------------------------------------------------------
class _Check:
    """Collects Slack-style validation messages ("[ERROR] ... [json-pointer:/...]")."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def err(self, ptr: str, msg: str) -> None:
        self.messages.append(f"[ERROR] {msg} [json-pointer:{ptr}]")

    def string(
        self, obj: dict[str, Any], key: str, ptr: str, max_len: int, *, required: bool = False
    ) -> None:
        value = obj.get(key)
        if value is None:
            if required:
                self.err(ptr, f"missing required field: {key}")
            return
        if not isinstance(value, str):
            self.err(f"{ptr}/{key}", "must be a string")
        elif len(value) > max_len:
            self.err(f"{ptr}/{key}", f"must be less than {max_len + 1} characters")

    def items(
        self,
        obj: dict[str, Any],
        key: str,
        ptr: str,
        max_items: int | None,
        *,
        min_items: int = 0,
        required: bool = False,
    ) -> list[Any]:
        value = obj.get(key)
        if value is None:
            if required:
                self.err(ptr, f"missing required field: {key}")
            return []
        if not isinstance(value, list):
            self.err(f"{ptr}/{key}", "must be an array")
            return []
        if max_items is not None and len(value) > max_items:
            self.err(f"{ptr}/{key}", f"no more than {max_items} items allowed")
        if len(value) < min_items:
            self.err(f"{ptr}/{key}", f"must provide at least {min_items} items")
        return value

    def text(
        self,
        obj: dict[str, Any],
        key: str,
        ptr: str,
        max_len: int | None,
        *,
        plain: bool = False,
        required: bool = False,
    ) -> None:
        if key not in obj:
            if required:
                self.err(ptr, f"missing required field: {key}")
            return
        self.text_obj(obj[key], f"{ptr}/{key}", max_len, plain=plain)

    def text_obj(self, value: Any, ptr: str, max_len: int | None, *, plain: bool = False) -> None:
        if not isinstance(value, dict):
            self.err(ptr, "must be a text object")
            return
        allowed = ("plain_text",) if plain else ("plain_text", "mrkdwn")
        if value.get("type") not in allowed:
            self.err(f"{ptr}/type", f"must be one of: {', '.join(allowed)}")
        body = value.get("text")
        if not isinstance(body, str) or not body:
            self.err(f"{ptr}/text", "must be more than 0 characters")
        elif max_len is not None and len(body) > max_len:
            self.err(f"{ptr}/text", f"must be less than {max_len + 1} characters")

    def style(self, obj: dict[str, Any], ptr: str) -> None:
        if "style" in obj and obj["style"] not in _STYLES:
            self.err(f"{ptr}/style", f"must be one of: {', '.join(_STYLES)}")


def _option_key(obj: dict[str, Any]) -> tuple[Any, Any]:
    text = obj.get("text")
    return (obj.get("value"), text.get("text") if isinstance(text, dict) else text)


def _check_option(chk: _Check, opt: Any, ptr: str, *, plain: bool) -> None:
    if not isinstance(opt, dict):
        chk.err(ptr, "must be an option object")
        return
    chk.text(opt, "text", ptr, OPTION_TEXT_MAX, plain=plain, required=True)
    chk.string(opt, "value", ptr, OPTION_VALUE_MAX, required=True)
    chk.text(opt, "description", ptr, OPTION_TEXT_MAX, plain=plain)
    chk.string(opt, "url", ptr, URL_MAX)


def _check_options(
    chk: _Check, obj: dict[str, Any], ptr: str, max_items: int, *, plain: bool
) -> list[dict[str, Any]]:
    options = chk.items(obj, "options", ptr, max_items, min_items=1, required=True)
    for i, opt in enumerate(options):
        _check_option(chk, opt, f"{ptr}/options/{i}", plain=plain)
    return [o for o in options if isinstance(o, dict)]


def _check_initial(chk: _Check, el: dict[str, Any], ptr: str, options: list[Any]) -> None:
    known = [_option_key(o) for o in options]
    initial = el.get("initial_option")
    if initial is not None and (not isinstance(initial, dict) or _option_key(initial) not in known):
        chk.err(f"{ptr}/initial_option", "must match one of the provided options")
    initials = el.get("initial_options")
    if initials is None:
        return
    if not isinstance(initials, list):
        chk.err(f"{ptr}/initial_options", "must be an array")
        return
    for i, opt in enumerate(initials):
        if not isinstance(opt, dict) or _option_key(opt) not in known:
            chk.err(f"{ptr}/initial_options/{i}", "must match one of the provided options")


def _check_confirm(chk: _Check, obj: Any, ptr: str) -> None:
    if not isinstance(obj, dict):
        chk.err(ptr, "must be a confirmation dialog object")
        return
    chk.text(obj, "title", ptr, CONFIRM_TITLE_MAX, plain=True, required=True)
    chk.text(obj, "text", ptr, CONFIRM_TEXT_MAX, required=True)
    chk.text(obj, "confirm", ptr, CONFIRM_BUTTON_MAX, plain=True, required=True)
    chk.text(obj, "deny", ptr, CONFIRM_BUTTON_MAX, plain=True, required=True)
    chk.style(obj, ptr)


def _check_image(chk: _Check, obj: dict[str, Any], ptr: str) -> None:
    if "image_url" not in obj and "slack_file" not in obj:
        chk.err(ptr, "missing required field: image_url")
    chk.string(obj, "image_url", ptr, URL_MAX)
    chk.string(obj, "alt_text", ptr, IMAGE_ALT_TEXT_MAX, required=True)


def _check_button(chk: _Check, el: dict[str, Any], ptr: str) -> None:
    chk.text(el, "text", ptr, BUTTON_TEXT_MAX, plain=True, required=True)
    chk.string(el, "value", ptr, BUTTON_VALUE_MAX)
    chk.string(el, "url", ptr, URL_MAX)
    chk.string(el, "accessibility_label", ptr, BUTTON_TEXT_MAX)
    chk.style(el, ptr)


def _check_text_input(chk: _Check, el: dict[str, Any], ptr: str) -> None:
    bounds: dict[str, int] = {}
    for key, low in (("min_length", 0), ("max_length", 1)):
        if key not in el:
            continue
        value = el[key]
        if isinstance(value, bool) or not isinstance(value, int):
            chk.err(f"{ptr}/{key}", "must be an integer")
        elif not low <= value <= TEXT_INPUT_LENGTH_MAX:
            chk.err(f"{ptr}/{key}", f"must be between {low} and {TEXT_INPUT_LENGTH_MAX}")
        else:
            bounds[key] = value
    if bounds.get("min_length", 0) > bounds.get("max_length", TEXT_INPUT_LENGTH_MAX):
        chk.err(f"{ptr}/min_length", "must be less than or equal to max_length")
    chk.string(el, "initial_value", ptr, TEXT_INPUT_LENGTH_MAX)


def _check_static_select(chk: _Check, el: dict[str, Any], ptr: str) -> None:
    if "options" in el and "option_groups" in el:
        chk.err(ptr, "options and option_groups cannot both be specified")
        return
    if "option_groups" not in el:
        options = _check_options(chk, el, ptr, STATIC_SELECT_OPTIONS_MAX, plain=True)
    else:
        options = []
        groups = chk.items(el, "option_groups", ptr, STATIC_SELECT_OPTIONS_MAX, min_items=1)
        for i, group in enumerate(groups):
            gp = f"{ptr}/option_groups/{i}"
            if not isinstance(group, dict):
                chk.err(gp, "must be an option group object")
                continue
            chk.text(group, "label", gp, OPTION_TEXT_MAX, plain=True, required=True)
            options += _check_options(chk, group, gp, STATIC_SELECT_OPTIONS_MAX, plain=True)
    _check_initial(chk, el, ptr, options)


def _check_choices(chk: _Check, el: dict[str, Any], ptr: str) -> None:
    _check_initial(chk, el, ptr, _check_options(chk, el, ptr, CHOICE_OPTIONS_MAX, plain=False))


def _check_overflow(chk: _Check, el: dict[str, Any], ptr: str) -> None:
    _check_options(chk, el, ptr, OVERFLOW_OPTIONS_MAX, plain=True)


_ELEMENT_CHECKS: dict[str, Callable[[_Check, dict[str, Any], str], None]] = {
    "button": _check_button,
    "plain_text_input": _check_text_input,
    "static_select": _check_static_select,
    "multi_static_select": _check_static_select,
    "radio_buttons": _check_choices,
    "checkboxes": _check_choices,
    "overflow": _check_overflow,
}


def _check_element(
    chk: _Check, el: Any, ptr: str, allowed: frozenset[str], action_ids: set[str]
) -> None:
    if not isinstance(el, dict):
        chk.err(ptr, "must be an element object")
        return
    kind = el.get("type")
    if kind not in allowed:
        chk.err(f"{ptr}/type", f"unsupported element type here: {kind!r}")
        return
    if kind == "image":
        _check_image(chk, el, ptr)
        return
    chk.string(el, "action_id", ptr, ACTION_ID_MAX)
    action_id = el.get("action_id")
    if isinstance(action_id, str):
        if action_id in action_ids:
            chk.err(f"{ptr}/action_id", f"duplicate action_id: {action_id}")
        action_ids.add(action_id)
    chk.text(el, "placeholder", ptr, PLACEHOLDER_MAX, plain=True)
    if "confirm" in el:
        _check_confirm(chk, el["confirm"], f"{ptr}/confirm")
    check = _ELEMENT_CHECKS.get(str(kind))
    if check is not None:
        check(chk, el, ptr)


def _check_section(chk: _Check, block: dict[str, Any], ptr: str) -> None:
    if "text" not in block and "fields" not in block:
        chk.err(ptr, "must provide either text or fields")
    chk.text(block, "text", ptr, SECTION_TEXT_MAX)
    fields = chk.items(block, "fields", ptr, SECTION_FIELDS_MAX, min_items=1)
    for i, text in enumerate(fields):
        chk.text_obj(text, f"{ptr}/fields/{i}", SECTION_FIELD_TEXT_MAX)
    if "accessory" in block:
        _check_element(chk, block["accessory"], f"{ptr}/accessory", _ACCESSORY_ELEMENTS, set())


def _check_header(chk: _Check, block: dict[str, Any], ptr: str) -> None:
    chk.text(block, "text", ptr, HEADER_TEXT_MAX, plain=True, required=True)


def _check_context(chk: _Check, block: dict[str, Any], ptr: str) -> None:
    elements = chk.items(block, "elements", ptr, CONTEXT_ELEMENTS_MAX, min_items=1, required=True)
    for i, el in enumerate(elements):
        if isinstance(el, dict) and el.get("type") == "image":
            _check_image(chk, el, f"{ptr}/elements/{i}")
        else:
            chk.text_obj(el, f"{ptr}/elements/{i}", None)


def _check_actions(chk: _Check, block: dict[str, Any], ptr: str) -> None:
    elements = chk.items(block, "elements", ptr, ACTIONS_ELEMENTS_MAX, min_items=1, required=True)
    action_ids: set[str] = set()
    for i, el in enumerate(elements):
        _check_element(chk, el, f"{ptr}/elements/{i}", _ACTION_ELEMENTS, action_ids)


def _check_input(chk: _Check, block: dict[str, Any], ptr: str) -> None:
    chk.text(block, "label", ptr, INPUT_LABEL_MAX, plain=True, required=True)
    chk.text(block, "hint", ptr, INPUT_HINT_MAX, plain=True)
    if "element" not in block:
        chk.err(ptr, "missing required field: element")
    else:
        _check_element(chk, block["element"], f"{ptr}/element", _INPUT_ELEMENTS, set())


def _check_image_block(chk: _Check, block: dict[str, Any], ptr: str) -> None:
    _check_image(chk, block, ptr)
    chk.text(block, "title", ptr, IMAGE_TITLE_MAX, plain=True)


def _check_rich_text(chk: _Check, block: dict[str, Any], ptr: str) -> None:
    chk.items(block, "elements", ptr, None, required=True)


def _check_markdown(chk: _Check, block: dict[str, Any], ptr: str) -> None:
    chk.string(block, "text", ptr, MARKDOWN_BLOCK_MAX, required=True)


def _check_divider(chk: _Check, block: dict[str, Any], ptr: str) -> None:
    return


_BLOCK_CHECKS: dict[str, Callable[[_Check, dict[str, Any], str], None]] = {
    "section": _check_section,
    "divider": _check_divider,
    "header": _check_header,
    "context": _check_context,
    "actions": _check_actions,
    "input": _check_input,
    "image": _check_image_block,
    "rich_text": _check_rich_text,
    "markdown": _check_markdown,
}


def _check_blocks(chk: _Check, blocks: list[Any], ptr: str, *, surface: str) -> None:
    """Validate a list of blocks; surface is "message", "modal" or "home"."""
    limit = MESSAGE_MAX_BLOCKS if surface == "message" else VIEW_MAX_BLOCKS
    if len(blocks) > limit:
        chk.err(ptr, f"no more than {limit} items allowed")
    if surface != "message" and not blocks:
        chk.err(ptr, "must provide at least 1 items")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        bp = f"{ptr}/{i}"
        if not isinstance(block, dict):
            chk.err(bp, "must be a block object")
            continue
        kind = block.get("type")
        check = _BLOCK_CHECKS.get(kind) if isinstance(kind, str) else None
        if check is None or (kind == "markdown" and surface != "message"):
            chk.err(f"{bp}/type", f"unsupported block type: {kind!r}")
            continue
        chk.string(block, "block_id", bp, BLOCK_ID_MAX)
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in block_ids:
                chk.err(f"{bp}/block_id", f"duplicate block_id: {block_id}")
            block_ids.add(block_id)
        check(chk, block, bp)


def validate_message_blocks(blocks: list[Any]) -> list[str]:
    """Slack's complaints about the blocks of a message (empty when valid)."""
    chk = _Check()
    _check_blocks(chk, blocks, "/blocks", surface="message")
    return chk.messages


def validate_view(view: Any, kinds: Iterable[str] = ("modal", "home")) -> list[str]:
    """Slack's complaints about a view payload (empty when valid)."""
    chk, ptr, kinds = _Check(), "/view", tuple(kinds)
    if not isinstance(view, dict):
        chk.err(ptr, "must be a JSON object")
        return chk.messages
    kind = view.get("type")
    if kind not in kinds:
        chk.err(f"{ptr}/type", f"must be one of: {', '.join(kinds)}")
        return chk.messages
    blocks = chk.items(view, "blocks", ptr, None, required=True)
    if isinstance(view.get("blocks"), list):
        _check_blocks(chk, blocks, f"{ptr}/blocks", surface=str(kind))
    if kind == "modal":
        chk.text(view, "title", ptr, MODAL_TITLE_MAX, plain=True, required=True)
        chk.text(view, "submit", ptr, MODAL_BUTTON_MAX, plain=True)
        chk.text(view, "close", ptr, MODAL_BUTTON_MAX, plain=True)
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if has_input and "submit" not in view:
            chk.err(ptr, "missing required field: submit (required when there are input blocks)")
    else:
        for key in ("submit", "close"):
            if key in view:
                chk.err(f"{ptr}/{key}", "home views cannot have submit or close")
    chk.string(view, "callback_id", ptr, CALLBACK_ID_MAX)
    chk.string(view, "private_metadata", ptr, PRIVATE_METADATA_MAX)
    chk.string(view, "external_id", ptr, EXTERNAL_ID_MAX)
    return chk.messages


# ---------------------------------------------------------------------------------------------
# The fake
# ---------------------------------------------------------------------------------------------
RESPONSE_URL_PATH = "/respond/"
RESPONSE_URL_METHOD = "response_url"
UPLOAD_PATH = "/upload/v1/"  # where files.getUploadURLExternal sends the bytes (no token)
UPLOAD_METHOD = "upload_url"  # how those POSTs are recorded (not a Web API method)
FILES_WRITE = "files:write"
CONVERSATION_ID = re.compile(r"^[CGDZ][A-Z0-9]{8,}$")  # completeUploadExternal's channel_id
APPS_CONNECTIONS_OPEN = "apps.connections.open"  # the one method that takes the app token


@dataclass(frozen=True)
class SlackCall:
    method: str
    args: dict[str, Any]
    response: dict[str, Any]
    status: int
    at: float  # time.monotonic() when the request arrived


class _SlackError(Exception):
    def __init__(self, error: str, *messages: str) -> None:
        super().__init__(error)
        self.error = error
        self.messages = list(messages)


class _MissingScopeError(_SlackError):
    """Slack's missing_scope answer names the scope needed and the ones the token has."""

    def __init__(self, needed: str, provided: list[str]) -> None:
        super().__init__("missing_scope")
        self.needed = needed
        self.provided = provided


@dataclass
class _Failure:
    error: str
    status: int
    retry_after: int | None
    remaining: int


@dataclass
class _Trigger:
    issued_at: float
    view_id: str | None
    used: bool = False
    expired: bool = False


def _error(error: str, messages: Iterable[str] = ()) -> dict[str, Any]:
    response: dict[str, Any] = {"ok": False, "error": error}
    if messages := list(messages):
        response["response_metadata"] = {"messages": messages}
    return response


def _parse_args(query: str, content_type: str, body: bytes) -> dict[str, Any]:
    """Merge query string and body args; raises ValueError(slack_error) on a bad body."""
    args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    mime = content_type.split(";")[0].strip().lower()
    if body and mime == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError:
            raise ValueError("invalid_json") from None
        if not isinstance(decoded, dict):
            raise ValueError("invalid_json")
        args.update(decoded)
    elif body and mime in ("application/x-www-form-urlencoded", ""):
        args.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif body:
        raise ValueError("invalid_form_data")
    for key in ("blocks", "view", "attachments"):
        if isinstance(args.get(key), str):
            with contextlib.suppress(ValueError):
                args[key] = json.loads(args[key])
    return args


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # many modals open at once under load
    daemon_threads = True

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeSlack/1.0"

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        status, payload, headers = cast(_Server, self.server).fake._serve(
            parts.path,
            parts.query,
            self.headers.get("Content-Type", ""),
            self.headers.get("Authorization"),
            body,
        )
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class FakeSlack:
    """A strict, thread-safe Slack Web API fake served on http://127.0.0.1:<ephemeral>/api/."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-token",  # noqa: S107
        app_token: str = "xapp-1-A0001-test",  # noqa: S107
        trigger_ttl: float = TRIGGER_TTL_SECONDS,
        bot_user_id: str = "UBOT",
        team_id: str = "T0001",
        scopes: Iterable[str] = (
            "chat:write",
            "commands",
            "im:write",
            "users:read",
            FILES_WRITE,
            "usergroups:read",
        ),
    ) -> None:
        # The bot token's scopes (checked: files:write and usergroups:read).
        self.scopes = set(scopes)
        self._pending_uploads: dict[str, dict[str, Any]] = {}  # upload token -> file
        self._uploads: list[dict[str, Any]] = []  # files shared by completeUploadExternal
        self._bot_token = bot_token
        self._app_token = app_token
        self._socket_url: str | None = None  # what apps.connections.open hands out
        self._trigger_ttl = trigger_ttl
        self._bot_user_id = bot_user_id
        self._team_id = team_id
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._seq = 0
        self._calls: list[SlackCall] = []
        self._channels: dict[str, set[str]] = {}  # channel id -> member user ids
        self._channel_names: dict[str, str] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._open_dms: dict[str, str] = {}  # D id -> user id
        self._messages: dict[str, list[dict[str, Any]]] = {}  # channel -> messages, post order
        self._by_ts: dict[tuple[str, str], dict[str, Any]] = {}
        self._history: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._ephemeral: list[dict[str, Any]] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._stacks: dict[str, list[str]] = {}  # root view id -> stacked view ids
        self._last_root: str | None = None
        self._external_ids: dict[str, str] = {}
        self._home_views: dict[str, str] = {}  # user id -> view id
        self.home_tab_enabled = True  # the manifest's features.app_home.home_tab_enabled
        self._triggers: dict[str, _Trigger] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._delays: dict[str, float] = {}
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            APPS_CONNECTIONS_OPEN: self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "conversations.open": self._conversations_open,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.push": self._views_push,
            "views.publish": self._views_publish,
        }
        self._users[bot_user_id] = {"name": "bot", "real_name": "Bot", "is_bot": True}
        self._usergroups: dict[str, tuple[list[str], bool]] = {}  # S id -> (members, enabled)

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("FakeSlack already started")
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    # --- test set-up -----------------------------------------------------------------------
    def add_channel(self, channel_id: str, *, name: str = "", members: Iterable[str] = ()) -> None:
        if channel_id[:1] not in ("C", "G"):
            raise ValueError(f"channel ids start with C or G: {channel_id!r}")
        with self._lock:
            self._channels[channel_id] = set(members)
            self._channel_names[channel_id] = name or channel_id.lower()

    def add_user(self, user_id: str, *, name: str = "", real_name: str = "") -> None:
        if user_id[:1] not in ("U", "W"):
            raise ValueError(f"user ids start with U or W: {user_id!r}")
        with self._lock:
            self._users[user_id] = {
                "name": name or user_id.lower(),
                "real_name": real_name or name or user_id,
                "is_bot": False,
            }

    def add_usergroup(self, group_id: str, members: Iterable[str], *, enabled: bool = True) -> None:
        """Define (or redefine) a user group; ``enabled=False`` models a disabled group."""
        if not group_id.startswith("S"):
            raise ValueError(f"user-group ids start with S: {group_id!r}")
        with self._lock:
            self._usergroups[group_id] = (list(members), enabled)

    @property
    def app_token(self) -> str:
        """The app-level token (xapp-) that apps.connections.open accepts."""
        return self._app_token

    @property
    def socket_url(self) -> str | None:
        """The Socket Mode URL apps.connections.open answers (None: Socket Mode is off)."""
        with self._lock:
            return self._socket_url

    @socket_url.setter
    def socket_url(self, url: str | None) -> None:
        with self._lock:
            self._socket_url = url

    def issue_trigger_id(self, *, view_id: str | None = None) -> str:
        """A fresh single-use trigger id; view_id says which modal views.push stacks onto."""
        with self._lock:
            trigger_id = f"{self._next()}.{self._team_id}.{secrets.token_hex(12)}"
            self._triggers[trigger_id] = _Trigger(time.monotonic(), view_id)
            return trigger_id

    def expire_trigger_ids(self) -> None:
        with self._lock:
            for trigger in self._triggers.values():
                trigger.expired = True

    def fail_next(
        self,
        method: str,
        error: str = "internal_error",
        *,
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        if method not in self._handlers:
            raise ValueError(f"FakeSlack does not implement {method!r}")
        if status == 429:
            error, retry_after = "ratelimited", retry_after or 1
        with self._lock:
            self._failures.setdefault(method, []).append(
                _Failure(error, status, retry_after, times)
            )

    def set_delay(self, method: str, seconds: float) -> None:
        with self._lock:
            self._delays[method] = seconds

    # --- inspection ------------------------------------------------------------------------
    @property
    def calls(self) -> list[SlackCall]:
        with self._lock:
            return list(self._calls)

    def calls_for(self, method: str) -> list[SlackCall]:
        with self._lock:
            return [c for c in self._calls if c.method == method]

    def wait_for(
        self,
        method: str,
        predicate: Callable[[SlackCall], bool] | None = None,
        *,
        timeout: float = 10.0,
        count: int = 1,
    ) -> list[SlackCall]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [
                    c
                    for c in self._calls
                    if c.method == method and (predicate is None or predicate(c))
                ]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for {count} matching {method} "
                        f"call(s); {len(found)} matched. Calls seen:\n{self._summary()}"
                    )
                self._cond.wait(remaining)

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._by_ts[(channel, ts)])

    def message_history(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Every version of a message, oldest first (the last one is the current state)."""
        with self._lock:
            return copy.deepcopy(self._history[(channel, ts)])

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._messages.get(channel, []))

    def thread_replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(
                [
                    m
                    for m in self._messages.get(channel, [])
                    if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts
                ]
            )

    def ephemeral_messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._ephemeral)

    def dm_channel_for(self, user_id: str) -> str:
        with self._lock:
            if user_id not in self._users:
                raise KeyError(f"unknown user {user_id!r}; call add_user first")
        return f"D{user_id[1:]}"

    def views(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._views)

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The Home view currently published for ``user_id`` (None: never published)."""
        with self._lock:
            view_id = self._home_views.get(user_id)
            return copy.deepcopy(self._views[view_id]) if view_id else None

    def all_text(self) -> str:
        with self._lock:
            return "\n".join(
                json.dumps(c.args, ensure_ascii=False, sort_keys=True) for c in self._calls
            )

    # --- HTTP plumbing -----------------------------------------------------------------------
    def _serve(
        self, path: str, query: str, content_type: str, authorization: str | None, body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        received = time.monotonic()
        if path.startswith(RESPONSE_URL_PATH):
            return self._serve_response_url(path, content_type, body, received)
        if path.startswith(UPLOAD_PATH):
            return self._serve_upload(path.removeprefix(UPLOAD_PATH), body, received)
        method = path.removeprefix("/api/") if path.startswith("/api/") else path
        handler = self._handlers.get(method) if path.startswith("/api/") else None
        parse_error = ""
        try:
            args = _parse_args(query, content_type, body)
        except ValueError as exc:
            args, parse_error = {}, str(exc)
        with self._lock:
            delay = self._delays.get(method, 0.0)
        if handler is not None and delay > 0:
            time.sleep(delay)
        status, headers = 200, {}
        token = (authorization or "").removeprefix("Bearer ").strip()
        with self._cond:
            if handler is None:
                status, response = 404, _error("unknown_method")
            elif not authorization or not authorization.startswith("Bearer ") or not token:
                response = _error("not_authed")
            elif token != (self._app_token if method == APPS_CONNECTIONS_OPEN else self._bot_token):
                # A genuine token of the other kind (bot vs app-level) is the wrong type.
                wrong_type = token in (self._bot_token, self._app_token)
                response = _error("not_allowed_token_type" if wrong_type else "invalid_auth")
            elif parse_error:
                response = _error(parse_error)
            elif failure := self._pop_failure(method):
                status, response = failure.status, _error(failure.error)
                if failure.retry_after is not None:
                    headers["Retry-After"] = str(failure.retry_after)
            else:
                try:
                    response = {"ok": True, **handler(args)}
                except _MissingScopeError as exc:
                    response = {
                        **_error(exc.error),
                        "needed": exc.needed,
                        "provided": ",".join(exc.provided),
                    }
                except _SlackError as exc:
                    response = _error(exc.error, exc.messages)
                except Exception as exc:  # noqa: BLE001 - a bug in the fake: answer loudly
                    status, response = 500, _error("fake_internal_error", [repr(exc)])
            self._calls.append(
                SlackCall(method, copy.deepcopy(args), copy.deepcopy(response), status, received)
            )
            self._cond.notify_all()
        return status, response, headers

    def _serve_response_url(
        self, path: str, content_type: str, body: bytes, received: float
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """A response_url (what Bolt's respond() posts to): recorded as method "response_url"."""
        try:
            args = _parse_args("", content_type, body)
        except ValueError:
            args = {}
        args["_url"] = path
        with self._cond:
            self._calls.append(SlackCall(RESPONSE_URL_METHOD, args, {"ok": True}, 200, received))
            self._cond.notify_all()
        return 200, {"ok": True}, {}

    def _serve_upload(
        self, token: str, body: bytes, received: float
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """The upload URL: the bytes of one file, once, of the length announced."""
        with self._cond:
            pending = self._pending_uploads.get(token)
            if pending is None or pending["content"] is not None:
                status, response = 404, _error("invalid_upload_url")
            elif len(body) != pending["length"]:
                status, response = 400, _error("invalid_length")
            else:
                pending["content"] = body
                status, response = 200, {"ok": True}
            self._calls.append(
                SlackCall(
                    UPLOAD_METHOD, {"_token": token, "bytes": len(body)}, response, status, received
                )
            )
            self._cond.notify_all()
        return status, response, {}

    def uploads(self) -> list[dict[str, Any]]:
        """Files shared by files.completeUploadExternal: id, filename, title, channel,
        initial_comment and content (the bytes uploaded)."""
        with self._lock:
            return [dict(upload) for upload in self._uploads]

    def response_url(self) -> str:
        """A fresh response_url for a slash command or interaction payload."""
        with self._lock:
            number = self._next()
        return self.base_url.removesuffix("/api/") + f"{RESPONSE_URL_PATH}{number}"

    def responses(self) -> list[dict[str, Any]]:
        """What the bot sent to response_urls (respond()), in order."""
        return [call.args for call in self.calls_for(RESPONSE_URL_METHOD)]

    def _pop_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.remaining -= 1
        if failure.remaining <= 0:
            queue.pop(0)
        return failure

    def _summary(self) -> str:
        lines = [
            f"  {c.method} {json.dumps(c.args, sort_keys=True)[:300]} -> {c.status} "
            f"{'ok' if c.response.get('ok') else c.response.get('error')}"
            for c in self._calls
        ]
        return "\n".join(lines) or "  (none)"

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _next_ts(self) -> str:
        micros = self._next() * 100
        return f"{1_700_000_000 + micros // 1_000_000}.{micros % 1_000_000:06d}"

    # --- messages ----------------------------------------------------------------------------
    def _open_dm(self, user_id: str) -> str:
        channel = self.dm_channel_for(user_id)
        self._open_dms[channel] = user_id
        return channel

    def _channel(self, channel: Any, *, allow_user: bool) -> str:
        if isinstance(channel, str) and (channel in self._channels or channel in self._open_dms):
            return channel
        if (
            allow_user
            and isinstance(channel, str)
            and channel[:1] in ("U", "W")
            and (channel in self._users)
        ):
            return self._open_dm(channel)
        raise _SlackError("channel_not_found")

    def _content(self, args: dict[str, Any]) -> tuple[str, list[Any] | None]:
        """The text and blocks of a message; raises Slack's errors for bad content."""
        text = args.get("text")
        markdown = args.get("markdown_text")
        if markdown is not None:
            if text or "blocks" in args:
                raise _SlackError("markdown_text_conflict")
            if len(str(markdown)) > MARKDOWN_TEXT_MAX:
                raise _SlackError("msg_too_long")
            text = markdown
        text = "" if text is None else str(text)
        blocks = args.get("blocks")
        if blocks is not None:
            if not isinstance(blocks, list):
                raise _SlackError(
                    "invalid_blocks_format", "[ERROR] must be an array [json-pointer:/blocks]"
                )
            if problems := validate_message_blocks(blocks):
                raise _SlackError("invalid_blocks", *problems)
        attachments = args.get("attachments")
        if attachments is not None:
            if not isinstance(attachments, list):
                raise _SlackError("invalid_attachments")
            if len(attachments) > ATTACHMENTS_MAX:
                raise _SlackError("too_many_attachments")
        if not text.strip() and not blocks and not attachments:
            raise _SlackError("no_text")
        return text, blocks

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://fake.slack.com/",
            "team": "Fake",
            "user": "bot",
            "team_id": self._team_id,
            "user_id": self._bot_user_id,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if self._socket_url is None:
            raise _SlackError("not_allowed_token_type")  # the app has Socket Mode turned off
        return {"url": self._socket_url}

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args.get("channel"), allow_user=True)
        text, blocks = self._content(args)
        thread_ts = args.get("thread_ts")
        parent = None
        if thread_ts not in (None, ""):
            parent = self._by_ts.get((channel, str(thread_ts)))
            if parent is None or parent.get("thread_ts", parent["ts"]) != parent["ts"]:
                raise _SlackError("thread_not_found")
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": self._bot_user_id,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": self._team_id,
            "ts": ts,
            "text": text,
        }
        if blocks is not None:
            message["blocks"] = blocks
        if "attachments" in args:
            message["attachments"] = args["attachments"]
        if parent is not None:
            message["thread_ts"] = parent["ts"]
            if args.get("reply_broadcast") in (True, "true", "1", 1):
                message["subtype"] = "thread_broadcast"
            parent["thread_ts"] = parent["ts"]
            parent["reply_count"] = parent.get("reply_count", 0) + 1
            parent["latest_reply"] = ts
        self._messages.setdefault(channel, []).append(message)
        self._by_ts[(channel, ts)] = message
        self._history[(channel, ts)] = [copy.deepcopy(message)]
        return {"channel": channel, "ts": ts, "message": copy.deepcopy(message)}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args.get("channel"), allow_user=False)
        message = self._by_ts.get((channel, str(args.get("ts"))))
        if message is None:
            raise _SlackError("message_not_found")
        text, blocks = self._content(args)
        if len(text) > UPDATE_TEXT_MAX:
            raise _SlackError("msg_too_long")
        message["text"] = text
        if blocks is None:
            message.pop("blocks", None)  # like Slack: text without blocks removes the blocks
        else:
            message["blocks"] = blocks
        if "attachments" in args:
            message["attachments"] = args["attachments"]
        message["edited"] = {"user": self._bot_user_id, "ts": self._next_ts()}
        self._history[(channel, message["ts"])].append(copy.deepcopy(message))
        return {
            "channel": channel,
            "ts": message["ts"],
            "text": text,
            "message": copy.deepcopy(message),
        }

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args.get("channel"), allow_user=False)
        user = args.get("user")
        members = set(self._channels.get(channel, ()))
        if channel in self._open_dms:
            members.add(self._open_dms[channel])
        if not isinstance(user, str) or (user not in self._users and user not in members):
            raise _SlackError("user_not_in_channel")
        text, blocks = self._content(args)
        ts = self._next_ts()
        self._ephemeral.append(
            {
                "channel": channel,
                "user": user,
                "ts": ts,
                "text": text,
                "blocks": blocks,
                "thread_ts": args.get("thread_ts"),
            }
        )
        return {"message_ts": ts}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = args.get("users")
        if not users:
            channel = args.get("channel")
            if not channel:
                raise _SlackError("users_list_not_supplied")
            if channel not in self._open_dms:
                raise _SlackError("channel_not_found")
            return {"no_op": True, "already_open": True, "channel": {"id": channel}}
        ids = users if isinstance(users, list) else str(users).split(",")
        ids = [str(u).strip() for u in ids if str(u).strip()]
        if len(ids) != 1:
            raise _SlackError(
                "invalid_arguments", "[ERROR] FakeSlack supports 1:1 DMs only [json-pointer:/users]"
            )
        if ids[0] not in self._users:
            raise _SlackError("user_not_found")
        already = self.dm_channel_for(ids[0]) in self._open_dms
        response: dict[str, Any] = {"channel": {"id": self._open_dm(ids[0])}}
        if already:
            response.update(no_op=True, already_open=True)
        return response

    def _need_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise _SlackError("missing_scope")

    def _files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        self._need_scope(FILES_WRITE)
        filename = str(args.get("filename") or "").strip()
        try:
            length = int(args.get("length") or 0)
        except (TypeError, ValueError):
            raise _SlackError("invalid_arguments", "[ERROR] length must be an integer") from None
        if not filename or length <= 0:
            raise _SlackError("missing_argument")
        if len(str(args.get("alt_txt") or "")) > ALT_TXT_MAX:
            raise _SlackError("alt_txt_too_large")
        file_id = f"F{self._next():010d}"
        token = f"{file_id}-{secrets.token_hex(16)}"
        self._pending_uploads[token] = {
            "id": file_id,
            "filename": filename,
            "length": length,
            "content": None,
        }
        return {
            "upload_url": self.base_url.removesuffix("/api/") + UPLOAD_PATH + token,
            "file_id": file_id,
        }

    def _files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        self._need_scope(FILES_WRITE)
        raw = args.get("files")
        try:
            files = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            raise _SlackError("invalid_arguments", "[ERROR] files must be a JSON array") from None
        if not isinstance(files, list) or not files:
            raise _SlackError("invalid_arguments", "[ERROR] files must be a non-empty array")
        by_id = {pending["id"]: pending for pending in self._pending_uploads.values()}
        channel_id = args.get("channel_id")
        if args.get("channels"):
            raise _SlackError("invalid_arguments", "[ERROR] FakeSlack takes channel_id only")
        if channel_id is not None and not CONVERSATION_ID.match(str(channel_id)):
            raise _SlackError(
                "invalid_arguments",
                "[ERROR] input must match regex pattern: ^[CGDZ][A-Z0-9]{8,}$ "
                "[json-pointer:/channel_id]",
            )
        channel = self._channel(channel_id, allow_user=False) if channel_id else None
        shared: list[dict[str, Any]] = []
        for item in files:
            pending = by_id.get(item.get("id")) if isinstance(item, dict) else None
            if pending is None or pending["content"] is None:
                raise _SlackError("file_not_found")
            if pending.get("completed"):
                raise _SlackError("file_uploaded_already")
            shared.append({"item": item, "pending": pending})
        results = []
        for entry in shared:
            pending, item = entry["pending"], entry["item"]
            pending["completed"] = True
            record = {
                "id": pending["id"],
                "filename": pending["filename"],
                "title": item.get("title") or pending["filename"],
                "channel": channel,
                "initial_comment": args.get("initial_comment"),
                "content": pending["content"],
            }
            self._uploads.append(record)
            results.append(
                {"id": pending["id"], "title": record["title"], "name": pending["filename"]}
            )
        return {"files": results}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = args.get("user")
        user = self._users.get(user_id) if isinstance(user_id, str) else None
        if user is None:
            raise _SlackError("user_not_found")
        return {
            "user": {
                "id": user_id,
                "team_id": self._team_id,
                "name": user["name"],
                "real_name": user["real_name"],
                "deleted": False,
                "is_bot": user["is_bot"],
                "profile": {"real_name": user["real_name"], "display_name": user["name"]},
            }
        }

    def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        if "usergroups:read" not in self.scopes:
            raise _MissingScopeError("usergroups:read", sorted(self.scopes))
        group_id = args.get("usergroup")
        if not isinstance(group_id, str) or not group_id:
            raise _SlackError("invalid_arguments", "[ERROR] missing required field: usergroup")
        found = self._usergroups.get(group_id)
        include_disabled = str(args.get("include_disabled", "")).lower() in ("1", "true")
        if found is None or (not found[1] and not include_disabled):
            raise _SlackError("no_such_subteam")
        return {"users": list(found[0])}

    # --- views -------------------------------------------------------------------------------
    def _trigger(self, args: dict[str, Any]) -> _Trigger:
        """The trigger named by args, checked but not yet consumed."""
        trigger_id = args.get("trigger_id")
        if not trigger_id:
            raise _SlackError(
                "invalid_arguments", "[ERROR] missing required field: trigger_id [json-pointer:/]"
            )
        trigger = self._triggers.get(str(trigger_id))
        if trigger is None:
            raise _SlackError("invalid_trigger_id")
        if trigger.used:
            raise _SlackError("exchanged_trigger_id")
        if trigger.expired or time.monotonic() - trigger.issued_at > self._trigger_ttl:
            raise _SlackError("expired_trigger_id")
        return trigger

    def _checked_view(self, args: dict[str, Any], *kinds: str) -> dict[str, Any]:
        view = args.get("view")
        if view is None:
            raise _SlackError(
                "invalid_arguments", "[ERROR] missing required field: view [json-pointer:/]"
            )
        if len(json.dumps(view).encode("utf-8")) > VIEW_MAX_BYTES:
            raise _SlackError("view_too_large")
        if problems := validate_view(view, kinds):
            raise _SlackError("invalid_arguments", *problems)
        return cast(dict[str, Any], copy.deepcopy(view))

    def _check_external_id(self, view: dict[str, Any], view_id: str | None = None) -> None:
        owner = self._external_ids.get(str(view.get("external_id")))
        if "external_id" in view and owner is not None and owner != view_id:
            raise _SlackError("duplicate_external_id")

    def _store_view(
        self,
        view: dict[str, Any],
        *,
        view_id: str | None = None,
        root: str | None = None,
        previous: str | None = None,
    ) -> dict[str, Any]:
        view_id = view_id or f"V{self._next():08d}"
        stored = {
            **view,
            "id": view_id,
            "team_id": self._team_id,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "state": {"values": {}},
            "root_view_id": root or view_id,
            "previous_view_id": previous,
        }
        self._external_ids = {k: v for k, v in self._external_ids.items() if v != view_id}
        if isinstance(view.get("external_id"), str):
            self._external_ids[view["external_id"]] = view_id
        self._views[view_id] = stored
        return {"view": copy.deepcopy(stored)}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger = self._trigger(args)
        view = self._checked_view(args, "modal")
        self._check_external_id(view)
        trigger.used = True
        response = self._store_view(view)
        root = response["view"]["id"]
        self._stacks[root] = [root]
        self._last_root = root
        return response

    def _views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger = self._trigger(args)
        view = self._checked_view(args, "modal")
        source = self._views.get(trigger.view_id or "")
        root = source["root_view_id"] if source is not None else self._last_root
        if root is None:
            raise _SlackError("not_found", "[ERROR] no open modal to push onto [json-pointer:/]")
        stack = self._stacks[root]
        if len(stack) >= VIEW_STACK_MAX:
            raise _SlackError("push_limit_reached")
        self._check_external_id(view)
        trigger.used = True
        response = self._store_view(view, root=root, previous=stack[-1])
        stack.append(response["view"]["id"])
        return response

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view = self._checked_view(args, "modal", "home")
        view_id, external_id = args.get("view_id"), args.get("external_id")
        if not view_id and not external_id:
            raise _SlackError(
                "invalid_arguments", "[ERROR] missing required field: view_id [json-pointer:/]"
            )
        if not view_id:
            view_id = self._external_ids.get(str(external_id))
        current = self._views.get(str(view_id))
        if current is None:
            raise _SlackError("not_found")
        if args.get("hash") and args["hash"] != current["hash"]:
            raise _SlackError("hash_conflict")
        if view["type"] != current["type"]:
            raise _SlackError(
                "invalid_arguments", "[ERROR] cannot change the view type [json-pointer:/view/type]"
            )
        self._check_external_id(view, current["id"])
        return self._store_view(
            view,
            view_id=current["id"],
            root=current["root_view_id"],
            previous=current["previous_view_id"],
        )

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = args.get("user_id")
        if not user_id:
            raise _SlackError(
                "invalid_arguments", "[ERROR] missing required field: user_id [json-pointer:/]"
            )
        if not isinstance(user_id, str) or user_id not in self._users:
            raise _SlackError("user_not_found")
        if not self.home_tab_enabled:
            raise _SlackError("not_enabled")
        view = self._checked_view(args, "home")
        existing = self._home_views.get(user_id)
        if existing and args.get("hash") and args["hash"] != self._views[existing]["hash"]:
            raise _SlackError("hash_conflict")
        self._check_external_id(view, existing)
        response = self._store_view(view, view_id=existing)
        self._home_views[user_id] = response["view"]["id"]
        return response
