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
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow
from bot.domain.enums import Decision, JobStatus, RequestStatus


def _in(column: str, values: list[str]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class ConnectorRequest(Base):
    __tablename__ = "connector_request"
    __table_args__ = (
        CheckConstraint(_in("status", [s.value for s in RequestStatus]), name="status"),
        UniqueConstraint("space_id", "kibana_connector_id", name="uq_connector_request_connector"),
        Index("ix_connector_request_status_expires", "status", "expires_at"),
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
    expires_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # The rule that matched at submit (its index in the policy) and what decides the request
    # under it (label, approvers, approvals, break_glass, auto_approve): a later policy change
    # does not move a pending request. NULL on rows stored before rules existed.
    rule_index: Mapped[int | None] = mapped_column(Integer)
    approval_rule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Set when the policy approved it without a person (the per-requester daily limit).
    auto_approved_at: Mapped[datetime | None]


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
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    break_glass: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("connector_request.id"), index=True)
    actor_slack_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


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
