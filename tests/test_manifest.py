"""manifest.yml is a valid Slack app manifest, and it agrees with the code it configures."""

from __future__ import annotations

import copy
import inspect
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
import yaml
from jsonschema import Draft7Validator, ValidationError
from jsonschema.validators import validator_for
from referencing import Registry
from referencing.jsonschema import DRAFT7
from slack_bolt import App

from bot.config import Settings
from bot.server import SLACK_PATH
from tests.fakes.slack_api import RESPONSE_URL_METHOD, UPLOAD_METHOD, SlackCall
from tests.harness import APPROVER, REQUESTER, TEAM, BotHarness, reference_from

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "manifest.yml"
SCHEMA_DIR = Path(__file__).resolve().parent / "data" / "slack-manifest-schema"

# The whole bot-scope list, and why each one is there (see the comments in manifest.yml).
EXPECTED_BOT_SCOPES = {
    "commands",
    "chat:write",
    "chat:write.public",
    "files:write",
    "usergroups:read",
}

# The bot scope each Slack Web API method needs (docs.slack.dev/reference/methods/<method>).
# A method the bot starts calling must be added here, with its scope added to the manifest.
SCOPES_BY_METHOD: dict[str, set[str]] = {
    "auth.test": set(),
    "chat.postMessage": {"chat:write"},
    "chat.update": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "views.open": set(),
    "views.update": set(),
    "views.push": set(),
    "views.publish": set(),
    "conversations.open": {"im:write"},
    "users.info": {"users:read"},
    "usergroups.users.list": {"usergroups:read"},
    RESPONSE_URL_METHOD: set(),  # respond(): a response_url, not a Web API method
    "files.getUploadURLExternal": {"files:write"},
    "files.completeUploadExternal": {"files:write"},
    UPLOAD_METHOD: set(),  # the bytes POSTed to the upload URL files.getUploadURLExternal gave
}

FORM_VALUES = {
    "name": "Manifest check GPT",
    "space": "default",
    "model": "gpt-4.1",
    "api_key": "sk-proj-MANIFESTCHECK0123456789abcdef",
    "justification": "Checking that the manifest's scopes are enough",
}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _load_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def manifest_validator() -> Draft7Validator:
    """Slack's dispatching entry schema, with its remote $refs served from the local copies."""
    entry = _load_json(SCHEMA_DIR / "manifest.schema.json")
    # The entry point declares draft-07; the versioned files declare nothing and are read as
    # the draft of the document that refers to them.
    assert validator_for(entry) is Draft7Validator
    registry: Registry[Any] = Registry()
    remote = sorted({ref for ref in _refs(entry) if not ref.startswith("#")})
    assert remote, "the entry schema no longer refers to the versioned schemas"
    for uri in remote:
        local = SCHEMA_DIR / "schemas" / uri.rsplit("/schemas/", 1)[-1]
        assert local.is_file(), f"{uri} has no local copy at {local.relative_to(ROOT)}"
        registry = registry.with_resource(uri, DRAFT7.create_resource(_load_json(local)))
    Draft7Validator.check_schema(entry)
    return Draft7Validator(entry, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER)


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    if not error.context:
        yield error
    for child in error.context:
        yield from _leaves(child)


def _errors(document: dict[str, Any]) -> list[str]:
    """Readable errors: those of the versioned schema that ``_metadata`` dispatches to.

    The entry schema is a ``oneOf`` of ``allOf: [version condition, versioned schema]``, so a
    bare error says only "not valid under any of the given schemas".
    """
    messages = []
    for error in manifest_validator().iter_errors(document):
        leaves = list(_leaves(error))
        depth = len(error.absolute_schema_path)  # the oneOf: [..., "oneOf"]
        by_branch: dict[object, list[ValidationError]] = {}
        for leaf in leaves:
            by_branch.setdefault(list(leaf.absolute_schema_path)[depth], []).append(leaf)
        chosen = [
            leaf
            for branch in by_branch.values()
            if all(
                list(leaf.absolute_schema_path)[depth + 1 : depth + 3] == ["allOf", 1]
                for leaf in branch
            )
            for leaf in branch
        ] or leaves
        messages += [
            f"{'/'.join(map(str, leaf.absolute_path)) or '<root>'}: {leaf.message[:300]}"
            for leaf in chosen
        ]
    return sorted(set(messages))


def test_manifest_is_valid_for_slacks_schema(manifest: dict[str, Any]) -> None:
    assert manifest["_metadata"] == {"major_version": 1, "minor_version": 1}
    assert _errors(manifest) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param(("display_information", "name"), "x" * 36, id="name-too-long"),
        pytest.param(("display_information", "long_description"), "short", id="long-desc-short"),
        pytest.param(("features", "slash_commands", 0, "command"), "llm", id="command-no-slash"),
        pytest.param(("settings", "interactivity", "surprise"), True, id="unknown-key"),
    ],
)
def test_schema_rejects_a_broken_manifest(
    manifest: dict[str, Any], path: tuple[str | int, ...], value: object
) -> None:
    """Guards the check above: a validator that resolves nothing would accept anything."""
    broken = copy.deepcopy(manifest)
    node: Any = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    where = "/".join(map(str, path[:-1]))
    assert any(error.startswith(where) for error in _errors(broken)), _errors(broken)


def _manifest_commands(manifest: dict[str, Any]) -> set[str]:
    return {str(command["command"]) for command in manifest["features"]["slash_commands"]}


def _registered(app: App, kind: str) -> list[dict[str, Any]]:
    """What each listener of ``kind`` was registered for, e.g. [{"command": "/llm-connector"}].

    Bolt's builtin matchers (``slack_bolt.listener_matcher.builtins``) are closures named
    ``<kind>.<locals>.func`` that hold the constraint they were built with.
    """
    found = []
    for listener in app._listeners:
        for matcher in listener.matchers:
            func = getattr(matcher, "func", None)
            if callable(func) and func.__qualname__ == f"{kind}.<locals>.func":
                found.append(dict(inspect.getclosurevars(func).nonlocals))
    return found


def _post_command(bot: BotHarness, command: str, text: str) -> httpx.Response:
    fields = {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "channel_id": "CREQUESTS1",
        "user_id": REQUESTER,
        "command": command,
        "text": text,
        "api_app_id": "A0001",
        "response_url": bot.slack.response_url(),
        "trigger_id": bot.slack.issue_trigger_id(),
    }
    return bot.post_signed(urlencode(fields))


def test_the_default_slash_command_is_the_manifests(manifest: dict[str, Any]) -> None:
    assert _manifest_commands(manifest) == {Settings.model_fields["slash_command"].default}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_manifest_command_has_a_listener_and_vice_versa(
    manifest: dict[str, Any], bot: BotHarness
) -> None:
    assert bot.runtime is not None
    commands = _manifest_commands(manifest)
    assert len(commands) == len(manifest["features"]["slash_commands"]), "duplicate command"
    assert {bot.settings.slash_command} == commands

    listening = _registered(bot.runtime.app, "command")
    assert listening, "no command listener found: has Bolt renamed its builtin matchers?"
    assert {entry["command"] for entry in listening} == commands

    for command in sorted(commands):
        response = _post_command(bot, command, "help")
        assert response.status_code == 200, response.text
        assert f"{command} help" in response.json()["text"]
    unknown = _post_command(bot, "/not-in-the-manifest", "help")
    assert unknown.status_code == 404, "the app answers commands it does not register"


# Listener kinds that need something in the manifest the bot doesn't declare: shortcuts need
# features.shortcuts, external select options need interactivity.message_menu_options_url,
# functions need features.functions, message events a messages scope. (Events are declared:
# see test_every_subscribed_event_has_a_listener_and_vice_versa.)
UNDECLARED_KINDS = (
    "message_event",
    "shortcut",
    "global_shortcut",
    "message_shortcut",
    "options",
    "block_suggestion",
    "function_executed",
)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_app_listens_to_nothing_the_manifest_does_not_route(
    manifest: dict[str, Any], bot: BotHarness
) -> None:
    assert bot.runtime is not None
    assert "message_menu_options_url" not in manifest["settings"]["interactivity"]
    assert not {"shortcuts", "functions"} & set(manifest["features"])
    for kind in UNDECLARED_KINDS:
        assert _registered(bot.runtime.app, kind) == [], f"{kind} listener: update manifest.yml"
    # _registered itself works: it finds the buttons and the form submissions.
    assert _registered(bot.runtime.app, "action")
    assert _registered(bot.runtime.app, "view_submission")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_subscribed_event_has_a_listener_and_vice_versa(
    manifest: dict[str, Any], bot: BotHarness
) -> None:
    assert bot.runtime is not None
    subscriptions = manifest["settings"]["event_subscriptions"]
    assert set(subscriptions) == {"request_url", "bot_events"}, "no user events"
    events = subscriptions["bot_events"]
    assert len(events) == len(set(events)), "duplicate event"
    listening = [entry["event_type"] for entry in _registered(bot.runtime.app, "event")]
    assert listening, "no event listener found: has Bolt renamed its builtin matchers?"
    assert sorted(listening) == sorted(events) == ["app_home_opened"]
    # The Home tab that app_home_opened publishes to is enabled (else: not_enabled).
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


def test_bot_scopes_are_the_minimal_set(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]
    assert set(scopes) == {"bot"}, "no user or optional scopes"
    assert len(scopes["bot"]) == len(set(scopes["bot"])), "duplicate scope"
    assert set(scopes["bot"]) == EXPECTED_BOT_SCOPES


def test_the_usage_hint_and_the_readme_name_every_verb_of_the_help(
    manifest: dict[str, Any],
) -> None:
    from bot.slack.views.answers import usage

    command = Settings.model_fields["slash_command"].default
    verbs = set(re.findall(rf"`{re.escape(command)} ([a-z]+)", usage(command)))
    assert {"list", "status", "cancel", "audit", "connectors", "adopt", "help"} <= verbs
    hint = manifest["features"]["slash_commands"][0]["usage_hint"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for verb in sorted(verbs):
        assert re.search(rf"\b{verb}\b", hint), f"usage_hint lacks {verb}"
        assert f"{command} {verb}" in readme, f"README's command list lacks {verb}"
    for scope in EXPECTED_BOT_SCOPES:
        assert f"`{scope}`" in readme, f"README does not say why {scope} is there"
    for needed in ("`app_home_opened`", "home_tab_enabled"):
        assert needed in readme


def test_http_mode_points_slack_at_the_bots_endpoint(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is False
    assert settings["org_deploy_enabled"] is False
    assert settings["token_rotation_enabled"] is False
    urls = [
        settings["interactivity"]["request_url"],
        settings["event_subscriptions"]["request_url"],
    ]
    urls += [command["url"] for command in manifest["features"]["slash_commands"]]
    for url in urls:
        parts = urlsplit(url)
        assert parts.scheme == "https", url
        assert parts.path == SLACK_PATH, url
    assert len(set(urls)) == 1, "Bolt serves commands, events and interactivity on one path"


def test_the_bot_can_send_dms_but_nobody_can_type_to_it(manifest: dict[str, Any]) -> None:
    features = manifest["features"]
    assert features["bot_user"] == {"display_name": "llm-connector-bot", "always_online": True}
    assert features["app_home"] == {
        # chat.postMessage to a user id fails with messages_tab_disabled without this tab.
        "messages_tab_enabled": True,
        "messages_tab_read_only_enabled": True,
        # views.publish answers not_enabled without it (the app_home_opened listener).
        "home_tab_enabled": True,
    }


def _scopes_needed(call: SlackCall) -> set[str]:
    assert call.method in SCOPES_BY_METHOD, (
        f"the bot calls {call.method}: add its scope to SCOPES_BY_METHOD and to manifest.yml"
    )
    needed = set(SCOPES_BY_METHOD[call.method])
    if call.method == "chat.postMessage" and str(call.args.get("channel", "")).startswith("C"):
        # The bot never joins channels: posting in a public one needs chat:write.public.
        needed.add("chat:write.public")
    return needed


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_scopes_cover_every_web_api_call_of_a_request(
    manifest: dict[str, Any], bot: BotHarness
) -> None:
    """Drive command → form → provider switch → submit → Home → approve from Home, and collect
    the scopes used."""
    view = bot.open_form()
    view = bot.switch_provider(view, "azure_openai")
    view = bot.switch_provider(view, "openai")
    response = bot.submit_form(view, FORM_VALUES)
    assert response.status_code == 200, response.text
    reference = reference_from(response)
    assert bot.open_home(APPROVER).status_code == 200
    bot.home(APPROVER, lambda text: reference in text)
    assert bot.click_home(APPROVER, "approval.approve", reference).status_code == 200
    bot.wait_status(reference, "tested_ok")
    bot.wait_idle()
    # An approver's audit export arrives as a file in their DM.
    today = datetime.now(UTC).date().isoformat()
    assert bot.command(f"audit {today}", user=APPROVER).status_code == 200
    bot.slack.wait_for("files.completeUploadExternal")
    bot.wait_idle()
    # A policy naming user groups has them looked up (at start, and when the cache is stale).
    bot.slack.add_usergroup("S0MANIFEST", [APPROVER])
    assert bot.deps.directory.prefetch(["S0MANIFEST"]) == {}

    calls = bot.slack.calls
    methods = {call.method for call in calls}
    assert {"views.open", "views.update", "views.publish", "chat.postMessage", "chat.update"} <= (
        methods
    )
    needed = {"commands"}.union(*(_scopes_needed(call) for call in calls))
    assert needed == set(manifest["oauth_config"]["scopes"]["bot"])
