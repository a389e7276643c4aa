"""Approvals by policy: the rule that decides a request, N-of-M votes, auto-approvals.

``connector_request`` keeps the index of the rule that matched at submit and a snapshot of
what decides it (``approval_rule``), so a policy change does not move a pending request, and
stamps ``auto_approved_at`` (indexed with the requester: the per-day limit). Rows stored before
this have neither: the rule that matches them now decides them.

``approval_decision`` becomes one vote per (request, approver) instead of one per request, and
says whether a vote was a break-glass self-approval.

Revision ID: 7c4e2a9b1d35
Revises: 9e3f5a7b2c41
Create Date: 2026-12-04 21:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c4e2a9b1d35"
down_revision: str | None = "9e3f5a7b2c41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rule_index", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("approval_rule", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("auto_approved_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_connector_request_auto_approved",
            ["requested_by_slack_id", "auto_approved_at"],
            unique=False,
        )
    with op.batch_alter_table("approval_decision", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("break_glass", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.drop_constraint("uq_approval_decision_request_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_approval_decision_vote", ["request_id", "decided_by_slack_id"]
        )
        batch_op.create_index("ix_approval_decision_request_id", ["request_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("approval_decision", schema=None) as batch_op:
        batch_op.drop_index("ix_approval_decision_request_id")
        batch_op.drop_constraint("uq_approval_decision_vote", type_="unique")
        # Keep the first vote of each request: the old table allowed one decision per request.
        batch_op.drop_column("break_glass")
    op.execute(
        "DELETE FROM approval_decision WHERE id NOT IN "
        "(SELECT MIN(id) FROM approval_decision GROUP BY request_id)"
    )
    with op.batch_alter_table("approval_decision", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_approval_decision_request_id", ["request_id"])
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.drop_index("ix_connector_request_auto_approved")
        batch_op.drop_column("auto_approved_at")
        batch_op.drop_column("approval_rule")
        batch_op.drop_column("rule_index")
