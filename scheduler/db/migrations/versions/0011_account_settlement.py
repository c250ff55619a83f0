"""Account rows say the measured intensity their carbon is settled at: a zone's measured hours
replace, once they arrive, the estimate an hour was accrued at.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("carbon_kg_per_kwh", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("carbon_kg_per_kwh")
