"""Grid events and carbon accounts (energy, carbon and cost per hour, tenant and site).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grid_events",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("sites", sa.JSON, nullable=False),
        sa.Column("zone", sa.String(200), nullable=True),
        sa.Column("start", sa.DateTime, nullable=False),
        sa.Column("end", sa.DateTime, nullable=False),
        sa.Column("cap_kw", sa.Float, nullable=True),
        sa.Column("reduce_kw", sa.Float, nullable=True),
        sa.Column("reduce_ratio", sa.Float, nullable=True),
        sa.Column("resolved_cap_kw", sa.Float, nullable=True),
        sa.Column("baseline_kw", sa.Float, nullable=True),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("draw_kw", sa.Float, nullable=True),
        sa.Column("shed_kw", sa.Float, nullable=False),
        sa.Column("shortfall_kw", sa.Float, nullable=False),
        sa.Column("suspended", sa.JSON, nullable=False),
        sa.Column("why", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "accounts",
        sa.Column("hour", sa.DateTime, primary_key=True),
        sa.Column("tenant", sa.String(200), primary_key=True),
        sa.Column("site", sa.String(200), primary_key=True),
        sa.Column("energy_kwh", sa.Float, nullable=False),
        sa.Column("carbon_location_kg", sa.Float, nullable=False),
        sa.Column("carbon_market_kg", sa.Float, nullable=False),
        sa.Column("cost_cny", sa.Float, nullable=False),
    )
    op.create_table(
        "accrual_cursor",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("accrual_cursor")
    op.drop_table("accounts")
    op.drop_table("grid_events")
