"""A change to an existing connector or endpoint, pure: which fields each modal asks for, the
typed draft a rotate or change submission becomes (checked like a new request), the diff of
its non-secret settings, and what to send so nothing else is lost.

A rotation asks only for the secret fields; a change asks for the connector name and the
non-secret settings (prefilled), and for the secrets again: Kibana validates the full secrets
on every update and the bot erased them once the connector existed. On an Elasticsearch
endpoint only the key and the task settings can change in place; a change of anything else is
refused under its field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from bot.domain.enums import Provider
from bot.domain.fields import FieldKind, FieldSpec, FormValues
from bot.domain.providers import provider_spec
from bot.domain.providers.spec import (
    INFERENCE,
    BackendKey,
    ConnectorPayload,
    InferencePayload,
    ProviderDraft,
    ProviderSpec,
)

ChangeKind = Literal["rotate", "change"]
NAME_KEY = "name"
REASON_KEY = "justification"

CHANGE_NAME_FIELD = FieldSpec(
    key=NAME_KEY,
    label="Connector name",
    hint="How the connector appears in Kibana.",
    max_length=80,
)
CHANGE_REASON_FIELD = FieldSpec(
    key=REASON_KEY,
    label="Why the change?",
    hint="Approvers read this (e.g. the old key leaked, a newer model).",
    kind=FieldKind.MULTILINE,
    max_length=1000,
)
SECRETS_AGAIN_HINT = (
    "Kibana needs the secrets again with every change (the bot erased them once the connector "
    "existed). Encrypted until the change is made, then erased; never shown."
)


def secret_fields(spec: ProviderSpec[Any, Any]) -> tuple[FieldSpec, ...]:
    """The provider's secret fields: all a rotation asks for."""
    return tuple(f for f in spec.fields if f.secret)


def setting_fields(spec: ProviderSpec[Any, Any]) -> tuple[FieldSpec, ...]:
    """The provider's non-secret settings: what a change can change (besides the name)."""
    return tuple(f for f in spec.fields if not f.secret)


def rotatable(spec: ProviderSpec[Any, Any]) -> bool:
    """Whether there is a key to rotate (Elastic Inference Service has none)."""
    return bool(secret_fields(spec))


def rotate_fields(spec: ProviderSpec[Any, Any]) -> tuple[FieldSpec, ...]:
    """The rotate modal's inputs, in order."""
    return (*secret_fields(spec), CHANGE_REASON_FIELD)


def change_fields(spec: ProviderSpec[Any, Any]) -> tuple[FieldSpec, ...]:
    """The change modal's inputs, in order (the secrets carry the "again" hint)."""
    again = tuple(
        replace(f, hint=f"{f.hint} {SECRETS_AGAIN_HINT}"[:2000]) for f in secret_fields(spec)
    )
    return (CHANGE_NAME_FIELD, *setting_fields(spec), *again, CHANGE_REASON_FIELD)


def form_value(value: Any) -> str:
    """A stored setting as the form shows it (a ticked checkbox is "true", unset is "")."""
    if value is None or value is False:
        return ""
    if value is True:
        return "true"
    return str(value)


def settings_values(spec: ProviderSpec[Any, Any], settings: Mapping[str, Any]) -> FormValues:
    """The stored non-secret settings as form values, by field key (secrets never)."""
    return {f.key: form_value(settings.get(f.key)) for f in setting_fields(spec)}


@dataclass(frozen=True)
class Current:
    """What an existing connector has, as the bot stored it (never its secrets)."""

    provider: Provider
    backend: BackendKey
    name: str
    space_id: str
    settings: Mapping[str, Any]

    @property
    def spec(self) -> ProviderSpec[Any, Any]:
        return provider_spec(self.provider)


@dataclass(frozen=True)
class SettingChange:
    """One changed non-secret setting: its label and its values as shown in the form."""

    label: str
    old: str
    new: str


def settings_diff(
    spec: ProviderSpec[Any, Any], old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[SettingChange]:
    """What differs between two sets of non-secret settings (by field key; ``name`` is the
    connector name), in form order. Secret fields, and keys that are no known non-secret
    field (a misspelt secret is still a secret), are never part of it."""
    changes: list[SettingChange] = []
    for spec_field in (CHANGE_NAME_FIELD, *setting_fields(spec)):
        before, after = form_value(old.get(spec_field.key)), form_value(new.get(spec_field.key))
        if before.strip() != after.strip():
            changes.append(SettingChange(spec_field.label, before, after))
    return changes


@dataclass(frozen=True)
class ChangeDraft:
    """A checked rotate or change: the whole new draft (new secrets included), what the
    connector had, and the diff of the non-secret settings for the card."""

    kind: ChangeKind
    backend: BackendKey
    draft: ProviderDraft[Any, Any]
    before_name: str
    before_settings: Mapping[str, Any]
    diff: tuple[SettingChange, ...]

    @property
    def reason(self) -> str:
        return self.draft.justification

    def connector_payload(self) -> ConnectorPayload:
        """The update's config (an optional setting cleared in the form removes its key) and
        the full secrets; the back-end merges the config over what Kibana has."""
        spec = provider_spec(self.draft.provider)
        after = spec.connector_payload(self.draft)
        before = spec.connector_payload(self.before_draft())
        return ConnectorPayload(
            type_id=after.type_id,
            config=config_changes(before.config, after.config),
            secrets=after.secrets,
        )

    def inference_payload(self) -> InferencePayload:
        """The endpoint's settings with the new secrets (only those and the task settings
        change through `_update`)."""
        return provider_spec(self.draft.provider).inference_payload(self.draft)

    def rollback(self) -> ChangeDraft:
        """The change that puts the old non-secret settings back, with the same secrets
        (offered when the changed connector fails its test)."""
        before = self.before_draft()
        return ChangeDraft(
            kind="change",
            backend=self.backend,
            draft=before,
            before_name=self.draft.name,
            before_settings=self.draft.settings.model_dump(mode="json"),
            diff=tuple(SettingChange(c.label, c.new, c.old) for c in self.diff),
        )

    def before_draft(self) -> ProviderDraft[Any, Any]:
        """The draft as it was before the change, with the new secrets."""
        return provider_spec(self.draft.provider).restore(
            name=self.before_name,
            space_id=self.draft.space_id,
            justification=self.draft.justification,
            settings=self.before_settings,
            secrets=self.draft.secrets.reveal(),
        )


@dataclass(frozen=True)
class ChangeResult:
    """The checked change, or the errors by field key of the modal that was submitted."""

    draft: ChangeDraft | None
    errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_rotation(current: Current, values: FormValues) -> ChangeResult:
    """A rotate submission (the secret fields and the reason) over the stored settings,
    checked as a new request is. Raises ValueError for a provider with nothing to rotate."""
    spec = current.spec
    secrets = secret_fields(spec)
    if not secrets:
        raise ValueError(f"{spec.label} has no secret to rotate")
    form = {
        **settings_values(spec, current.settings),
        NAME_KEY: current.name,
        "space": current.space_id,
        **{f.key: values.get(f.key, "") for f in secrets},
        REASON_KEY: values.get(REASON_KEY, ""),
    }
    asked = {f.key for f in rotate_fields(spec)}
    result = spec.parse(form)
    errors = {key: message for key, message in result.errors.items() if key in asked}
    stale = [(key, message) for key, message in result.errors.items() if key not in asked]
    if stale:
        label = _label(spec, stale[0][0])
        errors.setdefault(
            secrets[0].key,
            f"The connector's stored settings no longer pass the bot's checks ({label}: "
            f"{stale[0][1]}): ask for a change instead of a rotation.",
        )
    if not errors and not any(values.get(f.key, "").strip() for f in secrets):
        errors[secrets[0].key] = f"Paste the new {secrets[0].label.lower()}."
    if errors or result.draft is None:
        return ChangeResult(None, errors, list(result.warnings))
    return ChangeResult(_draft("rotate", current, result.draft), {}, list(result.warnings))


def parse_change(current: Current, values: FormValues) -> ChangeResult:
    """A change submission (name, settings, secrets again, reason), checked as a new request
    is; nothing changed, or a setting an Elasticsearch endpoint cannot change, is refused
    under its field."""
    spec = current.spec
    form = {
        **{f.key: values.get(f.key, "") for f in change_fields(spec)},
        "space": current.space_id,
    }
    result = spec.parse(form)
    if result.draft is None:
        return ChangeResult(None, dict(result.errors), list(result.warnings))
    change = _draft("change", current, result.draft)
    if not change.diff:
        first = setting_fields(spec)[0].key if setting_fields(spec) else NAME_KEY
        message = "Nothing changed: edit a setting (to replace only the key, rotate it)."
        return ChangeResult(None, {first: message}, list(result.warnings))
    if current.backend == INFERENCE:
        fixed = _fixed_on_endpoint(current, change)
        if fixed:
            return ChangeResult(None, fixed, list(result.warnings))
    return ChangeResult(change, {}, list(result.warnings))


def _draft(kind: ChangeKind, current: Current, draft: ProviderDraft[Any, Any]) -> ChangeDraft:
    spec = current.spec
    old = {**current.settings, NAME_KEY: current.name}
    new = {**draft.settings.model_dump(mode="json"), NAME_KEY: draft.name}
    return ChangeDraft(
        kind=kind,
        backend=current.backend,
        draft=draft,
        before_name=current.name,
        before_settings=dict(current.settings),
        diff=tuple(settings_diff(spec, old, new)),
    )


def _fixed_on_endpoint(current: Current, change: ChangeDraft) -> dict[str, str]:
    """The changed fields that would change the endpoint's service settings (which
    Elasticsearch keeps as they were on `_update`), by field key."""
    spec = current.spec
    secrets = change.draft.secrets.reveal()
    before = _service_settings(spec.inference_payload(change.before_draft()))
    after = change.draft.settings.model_dump(mode="json")
    errors: dict[str, str] = {}
    for spec_field in setting_fields(spec):
        if form_value(after.get(spec_field.key)) == form_value(
            current.settings.get(spec_field.key)
        ):
            continue
        one = {**current.settings, spec_field.key: after.get(spec_field.key)}
        draft = spec.restore(
            name=change.draft.name,
            space_id=current.space_id,
            justification=change.draft.justification,
            settings=one,
            secrets=secrets,
        )
        if _service_settings(spec.inference_payload(draft)) != before:
            errors[spec_field.key] = (
                f"An Elasticsearch inference endpoint keeps its {spec_field.label.lower()} "
                "for good (only the key and the task settings change in place): retire it "
                "and request a new one."
            )
    return errors


def _service_settings(payload: InferencePayload) -> dict[str, Any]:
    secret = payload.secret_settings
    return {k: v for k, v in payload.service_settings.items() if k not in secret}


def _label(spec: ProviderSpec[Any, Any], key: str) -> str:
    found = spec.field(key)
    return found.label if found is not None else key


def config_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """``after`` with ``None`` for each key ``before`` had and ``after`` dropped (an optional
    field cleared in the change form), so a merge removes it instead of keeping it."""
    changes = dict(after)
    for key in before:
        changes.setdefault(key, None)
    return changes


def merge_config(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """What the remote side has, with ``changes`` over it; a ``None`` change removes the key.
    Keys the bot does not know (set by hand, or server defaults) are kept as they are."""
    merged = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
