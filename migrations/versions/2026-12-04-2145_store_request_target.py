"""Store the target (Kibana deployment) each request is for; a connector id is unique per
target and space.

Rows stored before this were for the one target built from KIBANA_URL: they get ``default``.

Revision ID: 8c2d4e6f1a35
Revises: 8c4e2a7f1d90
Create Date: 2026-12-04 21:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8c2d4e6f1a35"
down_revision: str | None = "8c4e2a7f1d90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "uq_connector_request_connector"


def upgrade() -> None:
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("target", sa.String(100), nullable=False, server_default="default")
        )
        batch_op.drop_constraint(CONSTRAINT, type_="unique")
        batch_op.create_unique_constraint(CONSTRAINT, ["target", "space_id", "kibana_connector_id"])


def downgrade() -> None:
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.drop_constraint(CONSTRAINT, type_="unique")
        batch_op.create_unique_constraint(CONSTRAINT, ["space_id", "kibana_connector_id"])
        batch_op.drop_column("target")
