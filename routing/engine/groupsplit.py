"""A large day's skill groups shared out among the workers, each solved on its own, then merged.

Why (issue 26): on the 1,000-job city day the crews split into two skill groups that share
no job (:func:`routing.engine.relaxed.groups`), and each of the two workers solved both
groups, one after the other, with PyVRP (seeds 0 and 1), so each group got a quarter of the
solve's CPU time in two copies. Giving each worker its own groups instead (a smaller model
of only those crews and jobs) gives every group a whole core for the whole time limit: the
worker runs the same phases on its part (PyVRP on the break-free relaxation, lunch
placement, the one-crew restores, neighbourhood re-solves; :mod:`routing.engine.relaxed`,
:mod:`routing.engine.decompose`), the day's size, not the part's, deciding that it does
(:attr:`routing.engine.or_model.Spec.day_jobs`). The parts' routes are then put together into
one raw result of the whole day, whose objective is the whole day's model's
(:func:`merge`).

The groups go to the workers largest first, each to the worker with the fewest jobs so far,
and the part whose jobs fill most of its crews' time (:func:`tightness`) to worker 0, which
runs in the caller's process and starts first (the others start a second or two later in
spawned processes); with more workers than groups, the extra workers solve the same parts again with their own
seeds and the better result of each part is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from routing.engine import relaxed
from routing.engine.or_model import TIME_SCALE, Model, Spec
from routing.engine.problem import Problem

__all__ = ["Part", "group_worker", "merge", "part_problem", "parts", "run_part", "tightness"]


@dataclass(frozen=True)
class Part:
    """One worker's share of the day: its crews, its search spec over their jobs (picklable).

    Attributes
    ----------
    crews : list of int
        The crews of the part (indices into the day's crews), in order.
    spec : Spec
        The worker's search, restricted to the part's jobs, with ``day_jobs`` set.
    """

    crews: list[int]
    spec: Spec

    @property
    def key(self) -> tuple[int, ...]:
        """The part's crews: workers with the same key solved the same part."""
        return tuple(self.crews)


def parts(problem: Problem, specs: list[Spec]) -> list[Part] | None:
    """Share the day's skill groups out among the workers' specs, or None when it does not pay.

    Parameters
    ----------
    problem
        The validated day.
    specs
        One OR-Tools search spec per worker, over the day's jobs.

    Returns
    -------
    list of Part or None
        One part per spec; None when there is one worker, the day takes no relaxed phase
        (small day, no relaxed share, a re-plan) or does not split into two groups or more.
    """
    if len(specs) < 2 or not all(_relaxes(s) for s in specs):
        return None
    jobs = specs[0].job_indices
    groups = relaxed.groups(problem, jobs)
    if groups is None or len(groups) < 2:
        return None
    n_bins = min(len(specs), len(groups))
    bins: list[list[relaxed.Group]] = [[] for _ in range(n_bins)]
    for g in sorted(groups, key=lambda g: -len(g.jobs)):
        min(bins, key=lambda b: sum(len(x.jobs) for x in b)).append(g)
    # the tightest part to worker 0, which runs in the caller's process and starts first
    bins.sort(key=lambda b: -tightness(problem, b))
    out = []
    for k, spec in enumerate(specs):
        share = bins[k % n_bins]
        crews = sorted(v for g in share for v in g.crews)
        part_jobs = sorted(j for g in share for j in g.jobs)
        out.append(Part(crews, replace(spec, job_indices=part_jobs, day_jobs=len(jobs))))
    return out


def tightness(problem: Problem, share: list[relaxed.Group]) -> float:
    """Return the groups' service time over their crews' working time (shifts less breaks).

    Near 1 the crews cannot do every job: the part whose jobs compete hardest for the time.
    """
    service = sum(problem.jobs[j].service_s for g in share for j in g.jobs)
    work = 0.0
    for v in (v for g in share for v in g.crews):
        crew = problem.crews[v]
        work += crew.shift.end_s - crew.shift.start_s - sum(b.duration_s for b in crew.breaks)
    return service / work if work > 0 else float("inf")


def _relaxes(spec: Spec) -> bool:
    """Whether the spec's search starts with the relaxed phase on a day of its size."""
    w = spec.worker
    fresh = not spec.initial_routes and not spec.previous_crew
    return fresh and w.relaxed_fraction > 0 and w.decomposes(spec.day_size)


def part_problem(problem: Problem, part: Part) -> Problem:
    """Return the day with the part's crews only (its jobs are the spec's)."""
    return replace(problem, crews=tuple(problem.crews[v] for v in part.crews))


def run_part(problem: Problem, part: Part) -> dict[str, Any]:
    """Solve one part of the day and return its raw result (entry point of the workers)."""
    return Model(part_problem(problem, part), part.spec).solve()


def group_worker(problem: Problem, part: Part, conn: Any) -> None:
    """Run one part in a worker process and send the raw result through ``conn``."""
    try:
        conn.send(run_part(problem, part))
    except Exception as exc:  # reported to the parent, which keeps the other results
        conn.send({"found": False, "strategy": part.spec.strategy, "error": repr(exc)})
    finally:
        conn.close()


def merge(
    problem: Problem, day: Spec, split: list[Part], results: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """Put the parts' raw results together into the day's raw result.

    Parameters
    ----------
    problem
        The day.
    day
        The whole day's search spec (its jobs and crew fixed cost price the result).
    split
        The parts, one per worker (:func:`parts`).
    results
        The workers' raw results, in the same order.

    Returns
    -------
    dict or None
        ``found``, ``routes`` and ``breaks`` per day crew, ``t0`` and ``objective`` as the
        whole day's :class:`~routing.engine.or_model.Model` gives them, ``parts`` (each part's
        winning worker); None when no part found anything.
    """
    best: dict[tuple[int, ...], int] = {}
    for k, (part, res) in enumerate(zip(split, results, strict=True)):
        if not res.get("found"):
            continue
        held = best.get(part.key)
        if held is None or res["objective"] < results[held]["objective"]:
            best[part.key] = k
    if not best:
        return None
    t0 = min(results[k]["t0"] for k in best.values())
    raw: dict[str, Any] = {"found": True, "t0": t0, "breaks": {}, "strategy": "pyvrp-groups"}
    raw["routes"] = [[(-1, 0, 0), (-1, 0, 0)] for _ in problem.crews]
    for k in best.values():
        _place(raw, split[k], results[k])
    whole = Model(problem, replace(day, initial_routes=None, time_limit_s=1.0))
    jobs = [[j for j, _, _ in r if j >= 0] for r in raw["routes"]]
    raw["objective"] = whole.objective_of(jobs)
    raw["parts"] = sorted(best.values())
    return raw


def _place(raw: dict[str, Any], part: Part, res: dict[str, Any]) -> None:
    """Copy a part's routes and breaks into the day's raw result, on the day's ``t0``."""
    shift = round((res["t0"] - raw["t0"]) * TIME_SCALE)
    for local, v in enumerate(part.crews):
        raw["routes"][v] = [(j, c + shift, load) for j, c, load in res["routes"][local]]
        got = res["breaks"].get(local, [])
        if got:
            raw["breaks"][v] = [(b, s + shift) for b, s in got]
