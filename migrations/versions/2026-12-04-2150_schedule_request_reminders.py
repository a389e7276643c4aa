"""Schedule reminders, escalation and per-rule expiry of pending requests.

Each request keeps the reminder plan it was submitted under, the next moment a reminder or
its escalation is due (indexed with the status, so the sweep finds due ones with one query),
how many reminders were sent and when it escalated. ``expires_at`` becomes nullable: NULL
means the request never expires. Rows stored before this have no plan and are never nudged.

Revision ID: 7c4e2a91d5b3
Revises: 8d2e6a41c5b3
Create Date: 2026-12-04 21:50:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "7c4e2a91d5b3"
down_revision: str | None = "8d2e6a41c5b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminder_plan", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("next_nudge_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("reminders_sent", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=True)
        batch_op.create_index(
            "ix_connector_request_status_nudge", ["status", "next_nudge_at"], unique=False
        )


def downgrade() -> None:
    # A request that never expires keeps never expiring, as far as a NOT NULL column allows.
    op.execute(
        sa.text(
            "UPDATE connector_request SET expires_at = :far WHERE expires_at IS NULL"
        ).bindparams(
            sa.bindparam(
                "far", datetime(9999, 12, 31, tzinfo=UTC), type_=sa.DateTime(timezone=True)
            )
        )
    )
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.drop_index("ix_connector_request_status_nudge")
        batch_op.alter_column(
            "expires_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("reminders_sent")
        batch_op.drop_column("next_nudge_at")
        batch_op.drop_column("reminder_plan")
