"""Indexes for filtered listings: parent + name, and lower(name) for prefix searches.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_objects_kind_parent", "objects")
    op.create_index("ix_objects_kind_parent_name", "objects", ["kind", "parent_id", "name"])
    op.create_index("ix_objects_kind_parent_lname", "objects", ["kind", "parent_id", sa.text("lower(name)")])
    op.create_index("ix_objects_kind_lname", "objects", ["kind", sa.text("lower(name)")])


def downgrade() -> None:
    op.drop_index("ix_objects_kind_lname", "objects")
    op.drop_index("ix_objects_kind_parent_lname", "objects")
    op.drop_index("ix_objects_kind_parent_name", "objects")
    op.create_index("ix_objects_kind_parent", "objects", ["kind", "parent_id"])
