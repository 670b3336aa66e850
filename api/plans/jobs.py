"""The job workers of one server process: planning runs and simulations from the jobs table.

Started by the app's lifespan (:func:`api.app.create_app`), stopped with it. Each process runs
``settings.job_workers`` planning threads and, unless that is 0, one simulation thread (a long
season replay never holds up the dispatcher's plan); several processes share the table
(:mod:`geo311.plans.jobs`).
"""

from __future__ import annotations

from typing import Any

from api.planner.simulation_runs import KIND as SIMULATION
from api.planner.simulation_runs import simulation_kind
from api.web.plan_jobs import plan_kinds
from geo311.plans.jobs import JobWorker


def start_job_workers(state: Any, *, threads: int) -> list[JobWorker]:
    """Start this process's job workers over the app's state; return them (to stop).

    Parameters
    ----------
    state
        The app's ``state`` (``store``, ``catalogue``, ``settings``, ``simulations``).
    threads
        Planning threads (0: start nothing: the jobs are run by other processes).
    """
    if threads <= 0:
        return []
    store, catalogue, settings = state.store, state.catalogue, state.settings
    lease_s = settings.job_lease_s
    planning = JobWorker(
        store, plan_kinds(store, catalogue, settings), threads=threads, lease_s=lease_s
    )
    simulations = JobWorker(
        store, {SIMULATION: simulation_kind(store, catalogue, settings)}, threads=1, lease_s=lease_s
    )
    state.wake_job_workers = planning.wake
    state.simulations.wake = simulations.wake
    return [planning.start(), simulations.start()]


def stop_job_workers(state: Any, workers: list[JobWorker]) -> None:
    """Stop the workers; the jobs they were running go back to the queue for another process."""
    state.wake_job_workers = None
    state.simulations.wake = None
    for worker in workers:
        worker.stop()
