"""Indexed unique keys (e.g. a container's UUID) and per-network MAC reservations.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("objects") as batch:
        batch.add_column(sa.Column("ukey", sa.String(255)))
    op.execute("UPDATE objects SET ukey = name")
    op.create_index("ix_objects_kind_ukey", "objects", ["kind", "ukey"])
    op.create_table(
        "macs",
        sa.Column("network_id", sa.String(36), primary_key=True),
        sa.Column("mac", sa.String(17), primary_key=True),
        sa.Column("owner_id", sa.String(36), nullable=False),
    )
    op.create_index("ix_macs_owner", "macs", ["owner_id"])


def downgrade() -> None:
    op.drop_table("macs")
    op.drop_index("ix_objects_kind_ukey", "objects")
    with op.batch_alter_table("objects") as batch:
        batch.drop_column("ukey")
