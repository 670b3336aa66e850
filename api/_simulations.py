"""Planner's what-if simulations behind the simulations router: run off the event loop, keep, read.

A simulation (:func:`routing.simulate.run_simulation`, several seconds of CPU) is started by
``POST /simulations`` and runs on a one-thread executor held by the app
(:class:`SimulationRunner`, ``app.state.simulations``), so requests are never blocked and at most
one simulation computes at a time (the others wait in order). Its document lives in the store's
plans table (``kind='simulation'``) from the moment it is accepted, so the simulation id is a plan
id; the finished document holds the result, the plain-text table and the plot (PNG, base64), and
survives restarts. A document still ``running`` whose process is gone (the server stopped before it
finished) is reported as ``failed`` with a note to start it again.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from api.schemas import SimulationRequest
from geo311.catalogue import Catalogue
from geo311.errors import Geo311Error, NotFoundError
from geo311.settings import Settings
from geo311.store import Store
from maps.simulation_plot import plot_simulation

log = logging.getLogger("api")

KIND = "simulation"
MAX_PENDING = 4
"""Simulations accepted but not finished, per process; more are refused with 429."""
KEEP_IN_MEMORY = 32
"""Finished simulations kept in memory (older ones are read back from the store)."""
_PLOT_KEY = "plot_png_base64"


@dataclass
class _Entry:
    """One simulation this process accepted."""

    simulation_id: int
    doc: dict[str, Any]
    png: bytes | None = None
    future: Future[None] | None = field(default=None, repr=False)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


class SimulationRunner:
    """Runs simulations one at a time on a worker thread and keeps their state.

    Parameters
    ----------
    max_pending
        Simulations accepted but not finished beyond which ``submit`` answers 429.
    keep_in_memory
        Finished simulations kept in memory; older ones are read back from the store.
    """

    def __init__(
        self, *, max_pending: int = MAX_PENDING, keep_in_memory: int = KEEP_IN_MEMORY
    ) -> None:
        self.max_pending = max_pending
        self.keep_in_memory = keep_in_memory
        self._lock = threading.Lock()
        self._entries: dict[int, _Entry] = {}
        self._executor: ThreadPoolExecutor | None = None

    # -- starting ------------------------------------------------------------------------

    def submit(
        self,
        body: SimulationRequest,
        *,
        store: Store,
        catalogue: Catalogue,
        settings: Settings,
    ) -> dict[str, Any]:
        """Record a simulation as running in the store and queue it on the worker thread.

        Parameters
        ----------
        body
            The validated request.
        store, catalogue, settings
            The application's objects.

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
        with self._lock:
            pending = sum(1 for e in self._entries.values() if e.doc["status"] == "running")
            if pending >= self.max_pending:
                raise HTTPException(
                    429,
                    f"{pending} simulations are already running or waiting (at most "
                    f"{self.max_pending}); poll GET /simulations/{{id}} and retry when one is done",
                )
            doc: dict[str, Any] = {
                "status": "running",
                "request": body.model_dump(mode="json", by_alias=True),
                "submitted": _now(),
                "started": None,
                "finished": None,
                "error": None,
                "result": None,
                "table": None,
                "host": socket.gethostname(),
                "pid": os.getpid(),
            }
            sim_id = store.save_plan(doc, plan_date=body.start.isoformat(), kind=KIND)
            entry = _Entry(sim_id, doc)
            self._entries[sim_id] = entry
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="simulate")
            entry.future = self._executor.submit(
                self._run, entry, body, store=store, catalogue=catalogue, settings=settings
            )
            self._evict()
            return _public(sim_id, doc)

    def _evict(self) -> None:
        finished = [k for k, e in self._entries.items() if e.doc["status"] != "running"]
        for k in finished[: max(0, len(finished) - self.keep_in_memory)]:
            del self._entries[k]

    # -- the worker ------------------------------------------------------------------------

    def _run(
        self,
        entry: _Entry,
        body: SimulationRequest,
        *,
        store: Store,
        catalogue: Catalogue,
        settings: Settings,
    ) -> None:
        started = time.perf_counter()
        update: dict[str, Any] = {"started": _now()}
        png: bytes | None = None
        try:
            simulate = _simulate_module()
            result = simulate.run_simulation(
                start=body.start,
                end=body.end,
                crews_file=settings.crews_file,
                service=body.service,
                crews=body.crews,
                crews_sweep=body.crew_counts(),
                target_median_days=body.target_median_days,
                time_limit_s=body.time_limit_s,
                seed=body.seed,
                catalogue=catalogue,
                data_file=settings.sample_requests_file,
            )
            with tempfile.TemporaryDirectory(prefix="geo311-simplot-") as tmp:
                png = plot_simulation(result, Path(tmp) / "simulate.png").read_bytes()
            update.update(status="done", result=result.to_dict(), table=result.table())
        except Geo311Error as exc:
            update.update(status="failed", error=str(exc))
        except HTTPException as exc:
            update.update(status="failed", error=str(exc.detail))
        except Exception:
            log.exception("simulation %s failed", entry.simulation_id)
            update.update(
                status="failed",
                error="internal error while simulating; the failure was logged, please retry",
            )
        update.update(finished=_now(), wall_time_s=round(time.perf_counter() - started, 3))
        stored = {**entry.doc, **update}
        if png is not None:
            stored[_PLOT_KEY] = base64.b64encode(png).decode("ascii")
        try:
            store.update_plan(entry.simulation_id, stored)
        except Exception:  # the store may be closed at shutdown; the memory copy still answers
            log.exception("could not store simulation %s", entry.simulation_id)
        with self._lock:
            entry.png = png
            entry.doc = {**entry.doc, **update}
            self._evict()

    # -- reading ---------------------------------------------------------------------------

    def get(self, store: Store, simulation_id: int) -> dict[str, Any]:
        """Return a simulation's public document (from memory, else from the store).

        Raises
        ------
        NotFoundError
            When no simulation has this id.
        """
        with self._lock:
            entry = self._entries.get(simulation_id)
            if entry is not None:
                return _public(simulation_id, entry.doc)
        return _public(simulation_id, self._stored(store, simulation_id))

    def plot(self, store: Store, simulation_id: int) -> bytes:
        """Return a finished simulation's plot (PNG bytes).

        Raises
        ------
        NotFoundError
            When no simulation has this id, or it is not done (still running or failed).
        """
        with self._lock:
            entry = self._entries.get(simulation_id)
            doc = entry.doc if entry is not None else None
            png = entry.png if entry is not None else None
        if doc is None:
            doc = self._stored(store, simulation_id)
            text = doc.get(_PLOT_KEY)
            png = base64.b64decode(text) if isinstance(text, str) else None
        if doc["status"] == "running":
            raise NotFoundError(
                f"simulation {simulation_id} is still running; poll GET "
                f"/simulations/{simulation_id} until its status is done, then fetch the plot"
            )
        if doc["status"] == "failed" or png is None:
            raise NotFoundError(
                f"simulation {simulation_id} failed and has no plot: {doc.get('error')}; "
                "start a new simulation"
            )
        return png

    def _stored(self, store: Store, simulation_id: int) -> dict[str, Any]:
        try:
            doc = store.get_plan(simulation_id)
        except NotFoundError:
            doc = None
        if doc is None or doc.get("kind") != KIND or "status" not in doc:
            raise NotFoundError(
                f"simulation {simulation_id} does not exist; start one with POST /simulations"
            )
        if doc["status"] == "running" and not self._may_still_run(doc):
            doc = {
                **doc,
                "status": "failed",
                "error": "interrupted: the server stopped before the simulation finished; "
                "start it again with POST /simulations",
            }
        return doc

    @staticmethod
    def _may_still_run(doc: dict[str, Any]) -> bool:
        """Whether a stored running simulation may still be computing in another process."""
        pid = doc.get("pid")
        if doc.get("host") != socket.gethostname():
            return True  # another machine: trust its status
        if not isinstance(pid, int) or pid == os.getpid():
            return False  # this process does not have it in memory: an earlier app instance
        return _pid_alive(pid)

    # -- stopping --------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Drop the queued simulations (a computing one finishes on its own); called at app stop.

        Dropped ones stay ``running`` in the store and read back as interrupted. A later
        ``submit`` starts a new worker thread.
        """
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


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
    """Return :mod:`routing.simulate`, or raise 503 when the routing package is absent."""
    try:
        import routing.simulate as simulate
    except ImportError:
        raise HTTPException(
            503, "the season simulation (routing.simulate) is not installed on this server"
        ) from None
    return simulate
