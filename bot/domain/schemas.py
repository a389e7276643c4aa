"""Validated values that cross layers: what is shown about a request and how it ended."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from bot.domain.changes import SettingChange
from bot.domain.enums import Provider, RequestKind, RequestStatus
from bot.domain.lifecycle import ManagedSummary
from bot.domain.streaming_check import SecondCheckResult
from bot.domain.testing import TestReading


class Outcome(BaseModel):
    """How provisioning or the connector test ended, for the results messages."""

    stage: Literal["create", "test"]
    ok: bool
    duration_ms: int | None = None
    reading: TestReading | None = None
    message: str | None = None
    service_message: str | None = None
    http_status: int | None = None
    unreachable: bool = False
    hint: str | None = None
    second_check: SecondCheckResult | None = None


class KibanaRetrying(BaseModel):
    """A Kibana step failed for a transient reason; the bot keeps trying until ``until``."""

    model_config = ConfigDict(frozen=True)

    stage: Literal["create", "test"]
    reason: str
    until: datetime | None = None


class AuditEntry(BaseModel):
    """One line of a request's history."""

    model_config = ConfigDict(frozen=True)

    action: str
    actor: str | None
    at: datetime


class ApprovalProgress(BaseModel):
    """Where a pending request's approvals stand, for its card."""

    model_config = ConfigDict(frozen=True)

    needed: int
    approved_by: tuple[str, ...] = ()
    unresolved: tuple[tuple[str, str], ...] = ()  # (user-group id, Slack's error)


class RequestSnapshot(BaseModel):
    """Everything Slack shows about a request. It never holds a secret."""

    model_config = ConfigDict(frozen=True)

    id: int
    reference: str
    status: RequestStatus
    provider: Provider
    provider_label: str
    connector_type_id: str | None
    connector_name: str
    space_id: str
    kibana_connector_id: str | None
    config: dict[str, Any]
    justification: str
    warnings: list[str]
    requested_by: str
    card_channel: str | None
    card_ts: str | None
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    outcome: Outcome | None
    failure_message: str | None
    created_at: datetime
    finished_at: datetime | None
    backend: str = "connector"  # "connector" or "inference"
    backend_reason: str | None = None  # why; None when there was no choice to make
    lifetime_days: int | None = None  # the connector's lifetime after creation; None: no expiry
    kind: RequestKind = RequestKind.CREATE  # a new connector, or a change to a managed one
    managed_id: int | None = None  # the inventory row a change is for
    # A rotate or change: the id of the connector it changes, and its non-secret diff.
    change_resource_id: str | None = None
    change_diff: tuple[SettingChange, ...] = ()
    # The inventory row a created connector became (its outcome message shows its buttons).
    managed: ManagedSummary | None = None
    target: str = "default"  # the policy's target key
    # How Slack names the target (its label or key); None when there is only one target.
    target_label: str | None = None
    # The rule that decides it, as stored at submit (None: stored before rules were kept).
    approval_rule: dict[str, Any] | None = None
    auto_approved: bool = False  # approved by the policy itself (auto_approve)
    progress: ApprovalProgress | None = None  # filled for the card only

    @property
    def rule_label(self) -> str | None:
        label = (self.approval_rule or {}).get("label")
        return str(label) if label else None

    @property
    def break_glass(self) -> bool:
        """Approved by its own requester: only break-glass allows that."""
        return self.decided_by is not None and self.decided_by == self.requested_by

    @property
    def model(self) -> str | None:
        value = self.config.get("defaultModel")
        if not value and self.backend == "inference":
            config = self.config
            value = config.get("model_id") or config.get("model") or config.get("deployment_id")
        return str(value) if value else None

    @property
    def inference_service(self) -> str | None:
        """The Elasticsearch inference service of an inference request."""
        value = self.config.get("service") if self.backend == "inference" else None
        return str(value) if value else None

    @property
    def api_url(self) -> str | None:
        value = self.config.get("apiUrl")
        if not value and self.backend == "inference":
            value = self.config.get("url")
        return str(value) if value else None
