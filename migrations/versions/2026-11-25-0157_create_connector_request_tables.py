"""create connector request tables

Revision ID: 6f466b152078
Revises:
Create Date: 2026-11-25 01:57:32.014100
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6f466b152078"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connector_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("connector_type_id", sa.String(length=40), nullable=True),
        sa.Column("connector_name", sa.String(length=200), nullable=False),
        sa.Column("space_id", sa.String(length=100), nullable=False),
        sa.Column("kibana_connector_id", sa.String(length=36), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("secrets_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("requested_by_slack_id", sa.String(length=32), nullable=False),
        sa.Column("card_channel", sa.String(length=32), nullable=True),
        sa.Column("card_ts", sa.String(length=32), nullable=True),
        sa.Column("decided_by_slack_id", sa.String(length=32), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'provisioning', 'provisioned', 'tested_ok', 'test_failed', 'rejected', 'cancelled', 'expired', 'failed', 'delivered')",
            name=op.f("ck_connector_request_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_request")),
        sa.UniqueConstraint("reference", name=op.f("uq_connector_request_reference")),
        sa.UniqueConstraint(
            "space_id", "kibana_connector_id", name="uq_connector_request_connector"
        ),
    )
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.create_index(
            "ix_connector_request_status_expires", ["status", "expires_at"], unique=False
        )

    op.create_table(
        "approval_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("decided_by_slack_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision IN ('approved', 'rejected')", name=op.f("ck_approval_decision_decision")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["connector_request.id"],
            name=op.f("fk_approval_decision_request_id_connector_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_decision")),
        sa.UniqueConstraint("request_id", name=op.f("uq_approval_decision_request_id")),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("actor_slack_id", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["connector_request.id"],
            name=op.f("fk_audit_event_request_id_connector_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_request_id"), ["request_id"], unique=False)

    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'done', 'dead')", name=op.f("ck_job_status")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["connector_request.id"],
            name=op.f("fk_job_request_id_connector_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index("ix_job_due", ["status", "run_after"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_request_id"), ["request_id"], unique=False)

    op.create_table(
        "provisioning_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(length=20), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["connector_request.id"],
            name=op.f("fk_provisioning_attempt_request_id_connector_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisioning_attempt")),
    )
    with op.batch_alter_table("provisioning_attempt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provisioning_attempt_request_id"), ["request_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("provisioning_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provisioning_attempt_request_id"))

    op.drop_table("provisioning_attempt")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_request_id"))
        batch_op.drop_index("ix_job_due")

    op.drop_table("job")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_request_id"))

    op.drop_table("audit_event")
    op.drop_table("approval_decision")
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.drop_index("ix_connector_request_status_expires")

    op.drop_table("connector_request")
