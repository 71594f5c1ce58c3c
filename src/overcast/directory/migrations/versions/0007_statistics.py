"""Statistics samples: per object, resolution and bucket, six counters (deltas summed).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_COLUMNS = ("packets_in", "bytes_in", "packets_out", "bytes_out", "packets_in_dropped", "packets_out_dropped")


def upgrade() -> None:
    op.create_table(
        "statistics",
        sa.Column("object_id", sa.String(36), primary_key=True),
        sa.Column("resolution", sa.Integer, primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in _COLUMNS),
    )
    op.create_index("ix_statistics_age", "statistics", ["resolution", "bucket"])


def downgrade() -> None:
    op.drop_index("ix_statistics_age", "statistics")
    op.drop_table("statistics")
