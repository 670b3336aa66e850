"""The week's horizon: capacity buckets per crew and day, today's priorities from them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from geo311.errors import InputError
from routing.dispatch.horizon import horizon_days, horizon_problem, plan_horizon
from routing.engine.problem import (
    PRIORITY_DUE_TODAY,
    PRIORITY_DUE_TOMORROW,
    PRIORITY_LATER,
    PRIORITY_OVERDUE,
    Job,
    Problem,
)
from routing.engine.solve import SolveParams, solve

from ._line_problems import H, crew, problem

DAY = 86400.0
TODAY = date(2015, 10, 6)  # a Tuesday, the origin of _line_problems


def job(jid: str, loc: int, *, due_days: float, service_h: float = 1.0, prio: int = 0) -> Job:
    return Job(jid, loc, service_h * H, "lights", priority=prio, sla_due_s=due_days * DAY + 12 * H)


def test_horizon_days_skip_the_weekend() -> None:
    friday = date(2015, 10, 9)
    assert horizon_days(friday, 3) == [friday, date(2015, 10, 12), date(2015, 10, 13)]
    with pytest.raises(InputError, match="days=0"):
        horizon_days(friday, 0)


def test_jobs_fill_days_earliest_due_first() -> None:
    # one crew, 8.5 h shift, ten 2-hour jobs next to the yard: four fit a day (fill 1.0)
    jobs = [job(f"j{k}", k + 1, due_days=10 - k, service_h=2.0) for k in range(10)]
    p = problem([crew("c1", {"lights"})], jobs, [0.0] + [10.0 * (k + 1) for k in range(10)])
    days = horizon_days(TODAY, 2)
    hz = plan_horizon(p, days=days, fill=1.0, travel_factor=1.0)
    # the jobs due soonest (j9, j8, ...) go today; the two due last fit no day
    assert hz.jobs_on(0) == ["j9", "j8", "j7", "j6"]
    assert hz.jobs_on(1) == ["j5", "j4", "j3", "j2"]
    assert hz.beyond() == ["j0", "j1"]
    bucket = hz.buckets[0]
    assert bucket.load_s <= bucket.capacity_s
    data = hz.to_dict()
    assert [d["date"] for d in data["days"]] == [d.isoformat() for d in days]
    assert data["beyond"] == ["j0", "j1"]


def test_a_job_goes_to_a_crew_with_its_skill() -> None:
    jobs = [job("a", 1, due_days=1), replace(job("b", 2, due_days=1), skill="potholes")]
    crews = [crew("lights", {"lights"}), crew("holes", {"potholes"})]
    hz = plan_horizon(problem(crews, jobs, [0.0, 50.0, 60.0]), days=horizon_days(TODAY, 2))
    on = {b.crew_id: b.job_ids for b in hz.buckets if b.day == TODAY}
    assert on == {"lights": ("a",), "holes": ("b",)}


def test_work_no_crew_can_do_is_beyond_the_horizon() -> None:
    jobs = [replace(job("x", 1, due_days=1), skill="trees")]
    hz = plan_horizon(problem([crew("c", {"lights"})], jobs, [0.0, 10.0]), days=[TODAY])
    assert hz.day_of == {"x": None}
    assert hz.late(TODAY) == ["x"]


def test_today_takes_work_due_soon_over_easy_work_due_next_week() -> None:
    # ten 1-hour jobs next to the yard due in 8 days, three 1-hour jobs 20 km away due in
    # 2 days: the one-day plan sees all thirteen as "later" and fills the day with the near ones
    near = [job(f"near{k}", k + 1, due_days=8) for k in range(10)]
    far = [job(f"far{k}", 11 + k, due_days=2) for k in range(3)]
    xs = [0.0] + [20.0 * (k + 1) for k in range(10)] + [20_000.0 + 20.0 * k for k in range(3)]
    p = problem([crew("c1", {"lights"})], near + far, xs)
    one_day = solve(p, SolveParams(time_limit_s=2, workers=1))
    assert not {"far0", "far1", "far2"} & set(one_day.routes[0].job_ids)
    hz = plan_horizon(p, days=horizon_days(TODAY, 5))
    assert set(hz.jobs_on(0)) >= {"far0", "far1", "far2"}
    assert hz.late(TODAY) == []
    with_horizon = solve(horizon_problem(p, hz), SolveParams(time_limit_s=2, workers=1))
    served = set(with_horizon.routes[0].job_ids)
    assert {"far0", "far1", "far2"} <= served
    # the spare time still goes to the near work
    assert len(served) >= 6


def test_priorities_are_raised_never_lowered() -> None:
    jobs = [
        job("overdue", 1, due_days=-1, prio=PRIORITY_OVERDUE),
        job("today", 2, due_days=5, service_h=4.0),
        job("tomorrow", 3, due_days=6, service_h=4.0),
        job("later", 4, due_days=7, service_h=4.0),
    ]
    p = problem([crew("c1", {"lights"})], jobs, [0.0, 10.0, 20.0, 30.0, 40.0])
    hz = plan_horizon(p, days=horizon_days(TODAY, 3), fill=1.0, travel_factor=0.0)
    assert [hz.day_of[j] for j in ("overdue", "today", "tomorrow", "later")] == [0, 0, 1, 1]
    got = {j.id: j.priority for j in horizon_problem(p, hz).jobs}
    assert got == {
        "overdue": PRIORITY_OVERDUE,
        "today": PRIORITY_DUE_TODAY,
        "tomorrow": PRIORITY_DUE_TOMORROW,
        "later": PRIORITY_DUE_TOMORROW,
    }
    hz1 = plan_horizon(p, days=[TODAY], fill=1.0, travel_factor=0.0)
    assert horizon_problem(p, hz1).jobs[3].priority == PRIORITY_LATER
    # overdue work is late whatever the plan; the rest is late only when no day has room
    assert hz.late(TODAY) == ["overdue"]
    assert hz1.late(TODAY) == ["later", "overdue", "tomorrow"]


@pytest.mark.parametrize(("fill", "factor"), [(0.0, 1.0), (1.5, 1.0), (0.9, -1.0)])
def test_bad_options_name_the_field(fill: float, factor: float) -> None:
    p = problem([crew("c1", {"lights"})], [job("a", 1, due_days=1)], [0.0, 10.0])
    with pytest.raises(InputError):
        plan_horizon(p, days=[TODAY], fill=fill, travel_factor=factor)
    with pytest.raises(InputError, match="days is empty"):
        plan_horizon(p, days=[], fill=0.9)


def test_due_day_counts_from_the_origin_day() -> None:
    p = problem([crew("c1", {"lights"})], [job("a", 1, due_days=1)], [0.0, 10.0])
    hz = plan_horizon(p, days=[TODAY + timedelta(days=2)])
    assert hz.late(TODAY) == ["a"]


def overloaded_week() -> tuple[Problem, list[str]]:
    """One crew with 1.5 h a day and six 40-minute jobs due this week and next, 600 m apart.

    The crew can do two a day (80 min on site, a few minutes of driving), but the bucket
    (90 % of the shift less the yard round trip) holds one estimate and leaves about half an
    hour: room for the 30-minute job due in a month, not for the next 40-minute one.
    """
    lights = [job(f"a{k}", k + 1, due_days=k + 2, service_h=40 / 60) for k in range(6)]
    easy = job("easy", 7, due_days=30, service_h=0.5)
    xs = [0.0] + [600.0 * (k + 1) for k in range(7)]
    p = problem([crew("c1", {"lights"}, end=8.5 * H)], [*lights, easy], xs)
    return p, [j.id for j in lights]


def test_work_due_later_does_not_backfill_a_day_the_earlier_work_missed() -> None:
    p, lights = overloaded_week()
    hz = plan_horizon(p, days=horizon_days(TODAY, 5))
    # today's two slots go to the two jobs due soonest, not to the month's easy job
    plan = solve(horizon_problem(p, hz), SolveParams(time_limit_s=2, workers=1))
    assert set(plan.routes[0].job_ids) == {"a0", "a1"}
    cap = hz.buckets[0].capacity_s
    assert hz.estimate_s["a0"] + hz.estimate_s["a1"] > cap
    assert hz.estimate_s["a0"] + hz.estimate_s["easy"] <= cap  # first fit would put it today
    # earliest due first, one a day; the month's job waits for a day the week's work leaves
    assert [hz.jobs_on(k) for k in range(5)] == [[j] for j in lights[:5]]
    assert hz.day_of["easy"] is None
    prio = {j.id: j.priority for j in horizon_problem(p, hz).jobs}
    assert prio["a0"] == PRIORITY_DUE_TODAY
    assert prio["a1"] == PRIORITY_DUE_TOMORROW
    assert prio["easy"] == PRIORITY_LATER


def test_a_job_larger_than_a_bucket_but_not_a_shift_takes_a_whole_day() -> None:
    # 1.5-hour shift: the 85-minute job does not fit the bucket (90 % of the shift) but fits
    # the shift; it takes today and the smaller work due after it goes to the next days
    long = job("long", 1, due_days=1, service_h=85 / 60)
    after = [job(f"s{k}", k + 2, due_days=k + 2, service_h=1.0) for k in range(2)]
    p = problem([crew("c1", {"lights"}, end=8.5 * H)], [long, *after], [0.0, 10.0, 20.0, 30.0])
    hz = plan_horizon(p, days=horizon_days(TODAY, 3))
    assert hz.estimate_s["long"] > hz.buckets[0].capacity_s
    assert hz.day_of == {"long": 0, "s0": 1, "s1": 2}


def test_a_job_too_big_for_any_day_closes_no_day() -> None:
    # a 3-hour job on a 1.5-hour shift fits no bucket; the work due after it still goes today
    big = job("big", 1, due_days=1, service_h=3.0)
    small = job("small", 2, due_days=2, service_h=0.5)
    p = problem([crew("c1", {"lights"}, end=8.5 * H)], [big, small], [0.0, 100.0, 200.0])
    hz = plan_horizon(p, days=horizon_days(TODAY, 3))
    assert hz.day_of == {"big": None, "small": 0}


def test_a_missed_day_closes_only_for_the_crews_that_could_have_taken_the_job() -> None:
    # the lights crew's day is full after a0 (a1 misses it); the potholes crew's day stays open
    a0 = job("a0", 1, due_days=1, service_h=1.0)
    a1 = job("a1", 2, due_days=2, service_h=1.0)
    lamp = job("lamp", 3, due_days=9, service_h=0.25)
    hole = replace(job("hole", 4, due_days=9, service_h=0.25), skill="potholes")
    crews = [crew("lights", {"lights"}, end=8.5 * H), crew("holes", {"potholes"}, end=8.5 * H)]
    p = problem(crews, [a0, a1, lamp, hole], [0.0, 10.0, 20.0, 30.0, 40.0])
    hz = plan_horizon(p, days=horizon_days(TODAY, 3), fill=1.0, travel_factor=0.0)
    assert hz.day_of == {"a0": 0, "a1": 1, "lamp": 1, "hole": 0}
