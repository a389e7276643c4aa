"""Store which back-end a request provisions (a Kibana connector or an Elasticsearch
inference endpoint) and why it was chosen.

Rows stored before this are connector requests: they get ``connector`` and no reason.

Revision ID: 3b1f0c2d9e47
Revises: 6965610ef8d8
Create Date: 2026-12-04 20:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b1f0c2d9e47"
down_revision: str | None = "6965610ef8d8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("backend", sa.String(20), nullable=False, server_default="connector")
        )
        batch_op.add_column(sa.Column("backend_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.drop_column("backend_reason")
        batch_op.drop_column("backend")
