"""Self-tests of the FakeSlack Web API fake, driven through slack_sdk's real WebClient."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.fakes.slack_api import FakeSlack, validate_message_blocks, validate_view

TOKEN = "xoxb-test-token"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=TOKEN) as server:
        server.add_channel("C1", name="general", members=["U1"])
        server.add_user("U1", name="alice", real_name="Alice Example")
        server.add_user("U2", name="bob", real_name="Bob Example")
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=TOKEN, base_url=fake.base_url)


def slack_error(exc: pytest.ExceptionInfo[SlackApiError]) -> str:
    return str(exc.value.response["error"])


def button(text: str, action_id: str = "approve") -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id}


def modal(title: str = "Request", **extra: Any) -> dict[str, Any]:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    view = {"type": "modal", "title": {"type": "plain_text", "text": title}, "blocks": blocks}
    return view | extra


# --- basics ----------------------------------------------------------------------------------


def test_auth_test_and_base_url(fake: FakeSlack, client: WebClient) -> None:
    assert fake.base_url.startswith("http://127.0.0.1:")
    assert fake.base_url.endswith("/api/")
    resp = client.auth_test()
    assert resp["user_id"] == "UBOT"
    assert resp["team_id"] == "T0001"
    assert resp["bot_id"] == "B0001"


def test_not_authed_and_invalid_auth(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as missing:
        WebClient(base_url=fake.base_url).auth_test()
    assert slack_error(missing) == "not_authed"
    with pytest.raises(SlackApiError) as wrong:
        WebClient(token="xoxb-wrong", base_url=fake.base_url).auth_test()
    assert slack_error(wrong) == "invalid_auth"
    assert wrong.value.response.status_code == 200


def test_unknown_method_is_404(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.api_call("reactions.add", json={"channel": "C1"})
    assert exc.value.response.status_code == 404
    assert slack_error(exc) == "unknown_method"


# --- messages --------------------------------------------------------------------------------


def test_post_message_is_stored(fake: FakeSlack, client: WebClient) -> None:
    blocks = [{"type": "actions", "elements": [button("Approve")]}]
    resp = client.chat_postMessage(channel="C1", text="hello", blocks=blocks)
    assert resp["channel"] == "C1"
    assert resp["message"]["text"] == "hello"
    second = client.chat_postMessage(channel="C1", text="again")
    assert float(second["ts"]) > float(resp["ts"])
    assert [m["text"] for m in fake.messages_in("C1")] == ["hello", "again"]
    assert fake.message("C1", resp["ts"])["blocks"] == blocks
    call = fake.calls_for("chat.postMessage")[0]
    assert call.args["blocks"] == blocks
    assert call.status == 200


def test_form_body_blocks_are_decoded(fake: FakeSlack, client: WebClient) -> None:
    blocks = [section("from a form")]
    params = {"channel": "C1", "text": "x", "blocks": json.dumps(blocks)}
    resp = client.api_call("chat.postMessage", params=params)
    assert fake.calls_for("chat.postMessage")[0].args["blocks"] == blocks
    assert fake.message("C1", resp["ts"])["blocks"] == blocks


def test_views_publish_home(fake: FakeSlack, client: WebClient) -> None:
    home = {"type": "home", "blocks": [section("home")]}
    first = client.views_publish(user_id="U1", view=home)["view"]
    again = client.views_publish(user_id="U1", view=home, hash=first["hash"])["view"]
    assert again["id"] == first["id"]
    with pytest.raises(SlackApiError) as exc:
        client.views_publish(user_id="U1", view=home | {"submit": section("s")["text"]})
    assert slack_error(exc) == "invalid_arguments"
    assert fake.home_view("U1") is not None
    assert fake.home_view("U1")["id"] == first["id"]  # type: ignore[index]
    assert fake.home_view("U2") is None


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        pytest.param({"view": {"type": "home", "blocks": []}}, "invalid_arguments", id="no-user"),
        pytest.param({"user_id": "U404"}, "user_not_found", id="unknown-user"),
        pytest.param({"user_id": "U1", "view": {"type": "modal"}}, "invalid_arguments", id="modal"),
        pytest.param({"user_id": "U1", "hash": "1.stale"}, "hash_conflict", id="stale-hash"),
    ],
)
def test_views_publish_is_strict(
    fake: FakeSlack, client: WebClient, arguments: dict[str, Any], error: str
) -> None:
    home = {"type": "home", "blocks": [section("home")]}
    client.views_publish(user_id="U1", view=home)
    with pytest.raises(SlackApiError) as exc:
        client.api_call("views.publish", json={"view": home, **arguments})
    assert slack_error(exc) == error


def test_views_publish_needs_the_home_tab(fake: FakeSlack, client: WebClient) -> None:
    fake.home_tab_enabled = False
    with pytest.raises(SlackApiError) as exc:
        client.views_publish(user_id="U1", view={"type": "home", "blocks": [section("home")]})
    assert slack_error(exc) == "not_enabled"


def test_post_to_unknown_channel(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C404", text="x")
    assert slack_error(exc) == "channel_not_found"


def test_no_text(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.api_call("chat.postMessage", json={"channel": "C1"})
    assert slack_error(exc) == "no_text"


def test_dm_via_user_id_then_update_with_d_channel(fake: FakeSlack, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*pending*"}}]
    posted = client.chat_postMessage(channel="U1", text="pending", blocks=blocks)
    dm = fake.dm_channel_for("U1")
    assert dm.startswith("D")
    assert posted["channel"] == dm
    assert [m["text"] for m in fake.messages_in(dm)] == ["pending"]

    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel="U1", ts=posted["ts"], text="approved")
    assert slack_error(exc) == "channel_not_found"

    client.chat_update(channel=posted["channel"], ts=posted["ts"], text="approved")
    current = fake.message(dm, posted["ts"])
    assert current["text"] == "approved"
    assert "blocks" not in current  # text without blocks removes the blocks, like Slack
    assert [v["text"] for v in fake.message_history(dm, posted["ts"])] == ["pending", "approved"]


def test_update_errors(fake: FakeSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C1", text="x")
    with pytest.raises(SlackApiError) as missing:
        client.chat_update(channel="C1", ts="1.000001", text="y")
    assert slack_error(missing) == "message_not_found"
    with pytest.raises(SlackApiError) as too_long:
        client.chat_update(channel="C1", ts=posted["ts"], text="y" * 4001)
    assert slack_error(too_long) == "msg_too_long"
    client.chat_update(channel="C1", ts=posted["ts"], text="y" * 4000)


def test_conversations_open_and_users_info(fake: FakeSlack, client: WebClient) -> None:
    opened = client.conversations_open(users="U2")
    assert opened["channel"]["id"] == fake.dm_channel_for("U2")
    client.chat_postMessage(channel=opened["channel"]["id"], text="hi")
    with pytest.raises(SlackApiError) as exc:
        client.conversations_open(users="U404")
    assert slack_error(exc) == "user_not_found"
    with pytest.raises(SlackApiError) as not_open:
        client.chat_postMessage(channel=fake.dm_channel_for("U1"), text="hi")
    assert slack_error(not_open) == "channel_not_found"

    info = client.users_info(user="U1")
    assert info["user"]["real_name"] == "Alice Example"
    assert info["user"]["profile"]["display_name"] == "alice"
    with pytest.raises(SlackApiError) as unknown:
        client.users_info(user="U404")
    assert slack_error(unknown) == "user_not_found"


def test_get_with_query_string(fake: FakeSlack) -> None:
    request = urllib.request.Request(  # noqa: S310 - loopback fake
        fake.base_url + "users.info?user=U2", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310 - loopback fake
        body = json.loads(resp.read())
    assert body["ok"] is True
    assert body["user"]["name"] == "bob"


def test_thread_replies(fake: FakeSlack, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C1", text="request")
    reply = client.chat_postMessage(channel="C1", text="done", thread_ts=parent["ts"])
    assert reply["message"]["thread_ts"] == parent["ts"]
    assert [m["text"] for m in fake.thread_replies("C1", parent["ts"])] == ["done"]
    assert fake.message("C1", parent["ts"])["reply_count"] == 1
    assert [m["text"] for m in fake.messages_in("C1")] == ["request", "done"]
    for bad in ("1.000001", reply["ts"]):
        with pytest.raises(SlackApiError) as exc:
            client.chat_postMessage(channel="C1", text="x", thread_ts=bad)
        assert slack_error(exc) == "thread_not_found"


def test_post_ephemeral(fake: FakeSlack, client: WebClient) -> None:
    resp = client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert resp["message_ts"]
    assert fake.messages_in("C1") == []
    assert fake.ephemeral_messages()[0]["text"] == "only you"
    with pytest.raises(SlackApiError) as exc:
        client.chat_postEphemeral(channel="C1", user="U404", text="x")
    assert slack_error(exc) == "user_not_in_channel"


# --- Block Kit -------------------------------------------------------------------------------


def test_invalid_blocks_for_long_button_text(client: WebClient) -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "a"}},
        {"type": "divider"},
        {"type": "actions", "elements": [button("x" * 76)]},
    ]
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="x", blocks=blocks)
    assert slack_error(exc) == "invalid_blocks"
    assert exc.value.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 76 characters [json-pointer:/blocks/2/elements/0/text/text]"
    ]
    blocks[2]["elements"][0] = button("x" * 75)
    client.chat_postMessage(channel="C1", text="x", blocks=blocks)


def test_invalid_blocks_for_51_blocks(client: WebClient) -> None:
    blocks = [{"type": "divider"}] * 51
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="x", blocks=blocks)
    assert slack_error(exc) == "invalid_blocks"
    assert "no more than 50 items" in exc.value.response["response_metadata"]["messages"][0]
    client.chat_postMessage(channel="C1", text="x", blocks=blocks[:50])


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def text_input(**extra: Any) -> dict[str, Any]:
    element = {"type": "plain_text_input", "action_id": "a"} | extra
    return {"type": "input", "label": {"type": "plain_text", "text": "L"}, "element": element}


def select(initial: str) -> dict[str, Any]:
    options = [{"text": {"type": "plain_text", "text": name}, "value": name} for name in ("a", "b")]
    element = {
        "type": "static_select",
        "action_id": "s",
        "options": options,
        "initial_option": {"text": {"type": "plain_text", "text": initial}, "value": initial},
    }
    return {"type": "section", "text": {"type": "mrkdwn", "text": "pick"}, "accessory": element}


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        (section("x" * 3001), "/blocks/0/text/text"),
        ({"type": "header", "text": {"type": "mrkdwn", "text": "h"}}, "/blocks/0/text/type"),
        ({"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}, "/text/text"),
        ({"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}, "fields/0"),
        ({"type": "section", "text": {"type": "mrkdwn", "text": ""}}, "more than 0"),
        ({"type": "video"}, "unsupported block type"),
        ({"type": "divider", "block_id": "b" * 256}, "/blocks/0/block_id"),
        ({"type": "context", "elements": [section("x")["text"]] * 11}, "/blocks/0/elements"),
        ({"type": "actions", "elements": [button("a", "x"), button("b", "x")]}, "duplicate"),
        ({"type": "actions", "elements": [button("a") | {"style": "red"}]}, "/style"),
        ({"type": "actions", "elements": [button("a") | {"value": "v" * 2001}]}, "/value"),
        (text_input(min_length=10, max_length=5), "min_length"),
        (text_input(max_length=3001), "max_length"),
        (text_input(placeholder={"type": "plain_text", "text": "p" * 151}), "placeholder"),
        ({"type": "input", "label": {"type": "plain_text", "text": "L"}}, "element"),
        (select("c"), "initial_option"),
    ],
)
def test_block_rules(block: dict[str, Any], problem: str) -> None:
    messages = validate_message_blocks([block])
    assert messages, block
    assert any(problem in m for m in messages), messages


def test_valid_blocks_pass() -> None:
    assert validate_message_blocks([section("ok"), select("a"), text_input(max_length=3000)]) == []


def test_duplicate_block_ids() -> None:
    messages = validate_message_blocks([section("a") | {"block_id": "b"}] * 2)
    assert messages == ["[ERROR] duplicate block_id: b [json-pointer:/blocks/1/block_id]"]


# --- views -----------------------------------------------------------------------------------


def test_views_open_update_and_hash_conflict(fake: FakeSlack, client: WebClient) -> None:
    opened = client.views_open(trigger_id=fake.issue_trigger_id(), view=modal("Loading"))
    view = opened["view"]
    assert view["id"].startswith("V")
    assert view["state"] == {"values": {}}
    assert fake.views()[view["id"]]["title"]["text"] == "Loading"

    updated = client.views_update(view_id=view["id"], hash=view["hash"], view=modal("Ready"))
    assert updated["view"]["hash"] != view["hash"]
    assert fake.views()[view["id"]]["title"]["text"] == "Ready"

    with pytest.raises(SlackApiError) as conflict:
        client.views_update(view_id=view["id"], hash=view["hash"], view=modal("Stale"))
    assert slack_error(conflict) == "hash_conflict"
    with pytest.raises(SlackApiError) as missing:
        client.views_update(view_id="V404", view=modal())
    assert slack_error(missing) == "not_found"


def test_trigger_rules(fake: FakeSlack, client: WebClient) -> None:
    trigger = fake.issue_trigger_id()
    client.views_open(trigger_id=trigger, view=modal())
    with pytest.raises(SlackApiError) as exchanged:
        client.views_open(trigger_id=trigger, view=modal())
    assert slack_error(exchanged) == "exchanged_trigger_id"
    with pytest.raises(SlackApiError) as invalid:
        client.views_open(trigger_id="123.456.abc", view=modal())
    assert slack_error(invalid) == "invalid_trigger_id"
    stale = fake.issue_trigger_id()
    fake.expire_trigger_ids()
    with pytest.raises(SlackApiError) as expired:
        client.views_open(trigger_id=stale, view=modal())
    assert slack_error(expired) == "expired_trigger_id"


def test_trigger_expires_after_ttl() -> None:
    with FakeSlack(trigger_ttl=0.2) as fake:
        client = WebClient(token="xoxb-test-token", base_url=fake.base_url)
        trigger = fake.issue_trigger_id()
        time.sleep(0.25)
        with pytest.raises(SlackApiError) as exc:
            client.views_open(trigger_id=trigger, view=modal())
        assert slack_error(exc) == "expired_trigger_id"


def test_invalid_view_does_not_consume_trigger(fake: FakeSlack, client: WebClient) -> None:
    trigger = fake.issue_trigger_id()
    with pytest.raises(SlackApiError) as exc:
        client.views_open(trigger_id=trigger, view=modal("T" * 25))
    assert slack_error(exc) == "invalid_arguments"
    assert exc.value.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
    ]
    client.views_open(trigger_id=trigger, view=modal("T" * 24))


def test_views_push_limit(fake: FakeSlack, client: WebClient) -> None:
    root = client.views_open(trigger_id=fake.issue_trigger_id(), view=modal())["view"]
    for _ in range(2):
        pushed = client.views_push(trigger_id=fake.issue_trigger_id(), view=modal("Next"))
        assert pushed["view"]["root_view_id"] == root["id"]
    with pytest.raises(SlackApiError) as exc:
        client.views_push(trigger_id=fake.issue_trigger_id(), view=modal("Too many"))
    assert slack_error(exc) == "push_limit_reached"


@pytest.mark.parametrize(
    ("view", "problem"),
    [
        (modal(blocks=[]), "at least 1"),
        (modal(blocks=[{"type": "divider"}] * 101), "no more than 100"),
        (modal(blocks=[text_input()]), "submit"),
        (modal(submit={"type": "plain_text", "text": "s" * 25}), "/view/submit/text"),
        (modal(callback_id="c" * 256), "/view/callback_id"),
        (modal(private_metadata="m" * 3001), "/view/private_metadata"),
        (modal(blocks=[{"type": "markdown", "text": "md"}]), "unsupported block type"),
        ({"type": "dialog", "blocks": []}, "/view/type"),
    ],
)
def test_view_rules(view: dict[str, Any], problem: str) -> None:
    messages = validate_view(view)
    assert any(problem in m for m in messages), messages


def test_view_too_large(fake: FakeSlack, client: WebClient) -> None:
    huge = modal(blocks=[section("x" * 2900)] * 90)
    with pytest.raises(SlackApiError) as exc:
        client.views_open(trigger_id=fake.issue_trigger_id(), view=huge)
    assert slack_error(exc) == "view_too_large"


# --- failures, delays, waiting ---------------------------------------------------------------


def test_rate_limit_429(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="x")
    assert exc.value.response.status_code == 429
    assert exc.value.response.headers["Retry-After"] == "7"
    assert slack_error(exc) == "ratelimited"
    client.chat_postMessage(channel="C1", text="x")
    assert [c.status for c in fake.calls_for("chat.postMessage")] == [429, 200]


def test_fail_next_times(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("users.info", "user_not_visible", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as exc:
            client.users_info(user="U1")
        assert slack_error(exc) == "user_not_visible"
    assert client.users_info(user="U1")["ok"] is True
    with pytest.raises(ValueError, match="does not implement"):
        fake.fail_next("chat.delete")


def test_wait_for_sees_calls_from_other_threads(fake: FakeSlack, client: WebClient) -> None:
    fake.set_delay("chat.postMessage", 0.05)
    worker = threading.Thread(
        target=lambda: [client.chat_postMessage(channel="C1", text=t) for t in ("a", "b")]
    )
    worker.start()
    calls = fake.wait_for("chat.postMessage", lambda c: c.args["text"] == "b", timeout=5)
    worker.join()
    assert calls[0].response["ok"] is True
    assert len(fake.wait_for("chat.postMessage", count=2, timeout=0)) == 2


def test_wait_for_timeout_summarises_calls(fake: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="C1", text="seen")
    with pytest.raises(AssertionError) as exc:
        fake.wait_for("views.open", timeout=0.05)
    assert "views.open" in str(exc.value)
    assert "chat.postMessage" in str(exc.value)
    assert '"text": "seen"' in str(exc.value)


def test_all_text_covers_every_argument(fake: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="C1", text="visible", blocks=[section("secret-ish")])
    client.conversations_open(users="U1")
    text = fake.all_text()
    assert "visible" in text
    assert "secret-ish" in text
    assert "U1" in text
    assert TOKEN not in text


def test_bolt_app_verifies_its_token_against_the_fake(fake: FakeSlack) -> None:
    App(client=WebClient(token=TOKEN, base_url=fake.base_url), signing_secret="secret")
    assert fake.wait_for("auth.test", timeout=1)[0].response["user_id"] == "UBOT"


# --- files upload v2 (slack-sdk's files_upload_v2: URL, POST the bytes, complete) ------------


def _dm(fake: FakeSlack, client: WebClient, user: str = "U0UPLOADER1") -> str:
    """A DM channel id of Slack's length (D + at least 8 characters)."""
    fake.add_user(user, name="uploader")
    return str(client.chat_postMessage(channel=user, text="file below")["channel"])


def test_files_upload_v2_shares_the_bytes_in_a_dm(fake: FakeSlack, client: WebClient) -> None:
    channel = _dm(fake, client)
    response = client.files_upload_v2(
        channel=channel, content=b'{"a": 1}\n', filename="audit.jsonl", title="Audit"
    )
    assert response["file"]["name"] == "audit.jsonl"
    [upload] = fake.uploads()
    assert upload["content"] == b'{"a": 1}\n'
    assert (upload["channel"], upload["filename"], upload["title"]) == (
        channel,
        "audit.jsonl",
        "Audit",
    )
    [url_call] = fake.calls_for("files.getUploadURLExternal")
    assert url_call.args["length"] == "9"


def test_files_complete_refuses_a_user_id_as_channel(fake: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.files_upload_v2(channel="U0UPLOADER1", content=b"x", filename="a.txt")
    assert slack_error(exc) == "invalid_arguments"
    assert fake.uploads() == []


def test_files_need_files_write(client: WebClient) -> None:
    with FakeSlack(bot_token=TOKEN, scopes=("chat:write",)) as server:
        limited = WebClient(token=TOKEN, base_url=server.base_url)
        with pytest.raises(SlackApiError) as exc:
            limited.files_getUploadURLExternal(filename="a.txt", length=1)
        assert slack_error(exc) == "missing_scope"


def test_files_upload_urls_are_strict(fake: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.files_getUploadURLExternal(filename="a.txt", length=0)
    assert slack_error(exc) == "missing_argument"
    issued = client.files_getUploadURLExternal(filename="a.txt", length=3)
    url, file_id = str(issued["upload_url"]), str(issued["file_id"])
    channel = _dm(fake, client)
    # Completing before the bytes arrived: nothing to share.
    with pytest.raises(SlackApiError) as exc:
        client.files_completeUploadExternal(files=[{"id": file_id}], channel_id=channel)
    assert slack_error(exc) == "file_not_found"

    def post(data: bytes) -> int:
        request = urllib.request.Request(url, data=data, method="POST")  # noqa: S310 - loopback
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    assert post(b"four") == 400  # not the length announced
    assert post(b"abc") == 200
    assert post(b"abc") == 404  # an upload URL takes one file
    client.files_completeUploadExternal(files=[{"id": file_id}], channel_id=channel)
    with pytest.raises(SlackApiError) as exc:
        client.files_completeUploadExternal(files=[{"id": file_id}], channel_id=channel)
    assert slack_error(exc) == "file_uploaded_already"
    assert [u["content"] for u in fake.uploads()] == [b"abc"]


def test_usergroups_users_list_is_strict_like_slack(fake: FakeSlack, client: WebClient) -> None:
    fake.add_usergroup("S0ADMINS", ["U1", "U2"])
    fake.add_usergroup("S0OLD", ["U1"], enabled=False)
    assert client.usergroups_users_list(usergroup="S0ADMINS")["users"] == ["U1", "U2"]
    with pytest.raises(SlackApiError) as unknown:
        client.usergroups_users_list(usergroup="S0NOPE")
    assert slack_error(unknown) == "no_such_subteam"
    with pytest.raises(SlackApiError) as disabled:
        client.usergroups_users_list(usergroup="S0OLD")
    assert slack_error(disabled) == "no_such_subteam"
    assert client.usergroups_users_list(usergroup="S0OLD", include_disabled=True)["users"] == ["U1"]
    with pytest.raises(SlackApiError) as missing:
        client.api_call("usergroups.users.list", params={})
    assert slack_error(missing) == "invalid_arguments"
    fake.scopes.discard("usergroups:read")
    with pytest.raises(SlackApiError) as scope:
        client.usergroups_users_list(usergroup="S0ADMINS")
    assert slack_error(scope) == "missing_scope"
    assert scope.value.response["needed"] == "usergroups:read"
