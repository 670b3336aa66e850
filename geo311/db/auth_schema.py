"""Tables of the staff application: users, tokens, sessions, logins, audit, roster, crew actions.

They live on :data:`geo311.db.store.metadata` (so ``Store.drop_all`` and ``ensure_indexes`` see
them) and are created by Alembic revision 0005 (``geo311/db/migrations/versions``). Only
:mod:`geo311.staff.store` reads and writes them.
"""

from __future__ import annotations

import sqlalchemy as sa

from geo311.db.schema import UTCDateTime, metadata

users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200), nullable=False, default=""),
    # dispatcher | planner | admin | crew (roles are data: geo311.staff.users.ROLES)
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("crew_id", sa.String(64)),
    # the district a dispatcher works in (a name of the city's districts); NULL: all districts
    sa.Column("district", sa.String(200)),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, nullable=False, index=True),
    # SHA-256 of the token: tokens are 256-bit random, so a fast hash is enough and allows
    # a direct look-up; the token itself is shown once and never stored.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
)

sessions = sa.Table(
    "sessions",
    metadata,
    # SHA-256 of the random session id kept in the browser's cookie.
    sa.Column("session_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
)

login_attempts = sa.Table(
    "login_attempts",
    metadata,
    sa.Column("attempt_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Index("ix_login_attempts_username_at", "username", "at"),
    sa.Index("ix_login_attempts_ip_at", "ip", "at"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("audit_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("object", sa.String(200), nullable=False, default=""),
    sa.Column("before", sa.Text),
    sa.Column("after", sa.Text),
)

# Today's roster changes made by a dispatcher (a crew off sick, a shorter shift): one row per
# day and crew; crews without a row work as crews.toml says.
crew_days = sa.Table(
    "crew_days",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("crew_id", sa.String(64), primary_key=True),
    sa.Column("on_duty", sa.Boolean, nullable=False, default=True),
    sa.Column("shift_start", sa.String(5)),
    sa.Column("shift_end", sa.String(5)),
)

# A published plan is what the crews of its day see on their phones.
plan_publications = sa.Table(
    "plan_publications",
    metadata,
    sa.Column("plan_id", sa.Integer, primary_key=True),
    sa.Column("plan_date", sa.String(10), nullable=False, index=True),
    sa.Column("published_at", UTCDateTime, nullable=False),
    sa.Column("published_by", sa.String(64), nullable=False),
)

# A crew's stop actions, each applied exactly once: the phone sends an idempotency key with
# every action and a repeated key returns the first answer.
crew_actions = sa.Table(
    "crew_actions",
    metadata,
    sa.Column("idempotency_key", sa.String(64), primary_key=True),
    sa.Column("plan_id", sa.Integer, nullable=False),
    sa.Column("crew_id", sa.String(64), nullable=False),
    sa.Column("job_id", sa.String(64), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("result", sa.Text),
)

AUTH_TABLES = (
    users,
    api_tokens,
    sessions,
    login_attempts,
    audit_log,
    crew_days,
    plan_publications,
    crew_actions,
)
