"""Changes of a managed connector: what it had before, the rollback claim, and the settings
the connector has now as the form shows them.

`change_before` (connector_request) keeps a rotate or change request's connector as it was
(name, form settings, resource id): the card's diff and the rollback read it.
`rollback_at` is set once, by compare-and-set, when someone rolls a failed change back.
`current_settings` (managed_connector) holds the form settings of the last change applied
(NULL: those of the request that created it). App Home lists a person's connectors through
the new (owner_slack_id, state) index.

Revision ID: 9e3f6a1c2b47
Revises: 5b8d1e4c7a20
Create Date: 2026-12-04 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9e3f6a1c2b47"
down_revision: str | None = "5b8d1e4c7a20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("change_before", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("rollback_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("managed_connector", schema=None) as batch_op:
        batch_op.add_column(sa.Column("current_settings", sa.JSON(), nullable=True))
        batch_op.create_index("ix_managed_connector_owner_state", ["owner_slack_id", "state"])


def downgrade() -> None:
    with op.batch_alter_table("managed_connector", schema=None) as batch_op:
        batch_op.drop_index("ix_managed_connector_owner_state")
        batch_op.drop_column("current_settings")
    with op.batch_alter_table("connector_request", schema=None) as batch_op:
        batch_op.drop_column("rollback_at")
        batch_op.drop_column("change_before")
