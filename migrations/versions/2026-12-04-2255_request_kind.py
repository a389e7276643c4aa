"""Say what a request asks for: a new connector, or a change to one the bot manages.

`kind` is create (every row stored before this), rotate, change, retire or extend;
`managed_id` names the inventory row a change is for.

Revision ID: 5b8d1e4c7a20
Revises: 7c4e2a9b1d35
Create Date: 2026-12-04 22:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b8d1e4c7a20"
down_revision: str | None = "7c4e2a9b1d35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("create", "rotate", "change", "retire", "extend")


def upgrade() -> None:
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), nullable=False, server_default="create")
        )
        batch_op.add_column(sa.Column("managed_id", sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            "kind", "kind IN (" + ", ".join(f"'{kind}'" for kind in KINDS) + ")"
        )
        batch_op.create_index("ix_connector_request_managed_id", ["managed_id"])


def downgrade() -> None:
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.drop_index("ix_connector_request_managed_id")
        batch_op.drop_constraint("kind", type_="check")
        batch_op.drop_column("managed_id")
        batch_op.drop_column("kind")
