"""The dispatcher's hand edits of a stored plan: move, lock, unlock, drop; re-plan with locks.

A hand edit changes the stop sequences of a stored plan (:func:`apply_edit`, pure); the
plan's routing problem is built again (:func:`~routing.dispatch.replanning.rebuild_day`) and
the sequences are driven as written (:func:`routing.engine.evaluate.evaluate_routes`): new ETAs
and what breaks, before anything is saved (:func:`edit_day`). Saving
(:func:`save_derived`) stores a new plan whose parent is the edited one.

A lock keeps a stop on its crew at its position, and with it the stops before it: the locks
of a crew are a prefix of its route (``dispatcher_locks`` in the document), which is what
:func:`routing.engine.replan.replan` keeps when the day is solved again (:func:`replan_locked`).
Stops the dispatcher dropped stay unassigned (code :data:`DROPPED`) through a re-plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.errors import ConflictError, InputError
from geo311.plans import repo as plan_repo
from geo311.plans.document import PlanDocument
from geo311.plans.repo import load_plan_document
from geo311.settings import Settings
from routing.dispatch.build import require_aware
from routing.dispatch.day import DayPlan
from routing.dispatch.planning import DayOptions
from routing.dispatch.replanning import (
    ReplanChanges,
    outside_kept,
    plan_from_document,
    rebuild_day,
    replan_day,
)
from routing.engine.evaluate import Evaluation, evaluate_routes
from routing.engine.plan import Unassigned
from routing.engine.replan import locked_from_time

__all__ = [
    "ACTIONS",
    "DROPPED",
    "EditResult",
    "HandEdit",
    "apply_edit",
    "dispatcher_locks",
    "edit_day",
    "replan_locked",
    "save_derived",
]

DROPPED = "dropped_by_dispatcher"
"""Reason code of a stop the dispatcher took off the plan."""
ACTIONS = ("move", "lock", "unlock", "drop")
LOCKS_KEY = "dispatcher_locks"
# what a plan made from another one keeps of it
_CARRIED = ("district", "day", "outside_districts", "done", "done_at")


@dataclass(frozen=True)
class HandEdit:
    """One change a dispatcher makes to a plan.

    Attributes
    ----------
    action : str
        ``move`` (to ``crew_id`` at ``position``), ``lock``, ``unlock`` or ``drop``.
    job_id : str
        The stop (a route's stop, or an unassigned job for ``move``).
    crew_id : str
        The crew a stop moves to.
    position : int
        Where on that crew's route (1 = first stop; past the end = last).
    """

    action: str
    job_id: str
    crew_id: str = ""
    position: int = 0

    def describe(self) -> str:
        """Return the change in words, e.g. ``move j-12 to crew pothole-2, stop 3``."""
        if self.action == "move":
            return f"move {self.job_id} to crew {self.crew_id}, stop {self.position}"
        return f"{self.action} {self.job_id}"


@dataclass
class Edited:
    """The plan's sequences after one hand edit: routes, locks and dropped stops."""

    sequences: dict[str, list[str]]
    locks: dict[str, list[str]]
    dropped: dict[str, str] = field(default_factory=dict)  # job id -> reason text
    placed: set[str] = field(default_factory=set)  # unassigned jobs now on a route


def dispatcher_locks(doc: PlanDocument) -> dict[str, list[str]]:
    """Return, per crew, the stops the dispatcher locked (a prefix of its route)."""
    raw = (doc.model_extra or {}).get(LOCKS_KEY) or {}
    out: dict[str, list[str]] = {}
    for route in doc.routes:
        ids = [str(s.job_id) for s in route.job_steps]
        locked = [str(j) for j in raw.get(str(route.crew_id)) or []]
        if locked and ids[: len(locked)] == locked:
            out[str(route.crew_id)] = locked
    return out


def _where(sequences: dict[str, list[str]], job_id: str) -> tuple[str, int] | None:
    for crew, ids in sequences.items():
        if job_id in ids:
            return crew, ids.index(job_id)
    return None


def _movable(doc: PlanDocument, edited: Edited, job_id: str) -> tuple[str, int] | None:
    """Return where the stop is (None: unassigned); refuse a done or locked stop."""
    where = _where(edited.sequences, job_id)
    if where is None:
        job = doc.jobs.get(job_id)
        if job is None or job.location_index is None:
            raise InputError(
                f"job_id: {job_id!r} is not a stop or a routable unassigned job of plan "
                f"{doc.plan_id}; pick one from the plan page",
                field="job_id",
            )
        return None
    crew, k = where
    if job_id in doc.done_for(crew):
        raise ConflictError(f"job_id: {job_id!r} is done already; a done stop stays where it is")
    if k < len(edited.locks.get(crew, [])):
        raise ConflictError(
            f"job_id: {job_id!r} is locked on crew {crew} (stop {k + 1}); unlock it first"
        )
    return where


def apply_edit(doc: PlanDocument, edit: HandEdit, *, user: str) -> Edited:
    """Return the plan's stop sequences, locks and dropped stops after one hand edit.

    Parameters
    ----------
    doc
        The stored plan.
    edit
        The change.
    user
        Who makes it (named in a dropped stop's reason).

    Raises
    ------
    InputError
        When the action, stop, crew or position is not one of the plan's; the message names
        the field.
    ConflictError
        When the stop is done, or locked (unlock it first), or a move lands among locked stops.
    """
    if edit.action not in ACTIONS:
        raise InputError(f"action: {edit.action!r} is not one of {ACTIONS}", field="action")
    edited = Edited(
        sequences={str(r.crew_id): [str(s.job_id) for s in r.job_steps] for r in doc.routes},
        locks=dispatcher_locks(doc),
    )
    if edit.action in ("lock", "unlock"):
        return _lock(edited, edit)
    where = _movable(doc, edited, edit.job_id)
    if edit.action == "drop":
        if where is None:
            raise InputError(f"job_id: {edit.job_id!r} is not on a route", field="job_id")
        edited.sequences[where[0]].remove(edit.job_id)
        edited.dropped[edit.job_id] = f"dropped by the dispatcher ({user}) from crew {where[0]}"
        return edited
    return _move(edited, edit, where)


def _move(edited: Edited, edit: HandEdit, where: tuple[str, int] | None) -> Edited:
    target = edited.sequences.get(edit.crew_id)
    if target is None:
        raise InputError(
            f"crew_id: {edit.crew_id!r} has no route in this plan; crews: "
            f"{', '.join(edited.sequences)}",
            field="crew_id",
        )
    if where is None:
        edited.placed.add(edit.job_id)
    else:
        edited.sequences[where[0]].remove(edit.job_id)
    locked = len(edited.locks.get(edit.crew_id, []))
    position = max(1, edit.position)
    if position <= locked:
        raise ConflictError(
            f"position: stops 1-{locked} of crew {edit.crew_id} are locked; move the stop to "
            f"position {locked + 1} or later, or unlock them first"
        )
    target.insert(min(position, len(target) + 1) - 1, edit.job_id)
    return edited


def _lock(edited: Edited, edit: HandEdit) -> Edited:
    where = _where(edited.sequences, edit.job_id)
    if where is None:
        raise InputError(
            f"job_id: {edit.job_id!r} is not on a route; only a route's stop can be locked",
            field="job_id",
        )
    crew, k = where
    ids = edited.sequences[crew]
    now = len(edited.locks.get(crew, []))
    keep = max(now, k + 1) if edit.action == "lock" else min(now, k)
    edited.locks = {c: v for c, v in edited.locks.items() if c != crew}
    if keep:
        edited.locks[crew] = ids[:keep]
    return edited


@dataclass
class EditResult:
    """A hand edit checked by the engine: the new day, what breaks, the locks.

    Attributes
    ----------
    day : DayPlan
        The edited plan, its routes driven as written (new ETAs).
    evaluation : Evaluation
        The routes and their violations (hard ones forbid saving).
    locks : dict
        Crew -> locked stops of the edited plan.
    changed : list of str
        The crews whose stops changed.
    """

    day: DayPlan
    evaluation: Evaluation
    locks: dict[str, list[str]]
    changed: list[str]


def edit_day(
    store: Store,
    catalogue: Catalogue | None,
    doc: PlanDocument,
    edit: HandEdit,
    *,
    user: str,
    settings: Settings | None = None,
) -> EditResult:
    """Apply a hand edit to a stored plan and drive the routes again (nothing is saved).

    Raises
    ------
    InputError, ConflictError
        As :func:`apply_edit`, and when the plan's work orders moved or are gone.
    """
    edited = apply_edit(doc, edit, user=user)
    rebuilt = rebuild_day(store, catalogue, doc, options=DayOptions(settings=settings))
    built = rebuilt.built
    before = {str(r.crew_id): [str(s.job_id) for s in r.job_steps] for r in doc.routes}
    changed = [c for c, ids in edited.sequences.items() if before.get(c) != ids]
    # the crews whose stops changed are driven again; the others keep their times
    evaluation = evaluate_routes(
        built.problem,
        {c: edited.sequences[c] for c in changed},
        labels=doc.labels,
        fixed=[r for r in rebuilt.previous.routes if r.crew_id not in changed],
    )
    unassigned = _unassigned(doc, edited, {j.id: j.priority for j in built.problem.jobs})
    plan = evaluation.to_plan(
        built.problem,
        unassigned=unassigned,
        next_shift_start_s=rebuilt.previous.next_shift_start_s,
        meta={**rebuilt.previous.meta, "edit": edit.describe()},
    )
    day = DayPlan(
        at=doc.at or plan.origin,
        problem=built.problem,
        plan=plan,
        work_orders=built.work_orders,
        snaps=built.snaps,
        matrix=built.matrix,
        outside=outside_kept(built, doc),
        crew_config=rebuilt.crews,
        catalogue=rebuilt.catalogue,
        graph_source=rebuilt.graph_source,
        meta={"edited_from": doc.plan_id, "edit": edit.describe(), "edited_by": user},
    )
    return EditResult(day, evaluation, edited.locks, changed)


def _unassigned(doc: PlanDocument, edited: Edited, priority: dict[str, int]) -> list[Unassigned]:
    """Return the solver's unassigned jobs still off the routes, then the newly dropped."""
    out = [
        _as_unassigned(u)
        for u in doc.unassigned
        if u.job_id not in edited.placed and u.job_id in priority  # outside-graph: kept apart
    ]
    for job_id, reason in edited.dropped.items():
        job = doc.jobs[job_id]
        due = (job.sla_due - doc.origin).total_seconds() if job.sla_due and doc.origin else None
        out.append(
            Unassigned(
                job_id=job_id, code=DROPPED, reason=reason, priority=priority.get(job_id, 0),
                ref=str(job.work_order_id), location_index=int(job.location_index or -1),
                sla_due_s=due,
            )
        )  # fmt: skip
    return out


def save_derived(
    store: Store,
    day: DayPlan,
    parent: PlanDocument,
    *,
    kind: str,
    locks: dict[str, list[str]],
) -> PlanDocument:
    """Store a plan made from ``parent`` (an edit or a re-plan) and return it as stored.

    It keeps the parent's district, day, done stops and the dispatcher's locks that are
    still a prefix of their crew's route; ``parent_plan_id`` is the parent's id.
    """
    doc = day.to_document().to_dict()
    base = parent.to_dict()
    doc.update({k: base[k] for k in _CARRIED if k in base})
    routes = {
        str(r["crew_id"]): [s.get("job_id") for s in r["steps"] if s["type"] == "job"]
        for r in doc["routes"]
    }
    doc[LOCKS_KEY] = {
        c: ids for c, ids in locks.items() if ids and routes.get(c, [])[: len(ids)] == ids
    }
    plan_id = plan_repo.save_plan(
        store, doc, plan_date=day.plan_date, kind=kind, parent_plan_id=parent.plan_id
    )
    return load_plan_document(store, plan_id)


def replan_locked(
    store: Store,
    catalogue: Catalogue | None,
    doc: PlanDocument,
    *,
    at: datetime | None = None,
    new_work_order_ids: Sequence[int] = (),
    options: DayOptions | None = None,
) -> DayPlan:
    """Solve a stored plan's day again, keeping what the dispatcher locked and dropped.

    Parameters
    ----------
    store, catalogue, doc
        The store, the catalogue and the stored plan.
    at : datetime, keyword-only, optional
        None: solve the whole day again from the plan's start (only locked stops stay).
        A moment: the mid-day re-plan (the stops done, or started by then, stay too).
    new_work_order_ids : sequence of int, keyword-only
        Urgent work orders to insert.
    options : DayOptions, keyword-only, optional
        Settings, time limit and seed, as for :func:`~routing.dispatch.replan_day`.

    Returns
    -------
    DayPlan
        The new day (locked stops first on their crews, in their order).
    """
    locks = dispatcher_locks(doc)
    when = require_aware(at, "at") if at is not None else doc.at
    if when is None:
        raise InputError(f"plan {doc.plan_id} has no 'at'; give the moment to re-plan from")
    keep: dict[str, int | Sequence[str]] = {c: len(v) for c, v in locks.items()}
    if at is not None:  # mid-day: what is done or started stays as well
        previous = plan_from_document(doc)
        started = locked_from_time(previous, (when - previous.origin).total_seconds())
        for r in doc.routes:
            crew = str(r.crew_id)
            ids = [str(s.job_id) for s in r.job_steps]
            done = [ids.index(j) + 1 for j in doc.done_for(crew) if j in ids]
            keep[crew] = max([len(locks.get(crew, [])), len(started.get(crew, [])), *done])
    else:
        keep = {str(r.crew_id): len(locks.get(str(r.crew_id), [])) for r in doc.routes}
    dropped = [u for u in doc.unassigned if u.code == DROPPED]
    changes = ReplanChanges(
        locked_stops=keep,
        new_work_order_ids=new_work_order_ids,
        left_out=[_as_unassigned(u) for u in dropped],
    )
    return replan_day(store, catalogue, doc, at=when, changes=changes, options=options)


def _as_unassigned(u: Any) -> Unassigned:
    return Unassigned(
        job_id=u.job_id, code=u.code, reason=u.reason, priority=u.priority, ref=u.ref,
        location_index=u.location_index, sla_due_s=u.sla_due_s,
    )  # fmt: skip
