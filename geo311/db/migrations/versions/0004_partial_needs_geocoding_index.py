"""Index only the requests still to geocode (a partial index on needs_geocoding).

Step 1 indexed the flag for every row; the stores the pre-Alembic runner created later got the
partial index from the table definition instead. This step gives every store the partial one.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_NAME = "ix_service_requests_needs_geocoding"


def upgrade() -> None:
    """Replace the full index on ``needs_geocoding`` by a partial one."""
    op.drop_index(_NAME, table_name="service_requests", if_exists=True)
    op.create_index(
        _NAME,
        "service_requests",
        ["needs_geocoding"],
        sqlite_where=sa.text("needs_geocoding"),
        postgresql_where=sa.text("needs_geocoding"),
    )


def downgrade() -> None:
    """Go back to the full index."""
    op.drop_index(_NAME, table_name="service_requests", if_exists=True)
    op.create_index(_NAME, "service_requests", ["needs_geocoding"])
