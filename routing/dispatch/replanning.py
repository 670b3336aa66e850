"""Re-planning a stored plan mid-day: locked stops stay, urgent work orders are added."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time
from typing import Any

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.errors import ConfigurationError, InputError, NotFoundError
from geo311.model import WorkOrder
from geo311.plans import repo as plan_repo
from geo311.plans.document import CrewDoc, PlanDocument
from geo311.workorders import repo as work_order_repo
from routing.dispatch.build import (
    OUTSIDE_GRAPH,
    Built,
    build_problem,
    default_graph,
    require_aware,
    resolve_crews,
)
from routing.dispatch.day import DayPlan
from routing.dispatch.planning import DayOptions, catalogue_for
from routing.engine.crews import BreakSpec, CrewConfig, CrewSpec
from routing.engine.replan import locked_from_time, replan
from routing.engine.solve import Plan, Unassigned

__all__ = [
    "REPLAN_TIME_LIMIT_S",
    "Rebuilt",
    "ReplanChanges",
    "outside_kept",
    "plan_from_document",
    "rebuild_day",
    "replan_day",
]

_PLAN_FIELDS = {"origin", "summary", "routes", "unassigned", "violations", "next_shift_start_s"}
_PLAN_FIELDS |= {"meta"}
_NOT_ROUTE_FIELDS = {"geometry", "legs"}


def plan_from_document(doc: PlanDocument) -> Plan:
    """Read the solver's :class:`~routing.engine.solve.Plan` back from a stored plan document.

    Parameters
    ----------
    doc : PlanDocument
        :meth:`DayPlan.to_document` output, or a stored plan
        (:func:`geo311.plans.repo.load_plan_document`).

    Returns
    -------
    Plan
        Routes and unassigned jobs (the dispatch parts of the document are ignored).
    """
    data = doc.model_dump(include=_PLAN_FIELDS, exclude={"routes": {"__all__": _NOT_ROUTE_FIELDS}})
    return Plan.from_dict(data)


def _locked_count(crew_id: str, ids: list[str], given: int | Sequence[str]) -> int:
    if isinstance(given, int):
        if not 0 <= given <= len(ids):
            raise InputError(
                f"locked_stops[{crew_id!r}]={given} is outside 0..{len(ids)} "
                "(the crew's number of stops)",
                field="locked_stops",
            )
        return given
    wanted = list(given)
    unknown = [j for j in wanted if j not in ids]
    if unknown:
        raise InputError(
            f"locked_stops[{crew_id!r}]: {unknown} are not stops of the crew (its stops: {ids})",
            field="locked_stops",
        )
    return max((ids.index(j) + 1 for j in wanted), default=0)


def _locked(
    previous: Plan,
    done: Mapping[str, Sequence[str]],
    now_s: float,
    locked_stops: Mapping[str, int | Sequence[str]] | None,
) -> dict[str, list[str]]:
    """Per crew, the prefix of its route that stays: given counts/ids, else done or started."""
    by_time = locked_from_time(previous, now_s)
    out: dict[str, list[str]] = {}
    for r in previous.routes:
        ids = r.job_ids
        given = (locked_stops or {}).get(r.crew_id)
        if given is None:
            done_here = [ids.index(j) + 1 for j in done.get(r.crew_id, []) if j in ids]
            n = max([len(by_time.get(r.crew_id, [])), *done_here])
        else:
            n = _locked_count(r.crew_id, ids, given)
        out[r.crew_id] = ids[:n]
    unknown_crews = sorted(set(locked_stops or {}) - set(out))
    if unknown_crews:
        raise InputError(
            f"locked_stops names crews {unknown_crews} that the plan does not have "
            f"(crews: {sorted(out)})",
            field="locked_stops",
        )
    return out


def _local_time(text: Any, tz: Any) -> time | None:
    return None if text is None else datetime.fromisoformat(str(text)).astimezone(tz).time()


def _as_planned(spec: CrewSpec, crew: CrewDoc, tz: Any) -> CrewSpec:
    """Return the crew file's crew with the shift and breaks the plan was made with.

    A dispatcher may have shortened a shift or dropped a break for that day; a re-plan, or
    a hand edit checked against the plan, keeps those.
    """
    start, end = _local_time(crew.shift_start, tz), _local_time(crew.shift_end, tz)
    if start is None or end is None:
        return spec
    breaks = []
    for b in crew.breaks:
        wins = [(_local_time(a, tz), _local_time(z, tz)) for a, z in b.windows]
        breaks.append(
            BreakSpec(
                b.id, b.minutes, tuple((a, z) for a, z in wins if a is not None and z is not None)
            )
        )
    return replace(spec, shift_start=start, shift_end=end, breaks=tuple(breaks))


def _crews_of_plan(base: CrewConfig, doc: PlanDocument) -> CrewConfig:
    """Return the crews the plan was made for, in its order (all of ``base`` when bare).

    Each crew keeps the shift and breaks of the plan (the dispatcher's changes for the day),
    and the yards are the plan's, in its order (a district's plan has only its own yards:
    the jobs' matrix locations come after them).
    """
    crew_ids = [c.id for c in doc.crews]
    if not crew_ids:
        return base
    by_id = {c.id: c for c in base.crews}
    missing = [c for c in crew_ids if c not in by_id]
    if missing:
        raise ConfigurationError(
            f"plan crews {missing} are not in the crew file {base.source}; pass the crew "
            "file the plan was made with (crews_file=...)",
            field="crews_file",
        )
    yards = {y.id: y for y in base.yards}
    used = tuple(yards[d.id] for d in doc.depots if d.id in yards)
    return CrewConfig(
        timezone=base.timezone,
        yards=used or base.yards,
        crews=tuple(_as_planned(by_id[c.id], c, base.tz) for c in doc.crews),
        source=base.source,
    )


def _work_orders(
    store: Store, doc: PlanDocument, new_work_order_ids: Sequence[int]
) -> tuple[list[WorkOrder], list[int]]:
    """Return the plan's work orders on the graph (in location order), then the new ones."""
    on_graph = {j.work_order_id: j.location_index for j in doc.jobs.values()}
    prev_ids = sorted(
        (int(w) for w, idx in on_graph.items() if w is not None and idx is not None),
        key=lambda w: int(on_graph[w] or 0),
    )
    new_ids = [int(w) for w in new_work_order_ids if int(w) not in set(prev_ids)]
    found = {
        wo.work_order_id: wo
        for wo in work_order_repo.query_work_orders(store, ids=prev_ids + new_ids)
    }
    missing = [w for w in new_ids if w not in found]
    if missing:
        raise NotFoundError(f"new_work_order_ids {missing} do not exist; pass stored work orders")
    gone = [w for w in prev_ids if w not in found]
    if gone:
        raise NotFoundError(
            f"work orders {gone} of plan {doc.plan_id} no longer exist; plan the day anew"
        )
    return [found[w] for w in prev_ids] + [found[w] for w in new_ids], new_ids


def _check_locations(built: Built, doc: PlanDocument) -> None:
    """Check that the previous jobs kept their location indices (locked steps use them)."""
    for j in built.problem.jobs:
        prev = doc.jobs.get(j.id)
        if prev is not None and prev.location_index != j.location_index:
            raise InputError(
                f"job {j.id}: its location moved since plan {doc.plan_id} "
                "(different street graph or work-order point); plan the day anew",
                field="plan",
            )


def outside_kept(built: Built, doc: PlanDocument) -> list[Unassigned]:
    """Return the work orders outside the graph: they stay unassigned with their reason."""
    return built.outside + [
        Unassigned(
            job_id=u.job_id,
            code=u.code,
            reason=u.reason,
            priority=u.priority,
            ref=u.ref,
            location_index=u.location_index,
            sla_due_s=u.sla_due_s,
        )
        for u in doc.unassigned
        if u.code == OUTSIDE_GRAPH and u.job_id not in built.work_orders
    ]


@dataclass
class Rebuilt:
    """A stored plan's routing problem built again (street graph, matrix, the day's crews).

    Attributes
    ----------
    built : Built
        The problem of the plan's work orders on the graph (then the new ones), its snaps
        and matrix.
    crews : CrewConfig
        The plan's crews with the shifts and breaks it was made with.
    catalogue : Catalogue
        The service catalogue.
    previous : Plan
        The stored plan as the solver's :class:`~routing.engine.solve.Plan`.
    new_ids : list of int
        The new work orders added after the plan's own.
    graph_source : str
        Where the street graph came from.
    """

    built: Built
    crews: CrewConfig
    catalogue: Catalogue
    previous: Plan
    new_ids: list[int]
    graph_source: str


def rebuild_day(
    store: Store,
    catalogue: Catalogue | None,
    doc: PlanDocument,
    *,
    new_work_order_ids: Sequence[int] = (),
    options: DayOptions | None = None,
) -> Rebuilt:
    """Build a stored plan's routing problem again, with the same location of every job.

    The one step behind a re-plan (:func:`replan_day`) and a hand edit
    (:mod:`routing.dispatch.editing`); parameters as for :func:`replan_day` (of
    ``options``, the crews, crew file, street graph and settings; every crew of the plan).

    Raises
    ------
    NotFoundError
        When a work order of the plan, or a new one, does not exist.
    InputError
        When a job's location moved since the plan (another street graph).
    """
    opts = options or DayOptions()
    settings = opts.settings
    cat = catalogue_for(catalogue, settings)
    known = {s.skill for s in cat.services.values()}
    base = _crews_of_plan(
        resolve_crews(
            crews=opts.crews,
            crews_file=opts.crews_file,
            crew_ids=None,
            settings=settings,
            known_skills=known,
        ),
        doc,
    )
    street = opts.graph if opts.graph is not None else default_graph(settings)
    previous = plan_from_document(doc)
    origin = previous.origin.astimezone(base.tz)
    orders, new_ids = _work_orders(store, doc, new_work_order_ids)
    built = build_problem(
        orders,
        config=base,
        graph=street,
        catalogue=cat,
        origin=origin,
        urgent_ids=frozenset(new_ids),
    )
    _check_locations(built, doc)
    return Rebuilt(built, base, cat, previous, new_ids, street.summary.source)


#: The solver time limit of a re-plan when no options are given (seconds).
REPLAN_TIME_LIMIT_S = 5.0


@dataclass(frozen=True, kw_only=True)
class ReplanChanges:
    """What a re-plan keeps, adds and leaves out.

    Parameters
    ----------
    locked_stops : mapping, optional
        Crew id -> number of leading stops kept, or the job ids done/in progress (the route is
        kept up to the last of them). Crews not named keep every stop whose service started by
        the re-plan's moment or that the document marks ``done``.
    new_work_order_ids : sequence of int
        Urgent work orders to add (priority at least "due today").
    left_out : sequence of Unassigned
        Jobs of the plan kept off every route with their reason (stops the dispatcher
        dropped): not solved again, unassigned in the new plan.
    """

    locked_stops: Mapping[str, int | Sequence[str]] | None = None
    new_work_order_ids: Sequence[int] = ()
    left_out: Sequence[Unassigned] = ()


def replan_day(
    store: Store,
    catalogue: Catalogue | None,
    plan: int | PlanDocument,
    *,
    at: datetime,
    changes: ReplanChanges | None = None,
    options: DayOptions | None = None,
) -> DayPlan:
    """Re-plan a stored plan at ``at``: locked stops stay, new urgent work orders are added.

    Parameters
    ----------
    store : Store
        The store (work orders, and the plan when ``plan`` is an id).
    catalogue : Catalogue or None
        Service catalogue; None for the one of ``settings.services_file``.
    plan : int or PlanDocument
        A stored plan id, or the stored document.
    at : datetime, keyword-only
        Now (aware).
    changes : ReplanChanges, keyword-only, optional
        The stops kept, the urgent work orders added and the jobs left out
        (:class:`ReplanChanges`; none by default).
    options : DayOptions, keyword-only, optional
        The crews or crew file the plan was made with (default: settings or
        ``data/crews.toml``), street graph, settings, time limit and seed, as for
        :func:`~routing.dispatch.plan_day`; ``crew_ids`` is not used (the plan's crews are),
        and the search runs one worker unless ``workers`` is given. Default: a
        :data:`REPLAN_TIME_LIMIT_S` time limit.

    Returns
    -------
    DayPlan
        The new plan (``meta['replanned_from']`` is the parent plan id when known).

    Raises
    ------
    NotFoundError
        When the plan or a new work order does not exist.
    InputError
        When ``at`` is naive or a locked stop is not a stop of its crew.
    """
    at = require_aware(at, "at")
    doc = plan_repo.load_plan_document(store, plan) if isinstance(plan, int) else plan
    ch = changes or ReplanChanges()
    opts = options or DayOptions(time_limit_s=REPLAN_TIME_LIMIT_S)
    left_out = ch.left_out
    rebuilt = rebuild_day(
        store, catalogue, doc, new_work_order_ids=ch.new_work_order_ids, options=opts
    )
    built, base, cat, new_ids = rebuilt.built, rebuilt.crews, rebuilt.catalogue, rebuilt.new_ids
    previous, origin = rebuilt.previous, rebuilt.previous.origin.astimezone(rebuilt.crews.tz)
    now_s = (at - origin).total_seconds()
    locked = _locked(previous, doc.done, now_s, ch.locked_stops)
    out_ids = {u.job_id for u in left_out}
    problem = replace(
        built.problem, jobs=tuple(j for j in built.problem.jobs if j.id not in out_ids)
    )
    params = replace(opts.solve_params(), workers=opts.workers or 1)
    new_plan = replan(problem, previous, now_s=now_s, locked=locked, params=params)
    if left_out:
        new_plan = replace(new_plan, unassigned=new_plan.unassigned + tuple(left_out))
    return DayPlan(
        at=at,
        problem=built.problem,
        plan=new_plan,
        work_orders=built.work_orders,
        snaps=built.snaps,
        matrix=built.matrix,
        outside=outside_kept(built, doc),
        crew_config=base,
        catalogue=cat,
        graph_source=rebuilt.graph_source,
        meta={"replanned_from": doc.plan_id, "locked": locked, "new_work_orders": new_ids},
    )
