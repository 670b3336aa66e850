"""Drop two request indexes nothing queries (status, lat/lon); they only slowed imports down.

Spatial look-ups run on work-order anchors and status filters always come with a time window.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_service_requests_status": ["status"],
    "ix_service_requests_lat_lon": ["lat", "lon"],
}


def upgrade() -> None:
    """Drop the two indexes if they exist."""
    for name in _INDEXES:
        op.drop_index(name, table_name="service_requests", if_exists=True)


def downgrade() -> None:
    """Recreate the two indexes."""
    for name, columns in _INDEXES.items():
        op.create_index(name, "service_requests", columns)
