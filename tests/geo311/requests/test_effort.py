"""The City's effort measured from its records: estimates and their bootstrap intervals."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from geo311.errors import InputError
from geo311.requests.effort import (
    bootstrap_mean,
    closure_mix,
    daily_counts,
    measure_effort,
    ordering_shares,
)

START, END = date(2015, 1, 1), date(2015, 12, 31)


def _true_capacity(d: date) -> float:
    """A synthetic City: more work in summer, none on Sundays, less on Saturdays."""
    if d.weekday() == 6:
        return 0.0
    base = 6.0 + 3.0 * np.sin((d.month - 1) / 12 * 2 * np.pi)
    return base * (0.5 if d.weekday() == 5 else 1.0)


def _synthetic_year(seed: int = 7) -> list[date]:
    rng = np.random.default_rng(seed)
    days = []
    d = START
    while d <= END:
        days += [d] * int(rng.poisson(_true_capacity(d)))
        d += timedelta(days=1)
    return days


def test_effort_on_a_synthetic_year_is_within_its_stated_interval() -> None:
    cells = measure_effort(_synthetic_year(), start=START, end=END, hours_per_job=0.75)
    assert len(cells) == 12 * 7
    inside = []
    for (m, w), cell in cells.items():
        first = next(
            START + timedelta(days=k)
            for k in range(366)
            if (START + timedelta(days=k)).month == m and (START + timedelta(days=k)).weekday() == w
        )
        truth = _true_capacity(first)
        inside.append(cell.closures.contains(truth))
        assert cell.crew_hours.value == pytest.approx(cell.closures.value * 0.75)
        assert cell.days in (4, 5)
    # 90 % intervals: about 76 of the 84 cells hold the truth; far fewer means a wrong estimate.
    assert sum(inside) >= 0.8 * len(inside)


def test_yearly_weekday_effort_is_within_its_interval() -> None:
    days = _synthetic_year(seed=11)
    counts = daily_counts(days, start=START, end=END)
    weekdays = [n for d, n in counts.items() if d.weekday() < 5]
    truth = float(np.mean([_true_capacity(d) for d in counts if d.weekday() < 5]))
    est = bootstrap_mean(weekdays, level=0.95)
    assert est.contains(truth)
    assert est.high - est.low < 1.0  # 261 days pin the mean down (sd about 3.3 per day)


def test_wrong_capacity_lies_outside_the_interval() -> None:
    counts = daily_counts(_synthetic_year(seed=3), start=START, end=END)
    weekdays = [n for d, n in counts.items() if d.weekday() < 5]
    est = bootstrap_mean(weekdays)
    truth = float(np.mean([_true_capacity(d) for d in counts if d.weekday() < 5]))
    assert not est.contains(truth * 1.2)


def test_closure_mix_shares() -> None:
    kinds = ["fixed"] * 80 + ["duplicate"] * 10 + ["invalid"] * 5 + ["referred"] * 5
    mix = closure_mix(kinds)
    assert mix.closures == 100
    assert mix.shares["fixed"].value == pytest.approx(0.8)
    assert mix.shares["fixed"].contains(0.8)
    assert mix.shares["closed"].value == 0.0
    assert sum(s.value for s in mix.shares.values()) == pytest.approx(1.0)


def test_ordering_of_a_first_in_first_out_city() -> None:
    req = np.arange(50) * 0.3
    closed = req + 5.0  # each closes in arrival order
    due = req + 15.0
    xy = np.column_stack([np.arange(50) * 2000.0, np.zeros(50)])
    out = ordering_shares(req, closed, due, xy, radius_m=1000.0)
    assert out.closures == 50
    assert out.fifo.value == 1.0
    assert out.by_sla.value == 1.0
    assert out.by_area.value == 0.0  # every job 2 km from the previous one


def test_ordering_of_a_newest_first_city() -> None:
    req = np.array([0.0, 0.1, 0.2, 0.3])
    closed = np.array([4.0, 3.0, 2.0, 1.0])  # the newest first
    out = ordering_shares(req, closed, req + 10)
    assert out.fifo.value == pytest.approx(0.25)  # only the last one left is also the oldest


def test_errors_name_the_field() -> None:
    with pytest.raises(InputError):
        bootstrap_mean([])
    with pytest.raises(InputError):
        daily_counts([], start=END, end=START)
