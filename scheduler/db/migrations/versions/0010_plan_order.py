"""Plans in the order they were recorded: plan times are kept to the second, and a cycle woken by
a submission may record a second plan within the same second.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("seq", sa.Integer, nullable=False, server_default="0"))
    op.create_index("ix_plans_seq", "plans", ["seq"])


def downgrade() -> None:
    op.drop_index("ix_plans_seq", "plans")
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("seq")
