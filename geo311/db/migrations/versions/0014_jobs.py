"""Planning runs and simulations as rows: ``jobs``, and ``plans.job_id`` (unique).

A worker of any server process claims a queued job (or one whose lease expired), heartbeats
while it solves and stores the plan and the job's new state in one transaction; the plan row
carries the job's id, unique, so a job run twice stores one plan. Types are spelt out
(``DateTime(timezone=True)`` is what :class:`geo311.db.schema.UTCDateTime` stores).

Revision ID: 0014
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``jobs``; add ``plans.job_id`` with a unique index."""
    op.create_table(
        "jobs",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", _TIME, nullable=True),
        sa.Column("heartbeat_at", _TIME, nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("started_at", _TIME, nullable=True),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_index("ix_jobs_state_created", "jobs", ["state", "created_at"], unique=False)
    op.add_column("plans", sa.Column("job_id", sa.String(length=32), nullable=True))
    op.create_index("ix_plans_job_id", "plans", ["job_id"], unique=True)


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_plans_job_id", table_name="plans")
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("job_id")
    op.drop_index("ix_jobs_state_created", table_name="jobs")
    op.drop_table("jobs")
