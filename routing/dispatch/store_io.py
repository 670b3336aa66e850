"""Storing a planned day and reading a stored plan back, as a :class:`PlanDocument`.

:func:`load_plan_document` lives in :mod:`geo311.plans.document` (light to import).
"""

from __future__ import annotations

from geo311.db.store import Store
from geo311.plans import repo as plan_repo
from geo311.plans.document import PlanDocument
from geo311.plans.repo import load_plan_document
from routing.dispatch.day import DayPlan

__all__ = ["load_plan_document", "save_day_plan"]


def save_day_plan(
    store: Store,
    day_plan: DayPlan,
    *,
    kind: str = "plan",
    parent_plan_id: int | None = None,
) -> PlanDocument:
    """Store a planned day and return the stored document (with ``plan_id``, ``kind``).

    Parameters
    ----------
    store : Store
        The store.
    day_plan : DayPlan
        The plan (its :meth:`~DayPlan.to_document` is stored under its ``plan_date``).
    kind : str, keyword-only
        ``plan`` or ``replan``.
    parent_plan_id : int, keyword-only, optional
        The plan a re-plan was made from.

    Returns
    -------
    PlanDocument
        The document as stored, read back.
    """
    plan_id = plan_repo.save_plan(
        store,
        day_plan.to_dict(),
        plan_date=day_plan.plan_date,
        kind=kind,
        parent_plan_id=parent_plan_id,
    )
    return load_plan_document(store, plan_id)
