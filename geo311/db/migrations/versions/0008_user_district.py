"""A dispatcher's district: ``users.district`` (the console shows that district's work).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``users.district`` (NULL: the user sees every district)."""
    op.add_column("users", sa.Column("district", sa.String(200)))


def downgrade() -> None:
    """Drop ``users.district``."""
    with op.batch_alter_table("users") as batch:
        batch.drop_column("district")
