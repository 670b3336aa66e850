"""The geo311 tables as they are at the newest schema revision (SQLAlchemy 2 Core).

The definitions describe the schema the Alembic revisions in :mod:`geo311.db.migrations` build;
a schema change is a new revision there plus the matching change here. Only
:mod:`geo311.db.store` runs SQL against them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware datetimes stored as UTC (naive UTC in SQLite, timestamptz in PostgreSQL)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Convert an aware datetime to UTC; refuse a naive one."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: geo311 stores timezone-aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


metadata = sa.MetaData()

requests = sa.Table(
    "service_requests",
    metadata,
    sa.Column("service_request_id", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("source_id", sa.String(64), nullable=False),
    sa.Column("service_code", sa.String(64), nullable=False),
    sa.Column("service_name", sa.String(200), nullable=False, default=""),
    sa.Column("source_type", sa.String(200), nullable=False, default=""),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("status_notes", sa.Text, nullable=False, default=""),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("requested_datetime", UTCDateTime, nullable=False),
    sa.Column("updated_datetime", UTCDateTime),
    # Open311 expected_datetime: the ETA of the latest published plan, else the SLA target.
    sa.Column("expected_datetime", UTCDateTime),
    # The service-level target (the City's due time, else reported + catalogue SLA); no plan
    # ever moves it (added by migration 0010).
    sa.Column("sla_target_datetime", UTCDateTime),
    sa.Column("closed_datetime", UTCDateTime),
    sa.Column("address", sa.String(300), nullable=False, default=""),
    sa.Column("zipcode", sa.String(10), nullable=False, default=""),
    sa.Column("lat", sa.Float),
    sa.Column("lon", sa.Float),
    sa.Column("media_url", sa.String(500), nullable=False, default=""),
    sa.Column("channel", sa.String(64), nullable=False, default=""),
    sa.Column("neighborhood", sa.String(100), nullable=False, default=""),
    sa.Column("closure_category", sa.String(100), nullable=False, default=""),
    sa.Column("needs_geocoding", sa.Boolean, nullable=False, default=False),
    sa.Column("geocode_match_type", sa.String(32), nullable=False, default=""),
    sa.Column("geocode_score", sa.Float),
    sa.Column("work_order_id", sa.Integer, index=True),
    sa.Column("row_hash", sa.String(32), nullable=False, default=""),
    # The published plan whose stop ETA is expected_datetime (added by migration 0005).
    sa.Column("expected_plan_id", sa.Integer),
    sa.UniqueConstraint("source", "source_id", name="uq_service_requests_source"),
    # Queries on requests: a time window (Open311 GET, metrics), a service within a time
    # window, members of a work order, rows to geocode. Spatial look-ups run on work-order
    # anchors, and status filters always come with a time window: no index of their own.
    sa.Index("ix_service_requests_service_requested", "service_code", "requested_datetime"),
    sa.Index("ix_service_requests_requested", "requested_datetime"),
    sa.Index(
        "ix_service_requests_needs_geocoding",
        "needs_geocoding",
        sqlite_where=sa.text("needs_geocoding"),
        postgresql_where=sa.text("needs_geocoding"),
    ),
)

import_runs = sa.Table(
    "import_runs",
    metadata,
    sa.Column("import_run_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("path", sa.String(500), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("summary", sa.Text, nullable=False, default="{}"),
)

import_rejects = sa.Table(
    "import_rejects",
    metadata,
    sa.Column("reject_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("import_run_id", sa.Integer, nullable=False, index=True),
    sa.Column("row_number", sa.Integer, nullable=False),
    sa.Column("field", sa.String(64), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("raw", sa.Text, nullable=False, default=""),
)

work_orders = sa.Table(
    "work_orders",
    metadata,
    sa.Column("work_order_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("service_group", sa.String(32), nullable=False),
    sa.Column("service_code", sa.String(64), nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("opened", UTCDateTime, nullable=False),
    sa.Column("sla_due", UTCDateTime, nullable=False),
    sa.Column("report_count", sa.Integer, nullable=False, default=1),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("address", sa.String(300), nullable=False, default=""),
    sa.Column("closed_datetime", UTCDateTime),
    sa.Column("closure_category", sa.String(100), nullable=False, default=""),
    sa.Column("status_notes", sa.Text, nullable=False, default=""),
    sa.Column("failed_repair_of", sa.Integer),
    # The first report's point: the work order's fixed centre for duplicate matching
    # (added by migration 0002).
    sa.Column("anchor_lat", sa.Float),
    sa.Column("anchor_lon", sa.Float),
    sa.Index("ix_work_orders_status_group", "status", "service_group"),
    sa.Index("ix_work_orders_opened", "opened"),
    sa.Index("ix_work_orders_lat_lon", "lat", "lon"),
)

plans = sa.Table(
    "plans",
    metadata,
    sa.Column("plan_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("plan_date", sa.String(10), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False, default="plan"),
    sa.Column("parent_plan_id", sa.Integer),
    sa.Column("payload", sa.Text, nullable=False),
    # When the dispatcher published it (added by migration 0005).
    sa.Column("published_at", UTCDateTime),
    # The job that made it (added by migration 0014): unique, so a job re-run after its worker
    # died cannot store a second plan.
    sa.Column("job_id", sa.String(32)),
    sa.Index("ix_plans_job_id", "job_id", unique=True),
)

# Every status change, note, schedule and citizen comment of a request: the timeline and
# mySociety's ``servicerequestupdates`` (added by migration 0005). No personal details.
request_updates = sa.Table(
    "request_updates",
    metadata,
    sa.Column("update_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("service_request_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("media_url", sa.String(500), nullable=False, default=""),
    sa.Column("updated_datetime", UTCDateTime, nullable=False),
    # The client's own id of a posted update (FixMyStreet's comment id): retries add nothing.
    sa.Column("external_id", sa.String(64)),
    sa.Index("ix_request_updates_updated", "updated_datetime"),
    sa.Index("ix_request_updates_request", "service_request_id", "update_id"),
)

# Reports counted per hashed client address or e-mail address and per period (an hour by
# default): the report limits of geo311.requests.limits (added by migration 0013).
report_counts = sa.Table(
    "report_counts",
    metadata,
    sa.Column("key", sa.String(80), primary_key=True),
    sa.Column("period", sa.Integer, primary_key=True),
    sa.Column("hits", sa.Integer, nullable=False),
    sa.Index("ix_report_counts_period", "period"),
)

# The columns a request row carries (imports, request_to_row); geo311's own plan link is not one.
REQUEST_COLUMNS = tuple(c.name for c in requests.columns if c.name != "expected_plan_id")
TIME_COLUMN_NAMES = frozenset(c.name for c in requests.columns if isinstance(c.type, UTCDateTime))

# The state of each crew stop of a plan (added by migration 0009): one row per plan and stop,
# changed only by geo311.plans.stop_states (a conditional UPDATE or an INSERT on the key, never a
# rewrite of the plan document). A stop without a row is ``planned``. The plan's ``done`` /
# ``cant_do`` view is built from these rows whenever the plan is read.
plan_stops = sa.Table(
    "plan_stops",
    metadata,
    sa.Column("plan_id", sa.Integer, nullable=False),
    sa.Column("job_id", sa.String(64), nullable=False),
    sa.Column("crew_id", sa.String(64), nullable=False),
    # planned | arrived | done | cant_do (geo311.plans.stop_states.STATES)
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False, default=""),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("by_user", sa.String(64), nullable=False, default=""),
    sa.Column("at", UTCDateTime, nullable=False),
    # the idempotency key of the crew action that made the last change (None: another path)
    sa.Column("idempotency_key", sa.String(64)),
    sa.Column("media_url", sa.String(500), nullable=False, default=""),
    sa.PrimaryKeyConstraint("plan_id", "job_id", name="pk_plan_stops"),
)

# Planning runs and what-if simulations waiting for, or held by, a worker of any server process
# (added by migration 0014; SQL in geo311.plans.jobs_store, the loop in geo311.plans.jobs).
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("job_id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("params", sa.Text, nullable=False, default="{}"),
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("progress", sa.Float, nullable=False, default=0.0),
    # The result: the stored plan (for a simulation, its plan row from the start).
    sa.Column("plan_id", sa.Integer),
    sa.Column("error", sa.Text, nullable=False, default=""),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("lease_owner", sa.String(200)),
    sa.Column("lease_expires_at", UTCDateTime),
    sa.Column("heartbeat_at", UTCDateTime),
    sa.Column("created_by", sa.String(100), nullable=False, default=""),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
    sa.Index("ix_jobs_state_created", "state", "created_at"),
)

# Each crew's last position, shared from the phone when the crew presses "Share my position"
# (added by migration 0015; one row per crew, upserted by geo311.staff.positions).
crew_positions = sa.Table(
    "crew_positions",
    metadata,
    sa.Column("crew_id", sa.String(64), primary_key=True),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("accuracy_m", sa.Float),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("by_user", sa.String(64), nullable=False, default=""),
)
