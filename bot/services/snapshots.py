"""Turn stored requests into the snapshots that Slack renders."""

from __future__ import annotations

from bot.db.models import ConnectorRequest
from bot.domain.changes import NAME_KEY, SettingChange, settings_diff
from bot.domain.enums import Provider, RequestKind, RequestStatus
from bot.domain.policy.model import PolicyDocument
from bot.domain.providers import provider_spec
from bot.domain.schemas import Outcome, RequestSnapshot


def target_label(governance: PolicyDocument | None, key: str) -> str | None:
    """How Slack names a target: its label or key when people choose among several, else
    None (one target: nothing to say)."""
    if governance is None or len(governance.targets) < 2:
        return None
    target = governance.target(key)
    return target.display if target is not None else key


def to_snapshot(row: ConnectorRequest, governance: PolicyDocument | None) -> RequestSnapshot:
    """The request as Slack shows it; with ``governance`` it names its target when there are
    several."""
    provider = Provider(row.provider)
    before = row.change_before or {}
    return RequestSnapshot(
        id=row.id,
        reference=row.reference,
        status=RequestStatus(row.status),
        provider=provider,
        provider_label=provider_spec(provider).label,
        connector_type_id=row.connector_type_id,
        connector_name=row.connector_name,
        space_id=row.space_id,
        kibana_connector_id=row.kibana_connector_id,
        config=dict(row.config),
        justification=row.justification,
        warnings=list(row.warnings or []),
        requested_by=row.requested_by_slack_id,
        card_channel=row.card_channel,
        card_ts=row.card_ts,
        decided_by=row.decided_by_slack_id,
        decided_at=row.decided_at,
        decision_reason=row.decision_reason,
        outcome=Outcome.model_validate(row.result) if row.result else None,
        failure_message=row.failure_message,
        created_at=row.created_at,
        finished_at=row.finished_at,
        backend=row.backend or "connector",
        backend_reason=row.backend_reason,
        lifetime_days=row.lifetime_days,
        kind=RequestKind(row.kind),
        managed_id=row.managed_id,
        change_resource_id=str(before.get("resource_id") or "") or None,
        change_diff=_change_diff(provider, row) if before else (),
        target=row.target,
        target_label=target_label(governance, row.target),
        approval_rule=dict(row.approval_rule) if row.approval_rule else None,
        auto_approved=row.auto_approved_at is not None,
    )


def _change_diff(provider: Provider, row: ConnectorRequest) -> tuple[SettingChange, ...]:
    """What a change changes in the non-secret settings (a rotation: nothing)."""
    if row.kind != RequestKind.CHANGE.value:
        return ()
    before = row.change_before or {}
    old = {**(before.get("settings") or {}), NAME_KEY: before.get(NAME_KEY)}
    new = {**(row.settings or {}), NAME_KEY: row.connector_name}
    return tuple(settings_diff(provider_spec(provider), old, new))
