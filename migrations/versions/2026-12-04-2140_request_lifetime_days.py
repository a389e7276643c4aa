"""Store a request's lifetime: the days its connector lives after creation (NULL: no expiry).

Rows stored before this asked for no expiry.

Revision ID: 8c4e2a7f1d90
Revises: 3b1f0c2d9e47
Create Date: 2026-12-04 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8c4e2a7f1d90"
down_revision: str | None = "3b1f0c2d9e47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lifetime_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.drop_column("lifetime_days")
