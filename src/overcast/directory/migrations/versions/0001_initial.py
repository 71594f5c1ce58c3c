"""The initial directory schema.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

json_type = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "objects",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("parent_id", sa.String(36)),
        sa.Column("parent_type", sa.String(40)),
        sa.Column("enterprise_id", sa.String(36)),
        sa.Column("name", sa.String(255)),
        sa.Column("data", json_type, nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("updated", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_objects_kind_parent", "objects", ["kind", "parent_id"])
    op.create_index("ix_objects_kind_enterprise", "objects", ["kind", "enterprise_id"])
    op.create_index("ix_objects_kind_name", "objects", ["kind", "name"])
    op.create_index("ix_objects_parent", "objects", ["parent_id"])
    op.create_table(
        "scopes",
        sa.Column("ancestor_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(40), primary_key=True),
        sa.Column("object_id", sa.String(36), primary_key=True),
    )
    op.create_index("ix_scopes_object", "scopes", ["object_id"])
    op.create_table(
        "members",
        sa.Column("relation", sa.String(64), primary_key=True),
        sa.Column("parent_id", sa.String(36), primary_key=True),
        sa.Column("child_id", sa.String(36), primary_key=True),
    )
    op.create_index("ix_members_child", "members", ["relation", "child_id"])
    op.create_table(
        "addresses",
        sa.Column("network_id", sa.String(36), primary_key=True),
        sa.Column("address", sa.BigInteger, primary_key=True),
        sa.Column("owner_id", sa.String(36), nullable=False),
    )
    op.create_index("ix_addresses_owner", "addresses", ["owner_id"])
    op.create_table(
        "counters",
        sa.Column("name", sa.String(80), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "changes",
        sa.Column("revision", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("entity_type", sa.String(40), nullable=False),
        sa.Column("entity_id", sa.String(36), nullable=False),
        sa.Column("parent_type", sa.String(40)),
        sa.Column("parent_id", sa.String(36)),
        sa.Column("enterprise_id", sa.String(36)),
        sa.Column("user_id", sa.String(36)),
        sa.Column("data", json_type, nullable=False),
    )
    op.create_table(
        "credentials",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("enterprise_id", sa.String(36), nullable=False),
        sa.Column("user_name", sa.String(255), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
    )
    op.create_index("ix_credentials_login", "credentials", ["enterprise_id", "user_name"], unique=True)
    op.create_table(
        "api_keys",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("expires", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_api_keys_user", "api_keys", ["user_id"])
    op.create_table(
        "event_channels",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("cursor", sa.BigInteger, nullable=False),
        sa.Column("last_poll", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "event_channels",
        "api_keys",
        "credentials",
        "changes",
        "counters",
        "addresses",
        "members",
        "scopes",
        "objects",
    ):
        op.drop_table(table)
