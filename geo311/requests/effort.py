"""The City's effort measured from its own records, each estimate with a bootstrap interval.

What the City actually did, per service (or group), day of week and month: closures per day,
crew-hours (closures x (on-site minutes + travel minutes per job)), the closure mix (resolved /
duplicate / invalid / referred / other) and the order it worked in (how often a closure took the
oldest open report: first-in-first-out; the one due first: by SLA; one near the previous closure
of the day: by area). Every figure carries a percentile-bootstrap interval (resampling the days
of a cell, or the closures), so a planner sees how sure each estimate is.

A day's closures measure the City's capacity only while work was waiting: the estimate is the
work done, which is below the capacity on days the queue ran empty (the calibration in
:mod:`routing.simulate.calibrate` scales it by a fitted factor for that reason).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from geo311.errors import InputError

__all__ = [
    "ClosureMix",
    "EffortCell",
    "Interval",
    "OrderingShares",
    "bootstrap_mean",
    "closure_mix",
    "daily_counts",
    "measure_effort",
    "ordering_shares",
]

MIX_KINDS = ("fixed", "duplicate", "invalid", "referred", "closed")


@dataclass(frozen=True, slots=True)
class Interval:
    """An estimate with its bootstrap interval (``low`` .. ``high``, ``level`` coverage)."""

    value: float
    low: float
    high: float
    level: float = 0.9

    def contains(self, x: float) -> bool:
        """Return whether ``x`` lies in the interval (ends included)."""
        return self.low <= x <= self.high


@dataclass(frozen=True, slots=True)
class EffortCell:
    """Closures per working day of one month and day of week (0 = Monday).

    Attributes
    ----------
    month, weekday : int
        The cell.
    days : int
        Calendar days of the cell in the measured period.
    closures : Interval
        Mean closures per day of the cell.
    crew_hours : Interval
        The same in crew-hours (closures x hours per job).
    """

    month: int
    weekday: int
    days: int
    closures: Interval
    crew_hours: Interval


def bootstrap_mean(
    values: Sequence[float], *, n_boot: int = 400, level: float = 0.9, seed: int = 0
) -> Interval:
    """Return the mean of ``values`` with an (expanded) percentile-bootstrap interval.

    Parameters
    ----------
    values
        The sample (at least one value).
    n_boot
        Bootstrap resamples.
    level
        Interval coverage.
    seed
        Random seed (the interval repeats exactly for a seed).

    Returns
    -------
    Interval
    """
    from scipy import stats

    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        raise InputError("no values to estimate a mean from; widen the period", field="values")
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, arr.size, size=(n_boot, arr.size))].mean(axis=1)
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [a, 1.0 - a])
    m = float(arr.mean())
    n = arr.size
    # Expanded percentile interval: the plain one is too narrow for a few values (a cell of a
    # month's Mondays has 4 or 5), by sqrt(n / (n - 1)) and Student's t over the normal's z.
    c = 1.0
    if n > 1:
        c = math.sqrt(n / (n - 1)) * stats.t.ppf(1 - a, n - 1) / stats.norm.ppf(1 - a)
    return Interval(m, float(m - c * (m - lo)), float(m + c * (hi - m)), level)


def daily_counts(days: Sequence[date], *, start: date, end: date) -> dict[date, int]:
    """Return how many of ``days`` fall on each calendar day from ``start`` to ``end``."""
    if end < start:
        raise InputError(f"end {end} is before start {start}; swap the dates", field="end")
    out = {start + timedelta(days=k): 0 for k in range((end - start).days + 1)}
    for d in days:
        if d in out:
            out[d] += 1
    return out


def measure_effort(
    closed_days: Sequence[date],
    *,
    start: date,
    end: date,
    hours_per_job: float = 1.0,
    n_boot: int = 400,
    level: float = 0.9,
    seed: int = 0,
) -> dict[tuple[int, int], EffortCell]:
    """Return the closures (and crew-hours) per day for every (month, weekday) of a period.

    Parameters
    ----------
    closed_days
        Local day of every closure made by the City.
    start, end
        The measured period (inclusive).
    hours_per_job
        Crew-hours one closure takes (on-site plus travel).
    n_boot, level, seed
        Bootstrap settings (the days of a cell are resampled).

    Returns
    -------
    dict of (month, weekday) to EffortCell
    """
    counts = daily_counts(closed_days, start=start, end=end)
    cells: dict[tuple[int, int], list[int]] = {}
    for d, n in counts.items():
        cells.setdefault((d.month, d.weekday()), []).append(n)
    out = {}
    for (m, w), values in sorted(cells.items()):
        ci = bootstrap_mean(values, n_boot=n_boot, level=level, seed=seed + 31 * m + w)
        h = hours_per_job
        hours = Interval(ci.value * h, ci.low * h, ci.high * h, level)
        out[(m, w)] = EffortCell(m, w, len(values), ci, hours)
    return out


@dataclass(frozen=True, slots=True)
class ClosureMix:
    """Share of closures of each kind (``fixed``, ``duplicate``, ``invalid``, ...)."""

    closures: int
    shares: dict[str, Interval]


def closure_mix(
    kinds: Sequence[str], *, n_boot: int = 400, level: float = 0.9, seed: int = 0
) -> ClosureMix:
    """Return the closure mix of the City's closures with bootstrap intervals.

    Parameters
    ----------
    kinds
        Closure state of every closure (a catalogue state such as ``fixed``).
    n_boot, level, seed
        Bootstrap settings (the closures are resampled).

    Returns
    -------
    ClosureMix
    """
    found = sorted(set(kinds) | set(MIX_KINDS), key=lambda k: (k not in MIX_KINDS, k))
    arr = np.asarray(kinds, dtype=object)
    shares = {
        k: bootstrap_mean((arr == k).astype(float), n_boot=n_boot, level=level, seed=seed + i)
        if arr.size
        else Interval(math.nan, math.nan, math.nan, level)
        for i, k in enumerate(found)
    }
    return ClosureMix(int(arr.size), shares)


@dataclass(frozen=True, slots=True)
class OrderingShares:
    """How the City picked the next report, each share with its interval.

    Shares of closures taking the oldest waiting report, the one due first, or one within
    ``radius_m`` of the day's previous closure.
    """

    closures: int
    fifo: Interval
    by_sla: Interval
    by_area: Interval
    radius_m: float


def ordering_shares(
    requested: Sequence[float],
    closed: Sequence[float],
    due: Sequence[float],
    xy_m: np.ndarray | None = None,
    *,
    radius_m: float = 1000.0,
    n_boot: int = 400,
    seed: int = 0,
) -> OrderingShares:
    """Measure the order the City worked in from report and closure times.

    Parameters
    ----------
    requested, closed, due
        Times in days (``closed`` ``inf`` for never closed) of the reports of one queue.
    xy_m
        Metric coordinates (n x 2) for the by-area share; default none (share ``nan``).
    radius_m
        A closure counts as "by area" within this distance of the day's previous closure.
    n_boot, seed
        Bootstrap settings (the closures are resampled).

    Returns
    -------
    OrderingShares
    """
    req = np.asarray(requested, dtype=float)
    clo = np.asarray(closed, dtype=float)
    dd = np.asarray(due, dtype=float)
    order = [int(i) for i in np.argsort(clo, kind="stable") if math.isfinite(clo[i])]
    fifo, sla, area = [], [], []
    prev: int | None = None
    for i in order:
        t = clo[i]
        waiting = (req <= t) & (clo >= t)
        fifo.append(float(req[i] <= req[waiting].min()))
        sla.append(float(dd[i] <= dd[waiting].min()))
        if xy_m is not None and prev is not None and math.floor(clo[prev]) == math.floor(t):
            area.append(float(np.hypot(*(xy_m[i] - xy_m[prev])) <= radius_m))
        prev = i
    nan = Interval(math.nan, math.nan, math.nan)

    def est(values: list[float], k: int) -> Interval:
        return bootstrap_mean(values, n_boot=n_boot, seed=seed + k) if values else nan

    return OrderingShares(len(order), est(fifo, 0), est(sla, 1), est(area, 2), radius_m)
