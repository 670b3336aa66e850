"""The SQL of the jobs table: planning runs and simulations claimed by workers under a lease.

Store-layer functions, like :mod:`geo311.staff.store`: each takes the
:class:`~geo311.db.store.Store` and joins its open transaction (``store.begin()``); the loop that
uses them is :mod:`geo311.plans.jobs`.

A job is ``queued``, then ``running`` under a lease (``lease_owner``, ``lease_expires_at``) that
its worker renews while it works (:func:`heartbeat`), then ``done`` (``plan_id`` set) or
``failed`` (``error`` set). A worker that dies stops renewing: once the lease has expired,
:func:`claim` hands the job to another worker (``attempts`` counts the claims). Every write of a
worker is fenced by its lease: :func:`complete` changes the row only while the caller still
holds it and raises :class:`LeaseLost` otherwise, so the plan saved in the same transaction rolls
back; and the plan row carries the job's id under a unique index, so one job stores one plan.

Claiming: PostgreSQL picks the oldest claimable row with ``FOR UPDATE SKIP LOCKED`` (workers of
several processes never wait for each other); SQLite serialises writers, so one conditional
``UPDATE ... RETURNING`` is the claim.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from geo311.db.schema import jobs, plans
from geo311.db.store import Store
from geo311.errors import ConflictError

KINDS = ("plan", "replan", "district", "simulation", "horizon")
STATES = ("queued", "running", "done", "failed")


class LeaseLost(ConflictError):
    """The worker no longer holds the job (its lease expired and another worker took it)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _row(row: sa.Row[Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out = dict(row._mapping)
    out["params"] = json.loads(out["params"] or "{}")
    return out


def submit(
    store: Store,
    kind: str,
    params: Mapping[str, Any],
    *,
    created_by: str,
    plan_id: int | None = None,
) -> str:
    """Queue a job and return its id (16 hex digits); joins the caller's transaction.

    Parameters
    ----------
    store
        The store.
    kind
        ``plan``, ``replan``, ``district`` or ``simulation``.
    params
        What the worker needs to run it (JSON-serialisable).
    created_by
        The user who started it.
    plan_id
        The plan row the job fills in (a simulation's, stored from the start).

    Raises
    ------
    ValueError
        For an unknown ``kind``.
    """
    if kind not in KINDS:
        raise ValueError(f"job kind {kind!r} is not one of {', '.join(KINDS)}")
    job_id = secrets.token_hex(8)
    with store.begin() as conn:
        conn.execute(
            jobs.insert().values(
                job_id=job_id,
                kind=kind,
                params=json.dumps(dict(params), default=str),
                state="queued",
                progress=0.0,
                plan_id=plan_id,
                error="",
                attempts=0,
                created_by=created_by,
                created_at=_now(),
            )
        )
    return job_id


def get(store: Store, job_id: str) -> dict[str, Any] | None:
    """Return a job row (``params`` decoded), or None."""
    with store.read() as conn:
        return _row(conn.execute(sa.select(jobs).where(jobs.c.job_id == job_id)).first())


def job_of_plan(store: Store, plan_id: int) -> dict[str, Any] | None:
    """Return the newest job whose result is this plan row (a simulation's), or None."""
    query = (
        sa.select(jobs).where(jobs.c.plan_id == plan_id).order_by(jobs.c.created_at.desc()).limit(1)
    )
    with store.read() as conn:
        return _row(conn.execute(query).first())


def count_unfinished(store: Store, kind: str) -> int:
    """Return how many jobs of a kind are queued or running (in every process)."""
    query = sa.select(sa.func.count()).where(
        jobs.c.kind == kind, jobs.c.state.in_(("queued", "running"))
    )
    with store.read() as conn:
        return int(conn.execute(query).scalar_one())


def _claimable(now: datetime, kinds: tuple[str, ...]) -> sa.ColumnElement[bool]:
    expired = sa.and_(jobs.c.state == "running", jobs.c.lease_expires_at < now)
    return sa.and_(jobs.c.kind.in_(kinds), sa.or_(jobs.c.state == "queued", expired))


def due(store: Store, *, kinds: tuple[str, ...] = KINDS) -> bool:
    """Whether a job of these kinds waits for a worker (a read: idle workers write nothing)."""
    query = sa.select(jobs.c.job_id).where(_claimable(_now(), kinds)).limit(1)
    with store.read() as conn:
        return conn.execute(query).first() is not None


def claim(
    store: Store, *, owner: str, lease_s: float, kinds: tuple[str, ...] = KINDS
) -> dict[str, Any] | None:
    """Take the oldest queued job, or a running one whose lease expired, for ``lease_s``.

    Parameters
    ----------
    store
        The store.
    owner
        The claiming worker's unique name (written to ``lease_owner``).
    lease_s
        How long the claim lasts unless renewed by :func:`heartbeat`.
    kinds
        The kinds this worker runs.

    Returns
    -------
    dict or None
        The claimed row (``attempts`` already counts this claim), or None when nothing is due.
    """
    now = _now()
    values = {
        "state": "running",
        "lease_owner": owner,
        "lease_expires_at": now + timedelta(seconds=lease_s),
        "heartbeat_at": now,
        "started_at": now,
        "attempts": jobs.c.attempts + 1,
        "error": "",
    }
    pick = sa.select(jobs.c.job_id).where(_claimable(now, kinds))
    pick = pick.order_by(jobs.c.created_at, jobs.c.job_id).limit(1)
    with store.begin() as conn:
        if store.dialect == "postgresql":
            job_id = conn.execute(pick.with_for_update(skip_locked=True)).scalar()
            if job_id is None:
                return None
            target: sa.ColumnElement[bool] = jobs.c.job_id == job_id
        else:
            target = jobs.c.job_id == pick.scalar_subquery()
        row = conn.execute(
            jobs.update().where(target, _claimable(now, kinds)).values(**values).returning(*jobs.c)
        ).first()
    return _row(row)


def _held(job_id: str, owner: str) -> sa.ColumnElement[bool]:
    return sa.and_(jobs.c.job_id == job_id, jobs.c.state == "running", jobs.c.lease_owner == owner)


def heartbeat(store: Store, job_id: str, *, owner: str, lease_s: float, progress: float) -> bool:
    """Renew the lease and record progress (0..1); False when the worker lost the job."""
    now = _now()
    with store.begin() as conn:
        res = conn.execute(
            jobs.update()
            .where(_held(job_id, owner))
            .values(
                lease_expires_at=now + timedelta(seconds=lease_s),
                heartbeat_at=now,
                progress=min(1.0, max(0.0, progress)),
            )
        )
        return bool(res.rowcount)


def complete(store: Store, job_id: str, *, owner: str, plan_id: int) -> None:
    """Mark the job done with its plan and tag the plan row with the job; joins the transaction.

    Call it in the transaction that stores the plan, so both commit or neither does.

    Raises
    ------
    LeaseLost
        When ``owner`` no longer holds the job (the caller's transaction must roll back).
    sqlalchemy.exc.IntegrityError
        When another plan row already carries this job's id.
    """
    with store.begin() as conn:
        res = conn.execute(
            jobs.update()
            .where(_held(job_id, owner))
            .values(state="done", plan_id=plan_id, progress=1.0, finished_at=_now(), error="")
        )
        if not res.rowcount:
            raise LeaseLost(
                f"job {job_id} is no longer held by {owner} (its lease expired and another "
                "worker took it over); this worker's result is dropped"
            )
        conn.execute(plans.update().where(plans.c.plan_id == plan_id).values(job_id=job_id))


def fail(store: Store, job_id: str, *, owner: str, error: str) -> bool:
    """Mark a held job failed with its error; False when the worker no longer held it."""
    with store.begin() as conn:
        res = conn.execute(
            jobs.update()
            .where(_held(job_id, owner))
            .values(state="failed", error=error[:2000], finished_at=_now())
        )
        return bool(res.rowcount)


def release(store: Store, job_id: str, *, owner: str) -> bool:
    """Give a held job back to the queue at once (a worker stopping before it finished)."""
    with store.begin() as conn:
        res = conn.execute(
            jobs.update()
            .where(_held(job_id, owner))
            .values(state="queued", lease_owner=None, lease_expires_at=None, progress=0.0)
        )
        return bool(res.rowcount)


def give_up_abandoned(store: Store, *, max_attempts: int, kinds: tuple[str, ...] = KINDS) -> int:
    """Fail the jobs whose lease expired after ``max_attempts`` claims; return how many.

    A job whose worker died that often (a solve that kills its process) is not tried again.
    """
    now = _now()
    error = (
        f"gave up after {max_attempts} attempts: the worker running it stopped each time "
        "before it finished; check the server's log, then start it again"
    )
    with store.begin() as conn:
        res = conn.execute(
            jobs.update()
            .where(_claimable(now, kinds), jobs.c.state == "running")
            .where(jobs.c.attempts >= max_attempts)
            .values(state="failed", error=error, finished_at=now)
        )
        return int(res.rowcount)
