"""Crew stop actions: who may act on which stop, and each action as one unit of work.

Every path that changes a stop (the crew page's actions, the crews JSON router) goes through
:func:`act`: the caller may act on this stop (a crew: a stop of its own route in the plan
published for its day; a dispatcher: any stop of a published plan), the state machine of
:mod:`geo311.plans.stop_states` moves the stop's row, a ``done`` closes the work order, and the
audit row is written, all in one ``store.begin()`` transaction (which also holds the
caller's idempotency key, when it has one).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.errors import ConflictError, NotFoundError
from geo311.plans import stop_states, stops_store
from geo311.plans.document import PlanDocument, StepDoc
from geo311.plans.repo import load_plan_document
from geo311.plans.stop_states import StopChange
from geo311.staff import store as auth_store
from geo311.workorders import repo as work_order_repo


@dataclass(frozen=True)
class Actor:
    """Who acts on a stop: the name the audit log keeps, the role, and a crew's crew id."""

    name: str
    role: str
    crew_id: str | None = None

    @classmethod
    def from_principal(cls, who: Any) -> Actor:
        """Return the actor of an :class:`api.principal.Principal` (its user or token id)."""
        return cls(str(who.actor), str(who.role), who.crew_id if who.role == "crew" else None)


@dataclass(frozen=True)
class Closing:
    """How a ``done`` closes the stop's work order (state and closure category)."""

    status: str = "fixed"
    closure_category: str = "Case Resolved"


def current_plan(
    store: Store, plan_date: str, crew_id: str, *, known: PlanDocument | None = None
) -> int | None:
    """Return the plan a crew works on a day: the newest publication of that day with its route.

    ``known`` is a plan already read (not read again).
    """
    for plan_id in stops_store.publications_on(store, plan_date):
        doc = known if known is not None and known.plan_id == plan_id else None
        if crew_id in (doc or load_plan_document(store, plan_id)).crew_ids():
            return plan_id
    return None


def _owner(doc: PlanDocument, job_id: str) -> str | None:
    for route in doc.routes:
        if any(str(s.job_id) == job_id for s in route.job_steps):
            return str(route.crew_id)
    return None


def check_access(store: Store, actor: Actor, change: StopChange) -> StepDoc:
    """Return the stop's step when the actor may act on it.

    Raises
    ------
    HTTPException
        403 for a role that may not take the action, a crew acting for another crew or on
        another crew's stop.
    NotFoundError
        For an unknown plan, crew or stop.
    ConflictError
        For a plan that was never published, or (for a crew) one another publication of the
        day replaced.
    """
    if not stop_states.may(change.action, actor.role):
        allowed = ", ".join(sorted(stop_states.ROLES.get(change.action, ())))
        raise HTTPException(
            403,
            f"the stop action {change.action!r} is not for a {actor.role}; it is for: {allowed}",
        )
    if actor.role == "crew" and actor.crew_id != change.crew_id:
        raise HTTPException(
            403, f"crew {actor.crew_id} acts only on its own stops, not crew {change.crew_id!r}'s"
        )
    doc = load_plan_document(store, change.plan_id)
    steps = doc.route(change.crew_id).job_steps  # the 404 names the plan's crews
    step = next((s for s in steps if str(s.job_id) == change.job_id), None)
    if step is None:
        owner = _owner(doc, change.job_id)
        if owner is not None:
            raise HTTPException(
                403,
                f"job_id {change.job_id!r} is a stop of crew {owner!r}, not of crew "
                f"{change.crew_id!r}; act only on the stops of your own route",
            )
        raise NotFoundError(
            f"job_id {change.job_id!r} is not a stop of crew {change.crew_id!r} in plan "
            f"{change.plan_id}; use a job_id from the itinerary"
        )
    _check_published(store, actor, change, doc)
    return step


def _check_published(store: Store, actor: Actor, change: StopChange, doc: PlanDocument) -> None:
    publication = auth_store.publication(store, change.plan_id)
    if publication is None:
        raise ConflictError(
            f"plan {change.plan_id} is a draft that was never published: its stops cannot be "
            "marked; act on the stops of the published plan (reload the page), or publish it"
        )
    if actor.role != "crew":
        return
    day = str(publication["plan_date"])
    current = current_plan(store, day, change.crew_id, known=doc)
    if current != change.plan_id:
        raise ConflictError(
            f"plan {change.plan_id} is no longer crew {change.crew_id}'s plan for {day}: plan "
            f"{current} replaced it; reload the page and act on the stops of plan {current}"
        )


def act(
    store: Store,
    catalogue: Catalogue,
    actor: Actor,
    change: StopChange,
    *,
    closing: Closing | None = None,
) -> dict[str, Any]:
    """Check and apply one stop action in one transaction; return ``{"ok", "state"}``.

    The stop's row, the work order a ``done`` closes (with the crew's note and photo) and
    the ``stop.<action>`` audit row commit together, joined with the caller's transaction.

    Raises
    ------
    HTTPException, NotFoundError, ConflictError
        From :func:`check_access`.
    geo311.plans.stop_states.StopStateConflict
        When the stop's state does not allow the action (409 with ``state``).
    """
    with store.begin():
        step = check_access(store, actor, change)
        before = stop_states.apply_change(store, change)
        after = stop_states.TRANSITIONS[change.action][before]
        if change.action == "done":
            _close(store, catalogue, step, change, closing or Closing())
        auth_store.insert_audit(
            store,
            at=datetime.now(UTC),
            actor=actor.name,
            action=f"stop.{change.action}",
            obj=f"plan:{change.plan_id}:{change.crew_id}:{change.job_id}",
            before={"state": before},
            after={**asdict(change), "state": after},
        )
    return {"ok": True, "state": after}


def _close(
    store: Store, catalogue: Catalogue, step: StepDoc, change: StopChange, closing: Closing
) -> None:
    """Close the stop's work order (when it is still open) with the crew's note and photo."""
    from geo311.workorders.workflow import StatusChange, apply_status

    ref = int(step.ref) if step.ref is not None and step.ref.isdigit() else None
    if (
        ref is None
        or not catalogue.state(work_order_repo.get_work_order(store, ref).status).is_open
    ):
        return
    apply_status(
        store,
        catalogue,
        ref,
        StatusChange(
            status=closing.status,
            note=change.note,
            closure_category=closing.closure_category,
            media_url=change.media_url,
        ),
    )
