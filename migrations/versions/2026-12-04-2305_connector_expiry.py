"""Expiry and retirement of managed connectors: the owner's warnings and the expiry claim on
the inventory, and the `completed` state of retire and extend requests.

Revision ID: 4d7f2b9c8e15
Revises: 9e3f6a1c2b47
Create Date: 2026-12-04 23:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4d7f2b9c8e15"
down_revision: str | None = "9e3f6a1c2b47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = (
    "pending",
    "approved",
    "provisioning",
    "provisioned",
    "tested_ok",
    "test_failed",
    "rejected",
    "cancelled",
    "expired",
    "failed",
    "delivered",
)
AFTER = (*BEFORE, "completed")


def _statuses(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{value}'" for value in values) + ")"


def upgrade() -> None:
    with op.batch_alter_table("managed_connector", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_expiry_warning_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("expiry_claimed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_managed_connector_state_warning", ["state", "next_expiry_warning_at"]
        )
        batch_op.create_index("ix_managed_connector_state_expires", ["state", "expires_at"])
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_connector_request_status"), type_="check")
        batch_op.create_check_constraint("status", _statuses(AFTER))


def downgrade() -> None:
    op.execute("UPDATE connector_request SET status = 'tested_ok' WHERE status = 'completed'")
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_connector_request_status"), type_="check")
        batch_op.create_check_constraint("status", _statuses(BEFORE))
    with op.batch_alter_table("managed_connector", schema=None) as batch_op:
        batch_op.drop_index("ix_managed_connector_state_expires")
        batch_op.drop_index("ix_managed_connector_state_warning")
        batch_op.drop_column("expiry_claimed_at")
        batch_op.drop_column("next_expiry_warning_at")
