"""Job ids are scoped per tenant: a job's key becomes ``tenant/id``.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_NEW = "tenant || '/' || id"


def upgrade() -> None:
    # new parent rows first, then the children follow them, then the old parents go
    op.execute(
        f"INSERT INTO jobs (id, tenant, kind, priority, spec, state, site, created_at, updated_at) "
        f"SELECT {_NEW}, tenant, kind, priority, spec, state, site, created_at, updated_at "
        f"FROM jobs WHERE id NOT LIKE '%/%'"
    )
    for child in ("job_transitions", "submissions"):
        op.execute(
            f"UPDATE {child} SET job_id = (SELECT j.tenant || '/' || j.id FROM jobs j WHERE j.id = {child}.job_id) "
            f"WHERE job_id NOT LIKE '%/%'"
        )
    op.execute("DELETE FROM jobs WHERE id NOT LIKE '%/%'")


def downgrade() -> None:
    raise NotImplementedError("job keys cannot be unscoped: two tenants may now share an id")
