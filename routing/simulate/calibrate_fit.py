"""The City's order, fitted: the replay's policy and the ensemble of fits the data cannot tell apart.

Private to :mod:`routing.simulate.calibrate` (which re-exports the public names). A replay closes
one waiting report per capacity slot; every City closure is effort, so a deferred report
(contractor, parts, long repair) also takes a slot, once its log-normal wait is over. The
calibration months rarely pin one candidate down: many candidates reproduce them about equally
well and still differ on other months. So the fit keeps every candidate whose in-sample loss is
within the calibration figures' own sampling noise of the best one (the loss of the City's
figures against bootstrap resamples of themselves), and a replay runs across that ensemble.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from routing.simulate.calibrate_queue import (
    QueueOrder,
    capacity_per_day,
    daily_slots,
    days_within,
    figures,
    replay_queue,
)

if TYPE_CHECKING:
    from routing.simulate.calibrate import QueueData

__all__ = [
    "CalibratedPolicy",
    "Calibration",
    "CalibrationGrid",
    "calibrate_ensemble",
    "calibrate_policy",
    "cached_calibration",
    "deferred_masks",
    "ensemble_runs",
    "replay_runs",
]

ORDERS: tuple[tuple[float, float], ...] = (
    (1.0, 0.0),
    (0.7, 0.0),
    (0.5, 0.0),
    (0.3, 0.0),
    (0.0, 0.0),
    (0.0, 0.5),
    (0.0, 1.0),
)
"""Candidate orders: (share of picks taking the oldest report, share taking the newest)."""


@dataclass(frozen=True, slots=True)
class CalibratedPolicy:
    """The City's fitted order and slack (see the module docstring).

    Attributes
    ----------
    slack : float
        The crews' capacity over the measured closures (closures understate capacity on days
        with no work left).
    deferred_share : float
        Share of reports the City deferred (contractor, parts, long-term repair).
    deferred_median_days, deferred_sigma : float
        A deferred report waits a log-normal time (this median, this log-sd) before it joins
        the crews' queue.
    fifo_share : float
        Share of the crews' picks that take the oldest waiting report.
    loss : float
        The fit's loss on the calibration months.
    newest_share : float
        Share of the crews' picks that take the newest waiting report (the rest: at random).
    """

    slack: float
    deferred_share: float
    deferred_median_days: float
    deferred_sigma: float
    fifo_share: float
    loss: float
    newest_share: float = 0.0


@dataclass(frozen=True)
class CalibrationGrid:
    """The values :func:`calibrate_ensemble` tries, and the replays per candidate.

    Attributes
    ----------
    seeds
        Replays per candidate (the median of each figure over them is fitted).
    slacks, deferred_shares, deferred_medians, deferred_sigmas
        The candidates of each :class:`CalibratedPolicy` field.
    orders
        Candidate (oldest-first share, newest-first share) pairs; the rest of the picks are
        random.
    tolerance
        Loss above the best candidate's that still joins the ensemble; None: the calibration
        figures' own sampling noise (median loss of bootstrap resamples against the figures).
    max_members
        At most this many members replay (evenly spaced along the loss ranking).
    """

    seeds: Sequence[int] = (0, 1, 2)
    slacks: Sequence[float] = (0.9, 1.0, 1.1, 1.2, 1.3)
    deferred_shares: Sequence[float] = (0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
    deferred_medians: Sequence[float] = (10.0, 15.0, 20.0, 30.0, 40.0)
    deferred_sigmas: Sequence[float] = (1.5, 2.0, 2.5, 3.0)
    orders: Sequence[tuple[float, float]] = ORDERS
    tolerance: float | None = None
    max_members: int = 40


@dataclass(frozen=True)
class Calibration:
    """The fit: the best candidate and every candidate the data cannot tell from it.

    Attributes
    ----------
    best
        The candidate with the lowest loss.
    members
        The ensemble, best first (at most ``CalibrationGrid.max_members``).
    tolerance
        The loss margin used.
    candidates
        Candidates tried.
    within
        Candidates within ``tolerance`` of the best (``members`` is spread evenly over them).
    """

    best: CalibratedPolicy
    members: tuple[CalibratedPolicy, ...]
    tolerance: float
    candidates: int
    within: int

    def ranges(self) -> dict[str, tuple[float, float]]:
        """Return each fitted parameter's smallest and largest value over the members."""
        keys = [f.name for f in fields(CalibratedPolicy) if f.name != "loss"]
        return {
            k: (min(getattr(m, k) for m in self.members), max(getattr(m, k) for m in self.members))
            for k in keys
        }


def _draws(n: int, pol: CalibratedPolicy, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return which reports a replay defers and their waits (the same for a seed)."""
    rng = np.random.default_rng(1000 + seed)
    late = rng.random(n) < pol.deferred_share
    wait = pol.deferred_median_days * np.exp(pol.deferred_sigma * rng.standard_normal(n))
    return late, wait


def deferred_masks(qd: QueueData, pol: CalibratedPolicy, seeds: Sequence[int]) -> list[np.ndarray]:
    """Return, per seed, the reports a replay defers (their wait before the crews' queue)."""
    return [_draws(qd.requested.size, pol, s)[0] for s in seeds]


def replay_runs(
    qd: QueueData,
    cap: np.ndarray,
    pol: CalibratedPolicy,
    *,
    seeds: Sequence[int],
    policy: str = "city",
    work_order: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Replay once per seed; the deferred reports and their waits are drawn with the seed.

    ``cap`` is the measured closures per day (times any effort multiple); the slots are
    ``slack`` times it. A deferred report joins the queue when its wait is over and then takes
    a slot like any other (every City closure is effort).
    """
    slots = daily_slots(cap * pol.slack)
    slots = slots[slots <= qd.horizon]
    order = QueueOrder(policy=policy, fifo_share=pol.fifo_share, newest_share=pol.newest_share)
    out = []
    for s in seeds:
        late, wait = _draws(qd.requested.size, pol, s)
        ready = qd.requested + np.where(late, wait, 0.0)
        out.append(
            replay_queue(ready, slots, replace(order, seed=s), due=qd.due, work_order=work_order)
        )
    return out


def _pairs(
    members: Sequence[CalibratedPolicy], seeds: Sequence[int]
) -> list[tuple[CalibratedPolicy, int]]:
    """Return (member, seed) replays: one seed per member, every seed when members are few."""
    if len(members) >= len(seeds):
        return [(m, seeds[k % len(seeds)]) for k, m in enumerate(members)]
    return [(m, s) for m in members for s in seeds]


def ensemble_runs(
    qd: QueueData,
    cap: np.ndarray,
    members: Sequence[CalibratedPolicy],
    *,
    seeds: Sequence[int],
    policy: str = "city",
    work_order: np.ndarray | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Replay across the ensemble: closure times per replay and the reports each deferred."""
    runs, deferred = [], []
    for m, s in _pairs(members, seeds):
        runs += replay_runs(qd, cap, m, seeds=[s], policy=policy, work_order=work_order)
        deferred += deferred_masks(qd, m, [s])
    return runs, deferred


def _loss(sim: Sequence[float], act: Sequence[float]) -> float:
    """Relative errors of median and p90 plus the shares' differences (scaled)."""

    def rel(a: float, b: float) -> float:
        if not (math.isfinite(a) and math.isfinite(b)):
            return 0.0 if a == b else 5.0
        return abs(a - b) / max(b, 0.1)

    return (
        rel(sim[0], act[0])
        + rel(sim[1], act[1])
        + 4 * abs(sim[2] - act[2])
        + 2 * abs(sim[3] - act[3])
    )


def sampling_noise(qd: QueueData, mask: np.ndarray, *, n_boot: int = 200, seed: int = 5) -> float:
    """Return the median loss of bootstrap resamples of the City's figures against themselves."""
    d, w = days_within(qd, qd.closed, mask)
    act = figures(d, w)
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(n_boot):
        s = rng.integers(0, d.size, d.size)
        losses.append(_loss(figures(d[s], w[s]), act))
    return float(np.median(losses))


def _candidates(g: CalibrationGrid) -> list[CalibratedPolicy]:
    return [
        CalibratedPolicy(float(sl), p, m, sg, f, math.nan, nw)
        for sl in g.slacks
        for p in g.deferred_shares
        for m in g.deferred_medians
        for sg in g.deferred_sigmas
        for f, nw in g.orders
    ]


def calibrate_ensemble(
    qd: QueueData,
    *,
    start: date,
    end: date,
    grid: CalibrationGrid | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Calibration:
    """Fit the City's policy on ``start`` .. ``end``: the best candidate and its ensemble.

    A grid search (``grid``, default :class:`CalibrationGrid`): the loss is the relative
    errors of the median and the p90 plus four times the difference of the share within SLA
    and twice that of the share never closed (median over the grid's seeds of each figure).
    The ensemble keeps every candidate within ``grid.tolerance`` of the best loss;
    ``progress`` hears (candidates fitted, candidates) every tenth of them.
    """
    g = grid or CalibrationGrid()
    mask = qd.mask(start, end)
    act = figures(*days_within(qd, qd.closed, mask))
    cap = capacity_per_day(qd)
    fitted: list[CalibratedPolicy] = []
    cands = _candidates(g)
    step = max(1, len(cands) // 10)
    for k, cand in enumerate(cands, 1):
        if progress is not None and k % step == 0:
            progress(k, len(cands))
        runs = replay_runs(qd, cap, cand, seeds=g.seeds)
        sim = np.median([figures(*days_within(qd, c, mask)) for c in runs], axis=0)
        fitted.append(replace(cand, loss=_loss(list(sim), act)))
    fitted.sort(key=lambda p: p.loss)
    tol = sampling_noise(qd, mask) if g.tolerance is None else g.tolerance
    near = [p for p in fitted if p.loss <= fitted[0].loss + tol]
    kept = near
    if len(near) > g.max_members:
        picks = np.unique(np.round(np.linspace(0, len(near) - 1, g.max_members)).astype(int))
        kept = [near[int(k)] for k in picks]
    return Calibration(fitted[0], tuple(kept), tol, len(fitted), len(near))


def calibrate_policy(
    qd: QueueData, *, start: date, end: date, grid: CalibrationGrid | None = None
) -> CalibratedPolicy:
    """Return the best candidate of :func:`calibrate_ensemble` (the single best fit)."""
    return calibrate_ensemble(qd, start=start, end=end, grid=grid).best


MODEL_VERSION = 1
"""Bump when the replay or the loss changes: cached calibrations of older models are not read."""


def calibration_key(qd: QueueData, *, start: date, end: date, grid: CalibrationGrid) -> str:
    """Return the cache key of a calibration: the reports' times, the period, the grid, the model."""
    h = hashlib.sha256()
    for a in (qd.requested, qd.due, qd.closed):
        h.update(np.ascontiguousarray(a, dtype=float).tobytes())
    h.update(repr((MODEL_VERSION, qd.origin, qd.horizon, start, end, grid)).encode())
    return h.hexdigest()[:24]


def _to_json(cal: Calibration) -> str:
    def pol(p: CalibratedPolicy) -> dict[str, float]:
        return {f.name: float(getattr(p, f.name)) for f in fields(CalibratedPolicy)}

    body: dict[str, object] = {"best": pol(cal.best), "members": [pol(m) for m in cal.members]}
    body |= {"tolerance": cal.tolerance, "candidates": cal.candidates, "within": cal.within}
    return json.dumps(body)


def _from_json(text: str) -> Calibration:
    body = json.loads(text)
    members = tuple(CalibratedPolicy(**m) for m in body["members"])
    return Calibration(
        CalibratedPolicy(**body["best"]),
        members,
        float(body["tolerance"]),
        int(body["candidates"]),
        int(body["within"]),
    )


def cached_calibration(
    qd: QueueData,
    *,
    start: date,
    end: date,
    grid: CalibrationGrid | None = None,
    cache_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Calibration:
    """Return :func:`calibrate_ensemble`'s result, kept in ``cache_dir`` for the same inputs.

    The file is named by :func:`calibration_key` (reports, period, grid, model version), so new
    data or another grid fits again; an unreadable file is fitted again and replaced. None:
    no cache.
    """
    g = grid or CalibrationGrid()
    if cache_dir is None:
        return calibrate_ensemble(qd, start=start, end=end, grid=g, progress=progress)
    path = Path(cache_dir) / f"calibration-{calibration_key(qd, start=start, end=end, grid=g)}.json"
    if path.is_file():
        try:
            return _from_json(path.read_text(encoding="utf-8"))
        except (ValueError, KeyError, TypeError):
            pass  # written by hand or cut short: fit again
    cal = calibrate_ensemble(qd, start=start, end=end, grid=g, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(_to_json(cal), encoding="utf-8")
    os.replace(tmp, path)  # readers see the whole file or none
    return cal
