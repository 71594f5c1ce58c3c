"""API keys stored as their SHA-256 digests; enterprise names unique whatever their case.

A key is 192 random bits, so a plain digest is as good as a slow hash: whoever reads the store
learns nothing that logs in. Keys issued before are hashed in place (their holders stay logged
in). Enterprise names were unique case-sensitively while logins match the organization
case-insensitively: their unique keys are lowered (two names equal but for case, if any, stay;
the next write of either is refused as a duplicate and must rename).

Revision ID: 0006
Revises: 0005
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    keys = [row[0] for row in bind.execute(sa.text("SELECT key FROM api_keys"))]
    for key in keys:
        bind.execute(
            sa.text("UPDATE api_keys SET key = :digest WHERE key = :key"),
            {"digest": hashlib.sha256(key.encode()).hexdigest(), "key": key},
        )
    bind.execute(sa.text("UPDATE objects SET ukey = lower(ukey) WHERE kind = 'enterprise'"))


def downgrade() -> None:
    # Digests cannot be turned back into keys: every holder logs in again.
    op.execute("DELETE FROM api_keys")
