"""App Home: who opened the Home tab (and whether a publish is queued for them), and the
indexes its sections read by: a person's requests by state, the pending queue, the latest
decisions.

Revision ID: 8d2e6a41c5b3
Revises: 8c2d4e6f1a3b
Create Date: 2026-12-04 21:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8d2e6a41c5b3"
down_revision: str | None = "8c2d4e6f1a3b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "home_viewer",
        sa.Column("slack_user_id", sa.String(32), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approver", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("publish_queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publish_again", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("notice", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("slack_user_id", name=op.f("pk_home_viewer")),
    )
    op.create_index(
        "ix_connector_request_requester_status",
        "connector_request",
        ["requested_by_slack_id", "status"],
    )
    op.create_index(
        "ix_connector_request_status_created", "connector_request", ["status", "created_at"]
    )
    op.create_index(op.f("ix_approval_decision_decided_at"), "approval_decision", ["decided_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_approval_decision_decided_at"), table_name="approval_decision")
    op.drop_index("ix_connector_request_status_created", table_name="connector_request")
    op.drop_index("ix_connector_request_requester_status", table_name="connector_request")
    op.drop_table("home_viewer")
