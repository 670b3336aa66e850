"""Results of the season replay: outcome statistics, one run, one group, the whole simulation.

Private to :mod:`routing.simulate.run`, which re-exports the public names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np

from geo311.errors import InputError
from routing.simulate.core import DayLog, quantile

DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class OutcomeStats:
    """Distribution of days from report to repair (or closure) of a set of reports.

    Attributes
    ----------
    reports : int
        Number of reports.
    repaired : int
        Reports repaired (closed) at all.
    median_days, p90_days : float
        Median and 90th percentile of days to repair; ``inf`` when more than half (resp. 10 %)
        were never repaired, ``nan`` for no reports.
    within_sla : float
        Share of reports repaired by their SLA due time (0..1; ``nan`` for no reports).
    days : tuple of float
        Days to repair of every report (``inf``: never repaired), for plots.
    """

    reports: int
    repaired: int
    median_days: float
    p90_days: float
    within_sla: float
    days: tuple[float, ...] = ()

    @classmethod
    def of(cls, days: Sequence[float], within: Sequence[bool]) -> OutcomeStats:
        """Summarise days to repair and SLA flags.

        Parameters
        ----------
        days
            Days to repair per report (``inf`` when never repaired).
        within
            Whether each report was repaired by its SLA due time.

        Returns
        -------
        OutcomeStats
        """
        arr = np.asarray(days, dtype=float)
        n = int(arr.size)
        return cls(
            reports=n,
            repaired=int(np.isfinite(arr).sum()),
            median_days=quantile(arr, 0.5),
            p90_days=quantile(arr, 0.9),
            within_sla=float(np.mean(np.asarray(within, dtype=bool))) if n else math.nan,
            days=tuple(float(x) for x in arr),
        )

    def to_dict(self, *, with_days: bool = False) -> dict[str, Any]:
        """Return JSON-friendly data (``inf``/``nan`` become ``None``)."""
        out: dict[str, Any] = {
            "reports": self.reports,
            "repaired": self.repaired,
            "median_days": _num(self.median_days),
            "p90_days": _num(self.p90_days),
            "within_sla": _num(self.within_sla),
        }
        if with_days:
            out["days"] = [_num(d) for d in self.days]
        return out


@dataclass(frozen=True, slots=True)
class RunResult:
    """One replay of one service group with ``crews`` crews.

    Attributes
    ----------
    crews : int
        Number of crews.
    crew_ids : tuple of str
        Their ids.
    simulated : OutcomeStats
        Days to repair of the measured reports in the replay.
    utilisation : float
        Busy crew time (driving + on site) over crew time available (shift minus breaks), over
        every simulated working day.
    work_orders : int
        Work orders the measured reports formed.
    days : tuple of DayLog
        Every simulated working day (backlog, repairs, solver time).
    repaired_at : dict of str to datetime or None
        Simulated repair time of every measured report.
    wall_time_s : float
        Wall-clock time of the replay.
    """

    crews: int
    crew_ids: tuple[str, ...]
    simulated: OutcomeStats
    utilisation: float
    work_orders: int
    days: tuple[DayLog, ...]
    repaired_at: dict[str, datetime | None]
    wall_time_s: float

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-friendly data."""
        return {
            "crews": self.crews,
            "crew_ids": list(self.crew_ids),
            "simulated": self.simulated.to_dict(),
            "utilisation": _num(self.utilisation),
            "work_orders": self.work_orders,
            "wall_time_s": round(self.wall_time_s, 3),
            "days_hit_time_limit": sum(d.hit_time_limit for d in self.days),
            "backlog": [
                {
                    "day": d.day.isoformat(),
                    "open_work_orders": d.open_work_orders,
                    "open_reports": d.open_reports,
                    "served": d.served,
                    "busy_h": round(d.busy_s / 3600.0, 3),
                    "available_h": round(d.available_s / 3600.0, 3),
                }
                for d in self.days
            ],
        }


@dataclass(frozen=True, slots=True)
class GroupResult:
    """Simulated and actual outcomes of one service group.

    Attributes
    ----------
    group : str
        ``potholes`` or ``streetlights``.
    actual : OutcomeStats
        The City's figures for the same reports (``CLOSED_DT - OPEN_DT``; within ``TARGET_DT``).
    runs : tuple of RunResult
        One replay per crew count (several with a sweep).
    target_median_days : float
        Median days to repair the planner aims for.
    smallest_crews : int or None
        The smallest crew count whose simulated median meets the target (``None``: none did).
    actual_backlog : tuple of (date, int)
        Reports the City still had open at each working morning of the season.
    """

    group: str
    actual: OutcomeStats
    runs: tuple[RunResult, ...]
    target_median_days: float
    smallest_crews: int | None
    actual_backlog: tuple[tuple[date, int], ...] = ()

    def run(self, crews: int) -> RunResult:
        """Return the replay with ``crews`` crews.

        Raises
        ------
        InputError
            When no replay used that many crews.
        """
        for r in self.runs:
            if r.crews == crews:
                return r
        raise InputError(
            f"no replay of {self.group} with {crews} crews; ran {[r.crews for r in self.runs]}",
            field="crews",
        )

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-friendly data."""
        return {
            "group": self.group,
            "actual": self.actual.to_dict(),
            "runs": [r.to_dict() for r in self.runs],
            "target_median_days": self.target_median_days,
            "smallest_crews": self.smallest_crews,
            "actual_backlog": [
                {"day": d.isoformat(), "open_reports": n} for d, n in self.actual_backlog
            ],
        }


@dataclass(frozen=True)
class SimulationResult:
    """Everything a planner sees from :func:`run_simulation`.

    Attributes
    ----------
    start, end : date
        The season (reports made from ``start`` 00:00 to ``end`` 24:00 local are measured).
    groups : dict of str to GroupResult
        Per service group.
    settings : dict
        Seed, solver limits, crew file, plan time, drain days.
    notes : tuple of str
        What was left out and why, and the simplifications of the model.
    """

    start: date
    end: date
    groups: dict[str, GroupResult]
    settings: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-friendly data (no per-report lists)."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "groups": {g: r.to_dict() for g, r in self.groups.items()},
            "settings": dict(self.settings),
            "notes": list(self.notes),
        }

    def table(self) -> str:
        """Return a plain-text table: per group and crew count, simulated vs actual."""
        lines = [
            f"{'group':<13}{'crews':>6}{'reports':>8}{'median d':>10}{'p90 d':>9}"
            f"{'in SLA':>8}{'util':>7}"
        ]
        for g, gr in self.groups.items():
            a = gr.actual
            lines.append(
                f"{g:<13}{'City':>6}{a.reports:>8}{_fmt(a.median_days):>10}"
                f"{_fmt(a.p90_days):>9}{_pct(a.within_sla):>8}{'':>7}"
            )
            for r in gr.runs:
                s = r.simulated
                mark = " *" if gr.smallest_crews == r.crews else ""
                lines.append(
                    f"{g:<13}{r.crews:>6}{s.reports:>8}{_fmt(s.median_days):>10}"
                    f"{_fmt(s.p90_days):>9}{_pct(s.within_sla):>8}{_pct(r.utilisation):>7}{mark}"
                )
            target = f"target median <= {gr.target_median_days:g} days: "
            if gr.actual.reports == 0:
                verdict = "no reports of this group to replay in the season and extract"
            elif gr.smallest_crews is not None:
                verdict = f"smallest crew count meeting it = {gr.smallest_crews} (*)"
            else:
                verdict = "no crew count tried meets it"
            lines.append(target + verdict)
        return "\n".join(lines)


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 4)


def _fmt(x: float) -> str:
    return "-" if math.isnan(x) else ("never" if math.isinf(x) else f"{x:.2f}")


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.0f}%"
