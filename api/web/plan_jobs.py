"""The dispatcher's planning runs as job rows: what a worker does with one, and its status.

"Plan the day" and "Re-plan" queue a row in the jobs table (:mod:`geo311.plans.jobs_store`) holding
what the run needs (the moment, the district, the plan to re-plan, the time limit); a worker
thread of any server process (:mod:`geo311.plans.jobs`, started by :mod:`api.plans.jobs`) solves it and
stores the plan, its audit row and the job's ``done`` state in one transaction. The progress
page reads the row, so any process answers it and it survives a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from api.plans import service as _plans
from api.plans.schemas import PlanRequest
from api.web import audit
from api.web.dispatch import day_crews
from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.plans import jobs_store
from geo311.plans import repo as plan_repo
from geo311.plans.document import PlanDocument
from geo311.plans.jobs import Job, JobKind
from geo311.settings import Settings

PLAN_KINDS = ("plan", "district", "replan", "horizon")


def plan_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """Return what the audit log keeps of a plan: crews, shifts, jobs (un)assigned, district."""
    summary = doc.get("summary") or {}
    return {
        "plan_id": doc.get("plan_id"),
        "at": doc.get("at"),
        "crews": [r.get("crew_id") for r in doc.get("routes") or []],
        "shifts": {
            str(c.get("id")): [c.get("shift_start"), c.get("shift_end")]
            for c in doc.get("crews") or []
        },
        "jobs_assigned": sum(
            1
            for r in doc.get("routes") or []
            for s in r.get("steps") or []
            if s.get("type") == "job"
        ),
        "jobs_unassigned": summary.get("jobs_unassigned", len(doc.get("unassigned") or [])),
        "district": doc.get("district"),
    }


def job_status(store: Store, job_id: str) -> dict[str, Any] | None:
    """Return a planning run's status from its row, or None when there is no such run.

    ``state`` is ``running`` (also while queued: ``queued`` is then true), ``done`` (with
    ``plan_id``) or ``failed`` (with ``error``); ``elapsed_s`` counts from the worker's start.
    """
    row = jobs_store.get(store, job_id)
    if row is None or row["kind"] not in PLAN_KINDS:
        return None
    started, finished = row["started_at"], row["finished_at"]
    end = finished or datetime.now(UTC)
    elapsed = 0.0
    if started is not None and row["state"] != "queued":  # a queued run may be a re-run
        elapsed = max(0.0, (end - started).total_seconds())
    out: dict[str, Any] = {
        "job_id": job_id,
        "kind": row["kind"],
        "state": "running" if row["state"] in ("queued", "running") else row["state"],
        "queued": row["state"] == "queued",
        "attempts": row["attempts"],
        "progress": row["progress"],
        "elapsed_s": round(elapsed, 1),
        "time_limit_s": float(row["params"].get("time_limit_s") or 0),
    }
    if row["state"] == "done":
        out["plan_id"] = int(row["plan_id"])
    elif row["state"] == "failed":
        out["error"] = row["error"]
    return out


def plan_kinds(store: Store, catalogue: Catalogue, settings: Settings) -> dict[str, JobKind]:
    """Return what a worker does with each planning job kind, over the app's objects."""
    from api.web.horizon import run_horizon  # imports this module

    return {
        "horizon": JobKind(lambda job: run_horizon(store, catalogue, settings, job)),
        "plan": JobKind(lambda job: _run_plan(store, catalogue, settings, job)),
        "district": JobKind(lambda job: _run_district(store, catalogue, settings, job)),
        "replan": JobKind(lambda job: _run_replan(store, catalogue, settings, job)),
    }


def _run_plan(
    store: Store, catalogue: Catalogue, settings: Settings, job: Job
) -> Callable[[], int]:
    """Solve the day for the crews on duty (as the dispatcher set them); return the save."""
    from routing.dispatch import save_day_plan

    params = job["params"]
    body = PlanRequest(at=params["at"], time_limit_s=params["time_limit_s"])
    crews = day_crews(store, settings, params["day"])
    day = _plans.solve_plan(store, catalogue, settings, body, crews=crews)

    def save() -> int:
        doc = save_day_plan(store, day).to_dict()
        audit.record(
            store, job["created_by"], "plan.create", f"plan:{doc['plan_id']}",
            after=plan_summary(doc),
        )  # fmt: skip
        return int(doc["plan_id"])

    return save


def _run_district(
    store: Store, catalogue: Catalogue, settings: Settings, job: Job
) -> Callable[[], int]:
    """Solve one district's open work with its crews (:func:`api.plans.service.solve_district_plan`)."""
    params = job["params"]
    from routing.engine.solve import SolveParams  # OR-Tools: loaded on use

    budget = SolveParams(time_limit_s=float(params["time_limit_s"]), seed=settings.solver_seed)
    doc, plan_date = _plans.solve_district_plan(
        store, catalogue, settings, at=datetime.fromisoformat(params["at"]),
        district=str(params["district"]), crews=day_crews(store, settings, params["day"]),
        params=budget,
    )  # fmt: skip

    def save() -> int:
        plan_id = plan_repo.save_plan(store, doc.to_dict(), plan_date=plan_date)
        stored = plan_repo.get_plan(store, plan_id)
        audit.record(
            store, job["created_by"], "plan.create", f"plan:{plan_id}", after=plan_summary(stored)
        )
        return plan_id

    return save


def _run_replan(
    store: Store, catalogue: Catalogue, settings: Settings, job: Job
) -> Callable[[], int]:
    """Re-plan a stored plan (with its locks; mid-day with new work); return the save."""
    from routing.dispatch import DayOptions
    from routing.dispatch.editing import dispatcher_locks, replan_locked, save_derived

    params = job["params"]
    doc = PlanDocument.from_dict(plan_repo.get_plan(store, int(params["plan_id"])))
    when = datetime.fromisoformat(params["at"]) if params.get("at") else None
    new_ids = [int(i) for i in params.get("new_work_order_ids") or []]
    locks = dispatcher_locks(doc)
    day = replan_locked(
        store,
        catalogue,
        doc,
        at=when,
        new_work_order_ids=new_ids,
        options=DayOptions(
            settings=settings, time_limit_s=float(params["time_limit_s"]), seed=settings.solver_seed
        ),
    )

    def save() -> int:
        saved = save_derived(store, day, doc, kind="replan", locks=locks).to_dict()
        audit.record(
            store,
            job["created_by"],
            "plan.replan",
            f"plan:{saved['plan_id']}",
            before={"plan_id": doc.plan_id, "locks": locks},
            after={
                **plan_summary(saved),
                "mode": "now" if when is not None else "locked",
                "at": when.isoformat() if when is not None else None,
                "new_work_orders": new_ids,
            },
        )
        return int(saved["plan_id"])

    return save


def local_day(when: datetime, settings: Settings) -> str:
    """Return the city's local date of a moment (the day whose crews plan)."""
    return when.astimezone(ZoneInfo(settings.timezone)).date().isoformat()
