"""Search settings of the OR-Tools solver: one place for what ``geo311 plan`` and the benchmarks use.

A :class:`SearchSettings` is a portfolio: one :class:`WorkerSettings` per parallel search (worker
``k`` of a solve with seed ``s`` uses entry ``(s + k) % len(portfolio)``); the best result wins.
The default portfolio (:func:`default_settings`) runs OR-Tools' iterated local search (ILS):

- a first solution (cheapest insertion), improved by greedy descent;
- then, until the time limit, ruin and recreate (SISR ruin: removes a few strings of nearby
  visits; local cheapest insertion puts them back), a short local search of the perturbed
  solution with the cheap move operators only, and simulated-annealing acceptance of the
  result as the new reference (the best solution is kept apart);
- a last share of the time (``polish_fraction``) in guided local search that restarts from the
  best ILS solution; above ``decompose_jobs`` jobs instead the last ``decompose_fraction`` of
  the time re-solves neighbourhoods of routes (:mod:`routing.engine.decompose`): the whole-day
  restart fails at once (``ROUTING_FAIL``) on a 1,000-job day with lunch breaks, and is
  replaced by the neighbourhoods whenever it fails;
- on such a day, when its crews split into skill groups PyVRP can express, the first
  ``relaxed_fraction`` of the time goes to PyVRP on the break-free relaxation instead of the
  first solution and ILS (:mod:`routing.engine.relaxed`; breaks placed afterwards), then the
  neighbourhoods.

How the ILS parameters interact with the limits (OR-Tools 9.15, ``RoutingModel::
SolveWithIteratedLocalSearch``): ILS is a separate entry point, not a flag of
``SolveWithParameters`` (there ``use_iterated_local_search`` is ignored and the search stops
at the first local optimum, after about a second); its first solve runs the configured
``local_search_metaheuristic`` to completion, so that must be greedy descent (guided local
search would use the whole time limit before the first perturbation); the loop runs until the
time limit or ``solution_limit`` counted over every solution of every inner search; the
annealing temperature falls with ``max(elapsed / time_limit, solutions / solution_limit)``;
the temperatures are in objective units (here a multiple of the mean arc cost, so the same
settings fit millimetres and milliseconds); and the ILS random generator is seeded with 0, so a
run is reproducible given a ``solution_limit``. With OR-Tools' default move operators
(insertion-based LNS included) the inner local search is slow: on R101 ILS made about 30
iterations in 10 s, with the cheap operators about 150 (:data:`SLOW_OPERATORS`).

Chosen on the visible Solomon set only (``bench/vrptw_bench.py``), with no per-instance value.
Measured and not kept (issue 14; one worker, ``solution_limit`` 3,000-4,000 on the harder
instances, or both workers at 30 s on R201, RC101, RC105, RC201 at load 4-6):

- local-search moves limited to the 20 nearest visits (``ls_operator_neighbors_ratio``/
  ``ls_operator_min_neighbors``): 9-27 % gaps at 30 s instead of 0.2-0.8 %;
- random insertion order in the recreate (``SORTING_PROPERTY_RANDOM``): RC105 3.2 % at 3,000
  solutions vs 1.0 % at 4,000 with the default order;
- no local search after the perturbation (``improve_perturbed_solution: false``, pure ruin
  and recreate with annealing): mean 1.05 % vs 0.52 % on R101, R105, RC101, RC105;
- a bigger ruin (20 visits) or hotter annealing (1.0 to 0.01): RC105 3.4 % and 3.0 %;
- 30 % of the time in the guided-local-search polish instead of 10 %: 0.62 % vs 0.36 %.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from google.protobuf import text_format
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from geo311.errors import RoutingError

ILS = "ITERATED_LOCAL_SEARCH"
FSS = routing_enums_pb2.FirstSolutionStrategy
LSM = routing_enums_pb2.LocalSearchMetaheuristic

# Move operators switched off in the local search inside ILS: the insertion-based LNS
# operators and long chain moves cost most of an iteration; ruin and recreate does their job.
SLOW_OPERATORS = (
    "use_global_cheapest_insertion_path_lns",
    "use_local_cheapest_insertion_path_lns",
    "use_relocate_path_global_cheapest_insertion_insert_unperformed",
    "use_global_cheapest_insertion_visit_types_lns",
    "use_local_cheapest_insertion_visit_types_lns",
    "use_lin_kernighan",
    "use_relocate_expensive_chain",
    "use_make_chain_inactive",
    "use_shortest_path_swap_active",
    "use_shortest_path_two_opt",
    "use_swap_active_chain",
    "use_relocate_subtrip",
    "use_exchange_subtrip",
    "use_exchange_pair",
    "use_relocate_pair",
    "use_light_relocate_pair",
)


@dataclass(frozen=True)
class WorkerSettings:
    """How one search of the portfolio runs.

    Attributes
    ----------
    strategy : str
        OR-Tools ``FirstSolutionStrategy`` name of the first solution.
    metaheuristic : str
        ``ITERATED_LOCAL_SEARCH`` or an OR-Tools ``LocalSearchMetaheuristic`` name
        (``GUIDED_LOCAL_SEARCH``; ``NONE`` for greedy descent only).
    ruin_avg_removed : int
        SISR: visits removed per ruin on average.
    ruin_max_sequence : int
        SISR: longest string of visits removed from one route.
    bypass_factor : float
        SISR: share of kept visits inside a split string, in [0, 1].
    recreate : str
        First-solution heuristic that reinserts the ruined visits.
    temperatures : tuple of float
        Initial and final simulated-annealing temperature, as multiples of the mean arc cost.
    polish_fraction : float
        Final share of the time limit spent in guided local search from the best ILS solution.
    cheap_operators : bool
        Switch off :data:`SLOW_OPERATORS` inside ILS.
    large_strategy : str
        First-solution strategy when the problem has more than ``large_jobs`` jobs: parallel
        cheapest insertion with breaks and windows does not finish within minutes on a
        1,000-job day (local cheapest insertion took 26 CPU-s, savings 2.8).
    large_jobs : int
        Job count above which ``large_strategy`` is used.
    decompose_jobs : int
        Job count above which the polish re-solves neighbourhoods of routes
        (:mod:`routing.engine.decompose`) instead of running guided local search on the whole day
        (which fails at once on a 1,000-job day with breaks); 0: never.
    decompose_fraction : float
        Share of the time limit given to the neighbourhood re-solves of such a day (instead
        of ``polish_fraction``).
    relaxed_fraction : float
        Share of the time limit a day above ``decompose_jobs`` spends in PyVRP on its
        break-free relaxation (:mod:`routing.engine.relaxed`) before the neighbourhood
        re-solves, instead of OR-Tools' first solution and iterated local search; 0: never
        (nor when the day does not split into skill groups PyVRP can express).
    relaxed_seed : int
        PyVRP's random seed in that phase.
    """

    strategy: str = "PARALLEL_CHEAPEST_INSERTION"
    metaheuristic: str = ILS
    ruin_avg_removed: int = 10
    ruin_max_sequence: int = 10
    bypass_factor: float = 0.01
    recreate: str = "LOCAL_CHEAPEST_INSERTION"
    temperatures: tuple[float, float] = (2.0, 0.02)
    polish_fraction: float = 0.0
    cheap_operators: bool = True
    large_strategy: str = "LOCAL_CHEAPEST_INSERTION"
    large_jobs: int = 300
    decompose_jobs: int = 0
    decompose_fraction: float = 0.0
    relaxed_fraction: float = 0.0
    relaxed_seed: int = 0

    def decomposes(self, n_jobs: int) -> bool:
        """Whether a day of ``n_jobs`` jobs ends in neighbourhood re-solves."""
        return bool(self.decompose_jobs) and n_jobs > self.decompose_jobs and self.is_ils

    def first_strategy(self, n_jobs: int) -> str:
        """Return the first-solution strategy for a problem with ``n_jobs`` jobs."""
        return self.large_strategy if n_jobs > self.large_jobs else self.strategy

    @property
    def is_ils(self) -> bool:
        """Whether this worker runs iterated local search."""
        return self.metaheuristic == ILS

    def check(self) -> WorkerSettings:
        """Return self after checking every name and range.

        Raises
        ------
        RoutingError
            Naming the field and its allowed values.
        """
        for name in (self.strategy, self.recreate, self.large_strategy):
            if not hasattr(FSS, name):
                raise RoutingError(
                    f"strategy {name!r} is not an OR-Tools first-solution strategy "
                    "(e.g. PARALLEL_CHEAPEST_INSERTION)"
                )
        if self.metaheuristic not in (ILS, "NONE") and not hasattr(LSM, self.metaheuristic):
            raise RoutingError(
                f"metaheuristic {self.metaheuristic!r} is not an OR-Tools metaheuristic: use "
                f"{ILS}, GUIDED_LOCAL_SEARCH, ... or NONE"
            )
        if self.ruin_avg_removed < 1 or self.ruin_max_sequence < 1:
            raise RoutingError("ruin_avg_removed and ruin_max_sequence must be >= 1")
        if not 0.0 <= self.bypass_factor <= 1.0:
            raise RoutingError(f"bypass_factor must be in [0, 1], got {self.bypass_factor}")
        t_hi, t_lo = self.temperatures
        if not t_hi >= t_lo >= 0:
            raise RoutingError(
                f"temperatures must be (initial, final) with initial >= final >= 0, got "
                f"{self.temperatures}"
            )
        for name in ("polish_fraction", "decompose_fraction", "relaxed_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise RoutingError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.decompose_jobs < 0:
            raise RoutingError(f"decompose_jobs must be >= 0, got {self.decompose_jobs}")
        return self

    def describe(self) -> dict[str, Any]:
        """Return the settings as JSON-ready data (ILS fields only for an ILS worker)."""
        d = asdict(self)
        d["temperatures"] = list(self.temperatures)
        if not self.is_ils:
            keep = ("strategy", "metaheuristic", "large_strategy", "large_jobs")
            d = {k: v for k, v in d.items() if k in keep}
        return d


@dataclass(frozen=True)
class SearchSettings:
    """A portfolio of searches run in parallel; the lowest objective wins.

    Attributes
    ----------
    name : str
        Short name stored with the plan.
    portfolio : tuple of WorkerSettings
        Worker ``k`` of a solve with seed ``s`` uses ``portfolio[(s + k) % len(portfolio)]``.
    """

    name: str
    portfolio: tuple[WorkerSettings, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.portfolio:
            raise RoutingError(f"search settings {self.name!r} need at least one worker")
        for w in self.portfolio:
            w.check()

    def worker(self, k: int, *, seed: int = 0) -> WorkerSettings:
        """Return the settings of worker ``k`` for a solve with ``seed``."""
        return self.portfolio[(seed + k) % len(self.portfolio)]

    def with_strategy(self, strategy: str) -> SearchSettings:
        """Return a copy where every worker starts from ``strategy``."""
        return replace(
            self,
            name=f"{self.name}/{strategy}",
            portfolio=tuple(
                replace(w, strategy=strategy, large_strategy=strategy) for w in self.portfolio
            ),
        )

    def describe(self, *, workers: int | None = None, seed: int = 0) -> dict[str, Any]:
        """Return the settings as JSON-ready data, with the workers a solve used if given."""
        out: dict[str, Any] = {"name": self.name}
        n = len(self.portfolio) if workers is None else workers
        out["workers"] = [self.worker(k, seed=seed).describe() for k in range(n)]
        return out


# first-solution strategies of the classic portfolio; worker k of seed s uses (s + k) % 5
CLASSIC_STRATEGIES = (
    "PARALLEL_CHEAPEST_INSERTION",
    "LOCAL_CHEAPEST_INSERTION",
    "SAVINGS",
    "PATH_CHEAPEST_ARC",
    "GLOBAL_CHEAPEST_ARC",
)


def classic_settings(metaheuristic: str = "GUIDED_LOCAL_SEARCH") -> SearchSettings:
    """Return the settings used before ILS: one metaheuristic, five first solutions."""
    return SearchSettings(
        name=f"classic-{metaheuristic.lower()}",
        portfolio=tuple(
            WorkerSettings(strategy=s, metaheuristic=metaheuristic, large_strategy=s)
            for s in CLASSIC_STRATEGIES
        ),
    )


# jobs above which the default settings end in neighbourhood re-solves (routing.engine.decompose):
# the whole-day polish works on a 300-job day with breaks and fails on a 1,000-job one
DECOMPOSE_JOBS = 600
# share of the time such a day spends in PyVRP on its break-free relaxation (routing.engine.relaxed);
# the rest goes to lunch placement, the restores and the neighbourhoods. With each worker on
# its own skill group (routing.engine.groupsplit), 0.85 and 0.5 served the same 987 jobs of the
# city day at 30 s (25.23 h and 25.26 h of driving, load 2.8); PyVRP was still improving the
# tight group's count at 45-55 s (489 at 30 s, 490-491 at 55 s), the neighbourhoods much slower
RELAXED_FRACTION = 0.85


def default_settings() -> SearchSettings:
    """Return the search settings of ``geo311 plan`` and the benchmarks (see module docs).

    Two ILS workers from the same first solution that differ in how much one ruin removes
    (10 or 15 visits on average); both anneal from 0.5 to 0.005 times the mean arc cost (of
    0.2, 0.5, 2 and 5, 0.5 did best on the visible Solomon set) and spend the last 10 % of the
    time in guided local search from their best solution. Above 300 jobs worker 0 starts from
    savings (a first plan in 2.8 CPU-s on the 1,000-job city day) and worker 1 from local
    cheapest insertion (about 26 CPU-s, fewer urgent jobs dropped); the better plan wins.
    Above :data:`DECOMPOSE_JOBS` jobs the last half of the time re-solves neighbourhoods of
    routes (:mod:`routing.engine.decompose`) instead of the guided-local-search polish, which fails
    at once on such a day with lunch breaks (issue 26): on the 1,000-job city day, one worker
    for 90 s at load 12-15, 928 jobs served instead of 883 (ILS alone stays at 883).
    On such a day the first half of the time went to PyVRP on the break-free relaxation
    (seeds 0 and 1) when the crews split into skill groups, in place of the first solution
    and ILS (``ils-sisr-v3``): on the city day (``bench/city_day_bench.py``, two workers,
    load 7-17) 981 jobs served in 26.38 h of driving at 30 s, 985 in 25.78 h at 60 s, 990
    in 25.12 h at 600 s (the cached reference); ``ils-sisr-v2`` served 916 in 44.71 h at
    30 s, 957 in 32.58 h at 60 s (load 3-5) and 978 in 29.23 h at 600 s. Now each worker
    takes its own skill groups (:mod:`routing.engine.groupsplit`), PyVRP gets
    :data:`RELAXED_FRACTION` of the time with a 20-neighbour search and, when jobs must be
    dropped, a 100-iteration acceptance history (:data:`routing.engine.relaxed.NEIGHBOURS`,
    :data:`routing.engine.relaxed.HISTORY_LENGTH`), the tightest group on worker 0: the
    city day is at 991 jobs in 25.02 h at 30 s and 992 in 24.88 h at 60 s (load 2.6-2.8;
    same name, so the cached reference stays that of the previous code).

    Measured (issue 14, ``bench/vrptw_bench.py ../shared/bench/vrptw --time-limit 30``, two
    workers, load 2.5-3.5): mean gap 0.33 % over the 8 visible instances, worst 1.19 %
    (RC201), all feasible; the previous settings (``classic``) 1.37 % in the same run. Re-run
    at load 0.5-2.0 with the whole-solve deadline: 0.20 %, worst 1.31 % (previous 1.33 %).
    """
    base = WorkerSettings(
        temperatures=(0.5, 0.005),
        polish_fraction=0.1,
        decompose_jobs=DECOMPOSE_JOBS,
        decompose_fraction=0.5,
        relaxed_fraction=RELAXED_FRACTION,
    )
    return SearchSettings(
        name="ils-sisr-v3",
        portfolio=(
            replace(base, large_strategy="SAVINGS"),
            replace(base, ruin_avg_removed=15, relaxed_seed=1),
        ),
    )


def routing_parameters(
    worker: WorkerSettings,
    *,
    time_limit_s: float,
    solution_limit: int | None = None,
    mean_arc_cost: float = 1.0,
    n_jobs: int = 0,
) -> Any:
    """Return OR-Tools ``RoutingSearchParameters`` for one worker.

    Parameters
    ----------
    worker : WorkerSettings
        The worker's settings.
    time_limit_s : float
        Wall-clock limit of the search (all phases), seconds.
    solution_limit : int, optional
        Stop after this many solutions (reproducible runs).
    mean_arc_cost : float
        Mean arc cost of the model, objective units; scales the annealing temperatures.
    n_jobs : int
        Jobs in the model (picks the first-solution strategy).

    Returns
    -------
    RoutingSearchParameters
        With ``use_iterated_local_search`` set for an ILS worker (run it with
        ``RoutingModel.SolveWithIteratedLocalSearch``).
    """
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(FSS, worker.first_strategy(n_jobs))
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    if solution_limit is not None:
        params.solution_limit = solution_limit
    if not worker.is_ils:
        if worker.metaheuristic != "NONE":
            params.local_search_metaheuristic = getattr(LSM, worker.metaheuristic)
        return params
    params.local_search_metaheuristic = LSM.GREEDY_DESCENT
    params.use_iterated_local_search = True
    if worker.cheap_operators:
        ops = " ".join(f"{name}: BOOL_FALSE" for name in SLOW_OPERATORS)
        text_format.Merge(f"local_search_operators {{ {ops} }}", params)
    ils = params.iterated_local_search_parameters
    rr = ils.ruin_recreate_parameters
    del rr.ruin_strategies[:]
    sisr = rr.ruin_strategies.add().sisr
    sisr.max_removed_sequence_size = worker.ruin_max_sequence
    sisr.avg_num_removed_visits = worker.ruin_avg_removed
    sisr.bypass_factor = worker.bypass_factor
    rr.recreate_strategy.heuristic = getattr(FSS, worker.recreate)
    ils.improve_perturbed_solution = True
    sa = ils.reference_solution_acceptance_strategy.simulated_annealing
    sa.automatic_temperatures = False
    t_hi, t_lo = worker.temperatures
    sa.initial_temperature = max(t_hi * mean_arc_cost, 1e-9)
    sa.final_temperature = max(t_lo * mean_arc_cost, 1e-9)
    ils.best_solution_acceptance_strategy.greedy_descent.SetInParent()
    return params


def polish_parameters(*, time_limit_s: float, solution_limit: int | None = None) -> Any:
    """Return the parameters of the final guided local search from the best ILS solution."""
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.local_search_metaheuristic = LSM.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    if solution_limit is not None:
        params.solution_limit = solution_limit
    return params


def first_solution_parameters(strategy: str, *, time_limit_s: float) -> Any:
    """Return parameters that stop at the first solution of ``strategy`` (no local search)."""
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(FSS, strategy)
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    params.solution_limit = 1
    return params
