"""The SQL of crew stop states: the ``plan_stops`` rows (one per plan and stop).

Store-layer functions like :mod:`geo311.staff.store`: each takes the
:class:`~geo311.db.store.Store` (or, for the store's own plan reads and writes, its open
connection) and joins the caller's ``store.begin()`` transaction. The rules (which state may
follow which) are data in :mod:`geo311.plans.stop_states`; this module only runs the statements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo311.db.schema import plan_stops

if TYPE_CHECKING:
    from geo311.db.store import Store

INITIAL = "planned"
"""The state of a stop that has no row yet."""


def stop_rows(store: Store, plan_id: int) -> list[dict[str, Any]]:
    """Return a plan's stop rows, oldest change first (a stop never acted on has none).

    A stop without a row is ``planned``.
    """
    query = (
        sa.select(plan_stops)
        .where(plan_stops.c.plan_id == plan_id)
        .order_by(plan_stops.c.at, plan_stops.c.job_id)
    )
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def stop_row(store: Store, plan_id: int, job_id: str) -> dict[str, Any] | None:
    """Return one stop's row, or None when it was never acted on."""
    where = (plan_stops.c.plan_id == plan_id) & (plan_stops.c.job_id == job_id)
    with store.read() as conn:
        row = conn.execute(sa.select(plan_stops).where(where)).first()
    return None if row is None else dict(row._mapping)


def insert_rows(store: Store, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert stop rows, in the caller's transaction when one is open.

    A plan is saved with its stops' states in one transaction.
    """
    if rows:
        with store.begin() as conn:
            conn.execute(plan_stops.insert(), [dict(r) for r in rows])


def set_state(
    store: Store,
    plan_id: int,
    job_id: str,
    values: Mapping[str, Any],
    *,
    moves: Mapping[str, str],
    since_by: tuple[Any, str] | None = None,
) -> tuple[str, bool]:
    """Move a stop from one of the states ``moves`` names to that state's target, atomically.

    Each source state is tried with one conditional statement: ``UPDATE ... WHERE state =
    source`` (and, for ``planned``, an ``INSERT`` that does nothing when the stop's key
    exists), so two transactions can never both move the same stop, and nothing is read
    and written back.

    Parameters
    ----------
    store : Store
        The store (joins the caller's ``store.begin()``).
    plan_id, job_id : int, str
        The stop.
    values : mapping
        The other columns to set with the state (``crew_id``, ``by_user``, ``at`` ...).
    moves : mapping
        Source state -> target state (one action's row of the transition table).
    since_by : tuple of (datetime, str), optional
        Move only a row changed at or after this time by this user (an undo window).

    Returns
    -------
    tuple of (str, bool)
        ``(source, True)`` when the stop moved from ``source``; ``(current, False)`` when
        its current state is none of the sources (nothing changed).
    """
    where = (plan_stops.c.plan_id == plan_id) & (plan_stops.c.job_id == job_id)
    guard = sa.true()
    if since_by is not None:
        guard = (plan_stops.c.at >= since_by[0]) & (plan_stops.c.by_user == since_by[1])
    with store.begin() as conn:
        for source, target in moves.items():
            row = {**values, "state": target}
            if source == INITIAL and _insert_new(
                conn, {**row, "plan_id": plan_id, "job_id": job_id}
            ):
                return source, True
            moved = conn.execute(
                plan_stops.update().where(where, guard, plan_stops.c.state == source).values(**row)
            )
            if moved.rowcount == 1:
                return source, True
        current = conn.execute(sa.select(plan_stops.c.state).where(where)).scalar()
    return str(current or INITIAL), False


def _insert_new(conn: Connection, row: Mapping[str, Any]) -> bool:
    """Insert a stop's first row; False (nothing done) when the stop has a row already."""
    from sqlalchemy.dialects import postgresql, sqlite

    stmt: Any = None
    if conn.dialect.name == "postgresql":
        stmt = postgresql.insert(plan_stops).values(**row).on_conflict_do_nothing()
    elif conn.dialect.name == "sqlite":
        stmt = sqlite.insert(plan_stops).values(**row).on_conflict_do_nothing()
    if stmt is not None:
        return conn.execute(stmt.returning(plan_stops.c.job_id)).first() is not None
    try:  # another database: a savepoint keeps the transaction usable after the conflict
        with conn.begin_nested():
            conn.execute(plan_stops.insert().values(**row))
        return True
    except sa.exc.IntegrityError:
        return False


def publications_on(store: Store, plan_date: str) -> list[int]:
    """Return the plans published for a day, the newest publication first."""
    from geo311.db.auth_schema import plan_publications as pubs

    query = (
        sa.select(pubs.c.plan_id)
        .where(pubs.c.plan_date == plan_date)
        .order_by(pubs.c.published_at.desc(), pubs.c.plan_id.desc())
    )
    with store.read() as conn:
        return [int(r.plan_id) for r in conn.execute(query)]
