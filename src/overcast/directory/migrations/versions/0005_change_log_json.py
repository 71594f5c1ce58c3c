"""The change log's documents as ``json`` rather than ``jsonb`` on PostgreSQL.

They are only ever read back whole (``/events``, the controller's feed), never queried inside:
``jsonb``'s parse into its binary form bought nothing and cost 40 % of appending a record (a
COPY of 1.2 KB documents: 28.7 µs a row as ``jsonb``, 16.8 as ``json``). SQLite stores JSON as
text either way: nothing changes there.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE changes ALTER COLUMN data TYPE json USING data::text::json")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE changes ALTER COLUMN data TYPE jsonb USING data::text::jsonb")
