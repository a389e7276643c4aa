"""The tables: requests, decisions, the audit trail, Kibana attempts and the work queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from bot.db.base import Base, utcnow
from bot.domain.enums import Decision, JobStatus, RequestKind, RequestStatus
from bot.domain.lifecycle import ManagedState


def _in(column: str, values: list[str]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class ConnectorRequest(Base):
    __tablename__ = "connector_request"
    __table_args__ = (
        CheckConstraint(_in("status", [s.value for s in RequestStatus]), name="status"),
        CheckConstraint(_in("kind", [k.value for k in RequestKind]), name="kind"),
        UniqueConstraint(
            "target", "space_id", "kibana_connector_id", name="uq_connector_request_connector"
        ),
        Index("ix_connector_request_status_expires", "status", "expires_at"),
        # `list` marks the listed connectors the bot made: looked up by id, in any space.
        Index("ix_connector_request_kibana_connector_id", "kibana_connector_id"),
        # App Home: a person's own requests by state, and the pending queue oldest first.
        Index("ix_connector_request_requester_status", "requested_by_slack_id", "status"),
        Index("ix_connector_request_status_created", "status", "created_at"),
        Index("ix_connector_request_status_nudge", "status", "next_nudge_at"),
        Index("ix_connector_request_auto_approved", "requested_by_slack_id", "auto_approved_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(40))
    connector_type_id: Mapped[str | None] = mapped_column(String(40))
    connector_name: Mapped[str] = mapped_column(String(200))
    space_id: Mapped[str] = mapped_column(String(100))
    kibana_connector_id: Mapped[str | None] = mapped_column(String(36))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The provider draft's non-secret settings (NULL on rows stored before it was kept).
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Where the request is provisioned ("connector" or "inference") and why it was chosen
    # (NULL reason: stored before back-ends were chosen, or no Elasticsearch configured).
    backend: Mapped[str] = mapped_column(
        String(20), default="connector", server_default="connector"
    )
    backend_reason: Mapped[str | None] = mapped_column(Text)
    # The policy's target (Kibana deployment) the request is for; "default" without a file.
    target: Mapped[str] = mapped_column(String(100), default="default", server_default="default")
    secrets_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    justification: Mapped[str] = mapped_column(Text)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    requested_by_slack_id: Mapped[str] = mapped_column(String(32))
    card_channel: Mapped[str | None] = mapped_column(String(32))
    card_ts: Mapped[str | None] = mapped_column(String(32))
    decided_by_slack_id: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    failure_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # NULL: the request never expires (its rule's expire_after is unset).
    expires_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Days the connector lives after creation (the form's Lifetime); NULL: no expiry.
    lifetime_days: Mapped[int | None] = mapped_column(Integer)
    # What it asks for (RequestKind) and, for a change, the inventory row it changes (no
    # foreign key: managed_connector already points here, and a cycle would order nothing).
    kind: Mapped[str] = mapped_column(String(20), default="create", server_default="create")
    managed_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # Reminders and escalation (bot.domain.policy.reminders): the plan stored at submission,
    # the next moment one is due (NULL: none), how many reminders were sent, when it escalated.
    reminder_plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    next_nudge_at: Mapped[datetime | None]
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalated_at: Mapped[datetime | None]
    # The rule that matched at submit (its index in the policy) and what decides the request
    # under it (label, approvers, approvals, break_glass, auto_approve): a later policy change
    # does not move a pending request. NULL on rows stored before rules existed.
    rule_index: Mapped[int | None] = mapped_column(Integer)
    approval_rule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Set when the policy approved it without a person (the per-requester daily limit).
    auto_approved_at: Mapped[datetime | None]
    # A rotate or change: the connector as it was (name, form settings, resource id), for the
    # card's diff and the rollback; and when a rollback of the failed change was claimed.
    change_before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rollback_at: Mapped[datetime | None]


class ApprovalDecision(Base):
    __tablename__ = "approval_decision"
    __table_args__ = (
        CheckConstraint(_in("decision", [d.value for d in Decision]), name="decision"),
        # One vote per approver and request, whatever races happen above it.
        UniqueConstraint("request_id", "decided_by_slack_id", name="uq_approval_decision_vote"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("connector_request.id"), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    decided_by_slack_id: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    break_glass: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AuditEvent(Base):
    """One event of the audit trail. Append-only: nothing in the bot updates or deletes it."""

    __tablename__ = "audit_event"
    __table_args__ = (
        # The export finds a time range's ids here (an index-only scan), then reads by id;
        # the per-request history reads by request_id.
        Index("ix_audit_event_created_at", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("connector_request.id"), index=True)
    actor_slack_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What the event concerns (from the request row when there is one; NULL on older rows).
    target: Mapped[str | None] = mapped_column(String(64))
    space_id: Mapped[str | None] = mapped_column(String(100))
    provider: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(200))


class ProvisioningAttempt(Base):
    __tablename__ = "provisioning_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("connector_request.id"), index=True)
    operation: Mapped[str] = mapped_column(String(20))
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(Integer)
    http_status: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(20))
    message: Mapped[str | None] = mapped_column(Text)


class Job(Base):
    """Work to do after Slack was answered; leased by one worker at a time."""

    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint(_in("status", [s.value for s in JobStatus]), name="status"),
        Index("ix_job_due", "status", "run_after"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("connector_request.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default=JobStatus.QUEUED.value)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # Jobs sharing a key are limited in how many run at once (lifecycle: one key per target).
    concurrency_key: Mapped[str | None] = mapped_column(String(100))


class ManagedConnector(Base):
    """A connector or inference endpoint in the bot's inventory (created by it, or adopted)."""

    __tablename__ = "managed_connector"
    __table_args__ = (
        CheckConstraint(_in("state", [s.value for s in ManagedState]), name="state"),
        UniqueConstraint("target", "space_id", "resource_id", name="uq_managed_connector_resource"),
        Index("ix_managed_connector_state_next_test", "state", "next_test_at"),
        # App Home: a person's own connectors by state.
        Index("ix_managed_connector_owner_state", "owner_slack_id", "state"),
        Index("ix_managed_connector_state_warning", "state", "next_expiry_warning_at"),
        Index("ix_managed_connector_state_expires", "state", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(String(64))
    space_id: Mapped[str] = mapped_column(String(100))
    resource_id: Mapped[str] = mapped_column(String(200))  # connector id or inference id
    backend: Mapped[str] = mapped_column(String(20))  # "connector" or "inference"
    type_id: Mapped[str] = mapped_column(String(60))  # connector type, or inference service
    name: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(200))
    owner_slack_id: Mapped[str] = mapped_column(String(32))
    approvers: Mapped[list[str]] = mapped_column(JSON, default=list)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("connector_request.id"), index=True)
    thread_channel: Mapped[str | None] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(20), default=ManagedState.ACTIVE.value)
    state_reason: Mapped[str | None] = mapped_column(Text)
    last_test_at: Mapped[datetime | None]
    last_test_ok: Mapped[bool | None]
    last_test_latency_ms: Mapped[int | None] = mapped_column(Integer)
    last_test_message: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    next_test_at: Mapped[datetime | None]
    # The effective lifecycle settings when the row was made (a policy rule may override).
    retest_every_seconds: Mapped[int] = mapped_column(Integer)
    failing_after: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime | None]
    # The non-secret settings as last seen in Kibana/Elasticsearch: the drift baseline.
    settings_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reconciled_at: Mapped[datetime | None]
    # Bumped by every write: the compare-and-set token of read-then-update use cases.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The form settings (and name) of the last change applied; NULL: the creating request's.
    current_settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Expiry (bot.domain.expiry): the next warning to its owner (NULL: none left), claimed by
    # compare-and-set; set when the sweep queued its deletion at expires_at (NULL: not yet).
    next_expiry_warning_at: Mapped[datetime | None]
    expiry_claimed_at: Mapped[datetime | None]


class ScheduledTask(Base):
    """A periodic task (reconciliation, the digest) claimed by compare-and-set of next_run_at."""

    __tablename__ = "scheduled_task"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_run_at: Mapped[datetime]
    last_run_at: Mapped[datetime | None]


class AppendOnlyError(RuntimeError):
    """Something tried to change or delete an audit event."""


@event.listens_for(Session, "before_flush")
def _audit_rows_are_never_changed(session: Session, _context: Any, _instances: Any) -> None:
    for row in session.deleted:
        if isinstance(row, AuditEvent):
            raise AppendOnlyError("audit events are append-only: one was deleted")
    for row in session.dirty:
        if isinstance(row, AuditEvent) and session.is_modified(row):
            raise AppendOnlyError("audit events are append-only: one was changed")


@event.listens_for(Session, "do_orm_execute")
def _no_bulk_audit_changes(state: ORMExecuteState) -> None:
    mapper = state.bind_mapper
    if (state.is_update or state.is_delete) and mapper is not None and mapper.class_ is AuditEvent:
        raise AppendOnlyError("audit events are append-only: UPDATE or DELETE refused")


class HomeViewer(Base):
    """Someone who opened the bot's Home tab: only they get it republished when things change.

    ``publish_queued_at`` is set while a publish job for them is queued or running, so a burst
    of changes publishes once and two publishes of one Home never race (an older view landing
    last); ``publish_again`` says something changed since that job read the database.
    ``notice`` is shown at the top of their next Home (e.g. a refused Home click).
    """

    __tablename__ = "home_viewer"

    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    opened_at: Mapped[datetime]
    approver: Mapped[bool] = mapped_column(default=False, server_default=false())
    publish_queued_at: Mapped[datetime | None]
    publish_again: Mapped[bool] = mapped_column(default=False, server_default=false())
    notice: Mapped[str | None] = mapped_column(Text)
