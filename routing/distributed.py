"""Run many independent tasks (district plans, crew-count sweeps) on Dask distributed.

The application layer above the routing engine (no engine module imports this one). One call,
:func:`run_tasks`, runs ``fn(item)`` (or ``fn(item, shared)``) for every named item and returns
``{name: result or TaskFailure}`` in the items' order:

* ``cluster="tcp://scheduler:8786"`` (or ``GEO311_CLUSTER_ADDRESS``): the tasks run on that Dask
  scheduler's workers; nothing answering within :data:`CONNECT_TIMEOUT_S` is an error naming the
  setting;
* otherwise a local cluster is started on demand with one worker process (one thread) per core
  this process may use, and closed afterwards;
* one core (or ``workers=1``) and no cluster: the tasks run one after another in this process.

The three share one collection loop: results are gathered as they arrive, ``progress`` is told
about each task (its name, ok or why it failed), and a task that raises is reported as a
:class:`TaskFailure` while the others' results are kept. ``retries`` re-runs a task that raised;
a task whose worker died (killed, out of memory) is rescheduled by Dask on another worker.

What travels is explicit: each item (a district's :class:`~routing.engine.problem.Problem`, its matrices
included) goes to one worker, ``shared`` (e.g. a season's travel matrix) once to every worker;
results come back as the typed objects ``fn`` returns (a :class:`~routing.engine.plan.Plan`, a
simulation run). Workers never see a store: the caller writes the results.

Determinism: a task runs the same code on the same inputs wherever it runs; for identical plans
use a search that stops by itself (:func:`solve_district_problems` ``deterministic=True``: greedy descent,
or a ``solution_limit``), never a bare time limit.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from geo311.errors import ConfigurationError, InputError
from geo311.settings import get_settings

if TYPE_CHECKING:  # the engine is imported when tasks run, not when the CLI starts
    from routing.engine.plan import Plan
    from routing.engine.problem import Problem
    from routing.engine.solve import SolveParams
    from routing.simulate.run import SimulationResult

__all__ = [
    "CONNECT_TIMEOUT_S",
    "ENV_VAR",
    "ClusterOption",
    "WorkersOption",
    "TaskEvent",
    "TaskFailure",
    "TaskOptions",
    "TaskRunner",
    "cluster_from_settings",
    "local_cores",
    "solve_district_problems",
    "run_tasks",
    "simulate_sweep",
    "strict_map",
]

R = TypeVar("R")

ENV_VAR = "GEO311_CLUSTER_ADDRESS"
CONNECT_TIMEOUT_S = 5.0
SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


@dataclass(frozen=True, slots=True)
class TaskFailure:
    """A task that did not return a result.

    Attributes
    ----------
    key : str
        The task's name (a district, ``potholes x3``).
    error : str
        The exception's class name (``RoutingError``, ``KilledWorker``).
    message : str
        The exception's message.
    """

    key: str
    error: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.error}: {self.message}"


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """What :func:`run_tasks` tells its ``progress`` callback when a task finishes.

    Attributes
    ----------
    key : str
        The task's name.
    done, total : int
        Tasks finished so far (this one included) and in all.
    elapsed_s : float
        Seconds since the tasks were submitted.
    failure : TaskFailure or None
        Why the task failed, or None when it returned a result.
    """

    key: str
    done: int
    total: int
    elapsed_s: float
    failure: TaskFailure | None = None

    def line(self) -> str:
        """Return a one-line progress message (``[3/40] district-07 ok (12.1 s)``)."""
        what = (
            "ok" if self.failure is None else f"FAILED {self.failure.error}: {self.failure.message}"
        )
        return f"[{self.done}/{self.total}] {self.key} {what} ({self.elapsed_s:.1f} s)"


Progress = Callable[[TaskEvent], None]

# The CLI options of the commands that run tasks (geo311 simulate, geo311 plan --all-districts).
ClusterOption = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        help="Dask scheduler address, e.g. tcp://scheduler:8786 (default: "
        "GEO311_CLUSTER_ADDRESS, else a local cluster on this machine's cores)",
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option("--workers", help="local cluster processes (default: the cores; 1: in-process)"),
]


def local_cores() -> int:
    """Return the number of cores this process may use (its CPU affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def cluster_from_settings(option: str | None = None) -> str | None:
    """Return the scheduler address to use: the ``--cluster`` option, else the setting.

    Parameters
    ----------
    option
        The value of a ``--cluster`` option (None when not given).

    Returns
    -------
    str or None
        ``option``, else ``GEO311_CLUSTER_ADDRESS`` (settings ``cluster_address``), else None
        (a local cluster).
    """
    return option if option else get_settings().cluster_address


def _check_address(address: str) -> None:
    scheme = address.split("://", 1)[0] if "://" in address else ""
    if scheme not in SCHEMES:
        raise ConfigurationError(
            f"cluster address {address!r} (--cluster / {ENV_VAR}) is not a Dask scheduler "
            f"address; write it as tcp://HOST:8786 (schemes {', '.join(SCHEMES)}), or unset it "
            "to use a local cluster",
            field="cluster_address",
        )


class TaskRunner:
    """A place to run tasks: a Dask scheduler, a local cluster, or this process.

    Use it as a context manager to run several batches on one cluster (a local cluster is
    started once); :func:`run_tasks` opens one for a single batch.

    Parameters
    ----------
    cluster
        Dask scheduler address (``tcp://scheduler:8786``); None: a local cluster, or this
        process when ``workers`` (default the usable cores) is 1.
    workers
        Worker processes of a local cluster (ignored with ``cluster``).
    connect_timeout_s
        How long to wait for the scheduler to answer.
    """

    def __init__(
        self,
        *,
        cluster: str | None = None,
        workers: int | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        if workers is not None and workers < 1:
            raise InputError(f"workers={workers} must be >= 1", field="workers")
        if cluster:
            _check_address(cluster)
        self.address = cluster or None
        self.workers = local_cores() if workers is None else workers
        self.connect_timeout_s = connect_timeout_s
        self.client: Any = None
        self._local: Any = None

    @property
    def kind(self) -> str:
        """``scheduler``, ``local cluster`` or ``in-process``."""
        if self.address:
            return "scheduler"
        return "local cluster" if self.workers > 1 else "in-process"

    def describe(self) -> str:
        """Return where the tasks run, for a progress header."""
        if self.address:
            return f"Dask scheduler {self.address}"
        if self.workers > 1:
            return f"local Dask cluster, {self.workers} worker processes x 1 thread"
        return "in-process (one core, no cluster)"

    def __enter__(self) -> TaskRunner:
        if self.kind == "in-process":
            return self
        from distributed import Client, LocalCluster

        if self.address:
            self.client = _connect(Client, self.address, self.connect_timeout_s)
            return self
        self._local = _local_cluster(LocalCluster, self.workers)
        self.client = Client(self._local, set_as_default=False)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.client is not None:
            self.client.close()
        if self._local is not None:
            self._local.close()
        self.client = self._local = None

    def run(
        self,
        fn: Callable[..., R],
        items: Mapping[str, Any],
        *,
        shared: Any = None,
        retries: int = 2,
        progress: Progress | None = None,
    ) -> dict[str, R | TaskFailure]:
        """Run ``fn`` on every item; see :func:`run_tasks`."""
        if retries < 0:
            raise InputError(f"retries={retries} must be >= 0", field="retries")
        call: Callable[..., R] = fn if shared is None else partial(_with_shared, fn)
        if self.client is None and self.kind != "in-process":
            raise InputError("use the TaskRunner in a with-block before run()", field="runner")
        outcomes = (
            _inline(call, items, shared, retries)
            if self.client is None
            else _on_dask(self.client, call, items, shared, retries)
        )
        return _collect(outcomes, items, progress)

    def worker_memory_mb(self) -> dict[str, float]:
        """Return the resident memory of each worker process in MB (this process in-process)."""
        if self.client is None:
            return {"in-process": _rss_mb()}
        out: dict[str, float] = self.client.run(_rss_mb)
        return out


def _local_cluster(cluster_cls: Any, workers: int) -> Any:
    """Start a local cluster of ``workers`` processes of one thread each.

    Dask sets ``MALLOC_TRIM_THRESHOLD_=65536`` in its workers (to give memory back to the OS);
    measured on a 200-job district, that makes an OR-Tools search 3.2x slower (8.8 s of CPU
    instead of 2.8 s), so the local workers start without it.
    """
    import dask

    key = "distributed.nanny.pre-spawn-environ"
    environ = {k: v for k, v in dask.config.get(key).items() if k != "MALLOC_TRIM_THRESHOLD_"}
    with dask.config.set({key: environ}):
        return cluster_cls(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,
        )


def _connect(client_cls: Any, address: str, timeout_s: float) -> Any:
    """Return a Dask client of the scheduler at ``address``, or a clear error."""
    try:
        return client_cls(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ConfigurationError(
            f"no Dask scheduler answers at {address} (--cluster / {ENV_VAR}, settings "
            f"cluster_address) within {timeout_s:g} s: start one there (`dask scheduler`, "
            f"workers `dask worker {address}`), fix the address, or unset {ENV_VAR} to use a "
            f"local cluster ({type(exc).__name__}: {exc})",
            field="cluster_address",
        ) from None


def _rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def _with_shared(fn: Callable[..., R], item: Any, shared: Any) -> R:
    return fn(item, shared)


def _failure(key: str, exc: BaseException) -> TaskFailure:
    message = str(exc).strip() or "".join(traceback.format_exception_only(exc)).strip()
    return TaskFailure(key=key, error=type(exc).__name__, message=message)


def _inline(
    call: Callable[..., Any], items: Mapping[str, Any], shared: Any, retries: int
) -> Iterator[tuple[str, Any]]:
    """Yield ``(key, result or TaskFailure)`` running the tasks here, one after another."""
    extra = () if shared is None else (shared,)
    for key, item in items.items():
        for attempt in range(retries + 1):
            try:
                yield key, call(item, *extra)
                break
            except Exception as exc:  # reported, the other tasks go on
                if attempt == retries:
                    yield key, _failure(key, exc)


def _on_dask(
    client: Any, call: Callable[..., Any], items: Mapping[str, Any], shared: Any, retries: int
) -> Iterator[tuple[str, Any]]:
    """Yield ``(key, result or TaskFailure)`` as the Dask tasks finish."""
    from distributed import as_completed

    extra = () if shared is None else (client.scatter(shared, broadcast=True, hash=False),)
    batch = uuid.uuid4().hex[:8]
    futures = {
        client.submit(
            call, item, *extra, key=f"geo311-{batch}-{n}", retries=retries, pure=False
        ): key
        for n, (key, item) in enumerate(items.items())
    }
    try:
        for fut in as_completed(futures, loop=client.loop):
            key = futures[fut]
            if fut.status == "finished":
                yield key, fut.result()
            elif fut.status == "error":
                yield key, _failure(key, fut.exception())
            else:  # cancelled: the scheduler or the client went away
                yield key, TaskFailure(key, "Cancelled", f"the task was {fut.status} by Dask")
    finally:
        for fut in futures:
            fut.release()


def _collect(
    outcomes: Iterator[tuple[str, Any]], items: Mapping[str, Any], progress: Progress | None
) -> dict[str, Any]:
    """Gather outcomes as they arrive, telling ``progress``; return them in the items' order."""
    got: dict[str, Any] = {}
    started = time.perf_counter()
    for key, outcome in outcomes:
        got[key] = outcome
        if progress is not None:
            failure = outcome if isinstance(outcome, TaskFailure) else None
            progress(TaskEvent(key, len(got), len(items), time.perf_counter() - started, failure))
    return {key: got[key] for key in items}


@dataclass(frozen=True, kw_only=True)
class TaskOptions:
    """Where and how tasks run: a cluster, local worker processes, or an open runner.

    Parameters
    ----------
    cluster : str, optional
        Dask scheduler address (see :func:`run_tasks`).
    workers : int, optional
        Local worker processes (see :func:`run_tasks`).
    retries : int
        Re-runs of a task that raised, before it is reported as failed.
    progress : callable, optional
        Called with a :class:`TaskEvent` as each task finishes.
    runner : TaskRunner, optional
        An open :class:`TaskRunner` to use instead of ``cluster`` and ``workers``.
    """

    cluster: str | None = None
    workers: int | None = None
    retries: int = 2
    progress: Progress | None = None
    runner: TaskRunner | None = None

    def run(self, fn: Callable[..., R], items: Mapping[str, Any]) -> dict[str, R | TaskFailure]:
        """Run ``fn(item)`` for every named item on the runner, else as :func:`run_tasks`."""
        if self.runner is not None:
            return self.runner.run(fn, items, retries=self.retries, progress=self.progress)
        return run_tasks(
            fn,
            items,
            cluster=self.cluster,
            workers=self.workers,
            retries=self.retries,
            progress=self.progress,
        )


def run_tasks(
    fn: Callable[..., R],
    items: Mapping[str, Any],
    *,
    shared: Any = None,
    cluster: str | None = None,
    workers: int | None = None,
    retries: int = 2,
    progress: Progress | None = None,
) -> dict[str, R | TaskFailure]:
    """Run ``fn(item)`` (or ``fn(item, shared)``) for every named item, on a cluster or here.

    Parameters
    ----------
    fn
        A module-level function (it is pickled to the workers).
    items
        Task name (a district's name) -> the task's input, small and explicit.
    shared
        Sent once to every worker and passed to every call as the second argument.
    cluster
        Dask scheduler address; None reads ``GEO311_CLUSTER_ADDRESS`` and, when that is unset
        too, starts a local cluster (or runs here with one core).
    workers
        Local worker processes; default the usable cores (1, or a single task: in-process).
    retries
        Re-runs of a task that raised, before it is reported as failed.
    progress
        Called with a :class:`TaskEvent` as each task finishes.

    Returns
    -------
    dict
        Task name -> ``fn``'s result, or a :class:`TaskFailure`, in the order of ``items``.

    Raises
    ------
    ConfigurationError
        When the cluster address is malformed or no scheduler answers there.
    """
    address = cluster_from_settings(cluster)
    if not address and len(items) <= 1:
        workers = 1  # no cluster to start for one task
    runner = TaskRunner(cluster=address, workers=workers)
    with runner:
        return runner.run(fn, items, shared=shared, retries=retries, progress=progress)


def strict_map(
    fn: Callable[..., R],
    items: Mapping[str, Any],
    *,
    shared: Any = None,
    runner: TaskRunner | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> dict[str, R]:
    """Run tasks like :func:`run_tasks` but raise when any of them failed (for sweeps).

    Parameters
    ----------
    fn, items, shared, progress
        As for :func:`run_tasks`.
    runner
        An open :class:`TaskRunner` to use; default one opened by :func:`run_tasks`.
    **options
        ``cluster``, ``workers``, ``retries`` of :func:`run_tasks`.

    Returns
    -------
    dict
        Task name -> result.

    Raises
    ------
    InputError
        Naming every failed task and why.
    """
    if runner is not None:
        out = runner.run(fn, items, shared=shared, progress=progress, **options)
    else:
        out = run_tasks(fn, items, shared=shared, progress=progress, **options)
    failed = [str(v) for v in out.values() if isinstance(v, TaskFailure)]
    if failed:
        raise InputError(
            f"{len(failed)} of {len(out)} task(s) failed: " + "; ".join(failed), field="tasks"
        )
    return {k: v for k, v in out.items() if not isinstance(v, TaskFailure)}


def solve_district_problems(
    problems: Mapping[str, Problem],
    params: SolveParams,
    *,
    deterministic: bool = False,
    tasks: TaskOptions | None = None,
) -> dict[str, Plan | TaskFailure]:
    """Solve every district's routing problem as one task; return its plan or its failure.

    Parameters
    ----------
    problems
        District name -> its routing problem (matrices included: that is what travels).
    params
        As for :func:`routing.engine.solve.solve`, with other defaults: one search worker per
        district when ``params.workers`` is None (keep 1 on a cluster: the cluster's processes
        already use every core, and Dask workers cannot start processes), and
        ``GUIDED_LOCAL_SEARCH`` when ``params.metaheuristic`` is None.
    deterministic
        Plans that are the same wherever and however loaded the tasks run: the search stops by
        itself (greedy descent, ``metaheuristic="NONE"``) unless a ``solution_limit`` is given;
        ``time_limit_s`` is then only a safety net.
    tasks
        Where the tasks run (:class:`TaskOptions`; default as :func:`run_tasks`).

    Returns
    -------
    dict
        District name -> :class:`~routing.engine.plan.Plan`, or :class:`TaskFailure` (which, why).
    """
    from routing.engine.solve import solve

    metaheuristic = params.metaheuristic or "GUIDED_LOCAL_SEARCH"
    if deterministic and params.solution_limit is None:
        metaheuristic = "NONE"
    chosen = replace(
        params,
        workers=1 if params.workers is None else params.workers,
        metaheuristic=metaheuristic,
    )
    task = partial(solve, params=chosen)
    return (tasks or TaskOptions()).run(task, problems)


def simulate_sweep(
    *,
    cluster: str | None = None,
    workers: int | None = None,
    runner: TaskRunner | None = None,
    retries: int = 2,
    progress: Progress | None = None,
    **simulation: Any,
) -> SimulationResult:
    """Run :func:`routing.simulate.run.run_simulation` with its replays as tasks on a cluster.

    One task per service group and crew count (``crews_sweep``); the season (reports and
    travel matrix) is sent once to every worker. The result is the in-process one: every
    replay stops its daily searches by themselves (greedy descent) unless told otherwise.

    Parameters
    ----------
    cluster, workers, retries, progress
        As for :func:`run_tasks`.
    runner
        An open :class:`TaskRunner` to use instead of ``cluster`` and ``workers`` (a CLI opens
        it first, so that a wrong address fails before the season is loaded).
    **simulation
        Keywords of :func:`routing.simulate.run.run_simulation` (``start``, ``end``,
        ``crews_sweep`` ...).

    Returns
    -------
    SimulationResult
        The same result as the in-process run.

    Raises
    ------
    InputError
        When a replay failed (naming it and why) or an argument is invalid.
    """
    from routing.simulate.run import run_simulation

    where: dict[str, Any] = (
        {"runner": runner} if runner is not None else {"cluster": cluster, "workers": workers}
    )
    mapper = partial(strict_map, retries=retries, progress=progress, **where)
    return run_simulation(map_tasks=mapper, **simulation)
