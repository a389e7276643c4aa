"""The audit trail names what each event concerns (target, space, provider, model) and is
indexed by time for the export; requests are indexed by the id of what they provisioned
(`list` looks them up in any space).

Rows stored before this keep NULL in the new columns.

Revision ID: 8c2d4e6f1a3b
Revises: 8c2d4e6f1a35
Create Date: 2026-12-04 21:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8c2d4e6f1a3b"
down_revision: str | None = "8c2d4e6f1a35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("target", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("space_id", sa.String(100), nullable=True))
        batch_op.add_column(sa.Column("provider", sa.String(40), nullable=True))
        batch_op.add_column(sa.Column("model", sa.String(200), nullable=True))
        batch_op.create_index("ix_audit_event_created_at", ["created_at", "id"], unique=False)
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.create_index(
            "ix_connector_request_kibana_connector_id", ["kibana_connector_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.drop_index("ix_connector_request_kibana_connector_id")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_created_at")
        batch_op.drop_column("model")
        batch_op.drop_column("provider")
        batch_op.drop_column("space_id")
        batch_op.drop_column("target")
