"""Planner's what-if simulations behind the simulations router: queue, run by a worker, read.

A simulation (:func:`routing.simulate.run.run_simulation`, seconds to minutes of CPU) is started by
``POST /simulations``: its document is stored in the plans table (``kind='simulation'``,
``status='running'``, so the simulation id is a plan id) together with a ``simulation`` row in the
jobs table (:mod:`geo311.plans.jobs_store`). A job worker of any server process (:mod:`geo311.plans.jobs`,
one simulation thread per process, see :mod:`api.plans.jobs`) claims it, runs it under a lease and
stores the finished document (result, plain-text table, plot as base64 PNG) and the job's state
in one transaction; a worker that dies mid-run leaves the job to another once its lease expires.
Any process answers ``GET /simulations/{id}`` from the store, before and after a restart.
"""

from __future__ import annotations

import base64
import logging
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from api.planner.schemas import SimulationRequest
from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.errors import Geo311Error, NotFoundError
from geo311.plans import jobs_store
from geo311.plans import repo as plan_repo
from geo311.plans.jobs import Job, JobKind, report_progress
from geo311.settings import Settings
from maps.simulation_plot import plot_simulation

log = logging.getLogger("api")

KIND = "simulation"
MAX_PENDING = 4
"""Simulations accepted but not finished (in every server process); more are refused with 429."""
_PLOT_KEY = "plot_png_base64"
_INTERNAL = "internal error while simulating; the failure was logged, please retry"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SimulationRunner:
    """Queues simulations as job rows and reads their documents back from the store.

    Parameters
    ----------
    max_pending
        Simulations queued or running (every process) beyond which ``submit`` answers 429.
    """

    def __init__(self, *, max_pending: int = MAX_PENDING) -> None:
        self.max_pending = max_pending
        self.wake: Callable[[], None] | None = None
        """Set by the app: tells this process's job workers a job was queued."""

    def submit(self, body: SimulationRequest, *, store: Store, created_by: str) -> dict[str, Any]:
        """Store the simulation as running and queue its job (one transaction).

        Parameters
        ----------
        body
            The validated request.
        store
            The application's store.
        created_by
            Who started it (the job row's ``created_by``).

        Returns
        -------
        dict
            The simulation document (``status='running'``).

        Raises
        ------
        HTTPException
            429 when ``max_pending`` simulations are already waiting or running; 503 when the
            simulation module is not installed.
        """
        _simulate_module()  # 503 now rather than a failed simulation later
        request = body.model_dump(mode="json", by_alias=True)
        params = {"request": request}
        return self._queue(store, request, body.start.isoformat(), params, created_by)

    def submit_calibrated(
        self, *, service: str, target_p90_days: float, store: Store, created_by: str
    ) -> dict[str, Any]:
        """Queue the calibrated what-if of one service (City's year replayed, then geo311's).

        Parameters
        ----------
        service
            Catalogue service code (its records must carry waiting time).
        target_p90_days
            The planner's target: the effort needed for a p90 at or below it.
        store, created_by
            As for :meth:`submit`.

        Returns
        -------
        dict
            The simulation document (``status='running'``).
        """
        _simulate_module()
        request = {"calibrated": True, "service": service, "target_p90_days": target_p90_days}
        params = {"calibrated": request}
        return self._queue(store, request, "2015-07-01", params, created_by)

    def _queue(
        self,
        store: Store,
        request: dict[str, Any],
        plan_date: str,
        params: dict[str, Any],
        created_by: str,
    ) -> dict[str, Any]:
        """Store a running simulation document and its job (one transaction); wake a worker."""
        doc: dict[str, Any] = {
            "status": "running",
            "request": request,
            "submitted": _now(),
            "started": None,
            "finished": None,
            "error": None,
            "result": None,
            "table": None,
        }
        with store.begin():
            pending = jobs_store.count_unfinished(store, KIND)
            if pending >= self.max_pending:
                raise HTTPException(
                    429,
                    f"{pending} simulations are already running or waiting (at most "
                    f"{self.max_pending}); poll GET /simulations/{{id}} and retry when one is done",
                )
            sim_id = plan_repo.save_plan(store, doc, plan_date=plan_date, kind=KIND)
            jobs_store.submit(store, KIND, params, created_by=created_by, plan_id=sim_id)
        if self.wake is not None:
            self.wake()
        return _public(sim_id, doc)

    def get(self, store: Store, simulation_id: int) -> dict[str, Any]:
        """Return a simulation's public document, read from the store.

        Raises
        ------
        NotFoundError
            When no simulation has this id.
        """
        return _public(simulation_id, _stored(store, simulation_id))

    def progress(self, store: Store, simulation_id: int) -> dict[str, Any]:
        """Return how far a simulation is, for a page that polls it (small; no result).

        Returns
        -------
        dict
            ``simulation_id``, ``status`` (running, done or failed), ``queued`` (waiting for
            a worker), ``elapsed_s`` (since a worker started it, while running),
            ``wall_time_s`` (when done), ``error`` (when failed) and ``progress`` (the share of
            a running calibrated what-if done, 0..1; None otherwise).

        Raises
        ------
        NotFoundError
            When no simulation has this id.
        """
        doc = _stored(store, simulation_id)
        out: dict[str, Any] = {
            "simulation_id": simulation_id,
            "status": doc["status"],
            "queued": False,
            "elapsed_s": None,
            "wall_time_s": doc.get("wall_time_s"),
            "error": doc.get("error") if doc["status"] == "failed" else None,
            "progress": None,
        }
        job = jobs_store.job_of_plan(store, simulation_id) if doc["status"] == "running" else None
        if job is not None:
            out["queued"] = job["state"] == "queued"
            out["progress"] = (
                float(job.get("progress") or 0.0) if "calibrated" in job["params"] else None
            )
            started = job.get("started_at")
            if isinstance(started, datetime) and not out["queued"]:
                started = started if started.tzinfo else started.replace(tzinfo=UTC)
                out["elapsed_s"] = round((datetime.now(UTC) - started).total_seconds(), 1)
        return out

    def plot(self, store: Store, simulation_id: int) -> bytes:
        """Return a finished simulation's plot (PNG bytes).

        Raises
        ------
        NotFoundError
            When no simulation has this id, or it is not done (still running or failed).
        """
        doc = _stored(store, simulation_id)
        if doc["status"] == "running":
            raise NotFoundError(
                f"simulation {simulation_id} is still running; poll GET "
                f"/simulations/{simulation_id} until its status is done, then fetch the plot"
            )
        text = doc.get(_PLOT_KEY)
        if doc["status"] == "failed" or not isinstance(text, str):
            raise NotFoundError(
                f"simulation {simulation_id} failed and has no plot: {doc.get('error')}; "
                "start a new simulation"
            )
        return base64.b64decode(text)


def _stored(store: Store, simulation_id: int) -> dict[str, Any]:
    """Return the stored document; a running one reads its job (failed, or never queued)."""
    try:
        doc = plan_repo.get_plan(store, simulation_id)
    except NotFoundError:
        doc = None
    if doc is None or doc.get("kind") != KIND or "status" not in doc:
        raise NotFoundError(
            f"simulation {simulation_id} does not exist; start one with POST /simulations"
        )
    if doc["status"] != "running":
        return doc
    job = jobs_store.job_of_plan(store, simulation_id)
    if job is None:  # stored by a server that kept simulations in its memory
        error = (
            "interrupted: the server stopped before the simulation finished; "
            "start it again with POST /simulations"
        )
        return {**doc, "status": "failed", "error": error}
    if job["state"] == "failed":  # e.g. its workers kept dying: given up
        return {**doc, "status": "failed", "error": job["error"]}
    return doc


def simulation_kind(store: Store, catalogue: Catalogue, settings: Settings) -> JobKind:
    """Return what a job worker does with a ``simulation`` job, over the app's objects."""

    def run(job: Job) -> Callable[[], int]:
        return _run(store, catalogue, settings, job)

    def failed(job: Job, error: str) -> None:
        doc = _document(store, int(job["plan_id"]))
        plan_repo.update_plan(
            store, int(job["plan_id"]), {**doc, **_ended(job, "failed"), "error": error}
        )

    return JobKind(run, failed)


def _document(store: Store, sim_id: int) -> dict[str, Any]:
    doc = plan_repo.get_plan(store, sim_id)
    for key in ("plan_id", "kind", "parent_plan_id"):
        doc.pop(key, None)
    return doc


def _ended(job: Job, status: str) -> dict[str, Any]:
    started = job["started_at"]
    finished = datetime.now(UTC)
    return {
        "status": status,
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "wall_time_s": round((finished - started).total_seconds(), 3),
    }


def _run(store: Store, catalogue: Catalogue, settings: Settings, job: Job) -> Callable[[], int]:
    """Replay the season (slow), draw the plot; return the save of the finished document."""
    sim_id = int(job["plan_id"])
    if "calibrated" in job["params"]:
        return _run_calibrated(store, catalogue, settings, job)
    body = SimulationRequest.model_validate(job["params"]["request"])
    simulate = _simulate_module()
    try:
        result = simulate.run_simulation(
            start=body.start,
            end=body.end,
            sweep=simulate.Sweep(
                body.service, body.crews, body.crew_counts(), body.target_median_days
            ),
            params=simulate.SimulationParams(time_limit_s=body.time_limit_s, seed=body.seed),
            inputs=simulate.SimulationInputs(
                crews_file=settings.crews_file,
                catalogue=catalogue,
                data_file=settings.sample_requests_file,
            ),
        )
        with tempfile.TemporaryDirectory(prefix="geo311-simplot-") as tmp:
            png = plot_simulation(result, Path(tmp) / "simulate.png").read_bytes()
    except (Geo311Error, HTTPException):
        raise
    except Exception as exc:
        log.exception("simulation %s failed", sim_id)
        raise Geo311Error(_INTERNAL) from exc
    update = {"result": result.to_dict(), "table": result.table(), "error": None}
    update[_PLOT_KEY] = base64.b64encode(png).decode("ascii")

    def save() -> int:
        stored = {**_document(store, sim_id), **update, **_ended(job, "done")}
        plan_repo.update_plan(store, sim_id, stored)
        return sim_id

    return save


def _run_calibrated(
    store: Store, catalogue: Catalogue, settings: Settings, job: Job
) -> Callable[[], int]:
    """Run the calibrated what-if (minutes); return the save of the finished document."""
    sim_id = int(job["plan_id"])
    request = job["params"]["calibrated"]
    try:
        from routing.simulate.calibrated import calibrated_whatif

        result, _ = calibrated_whatif(
            str(request["service"]),
            target_p90_days=float(request["target_p90_days"]),
            catalogue=catalogue,
            progress=lambda _line, done: report_progress(job, done),
            cache_dir=settings.cache_dir,
            data_file=settings.sample_requests_file,
        )
    except (Geo311Error, HTTPException):
        raise
    except Exception as exc:
        log.exception("calibrated what-if %s failed", sim_id)
        raise Geo311Error(_INTERNAL) from exc

    def save() -> int:
        stored = {**_document(store, sim_id), "result": result, "error": None}
        plan_repo.update_plan(store, sim_id, {**stored, **_ended(job, "done")})
        return sim_id

    return save


def _public(simulation_id: int, doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in (_PLOT_KEY, "host", "pid", "kind")}
    out.pop("plan_id", None)
    out.pop("parent_plan_id", None)
    out["simulation_id"] = simulation_id
    out["plot_url"] = (
        f"/simulations/{simulation_id}/plot.png" if doc.get("status") == "done" else None
    )
    return out


def _simulate_module() -> Any:
    """Return :mod:`routing.simulate.run`, or raise 503 when the routing package is absent."""
    try:
        import routing.simulate.run as simulate
    except ImportError:
        raise HTTPException(
            503, "the season simulation (routing.simulate.run) is not installed on this server"
        ) from None
    return simulate
