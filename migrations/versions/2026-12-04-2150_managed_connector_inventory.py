"""The connector lifecycle: the inventory of managed connectors, the periodic tasks claimed
by compare-and-set (reconciliation, the digest), and a concurrency key on jobs (re-tests are
limited per target).

Revision ID: 9e3f5a7b2c41
Revises: 7c4e2a91d5b3
Create Date: 2026-12-04 21:50:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "9e3f5a7b2c41"
down_revision: str | None = "7c4e2a91d5b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = "'active', 'failing', 'drifted', 'expired', 'retired'"
TASKS = ("lifecycle.reconcile", "lifecycle.digest")


def upgrade() -> None:
    op.create_table(
        "managed_connector",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("space_id", sa.String(length=100), nullable=False),
        sa.Column("resource_id", sa.String(length=200), nullable=False),
        sa.Column("backend", sa.String(length=20), nullable=False),
        sa.Column("type_id", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("owner_slack_id", sa.String(length=32), nullable=False),
        sa.Column("approvers", sa.JSON(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("thread_channel", sa.String(length=32), nullable=True),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("last_test_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_test_ok", sa.Boolean(), nullable=True),
        sa.Column("last_test_latency_ms", sa.Integer(), nullable=True),
        sa.Column("last_test_message", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("next_test_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retest_every_seconds", sa.Integer(), nullable=False),
        sa.Column("failing_after", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settings_snapshot", sa.JSON(), nullable=True),
        sa.Column("reconciled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(f"state IN ({STATES})", name=op.f("ck_managed_connector_state")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["connector_request.id"],
            name=op.f("fk_managed_connector_request_id_connector_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_managed_connector")),
        sa.UniqueConstraint(
            "target", "space_id", "resource_id", name="uq_managed_connector_resource"
        ),
    )
    with op.batch_alter_table("managed_connector", schema=None) as batch_op:
        batch_op.create_index(
            "ix_managed_connector_state_next_test", ["state", "next_test_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_managed_connector_request_id"), ["request_id"], unique=False
        )
    scheduled = op.create_table(
        "scheduled_task",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduled_task")),
    )
    now = datetime.now(UTC)
    op.bulk_insert(scheduled, [{"name": name, "next_run_at": now} for name in TASKS])
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("concurrency_key", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("concurrency_key")
    op.drop_table("scheduled_task")
    with op.batch_alter_table("managed_connector", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_managed_connector_request_id"))
        batch_op.drop_index("ix_managed_connector_state_next_test")
    op.drop_table("managed_connector")
