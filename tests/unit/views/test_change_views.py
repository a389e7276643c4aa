"""The rotate, change and retire modals and the card's diff block, as Slack receives them,
and their submissions read back through bot.slack.forms into checked change drafts."""

from __future__ import annotations

from typing import Any

from bot.domain.changes import Current, SettingChange, parse_change, parse_rotation, rotatable
from bot.domain.enums import Notice, Provider, RequestStatus
from bot.domain.providers import PROVIDERS, provider_spec
from bot.domain.providers.spec import CONNECTOR, INFERENCE
from bot.slack import forms
from bot.slack.ids import BlockId, CallbackId
from bot.slack.metadata import ChangeFormMetadata, RetireMetadata
from bot.slack.views.approval_message import build_card_blocks
from bot.slack.views.changes import (
    build_change_view,
    build_retire_view,
    build_rotate_view,
    change_diff_blocks,
)
from bot.slack.views.common import to_dicts
from bot.slack.views.request_modal import build_submitted_view
from bot.slack.views.results import requester_message
from tests.fakes.slack_api import validate_message_blocks, validate_view
from tests.unit.domain import samples
from tests.unit.views.test_hostile_text import hostile_snapshot

REASON = "Rotating after the offboarding."


def _current(provider: Provider = Provider.OPENAI, backend: Any = CONNECTOR) -> Current:
    draft = provider_spec(provider).parse(samples.valid_values(provider)).draft
    assert draft is not None
    return Current(
        provider=provider,
        backend=backend,
        name=draft.name,
        space_id=draft.space_id,
        settings=draft.settings.model_dump(mode="json"),
    )


def _inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}


def _submitted(view: dict[str, Any], typed: dict[str, str]) -> dict[str, Any]:
    """The view as Slack sends it back: each input's initial value unless typed over."""
    values: dict[str, Any] = {}
    for block_id, block in _inputs(view).items():
        element = block["element"]
        value = typed.get(block_id, element.get("initial_value"))
        values[block_id] = {element["action_id"]: {"type": element["type"], "value": value}}
    return {**view, "state": {"values": values}}


def test_the_rotate_modal_asks_only_for_the_secrets_and_why() -> None:
    current = _current(Provider.BEDROCK)
    view = build_rotate_view(current, managed_id=12, resource_id="llm-team-abc").to_dict()
    assert view["callback_id"] == CallbackId.ROTATE_SUBMIT.value
    assert list(_inputs(view)) == ["field.access_key", "field.secret_key", "field.justification"]
    assert all("initial_value" not in b["element"] for b in _inputs(view).values())
    assert ChangeFormMetadata.model_validate_json(view["private_metadata"]) == (
        ChangeFormMetadata(managed_id=12, kind="rotate", provider="bedrock", backend="connector")
    )
    submitted = _submitted(
        view,
        {
            "field.access_key": "AKIAZZZZZZZZZZZZZZZZ",
            "field.secret_key": "s" * 40,
            "field.justification": REASON,
        },
    )
    metadata, values = forms.read_change_form(submitted)
    assert metadata is not None
    assert metadata.kind == "rotate"
    result = parse_rotation(current, values)
    assert result.ok, result.errors
    bad = parse_rotation(current, forms.read_change_form(_submitted(view, {}))[1])
    errors = forms.change_field_errors(bad.errors)
    assert set(errors) <= set(_inputs(view))
    assert "field.access_key" in errors


def test_the_change_modal_is_prefilled_and_reads_back_into_a_change() -> None:
    current = _current(Provider.OPENAI)
    view = build_change_view(current, managed_id=3, resource_id="llm-team-abc").to_dict()
    assert view["callback_id"] == CallbackId.CHANGE_SUBMIT.value
    inputs = _inputs(view)
    assert inputs["field.name"]["element"]["initial_value"] == current.name
    assert inputs["field.model"]["element"]["initial_value"] == current.settings["model"]
    assert "initial_value" not in inputs["field.api_key"]["element"]
    assert "needs the secrets again" in inputs["field.api_key"]["hint"]["text"]
    assert "field.space" not in inputs
    typed = {
        "field.model": "gpt-4o",
        "field.api_key": samples.valid_values(Provider.OPENAI)["api_key"],
        "field.justification": REASON,
    }
    _, values = forms.read_change_form(_submitted(view, typed))
    result = parse_change(current, values)
    assert result.ok, result.errors
    assert result.draft is not None
    assert result.draft.diff == (SettingChange("Model", "gpt-4.1", "gpt-4o"),)


def test_the_change_modal_of_an_endpoint_says_what_can_change() -> None:
    view = build_change_view(
        _current(Provider.ANTHROPIC, INFERENCE), managed_id=3, resource_id="llm-claude"
    ).to_dict()
    texts = [str(b) for b in view["blocks"] if b["type"] == "context"]
    assert any("only the key and the task settings" in text for text in texts)
    assert "cluster-wide" in view["blocks"][0]["text"]["text"]


def test_the_retire_confirmation_names_what_goes_and_reads_the_reason() -> None:
    view = build_retire_view(
        managed_id=9,
        name="Team GPT",
        resource_id="llm-team-abc",
        space_id="security",
        backend=CONNECTOR,
    ).to_dict()
    assert view["callback_id"] == CallbackId.RETIRE_SUBMIT.value
    assert view["submit"]["text"] == "Retire"
    assert "`llm-team-abc` in space `security`" in view["blocks"][0]["text"]["text"]
    submitted = _submitted(view, {BlockId.RETIRE_REASON.value: "  no longer needed "})
    assert forms.read_retire_form(submitted) == (RetireMetadata(managed_id=9), "no longer needed")
    assert forms.read_retire_form({"private_metadata": "{}"}) == (None, "")
    endpoint = build_retire_view(
        managed_id=9, name="x", resource_id="e", space_id="default", backend=INFERENCE
    ).to_dict()
    assert "every pipeline" in endpoint["blocks"][0]["text"]["text"]


def test_the_diff_block_shows_old_and_new_and_never_a_secret() -> None:
    diff = [SettingChange("Model", "gpt-4.1", "gpt-4o"), SettingChange("Project id", "", "p")]
    text = _text(change_diff_blocks("change", diff, resource_id="llm-x"))
    assert "*Change of an existing connector* `llm-x`" in text
    assert "• *Model*: `gpt-4.1` → `gpt-4o`" in text
    assert "• *Project id*: _(none)_ → `p`" in text
    assert "key rotation" in _text(change_diff_blocks("rotate", [], resource_id="llm-x"))
    many = [SettingChange(f"F{i}", "a", "b") for i in range(25)]
    assert "…and 5 more" in _text(change_diff_blocks("change", many, resource_id="x"))


def _text(blocks: list[Any]) -> str:
    first: dict[str, Any] = to_dicts(blocks)[0]
    return str(first["text"]["text"])


def test_the_card_the_dm_and_the_submitted_modal_say_the_lifetime() -> None:
    snapshot = hostile_snapshot(RequestStatus.PENDING)
    card = str(to_dicts(build_card_blocks(snapshot)))
    assert "*Lifetime*\\nExpires 7 days after creation" in card
    assert "expires 7 days after creation" in requester_message(snapshot, Notice.SUBMITTED)[0]
    assert "expires 7 days after creation" in str(build_submitted_view(snapshot).to_dict())
    forever = snapshot.model_copy(update={"lifetime_days": None})
    assert "Lifetime" not in str(to_dicts(build_card_blocks(forever)))
    assert "expires" not in requester_message(forever, Notice.SUBMITTED)[0]


def test_every_change_view_passes_slacks_block_kit_rules() -> None:
    for spec in PROVIDERS.values():
        if not spec.provisions:
            continue
        for backend in sorted(spec.supported_backends):
            current = _current(spec.key, backend)
            views = [build_change_view(current, managed_id=1, resource_id="llm-x")]
            if rotatable(spec):
                views.append(build_rotate_view(current, managed_id=1, resource_id="llm-x"))
            views.append(
                build_retire_view(
                    managed_id=1,
                    name="n" * 200,
                    resource_id="llm-x",
                    space_id="s",
                    backend=backend,
                )
            )
            for view in views:
                assert validate_view(view.to_dict()) == [], (spec.key, backend)
    many = [SettingChange("F" * 80, "a" * 500, "b" * 500) for _ in range(25)]
    assert (
        validate_message_blocks(to_dicts(change_diff_blocks("change", many, resource_id="x"))) == []
    )
