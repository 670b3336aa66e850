"""The SQL of the staff application (users, tokens, sessions, login attempts, audit, roster).

Store-layer functions: each takes the :class:`~geo311.db.store.Store` and talks SQL through its
engine, like the store's own methods; the domain lives in :mod:`geo311.staff.users` and the web
application. Rows come back as plain dicts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo311.db.auth_schema import (
    api_tokens,
    audit_log,
    crew_actions,
    crew_days,
    login_attempts,
    plan_publications,
    sessions,
    users,
)
from geo311.db.store import Store


def _dict(row: sa.Row[Any] | None) -> dict[str, Any] | None:
    return None if row is None else dict(row._mapping)


# -- users ------------------------------------------------------------------------------


def insert_user(store: Store, values: Mapping[str, Any]) -> int:
    """Insert a user row and return its ``user_id``.

    Raises
    ------
    sqlalchemy.exc.IntegrityError
        When the username is taken (callers check first and name the field).
    """
    with store.begin() as conn:
        result = conn.execute(users.insert().values(**values).returning(users.c.user_id))
        return int(result.scalar_one())


def user_by_username(store: Store, username: str) -> dict[str, Any] | None:
    """Return the user row with this username, or None."""
    with store.read() as conn:
        return _dict(conn.execute(sa.select(users).where(users.c.username == username)).first())


def user_by_id(store: Store, user_id: int) -> dict[str, Any] | None:
    """Return the user row with this id, or None."""
    with store.read() as conn:
        return _dict(conn.execute(sa.select(users).where(users.c.user_id == user_id)).first())


def all_users(store: Store) -> list[dict[str, Any]]:
    """Return every user row, ordered by username."""
    with store.read() as conn:
        rows = conn.execute(sa.select(users).order_by(users.c.username))
        return [dict(r._mapping) for r in rows]


def update_user(store: Store, user_id: int, **values: Any) -> None:
    """Set columns of one user (e.g. ``active=False``, ``password_hash=...``)."""
    with store.begin() as conn:
        conn.execute(users.update().where(users.c.user_id == user_id).values(**values))


def delete_sessions_of(store: Store, user_id: int) -> int:
    """Delete every session of a user (a disabled user is logged out at once)."""
    with store.begin() as conn:
        return int(conn.execute(sessions.delete().where(sessions.c.user_id == user_id)).rowcount)


# -- API tokens -------------------------------------------------------------------------


def insert_token(store: Store, *, user_id: int, token_hash: str, created_at: datetime) -> int:
    """Store a token's hash for a user; return the ``token_id``."""
    with store.begin() as conn:
        result = conn.execute(
            api_tokens.insert()
            .values(user_id=user_id, token_hash=token_hash, created_at=created_at, active=True)
            .returning(api_tokens.c.token_id)
        )
        return int(result.scalar_one())


def user_by_token_hash(store: Store, token_hash: str, *, now: datetime) -> dict[str, Any] | None:
    """Return the active user owning an active token, recording the token's last use."""
    query = (
        sa.select(users, api_tokens.c.token_id)
        .join(api_tokens, api_tokens.c.user_id == users.c.user_id)
        .where(api_tokens.c.token_hash == token_hash, api_tokens.c.active, users.c.active)
    )
    with store.begin() as conn:
        row = _dict(conn.execute(query).first())
        if row is not None:
            conn.execute(
                api_tokens.update()
                .where(api_tokens.c.token_id == row["token_id"])
                .values(last_used_at=now)
            )
        return row


def tokens_of(store: Store, user_id: int) -> list[dict[str, Any]]:
    """Return a user's token rows (without anything that reveals the token)."""
    query = (
        sa.select(
            api_tokens.c.token_id,
            api_tokens.c.created_at,
            api_tokens.c.last_used_at,
            api_tokens.c.active,
        )
        .where(api_tokens.c.user_id == user_id)
        .order_by(api_tokens.c.token_id)
    )
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


# -- sessions ---------------------------------------------------------------------------


def insert_session(
    store: Store,
    *,
    session_hash: str,
    user_id: int,
    csrf_token: str,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    """Store a new session (removing expired ones on the way)."""
    with store.begin() as conn:
        conn.execute(sessions.delete().where(sessions.c.expires_at < created_at))
        conn.execute(
            sessions.insert().values(
                session_hash=session_hash,
                user_id=user_id,
                csrf_token=csrf_token,
                created_at=created_at,
                expires_at=expires_at,
            )
        )


def session_with_user(store: Store, session_hash: str, *, now: datetime) -> dict[str, Any] | None:
    """Return an unexpired session joined with its active user, or None."""
    query = (
        sa.select(users, sessions.c.csrf_token, sessions.c.expires_at)
        .join(sessions, sessions.c.user_id == users.c.user_id)
        .where(
            sessions.c.session_hash == session_hash,
            sessions.c.expires_at > now,
            users.c.active,
        )
    )
    with store.read() as conn:
        return _dict(conn.execute(query).first())


def delete_session(store: Store, session_hash: str) -> None:
    """Delete one session (logout)."""
    with store.begin() as conn:
        conn.execute(sessions.delete().where(sessions.c.session_hash == session_hash))


# -- login attempts ---------------------------------------------------------------------


def _lock_key(text: str) -> int:
    """Return a signed 64-bit key of a text for PostgreSQL's advisory locks."""
    return int.from_bytes(
        hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True
    )


def claim_login_attempt(
    store: Store,
    *,
    username: str,
    ip: str,
    at: datetime,
    since: datetime,
    max_per_username: int,
    max_per_ip: int,
) -> bool:
    """Record a sign-in attempt as failed before its password is checked; False when refused.

    The attempt is inserted, then the username's and the address's attempts since ``since``
    are counted, in one transaction that concurrent attempts for the same username or
    address cannot interleave with (PostgreSQL: transaction advisory locks on both, taken in
    a fixed order; SQLite: the insert, the first statement, takes the database's write lock).
    Over either limit the attempt is removed again and nothing is recorded: a locked-out
    username is not kept locked by further attempts. A successful sign-in removes the row
    (:func:`clear_failed_logins`).

    Returns
    -------
    bool
        True when the attempt is within both limits (its password may be checked).
    """
    with store.begin() as conn:
        if conn.dialect.name == "postgresql":
            for key in sorted({_lock_key(f"user:{username}"), _lock_key(f"ip:{ip}")}):
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
        attempt = conn.execute(
            login_attempts.insert()
            .values(username=username, ip=ip, at=at)
            .returning(login_attempts.c.attempt_id)
        ).scalar_one()
        by_user, by_ip = failed_logins_since(store, username=username, ip=ip, since=since)
        if by_user <= max_per_username and by_ip <= max_per_ip:
            return True
        conn.execute(login_attempts.delete().where(login_attempts.c.attempt_id == attempt))
        return False


def failed_logins_since(
    store: Store, *, username: str, ip: str, since: datetime
) -> tuple[int, int]:
    """Return the failed logins since a time: ``(for this username, from this IP)``."""
    recent = login_attempts.c.at >= since
    count = sa.func.count()
    with store.read() as conn:
        by_user = conn.execute(
            sa.select(count).where(recent, login_attempts.c.username == username)
        ).scalar_one()
        by_ip = conn.execute(sa.select(count).where(recent, login_attempts.c.ip == ip)).scalar_one()
    return int(by_user), int(by_ip)


def clear_failed_logins(store: Store, *, username: str, before: datetime) -> None:
    """Forget a username's failed logins (after a successful one) and all older than ``before``."""
    with store.begin() as conn:
        conn.execute(
            login_attempts.delete().where(
                sa.or_(login_attempts.c.username == username, login_attempts.c.at < before)
            )
        )


# -- audit log --------------------------------------------------------------------------


def insert_audit(
    store: Store,
    *,
    at: datetime,
    actor: str,
    action: str,
    obj: str,
    before: Any = None,
    after: Any = None,
) -> int:
    """Append one audit row (``before``/``after`` stored as JSON); return its id."""
    with store.begin() as conn:
        return write_audit(
            conn, at=at, actor=actor, action=action, obj=obj, before=before, after=after
        )


def write_audit(
    conn: Connection,
    *,
    at: datetime,
    actor: str,
    action: str,
    obj: str,
    before: Any = None,
    after: Any = None,
) -> int:
    """Append one audit row in the caller's transaction (the state change it records)."""

    def dump(value: Any) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True, default=str)

    result = conn.execute(
        audit_log.insert()
        .values(
            at=at,
            actor=actor,
            action=action,
            object=obj,
            before=dump(before),
            after=dump(after),
        )
        .returning(audit_log.c.audit_id)
    )
    return int(result.scalar_one())


@dataclass(frozen=True, kw_only=True)
class AuditFilter:
    """Which audit rows to read; every filter is optional and they combine (AND).

    Parameters
    ----------
    action, actor : str, optional
        Keep one action (``stop.done``) or one actor (a username).
    action_prefix, object_prefix : str, optional
        Keep actions or objects that start with a text (``stop.``, ``user:nico``).
    since, until : datetime, optional
        Keep rows at ``since <= at < until`` (timezone-aware).
    """

    action: str | None = None
    actor: str | None = None
    action_prefix: str | None = None
    object_prefix: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def audit_rows(
    store: Store,
    filters: AuditFilter | None = None,
    *,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Return audit rows, newest first, with ``before``/``after`` decoded.

    Parameters
    ----------
    store : Store
        The store to read.
    filters : AuditFilter, optional
        Which rows to keep; all of them by default.
    limit, offset : int
        The page of rows to return.

    Returns
    -------
    list of dict
        One dict per row (``audit_id``, ``at``, ``actor``, ``action``, ``object``,
        ``before``, ``after``).
    """
    f = filters or AuditFilter()
    query = sa.select(audit_log).order_by(audit_log.c.audit_id.desc()).limit(limit).offset(offset)
    if f.action:
        query = query.where(audit_log.c.action == f.action)
    if f.actor:
        query = query.where(audit_log.c.actor == f.actor)
    if f.action_prefix:
        query = query.where(audit_log.c.action.startswith(f.action_prefix, autoescape=True))
    if f.object_prefix:
        query = query.where(audit_log.c.object.startswith(f.object_prefix, autoescape=True))
    if f.since is not None:
        query = query.where(audit_log.c.at >= f.since)
    if f.until is not None:
        query = query.where(audit_log.c.at < f.until)
    with store.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        for key in ("before", "after"):
            row[key] = None if row[key] is None else json.loads(row[key])
    return rows


def audit_values(store: Store) -> dict[str, list[str]]:
    """Return the distinct ``actor`` and ``action`` values of the audit log, sorted."""
    out: dict[str, list[str]] = {}
    with store.read() as conn:
        for name in ("actor", "action"):
            column = audit_log.c[name]
            found = conn.execute(sa.select(column).distinct().order_by(column))
            out[name] = [str(v) for (v,) in found if v is not None]
    return out


# -- today's crew roster ----------------------------------------------------------------


def crew_day_rows(store: Store, day: str) -> dict[str, dict[str, Any]]:
    """Return the roster changes of a day: crew id -> row."""
    with store.read() as conn:
        rows = conn.execute(sa.select(crew_days).where(crew_days.c.day == day))
        return {r.crew_id: dict(r._mapping) for r in rows}


def upsert_crew_day(store: Store, *, day: str, crew_id: str, **values: Any) -> None:
    """Set a crew's roster change for a day (``on_duty``, ``shift_start``, ``shift_end``)."""
    key = (crew_days.c.day == day) & (crew_days.c.crew_id == crew_id)
    with store.begin() as conn:
        found = conn.execute(sa.select(crew_days.c.crew_id).where(key)).first()
        if found is None:
            conn.execute(crew_days.insert().values(day=day, crew_id=crew_id, **values))
        else:
            conn.execute(crew_days.update().where(key).values(**values))


# -- plan publications ------------------------------------------------------------------


def insert_publication(
    store: Store, *, plan_id: int, plan_date: str, published_at: datetime, published_by: str
) -> bool:
    """Record that a plan is published (the crews' side only); False when it already was.

    Publishing a plan is :func:`geo311.plans.publishing.publish`: it records this row together with
    the reports' ETAs and the reporters' notifications, in one transaction. This records the
    publication alone (no ETA, no e-mail), e.g. to set up a crew's view.
    """
    with store.begin() as conn:
        found = conn.execute(
            sa.select(plan_publications.c.plan_id).where(plan_publications.c.plan_id == plan_id)
        ).first()
        if found is not None:
            return False
        conn.execute(
            plan_publications.insert().values(
                plan_id=plan_id,
                plan_date=plan_date,
                published_at=published_at,
                published_by=published_by,
            )
        )
        return True


def publication(store: Store, plan_id: int) -> dict[str, Any] | None:
    """Return a plan's publication row, or None when it is not published."""
    query = sa.select(plan_publications).where(plan_publications.c.plan_id == plan_id)
    with store.read() as conn:
        return _dict(conn.execute(query).first())


def latest_publications(store: Store, *, limit: int = 20) -> list[dict[str, Any]]:
    """Return the newest publications first (by plan day, then publication time)."""
    query = (
        sa.select(plan_publications)
        .order_by(plan_publications.c.plan_date.desc(), plan_publications.c.published_at.desc())
        .limit(limit)
    )
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


# -- crew actions (idempotency keys) ----------------------------------------------------


def claim_action(store: Store, values: Mapping[str, Any]) -> dict[str, Any] | None:
    """Claim an idempotency key inside the caller's transaction: None when new, else its row.

    Call it inside ``with store.begin():`` together with the action and
    :func:`finish_action`: the claim commits with the action's change and result, or not at
    all, so a server killed mid-action leaves no claim behind and the phone's retry applies
    it. The insert skips a key already there (``ON CONFLICT DO NOTHING``); on PostgreSQL it
    first waits for a transaction applying the same key right now, then returns that one's
    row with its result.
    """
    from sqlalchemy.dialects import postgresql, sqlite

    key = crew_actions.c.idempotency_key == values["idempotency_key"]
    with store.begin() as conn:
        module: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = module.insert(crew_actions).values(**values).on_conflict_do_nothing()
        if conn.execute(stmt.returning(crew_actions.c.idempotency_key)).first() is not None:
            return None
        return _dict(conn.execute(sa.select(crew_actions).where(key)).first())


def finish_action(store: Store, key: str, *, result: str) -> None:
    """Store an action's answer, in the transaction that claimed its key and applied it."""
    where = crew_actions.c.idempotency_key == key
    with store.begin() as conn:
        conn.execute(crew_actions.update().where(where).values(result=result))
