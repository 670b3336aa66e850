"""The calibrated what-if: queue replay, calibration, travel model, effort curve."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from geo311.errors import InputError
from geo311.requests.effort import Interval
from routing.simulate.calibrate import (
    CalibratedPolicy,
    CalibrationGrid,
    Outcome,
    QueueData,
    QueueOrder,
    calibrate_ensemble,
    calibrate_policy,
    capacity_per_day,
    daily_slots,
    effort_needed,
    ensemble_runs,
    fit_travel_model,
    outcome,
    replay_queue,
    work_orders,
)
from routing.simulate.calibrate import replay_runs as runs_of


def _slotted_fifo(arrivals: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """A synthetic slotted queue by its recursion: report n leaves at the first slot after both
    its arrival and the slot of report n - 1 (one server, first come first served)."""
    out = np.full(arrivals.size, math.inf)
    k = 0
    for n in np.argsort(arrivals, kind="stable"):
        while k < slots.size and slots[k] < arrivals[n]:
            k += 1
        if k == slots.size:
            break
        out[n] = slots[k]
        k += 1
    return out


def test_fifo_replay_with_exact_capacity_reproduces_a_synthetic_queue() -> None:
    rng = np.random.default_rng(5)
    arrivals = np.sort(rng.uniform(0, 120, 600))
    capacity = rng.poisson(5.0, 130).astype(float)
    slots = daily_slots(capacity)
    closed = replay_queue(arrivals, slots, QueueOrder(fifo_share=1.0))
    expected = _slotted_fifo(arrivals, slots)
    np.testing.assert_array_equal(closed, expected)
    waits = closed - arrivals
    assert np.isfinite(waits).sum() > 500
    assert np.nanmax(waits[np.isfinite(waits)]) > 1.0  # the queue did build up


def test_random_picks_change_who_waits_not_how_many_close() -> None:
    rng = np.random.default_rng(2)
    arrivals = np.sort(rng.uniform(0, 60, 300))
    slots = daily_slots(np.full(70, 4.5))
    fifo = replay_queue(arrivals, slots, QueueOrder(fifo_share=1.0))
    mixed = replay_queue(arrivals, slots, QueueOrder(fifo_share=0.3, seed=1))
    assert np.isfinite(fifo).sum() == np.isfinite(mixed).sum()
    assert np.nanquantile(np.where(np.isfinite(mixed), mixed - arrivals, np.nan), 0.95) > (
        np.nanquantile(np.where(np.isfinite(fifo), fifo - arrivals, np.nan), 0.95)
    )


def test_newest_first_picks_the_last_arrival() -> None:
    arrivals = np.array([0.0, 0.1, 0.2, 0.3])
    closed = replay_queue(
        arrivals, np.array([1.0, 2.0]), QueueOrder(fifo_share=0.0, newest_share=1.0)
    )
    assert closed[3] == 1.0 and closed[2] == 2.0 and math.isinf(closed[0])


def test_a_deferred_report_takes_a_slot_once_its_wait_is_over() -> None:
    qd = QueueData(
        date(2015, 1, 1), np.array([0.0, 0.0]), np.array([9.0, 9.0]), np.full(2, math.inf), 30.0
    )
    everyone = CalibratedPolicy(1.0, 1.0, 5.0, 0.0, 1.0, 0.0)  # all deferred, exactly 5 days
    (closed,) = runs_of(qd, np.ones(31), everyone, seeds=[0])
    # one slot a day: both become ready on day 5, the second waits for day 6's slot
    assert sorted(np.floor(closed)) == [5.0, 6.0]


def test_daily_slots_spread_over_the_working_hours() -> None:
    slots = daily_slots([2.0, 0.5, 0.5, 0.0], start_hour=8.0, hours=8.0)
    np.testing.assert_allclose(slots, [10 / 24, 14 / 24, 2 + 12 / 24])
    with pytest.raises(InputError):
        daily_slots([-1.0])


def test_sla_policy_takes_the_report_due_first_and_work_orders_close_together() -> None:
    arrivals = np.array([0.0, 0.1, 0.2, 0.3])
    due = np.array([9.0, 2.0, 5.0, 2.5])
    closed = replay_queue(arrivals, np.array([1.0, 2.0]), QueueOrder(policy="sla"), due=due)
    assert closed[1] == 1.0 and closed[3] == 2.0 and math.isinf(closed[0])
    wo = np.array([0, 1, 0, 1])
    merged = replay_queue(arrivals, np.array([1.0]), work_order=wo)
    assert merged[0] == merged[2] == 1.0 and math.isinf(merged[1])
    with pytest.raises(InputError):
        replay_queue(arrivals, np.array([1.0]), QueueOrder(policy="sla"))


def test_work_orders_join_reports_within_the_radius() -> None:
    xy = np.array([[0.0, 0.0], [10.0, 0.0], [100.0, 0.0], [105.0, 0.0]])
    anchors = work_orders(xy, np.array([0.0, 1.0, 2.0, 3.0]), radius_m=15.0)
    assert list(anchors) == [0, 0, 2, 2]


def _synthetic_city(seed: int = 3) -> tuple[QueueData, CalibratedPolicy]:
    """A year whose closures come from a known policy of the replay itself."""
    rng = np.random.default_rng(seed)
    req = np.sort(rng.uniform(0, 360, 1200))
    truth = CalibratedPolicy(1.0, 0.3, 20.0, 1.5, 0.7, 0.0)
    base = QueueData(date(2015, 1, 1), req, req + 15.0, np.full(req.size, math.inf), 380.0)
    # the City's effort: 3.6 closures a weekday, half on Saturdays: overloaded (arrivals 118 %
    # of it), so every slot closes a report and the closures measure the capacity
    days = [base.origin.fromordinal(base.origin.toordinal() + k) for k in range(381)]
    cap = np.array(
        [0.0 if d.weekday() == 6 else 3.6 / (2 if d.weekday() == 5 else 1) for d in days]
    )
    closed = runs_of(base, cap, truth, seeds=[9])[0]
    return QueueData(base.origin, req, req + 15.0, closed, 380.0), truth


def test_calibration_reproduces_a_synthetic_city() -> None:
    qd, truth = _synthetic_city()
    pol = calibrate_policy(
        qd,
        start=date(2015, 1, 1),
        end=date(2015, 6, 30),
        grid=CalibrationGrid(
            slacks=(0.9, 1.0, 1.1, 1.2),
            deferred_shares=(0.1, 0.3),
            deferred_medians=(20.0,),
            deferred_sigmas=(1.5,),
            orders=((0.7, 0.0),),
        ),
    )
    # the slack is not 1: the measured closures fall short of the capacity on idle days
    assert pol.deferred_share == truth.deferred_share
    mask = qd.mask(date(2015, 7, 1), date(2015, 12, 31))
    cap = capacity_per_day(qd)
    sim = outcome(qd, runs_of(qd, cap, pol, seeds=[0, 1, 2]), mask, n_boot=100)
    act = outcome(qd, [qd.closed], mask, n_boot=100)
    assert abs(sim.median_days.value - act.median_days.value) <= 0.2 * act.median_days.value
    assert abs(sim.p90_days.value - act.p90_days.value) <= 0.3 * act.p90_days.value
    assert abs(sim.within_sla.value - act.within_sla.value) <= 0.05


def test_the_ensemble_keeps_the_fits_within_the_sampling_noise() -> None:
    qd, truth = _synthetic_city()
    grid = CalibrationGrid(
        seeds=(0, 1),
        slacks=(0.8, 1.0, 1.2),
        deferred_shares=(0.1, 0.3),
        deferred_medians=(20.0,),
        deferred_sigmas=(1.5,),
        orders=((0.7, 0.0), (0.0, 1.0)),
    )
    said: list[tuple[int, int]] = []
    cal = calibrate_ensemble(
        qd,
        start=date(2015, 1, 1),
        end=date(2015, 6, 30),
        grid=grid,
        progress=lambda k, n: said.append((k, n)),
    )
    assert cal.candidates == 12
    assert said[0] == (1, 12) and said[-1] == (12, 12)  # every tenth (here: each one)
    assert cal.best == cal.members[0] and cal.tolerance > 0
    assert all(m.loss <= cal.best.loss + cal.tolerance for m in cal.members)
    assert any(m.deferred_share == truth.deferred_share for m in cal.members)
    exact = replace(grid, tolerance=0.0)
    only = calibrate_ensemble(qd, start=date(2015, 1, 1), end=date(2015, 6, 30), grid=exact)
    assert only.members == (only.best,)
    runs, late = ensemble_runs(qd, capacity_per_day(qd), cal.members, seeds=[0, 1, 2])
    n = len(cal.members)
    assert len(runs) == len(late) == (n if n >= 3 else 3 * n)  # every seed when members are few


def test_travel_model_fits_detour_and_speed() -> None:
    rng = np.random.default_rng(0)
    straight = rng.uniform(100, 3000, 500)
    street = straight * 1.35 * rng.uniform(0.95, 1.05, 500)
    seconds = street / 8.0
    tm = fit_travel_model(straight, street, seconds)
    assert tm.detour == pytest.approx(1.35, rel=0.02)
    assert tm.speed_mps == pytest.approx(8.0, rel=1e-6)
    assert tm.error.value < 0.05
    assert float(tm.seconds(1000.0)) == pytest.approx(1000 * 1.35 / 8.0, rel=0.02)
    with pytest.raises(InputError):
        fit_travel_model(straight[:5], street[:5], seconds[:5])


def _o(p90: float, lo: float, hi: float) -> Outcome:
    iv = Interval(1.0, 1.0, 1.0)
    return Outcome(10, iv, Interval(p90, lo, hi), iv, Interval(0.0, 0.0, 0.0))


def test_effort_needed_reads_the_curve_with_its_interval() -> None:
    curve = [(1.0, _o(20, 15, 25)), (1.5, _o(8, 6, 10)), (2.0, _o(5, 4, 7)), (3.0, _o(2, 1, 3))]
    assert effort_needed(curve, target_p90_days=7) == (2.0, 1.5, 2.0)
    assert effort_needed(curve, target_p90_days=0.5) == (None, None, None)


def test_effort_buys_the_crews_queue_not_the_deferred_wait() -> None:
    from tests.routing._calibrated_data import synthetic_outcome

    res = synthetic_outcome()
    crew = dict(res.crew_curve)
    assert crew[3.0].p90_days.value < crew[1.0].p90_days.value < crew[0.5].p90_days.value
    # with unlimited crews what is left is the deferred 30 %: a log-normal wait of median 20 d
    assert res.floor is not None and res.floor.p90_days.low > 7.0
    assert effort_needed(res.curve, target_p90_days=7.0) == (None, None, None)
    need, low, high = effort_needed(res.crew_curve, target_p90_days=7.0)
    assert need is not None and low is not None and high is not None
    assert low <= need <= high <= 3.0


def test_the_what_ifs_progress_runs_from_the_areas_start_to_its_share() -> None:
    from routing.simulate.calibrated import FIT_SHARE, _area_progress

    heard: list[tuple[str, float]] = []
    tell = _area_progress(lambda line, done: heard.append((line, done)), "rest", 0.3, 0.5)
    tell(420, 4200)
    tell(4200, 4200)
    assert heard[0][0] == "rest: fitted 420 of 4,200 candidate policies"
    assert heard[0][1] == pytest.approx(0.3 + 0.5 * FIT_SHARE / 10)
    assert heard[1][1] == pytest.approx(0.3 + 0.5 * FIT_SHARE)  # the replays take the rest


def test_a_calibration_is_kept_for_the_same_data_and_fitted_again_for_new_data(tmp_path) -> None:
    from routing.simulate.calibrate_fit import cached_calibration

    qd, _ = _synthetic_city()
    grid = CalibrationGrid(
        seeds=(0,),
        slacks=(0.9, 1.0),
        deferred_shares=(0.3,),
        deferred_medians=(20.0,),
        deferred_sigmas=(1.5,),
        orders=((0.7, 0.0), (0.0, 1.0)),
    )
    period = {"start": date(2015, 1, 1), "end": date(2015, 6, 30), "grid": grid}
    fits: list[int] = []
    first = cached_calibration(
        qd, **period, cache_dir=tmp_path, progress=lambda k, n: fits.append(k)
    )
    (stored,) = tmp_path.glob("calibration-*.json")
    again = cached_calibration(
        qd, **period, cache_dir=tmp_path, progress=lambda k, n: fits.append(k)
    )
    assert again == first and len(fits) == 4  # the second call fitted nothing
    other = QueueData(
        qd.origin,
        qd.requested,
        qd.due,
        np.where(qd.closed < 50, qd.closed + 1, qd.closed),
        qd.horizon,
    )
    cached_calibration(other, **period, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("calibration-*.json"))) == 2  # new data: fitted and kept apart
    stored.write_text("{not json", encoding="utf-8")
    assert cached_calibration(qd, **period, cache_dir=tmp_path) == first  # unreadable: fit again
