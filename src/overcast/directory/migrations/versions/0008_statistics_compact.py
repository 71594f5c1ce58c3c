"""Statistics samples, compact: keyed (resolution, bucket, object), without a rowid on SQLite,
no kind column, no secondary index; coarse resolutions are rolled up from fine ones in SQL.

Measured (``overcast bench statistics``, 20,000 endpoints all moving): the first layout wrote
every sample at two resolutions from Python and stored ~98 bytes a row behind two indexes. The
samples are disposable, so the table is recreated.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_COLUMNS = ("packets_in", "bytes_in", "packets_out", "bytes_out", "packets_in_dropped", "packets_out_dropped")


def upgrade() -> None:
    op.drop_index("ix_statistics_age", "statistics")
    op.drop_table("statistics")
    op.create_table(
        "statistics",
        sa.Column("resolution", sa.Integer, primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sa.Column("object_id", sa.String(36), primary_key=True),
        *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in _COLUMNS),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("statistics")
    op.create_table(
        "statistics",
        sa.Column("object_id", sa.String(36), primary_key=True),
        sa.Column("resolution", sa.Integer, primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in _COLUMNS),
    )
    op.create_index("ix_statistics_age", "statistics", ["resolution", "bucket"])
