"""The planner's what-if, calibrated: validation of the City's replay, then geo311's policy.

Street-light outages of the embedded 2015 export: the order the City worked in is fitted on
January-June; July-December validates the replay (median, p90 and share within SLA next to the
City's own figures, computed here from the data, with 90 % bootstrap intervals). Then the same
days and effort with geo311's policy, and the effort needed for a p90 target. One line per area:
inside the street extract (graph travel) and the rest of the city (fitted travel model).

Run: .venv/bin/python bench/outcome_bench.py [--target-p90 7]
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date

import numpy as np

from geo311.city.catalogue import load_catalogue
from routing.simulate.calibrate import (
    Calibration,
    Outcome,
    OutcomeSettings,
    QueueData,
    SimulatedOutcome,
    capacity_per_day,
    effort_needed,
    load_year,
    outcome,
    replay_runs,
    simulate_outcome,
    validation_line,
)

CAL = (date(2015, 1, 1), date(2015, 6, 30))
VAL = (date(2015, 7, 1), date(2015, 12, 31))
SERVICE = "streetlight_outage"
SCALES = tuple(float(x) for x in np.round(np.arange(0.5, 4.01, 0.25), 2))


def _iv(o: Outcome) -> str:
    m, p, s = o.median_days, o.p90_days, o.within_sla
    return (
        f"median {m.value:.1f} d [{m.low:.1f}-{m.high:.1f}], p90 {p.value:.1f} d "
        f"[{p.low:.1f}-{p.high:.1f}], within SLA {s.value:.0%} [{s.low:.0%}-{s.high:.0%}]"
    )


def _multiple(x: float | None) -> str:
    return f"not reached up to x{max(SCALES):.2f}" if x is None else f"x{x:.2f}"


def _ranges(cal: Calibration) -> str:
    """Return each fitted parameter's range over the ensemble."""
    return ", ".join(f"{k} {lo:g}..{hi:g}" for k, (lo, hi) in cal.ranges().items())


def _single_fit(qd: QueueData, res: SimulatedOutcome) -> str:
    """Return the validation of the best candidate alone (what the ensemble replaces)."""
    runs = replay_runs(qd, capacity_per_day(qd), res.policy, seeds=(0, 1, 2, 3, 4))
    one = outcome(qd, runs, qd.mask(*VAL), n_boot=50)
    a = res.actual
    err = (one.median_days.value - a.median_days.value) / a.median_days.value
    p90 = (one.p90_days.value - a.p90_days.value) / a.p90_days.value
    return f"the single best fit alone: median err {err:+.0%}, p90 err {p90:+.0%}"


def _curve(res: SimulatedOutcome, target: float, label: str) -> None:
    """Print the effort curve (every report; the crews' queue) and the effort needed."""
    for (sc, o), (_, c) in zip(res.curve, res.crew_curve, strict=True):
        print(
            f"  curve x{sc:.2f} effort: {_iv(o)}; crews' queue p90 {c.p90_days.value:.1f} d "
            f"[{c.p90_days.low:.1f}-{c.p90_days.high:.1f}]"
        )
    need, lo, hi = effort_needed(res.curve, target_p90_days=target)
    print(
        f"effort needed for p90 <= {target:g} d{label}: {_multiple(need)} of the City's effort "
        f"(interval {_multiple(lo)} .. {_multiple(hi)})"
    )
    if res.floor is not None:
        f = res.floor.p90_days
        print(
            f"  with unlimited crews the p90 is still {f.value:.1f} d [{f.low:.1f}-{f.high:.1f}]: "
            f"the {res.policy.deferred_share:.0%} of reports the City deferred (parts, "
            "contractors, long repairs) wait before any crew can take them, so no effort meets it"
            if f.low > target
            else f"  with unlimited crews the p90 is {f.value:.1f} d"
        )
    need, lo, hi = effort_needed(res.crew_curve, target_p90_days=target)
    print(
        f"effort needed for the crews' queue (reports not deferred) p90 <= {target:g} d{label}: "
        f"{_multiple(need)} (interval {_multiple(lo)} .. {_multiple(hi)})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--target-p90", type=float, default=7.0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    year = load_year(SERVICE)
    print(f"load {time.perf_counter() - t0:.1f} s; " + "; ".join(year.notes))
    print(
        f"City's travel per job inside the extract {year.travel_min_per_job:.1f} min, on site "
        f"{year.on_site_min:.0f} min; routed days: x{year.gain_inside:.2f} jobs per crew-hour "
        f"inside, x{year.gain_outside:.2f} outside"
    )
    radius = load_catalogue().service(SERVICE).duplicate_radius_m
    for label, qd, gain in (
        ("", year.inside, year.gain_inside),
        (" (rest of the city)", year.outside, year.gain_outside),
    ):
        t = time.perf_counter()
        settings = OutcomeSettings(CAL, VAL, radius, routing_gain=gain, curve_scales=SCALES)
        res = simulate_outcome(qd, settings)
        a, s, g = res.actual, res.as_city, res.with_geo311
        pol, cal = res.policy, res.calibration
        assert cal is not None
        print(
            f"calibrated{label}: best fit slack x{pol.slack:.2f}, deferred "
            f"{pol.deferred_share:.0%} of reports waiting a median {pol.deferred_median_days:.0f} d "
            f"(log-sd {pol.deferred_sigma:g}), picks oldest {pol.fifo_share:.0%} / newest "
            f"{pol.newest_share:.0%} / else random; {cal.within} candidates fit alike, "
            f"{len(cal.members)} of them replayed (loss within {cal.tolerance:.3f} of the best {pol.loss:.3f}, the calibration "
            f"figures' own sampling noise; {cal.candidates} candidates) "
            f"({time.perf_counter() - t:.1f} s)"
        )
        print("  ensemble ranges: " + _ranges(cal))
        if res.fit is not None:
            fa, fs = res.fit
            print(f"  in sample (Jan-Jun): sim {_iv(fs)}; actual {_iv(fa)}")
        print(validation_line(res, SERVICE, label))
        print("  " + _single_fit(qd, res))
        print(f"  intervals: sim {_iv(s)}; actual {_iv(a)} ({a.reports} reports)")
        print(
            f"geo311 at the City's effort{label}: median {g.median_days.value:.1f} d, p90 "
            f"{g.p90_days.value:.1f} d, within SLA {g.within_sla.value:.0%}  ({_iv(g)})"
        )
        _curve(res, args.target_p90, label)
    print(f"total {time.perf_counter() - t0:.1f} s; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
