"""Service requests, import runs and rejects, work orders, plans (the tables of step 1).

The tables exactly as the first release created them; later revisions change them. Types are
spelt out here (``DateTime(timezone=True)`` is what :class:`geo311.db.schema.UTCDateTime` stores)
so that this step never changes when :mod:`geo311.db.schema` does.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def _create_service_requests() -> None:
    op.create_table(
        "service_requests",
        sa.Column("service_request_id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("service_code", sa.String(64), nullable=False),
        sa.Column("service_name", sa.String(200), nullable=False),
        sa.Column("source_type", sa.String(200), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_notes", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("requested_datetime", _TIME, nullable=False),
        sa.Column("updated_datetime", _TIME),
        sa.Column("expected_datetime", _TIME),
        sa.Column("closed_datetime", _TIME),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("zipcode", sa.String(10), nullable=False),
        sa.Column("lat", sa.Float),
        sa.Column("lon", sa.Float),
        sa.Column("media_url", sa.String(500), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("neighborhood", sa.String(100), nullable=False),
        sa.Column("closure_category", sa.String(100), nullable=False),
        sa.Column("needs_geocoding", sa.Boolean, nullable=False),
        sa.Column("geocode_match_type", sa.String(32), nullable=False),
        sa.Column("geocode_score", sa.Float),
        sa.Column("work_order_id", sa.Integer),
        sa.Column("row_hash", sa.String(32), nullable=False),
        sa.UniqueConstraint("source", "source_id", name="uq_service_requests_source"),
    )
    for name, columns in [
        ("ix_service_requests_work_order_id", ["work_order_id"]),
        ("ix_service_requests_status", ["status"]),
        ("ix_service_requests_service_requested", ["service_code", "requested_datetime"]),
        ("ix_service_requests_requested", ["requested_datetime"]),
        ("ix_service_requests_lat_lon", ["lat", "lon"]),
        ("ix_service_requests_needs_geocoding", ["needs_geocoding"]),
    ]:
        op.create_index(name, "service_requests", columns)


def _create_work_orders() -> None:
    op.create_table(
        "work_orders",
        sa.Column("work_order_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service_group", sa.String(32), nullable=False),
        sa.Column("service_code", sa.String(64), nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("opened", _TIME, nullable=False),
        sa.Column("sla_due", _TIME, nullable=False),
        sa.Column("report_count", sa.Integer, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("closed_datetime", _TIME),
        sa.Column("closure_category", sa.String(100), nullable=False),
        sa.Column("status_notes", sa.Text, nullable=False),
        sa.Column("failed_repair_of", sa.Integer),
    )
    op.create_index("ix_work_orders_status_group", "work_orders", ["status", "service_group"])
    op.create_index("ix_work_orders_opened", "work_orders", ["opened"])
    op.create_index("ix_work_orders_lat_lon", "work_orders", ["lat", "lon"])


def upgrade() -> None:
    """Create the five tables of step 1 with their indexes."""
    _create_service_requests()
    op.create_table(
        "import_runs",
        sa.Column("import_run_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("finished_at", _TIME),
        sa.Column("summary", sa.Text, nullable=False),
    )
    op.create_table(
        "import_rejects",
        sa.Column("reject_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("import_run_id", sa.Integer, nullable=False),
        sa.Column("row_number", sa.Integer, nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
    )
    op.create_index("ix_import_rejects_import_run_id", "import_rejects", ["import_run_id"])
    _create_work_orders()
    op.create_table(
        "plans",
        sa.Column("plan_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("plan_date", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("parent_plan_id", sa.Integer),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("ix_plans_plan_date", "plans", ["plan_date"])


def downgrade() -> None:
    """Drop the five tables (and every row in them)."""
    for table in ("plans", "work_orders", "import_rejects", "import_runs", "service_requests"):
        op.drop_table(table)
