"""Keep the provider draft's non-secret settings on the request row.

Rows stored before this keep NULL: they are provisioned from their connector config and sealed
connector secrets, as before.

Revision ID: 6965610ef8d8
Revises: 6f466b152078
Create Date: 2026-12-04 19:31:45.639664
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6965610ef8d8"
down_revision: str | None = "6f466b152078"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settings", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.drop_column("settings")
