"""Work-order anchor point (anchor_lat, anchor_lon): the first report's point.

Stores made by the pre-Alembic runner at a time its step 1 already held these columns have
them: the step adds only the missing ones, then fills empty anchors from the work order's point.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_COLUMNS = ("anchor_lat", "anchor_lon")


def upgrade() -> None:
    """Add the anchor columns where missing and copy the work order's point into them."""
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("work_orders")}
    for name in _COLUMNS:
        if name not in have:
            op.add_column("work_orders", sa.Column(name, sa.Float))
    op.execute("UPDATE work_orders SET anchor_lat = lat, anchor_lon = lon WHERE anchor_lat IS NULL")


def downgrade() -> None:
    """Drop the anchor columns."""
    with op.batch_alter_table("work_orders") as batch:
        for name in _COLUMNS:
            batch.drop_column(name)
