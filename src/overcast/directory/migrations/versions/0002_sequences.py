"""PostgreSQL sequences for the system-wide counters (VNIs, service IDs, ...).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Literal here on purpose: a migration must not change when the code's constants do.
STARTS = {
    "vni": 4096,
    "serviceID": 20000,
    "domainID": 1,
    "labelID": 1000,
    "customerID": 10000,
    "statsID": 1,
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, start in STARTS.items():
        op.execute(f"CREATE SEQUENCE IF NOT EXISTS oc_seq_{name.lower()} START WITH {start}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in STARTS:
        op.execute(f"DROP SEQUENCE IF EXISTS oc_seq_{name.lower()}")
