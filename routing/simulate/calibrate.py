"""The what-if, calibrated: replay the City's own year with the City's effort, then geo311's.

Reports of one service arrive when they arrived. The capacity of each day is the City's measured
effort (:func:`geo311.requests.effort.measure_effort`: mean closures of that month and weekday) times a
slack factor (closures understate capacity on days the queue ran empty); every closure takes
one slot. The City's order is a mix fitted on January-June (:mod:`routing.simulate.calibrate_fit`):
a share of reports is deferred (contractor, parts, long-term repair) and waits a log-normal time
before it joins the queue; the queue's picks take the oldest report, the newest, or one at random
with fitted shares. The calibration months cannot tell many candidates apart, so every candidate
whose fit is within the figures' own sampling noise of the best replays (an ensemble), and a
figure is the median over those replays. July-December validates: the replay's median and p90
days to close and share within SLA next to the City's own, with bootstrap intervals (reports
resampled; one replay per ensemble member).

The counterfactual keeps the days, the arrivals, the deferred share and the effort, and changes
the policy to geo311's: reports within the service's duplicate radius join one work order (one
visit closes them), the report due first goes first, and routed days turn the City's travel per
job into a routed day's (more jobs per crew-hour; travel measured on the street graph inside the
extract, by :class:`TravelModel` outside). The effort curve scales that effort until the p90 meets
the planner's target: for every report, and for the reports the crews' queue serves (not
deferred); a replay at :data:`UNLIMITED` effort shows the delay no effort removes (the deferred
wait, which is not queueing).

Left out (written into every result): crew absences, parts and weather are inside the measured
effort, not modelled; crews shared between services; repeat visits of failed repairs; the City's
priorities beyond age (a mix of oldest-first, newest-first and random picks stands for them); holidays are
ordinary days of their month and weekday; which reports are deferred is drawn at random, not from the
report's content.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from geo311.errors import InputError
from geo311.requests.effort import Interval
from routing.simulate.calibrate_fit import (
    CalibratedPolicy,
    Calibration,
    CalibrationGrid,
    cached_calibration,
    calibrate_ensemble,
    calibrate_policy,
    deferred_masks,
    ensemble_runs,
    replay_runs,
)
from routing.simulate.calibrate_queue import (
    QueueOrder,
    capacity_per_day,
    daily_slots,
    figures,
    replay_queue,
)
from routing.simulate.core import quantile

__all__ = [
    "UNLIMITED",
    "CalibratedPolicy",
    "Calibration",
    "CalibrationGrid",
    "calibrate_ensemble",
    "cached_calibration",
    "ensemble_runs",
    "replay_runs",
    "OutcomeSettings",
    "QueueOrder",
    "deferred_masks",
    "Outcome",
    "QueueData",
    "TravelModel",
    "calibrate_policy",
    "capacity_per_day",
    "daily_slots",
    "SimulatedOutcome",
    "effort_needed",
    "load_year",
    "local_days",
    "work_orders",
    "fit_travel_model",
    "outcome",
    "outcome_rows",
    "validation_line",
    "replay_queue",
    "simulate_outcome",
]

OMITTED = (
    "crew absences, parts and weather: inside the measured effort, not modelled one by one",
    "crews shared between services and areas: each service and area has its own measured effort",
    "repeat visits of failed repairs and reopened cases",
    "the City's priorities beyond age: a fitted mix of oldest-first, newest-first and random "
    "picks (the City's records show it mostly closed recent reports, rarely the oldest waiting "
    "one); the calibration months fit many mixes alike, and the replay runs all of them",
    "the rest of the city is one pooled queue: faster than the City's separate district queues",
    "holidays: ordinary days of their month and weekday",
    "which report is deferred: drawn at random with the fitted share, not from its content",
)


@dataclass(frozen=True)
class QueueData:
    """One service's reports in one area, as float days since ``origin`` (local midnight).

    Attributes
    ----------
    origin : date
        Day 0.
    requested, due, closed : numpy.ndarray
        Report, SLA due and City closure times (``closed`` ``inf``: never closed).
    horizon : float
        The export's last closure: nothing closes after it, in the data or the replay.
    xy_m : numpy.ndarray or None
        Metric coordinates (n x 2) for work orders; None when unknown.
    """

    origin: date
    requested: np.ndarray
    due: np.ndarray
    closed: np.ndarray
    horizon: float
    xy_m: np.ndarray | None = None

    def mask(self, start: date, end: date) -> np.ndarray:
        """Return the reports made from ``start`` to ``end`` (inclusive)."""
        lo = (start - self.origin).days
        hi = (end - self.origin).days + 1
        return (self.requested >= lo) & (self.requested < hi)

    def closed_days(self) -> list[date]:
        """Return the local day of every City closure."""
        return [
            self.origin + timedelta(days=int(math.floor(c)))
            for c in self.closed
            if math.isfinite(c)
        ]


@dataclass(frozen=True, slots=True)
class Outcome:
    """Days to close and share within SLA of a set of reports, with bootstrap intervals.

    The figures are over the reports closed by the export's last closure (the data cannot say
    when the others closed, so the replay's are censored the same way); ``never_closed`` is
    the share still open then.
    """

    reports: int
    median_days: Interval
    p90_days: Interval
    within_sla: Interval
    never_closed: Interval


def outcome(
    qd: QueueData,
    closed_runs: Sequence[np.ndarray],
    mask: np.ndarray,
    *,
    keep: Sequence[np.ndarray] | None = None,
    n_boot: int = 300,
    seed: int = 0,
) -> Outcome:
    """Summarise closure times of the masked reports (one array per replay, or the City's).

    The value is the median over runs of each figure; the 90 % interval resamples the reports
    (and picks a run at random for each resample). ``keep`` (one boolean array per run) narrows
    each run to some reports, e.g. those the crews' queue served.
    """
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        raise InputError("no reports in the period; pick months with reports", field="period")
    days, within = [], []
    for r, c in enumerate(closed_runs):
        sel = idx if keep is None else idx[np.asarray(keep[r], dtype=bool)[idx]]
        cl = np.asarray(c, dtype=float)[sel]
        days.append(np.maximum(cl - qd.requested[sel], 0.0))
        within.append(cl <= qd.due[sel])
    point = np.median([figures(d, w) for d, w in zip(days, within, strict=True)], axis=0)
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        r = int(rng.integers(len(days)))
        s = rng.integers(0, days[r].size, days[r].size)
        boot.append(figures(days[r][s], within[r][s]))
    a, level = 0.05, 0.9
    cols = np.asarray(boot).T
    ivs = [
        Interval(float(point[k]), quantile(cols[k], a), quantile(cols[k], 1 - a), level)
        for k in range(4)
    ]
    return Outcome(int(idx.size), *ivs)


def work_orders(xy_m: np.ndarray, requested: np.ndarray, *, radius_m: float) -> np.ndarray:
    """Return a work order per report: the earliest report within ``radius_m`` anchors it.

    The replay merges a report into its anchor's work order only while that work order waits.
    """
    order = np.argsort(requested, kind="stable")
    anchor = np.arange(requested.size)
    anchors: list[int] = []
    for i in order:
        for a in anchors:
            if np.hypot(*(xy_m[i] - xy_m[a])) <= radius_m:
                anchor[i] = a
                break
        else:
            anchors.append(int(i))
    return anchor


@dataclass(frozen=True)
class TravelModel:
    """Travel time from straight-line distance: ``d x detour / speed`` (fitted on the graph).

    Attributes
    ----------
    detour : float
        Street distance over straight-line distance (median of the sampled pairs).
    speed_mps : float
        Street distance over travel time (median).
    error : Interval
        Mean absolute relative error of the model's travel times on the pairs (with interval).
    pairs : int
        Pairs fitted on.
    """

    detour: float
    speed_mps: float
    error: Interval
    pairs: int

    def seconds(self, straight_m: np.ndarray | float) -> Any:
        """Return modelled travel seconds for straight-line metres."""
        return np.asarray(straight_m, dtype=float) * self.detour / self.speed_mps


def fit_travel_model(
    straight_m: np.ndarray, street_m: np.ndarray, street_s: np.ndarray, *, seed: int = 0
) -> TravelModel:
    """Fit :class:`TravelModel` on point pairs measured on the street graph.

    Parameters
    ----------
    straight_m, street_m, street_s
        Straight-line metres, street metres and street seconds of the same pairs.
    seed
        Bootstrap seed of the error's interval.

    Returns
    -------
    TravelModel
    """
    from geo311.requests.effort import bootstrap_mean

    ok = (straight_m > 50) & np.isfinite(street_s) & (street_s > 0)
    if ok.sum() < 10:
        raise InputError("fewer than 10 usable pairs to fit travel on", field="pairs")
    detour = float(np.median(street_m[ok] / straight_m[ok]))
    speed = float(np.median(street_m[ok] / street_s[ok]))
    pred = straight_m[ok] * detour / speed
    rel = np.abs(pred - street_s[ok]) / street_s[ok]
    return TravelModel(detour, speed, bootstrap_mean(rel, seed=seed), int(ok.sum()))


UNLIMITED = 1000.0
"""The effort multiple standing for unlimited crews (what is left is not queueing)."""


@dataclass(frozen=True)
class OutcomeSettings:
    """What :func:`simulate_outcome` calibrates on, validates on and varies.

    Attributes
    ----------
    calibrate, validate
        Periods (inclusive dates).
    radius_m
        The service's duplicate radius (work orders; needs ``QueueData.xy_m``).
    routing_gain
        Jobs per crew-hour with routed days over the City's (>= 1: routing saves travel).
    seeds
        Replays per figure.
    curve_scales
        Effort multiples for the effort curve (geo311's policy).
    n_boot
        Bootstrap resamples per interval.
    grid
        The calibration's candidates (default :class:`CalibrationGrid`).
    cache_dir
        Where fitted calibrations are kept for the same reports, periods and grid (None: fit
        every time; :func:`routing.simulate.calibrate_fit.cached_calibration`).
    """

    calibrate: tuple[date, date]
    validate: tuple[date, date]
    radius_m: float
    routing_gain: float = 1.0
    seeds: Sequence[int] = (0, 1, 2, 3, 4)
    curve_scales: Sequence[float] = ()
    n_boot: int = 300
    grid: CalibrationGrid | None = None
    cache_dir: Path | None = None


@dataclass(frozen=True)
class SimulatedOutcome:
    """Validation and counterfactual of one service in one area.

    ``curve`` holds geo311's outcome of every report per effort multiple, ``crew_curve`` that
    of the reports the crews' queue serves (not deferred: the part effort changes), and
    ``floor`` every report's outcome with unlimited crews (the delay that is not queueing);
    ``fit`` the City's actual and the replay's outcome on the calibration months (in sample);
    ``calibration`` the fitted ensemble (``policy`` is its best member).
    """

    policy: CalibratedPolicy
    actual: Outcome
    as_city: Outcome
    with_geo311: Outcome
    routing_gain: float
    curve: tuple[tuple[float, Outcome], ...] = ()
    crew_curve: tuple[tuple[float, Outcome], ...] = ()
    floor: Outcome | None = None
    fit: tuple[Outcome, Outcome] | None = None
    notes: tuple[str, ...] = field(default=OMITTED)
    calibration: Calibration | None = None


def simulate_outcome(
    qd: QueueData, settings: OutcomeSettings, *, progress: Callable[[int, int], None] | None = None
) -> SimulatedOutcome:
    """Calibrate on one period, validate on another, then replay geo311's policy.

    Parameters
    ----------
    qd
        The service's reports in one area.
    settings
        Periods, radius, routing gain, replays, the curve's effort multiples.
    progress
        Called with (candidates fitted, candidates) as the calibration goes, every tenth.

    Returns
    -------
    SimulatedOutcome
    """
    st = settings
    cal = cached_calibration(
        qd,
        start=st.calibrate[0],
        end=st.calibrate[1],
        grid=st.grid,
        cache_dir=st.cache_dir,
        progress=progress,
    )
    mask = qd.mask(*st.validate)
    cap = capacity_per_day(qd)
    actual = outcome(qd, [qd.closed], mask, n_boot=st.n_boot)
    city_runs, _ = ensemble_runs(qd, cap, cal.members, seeds=st.seeds)
    as_city = outcome(qd, city_runs, mask, n_boot=st.n_boot)
    in_sample = qd.mask(*st.calibrate)
    fit = (
        outcome(qd, [qd.closed], in_sample, n_boot=st.n_boot),
        outcome(qd, city_runs, in_sample, n_boot=st.n_boot),
    )
    wo = None if qd.xy_m is None else work_orders(qd.xy_m, qd.requested, radius_m=st.radius_m)

    def geo(scale: float) -> tuple[Outcome, Outcome]:
        runs, late = ensemble_runs(
            qd,
            cap * st.routing_gain * scale,
            cal.members,
            seeds=st.seeds,
            policy="sla",
            work_order=wo,
        )
        every = outcome(qd, runs, mask, n_boot=st.n_boot)
        return every, outcome(qd, runs, mask, keep=[~m for m in late], n_boot=st.n_boot)

    points = [(float(s), geo(float(s))) for s in st.curve_scales]
    floor = geo(UNLIMITED)[0] if points else None
    same = dict(points).get(1.0) or geo(1.0)
    return SimulatedOutcome(
        cal.best,
        actual,
        as_city,
        same[0],
        st.routing_gain,
        curve=tuple((s, o[0]) for s, o in points),
        crew_curve=tuple((s, o[1]) for s, o in points),
        floor=floor,
        fit=fit,
        calibration=cal,
    )


def effort_needed(
    curve: Sequence[tuple[float, Outcome]], *, target_p90_days: float
) -> tuple[float | None, float | None, float | None]:
    """Return the smallest effort multiple whose p90 meets the target: point, low and high.

    ``low`` uses the p90's lower bound (optimistic), ``high`` its upper bound; None when no
    multiple of the curve meets it.
    """

    def first(key: str) -> float | None:
        for s, o in sorted(curve, key=lambda x: x[0]):
            if getattr(o.p90_days, key) <= target_p90_days:
                return s
        return None

    return first("value"), first("low"), first("high")


def local_days(when: datetime | None, origin: date, tz: Any) -> float:
    """Return ``when`` as float days since local midnight of ``origin`` (``inf`` for None)."""
    if when is None:
        return math.inf
    base = datetime.combine(origin, time(0), tzinfo=tz)
    return (when - base).total_seconds() / 86400.0


def load_year(service: str, **options: Any) -> Any:
    """Read one service's year of the embedded export, split by the street extract.

    Parameters
    ----------
    service
        Catalogue service code, e.g. ``streetlight_outage``.
    **options
        ``year``, ``data_file``, ``graph``, ``catalogue``.

    Returns
    -------
    routing.simulate.calibrate_data.Year
        ``inside`` / ``outside`` queues, the fitted travel model, the routing gains, notes.
    """
    from routing.simulate.calibrate_data import load_year as _load

    return _load(service, **options)


def outcome_rows(res: SimulatedOutcome, *, service: str, area: str) -> list[dict[str, Any]]:
    """Return the validation, the counterfactual and the curve as CSV rows (one per line).

    Columns: ``service``, ``area``, ``row`` (``actual``, ``as_city``, ``with_geo311``,
    ``curve``, ``crew_curve``, ``unlimited``, ``calibration_actual`` or ``calibration_as_city``),
    ``effort`` (multiple of the City's), then each figure with its interval.
    """
    rows = []
    named = [("actual", 1.0, res.actual), ("as_city", 1.0, res.as_city)]
    named += [("with_geo311", 1.0, res.with_geo311)]
    named += [("curve", s, o) for s, o in res.curve]
    named += [("crew_curve", s, o) for s, o in res.crew_curve]
    named += [] if res.floor is None else [("unlimited", UNLIMITED, res.floor)]
    if res.fit is not None:
        named += [("calibration_actual", 1.0, res.fit[0]), ("calibration_as_city", 1.0, res.fit[1])]
    for row, effort, o in named:
        line: dict[str, Any] = {"service": service, "area": area, "row": row, "effort": effort}
        line["reports"] = o.reports
        for key in ("median_days", "p90_days", "within_sla", "never_closed"):
            iv = getattr(o, key)
            line[key], line[f"{key}_low"], line[f"{key}_high"] = iv.value, iv.low, iv.high
        rows.append(line)
    return rows


def validation_line(res: SimulatedOutcome, service: str, label: str = "") -> str:
    """Return the validation line: replay next to the City's figures, with the errors."""
    s, a = res.as_city, res.actual

    def err(x: Interval, y: Interval) -> str:
        return f"{(x.value - y.value) / y.value * 100:+.0f}%" if y.value else "n/a"

    return (
        f"validation {service}{label}: median sim {s.median_days.value:.1f} d vs actual "
        f"{a.median_days.value:.1f} d (err {err(s.median_days, a.median_days)}), "
        f"p90 sim {s.p90_days.value:.1f} d vs actual {a.p90_days.value:.1f} d "
        f"(err {err(s.p90_days, a.p90_days)}), within SLA sim "
        f"{s.within_sla.value:.0%} vs actual {a.within_sla.value:.0%}"
    )
