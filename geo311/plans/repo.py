"""The stored plans: their rows, documents and publication times (table ``plans``).

A plan document is stored as JSON without its stops' marks; those are rows of ``plan_stops``
(:mod:`geo311.plans.stops_store`), put back into the document when it is read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from geo311.db.schema import plans
from geo311.db.store import Store
from geo311.errors import NotFoundError
from geo311.plans import stop_states, stops_store
from geo311.plans.document import PlanDocument
from geo311.plans.stop_states import MARK_KEYS

__all__ = [
    "get_plan",
    "load_plan_document",
    "latest_plan_id",
    "plan_ids_on",
    "plan_published_at",
    "save_plan",
    "update_plan",
    "without_marks",
]


def save_plan(
    store: Store,
    payload: dict[str, Any],
    *,
    plan_date: str,
    kind: str = "plan",
    parent_plan_id: int | None = None,
) -> int:
    """Store a plan document (JSON-serialisable dict) and return its id.

    Stop marks the document brings (``done``, ``done_at``, ``cant_do``: a plan made from
    another) are stored as its ``plan_stops`` rows, in the same transaction.

    Parameters
    ----------
    payload
        The plan as JSON-friendly data.
    plan_date
        The day planned, ``YYYY-MM-DD``.
    kind
        ``plan``, ``replan`` or ``simulation``.
    parent_plan_id
        The plan this one re-plans.

    Returns
    -------
    int
        The new plan id.
    """
    with store.begin() as conn:
        res = conn.execute(
            plans.insert().values(
                created_at=datetime.now(UTC),
                plan_date=plan_date,
                kind=kind,
                parent_plan_id=parent_plan_id,
                payload=json.dumps(without_marks(payload), default=str),
            )
        )
        plan_id = int(res.inserted_primary_key[0])  # type: ignore[index]
        # stop marks a document brings (a plan made from another) become its stop rows
        stops_store.insert_rows(store, stop_states.rows_from_document(plan_id, payload))
        return plan_id


def get_plan(store: Store, plan_id: int) -> dict[str, Any]:
    """Return a stored plan document (with ``plan_id``, ``kind``, ``parent_plan_id`` added).

    Its stops' progress (``done``, ``done_at``, ``cant_do``, ``stop_states``) is built from
    the ``plan_stops`` rows (:func:`geo311.plans.stop_states.document_marks`).

    Raises
    ------
    NotFoundError
        If no plan has this id.
    """
    with store.read() as conn:
        row = conn.execute(sa.select(plans).where(plans.c.plan_id == plan_id)).first()
    stops = stops_store.stop_rows(store, plan_id) if row is not None else []
    if row is None:
        raise NotFoundError(f"plan {plan_id} does not exist")
    m = row._mapping
    doc: dict[str, Any] = without_marks(json.loads(m["payload"]))
    doc.update(plan_id=m["plan_id"], kind=m["kind"], parent_plan_id=m["parent_plan_id"])
    doc.update(stop_states.document_marks(stops))  # the crews' progress: from the rows
    return doc


def latest_plan_id(store: Store, *, kind: str | None = None) -> int | None:
    """Return the id of the newest stored plan (optionally of one kind), or ``None``."""
    stmt = sa.select(sa.func.max(plans.c.plan_id))
    if kind is not None:
        stmt = stmt.where(plans.c.kind == kind)
    with store.read() as conn:
        value = conn.execute(stmt).scalar()
    return None if value is None else int(value)


def update_plan(store: Store, plan_id: int, payload: dict[str, Any]) -> None:
    """Replace a stored plan document (its stops' marks are rows: they are not written).

    Raises
    ------
    NotFoundError
        If no plan has this id.
    """
    with store.begin() as conn:
        res = conn.execute(
            plans.update()
            .where(plans.c.plan_id == plan_id)
            .values(payload=json.dumps(without_marks(payload), default=str))
        )
        if res.rowcount == 0:
            raise NotFoundError(f"plan {plan_id} does not exist")


def plan_ids_on(store: Store, plan_date: str) -> list[int]:
    """Return the ids of the plans stored for a day (``YYYY-MM-DD``), oldest first."""
    stmt = (
        sa.select(plans.c.plan_id).where(plans.c.plan_date == plan_date).order_by(plans.c.plan_id)
    )
    with store.read() as conn:
        return [int(i) for i in conn.execute(stmt).scalars()]


def plan_published_at(store: Store, plan_id: int) -> datetime | None:
    """Return when a plan was published (``None`` if never).

    Raises
    ------
    NotFoundError
        If no plan has this id.
    """
    with store.read() as conn:
        row = conn.execute(
            sa.select(plans.c.published_at).where(plans.c.plan_id == plan_id)
        ).first()
    if row is None:
        raise NotFoundError(f"plan {plan_id} does not exist; use an id from POST /plans")
    published: datetime | None = row[0]
    return published


def without_marks(payload: dict[str, Any]) -> dict[str, Any]:
    """Return a plan document without its stops' marks (rows of ``plan_stops``, not JSON)."""
    return {k: v for k, v in payload.items() if k not in MARK_KEYS}


def load_plan_document(store: Store, plan_id: int) -> PlanDocument:
    """Return a stored plan (``geo311.plans.repo.get_plan``) as a :class:`PlanDocument`.

    Raises
    ------
    NotFoundError
        When the plan does not exist.
    """
    return PlanDocument.from_dict(get_plan(store, plan_id))
