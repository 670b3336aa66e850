"""Publishing a plan: its stops' ETAs become the Open311 ``expected_datetime`` of the reports.

``POST /plans/{id}/publish`` calls :func:`publish_plan`; the store writes every expected time,
clears the ones a newer plan no longer has and records the ``scheduled`` updates in one
transaction (:meth:`geo311.store.Store.publish_plan`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from geo311.store import ETA_HALF_WINDOW, Store
from routing.plan_document import load_plan_document


def eta_text(eta: datetime, tz: ZoneInfo) -> str:
    """Return the public text of a ``scheduled`` update: the day and the ETA window."""
    start, end = (eta - ETA_HALF_WINDOW).astimezone(tz), (eta + ETA_HALF_WINDOW).astimezone(tz)
    return (
        f"Scheduled: a crew is expected on {start:%A %d %B %Y} "
        f"between {start:%H:%M} and {end:%H:%M}."
    )


def plan_etas(store: Store, plan_id: int) -> dict[int, datetime]:
    """Return ``work_order_id -> ETA`` (the stop's arrival) of every stop of a stored plan.

    Raises
    ------
    NotFoundError
        If no plan has this id.
    """
    doc = load_plan_document(store, plan_id)
    etas: dict[int, datetime] = {}
    for route in doc.routes:
        for step in route.job_steps:
            ref = step.ref if step.ref is not None and step.ref.isdigit() else None
            if ref is not None and step.arrival is not None:
                etas.setdefault(int(ref), step.arrival)
    return etas


def publish_plan(store: Store, plan_id: int, *, tz: ZoneInfo) -> dict[str, int]:
    """Publish a stored plan: every open member request of a stop gets the stop's ETA.

    Parameters
    ----------
    store
        The store holding the plan.
    plan_id
        The plan.
    tz
        The city's zone, for the text of the ``scheduled`` updates.

    Returns
    -------
    dict
        ``plan_id``, ``scheduled`` (requests given an ETA) and ``cleared`` (requests whose ETA
        an earlier published plan gave and this one no longer has).

    Raises
    ------
    NotFoundError
        If no plan has this id.
    """
    etas = plan_etas(store, plan_id)
    expected: dict[str, tuple[datetime, str]] = {}
    for wo in store.query_work_orders(ids=sorted(etas)) if etas else []:
        eta = etas[wo.work_order_id]
        for rid in wo.member_ids:
            expected[rid] = (eta, eta_text(eta, tz))
    counts = store.publish_plan(plan_id, expected)
    return {"plan_id": plan_id, **counts}


def publish_for_crews(store: Store, plan_id: int, *, by: str, tz: ZoneInfo) -> dict[str, int]:
    """Publish a plan to the crews (their itineraries) and to the citizens (ETAs, e-mails).

    The one publishing step of the dispatcher's console and of ``POST /plans/{id}/publish``:
    the plan becomes the crews' plan of its day, the stops' ETAs the reports'
    ``expected_datetime`` and the reporters are told (``scheduled`` in the outbox).

    Raises
    ------
    NotFoundError
        If no plan has this id.
    ConflictError
        If the plan is published already.
    """
    from geo311 import auth_store
    from geo311.errors import ConflictError

    doc = load_plan_document(store, plan_id)
    recorded = auth_store.insert_publication(
        store,
        plan_id=plan_id,
        plan_date=str(doc.plan_date or ""),
        published_at=datetime.now(UTC),
        published_by=by,
    )
    if not recorded:
        raise ConflictError(f"plan {plan_id} is already published")
    return publish_plan(store, plan_id, tz=tz)
