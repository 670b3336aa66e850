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
    Outcome,
    effort_needed,
    load_year,
    simulate_outcome,
    validation_line,
)

CAL = (date(2015, 1, 1), date(2015, 6, 30))
VAL = (date(2015, 7, 1), date(2015, 12, 31))
SERVICE = "streetlight_outage"
SCALES = tuple(float(x) for x in np.round(np.arange(0.5, 3.01, 0.25), 2))


def _iv(o: Outcome) -> str:
    m, p, s = o.median_days, o.p90_days, o.within_sla
    return (
        f"median {m.value:.1f} d [{m.low:.1f}-{m.high:.1f}], p90 {p.value:.1f} d "
        f"[{p.low:.1f}-{p.high:.1f}], within SLA {s.value:.0%} [{s.low:.0%}-{s.high:.0%}]"
    )


def _multiple(x: float | None) -> str:
    return f"not reached up to x{max(SCALES):.2f}" if x is None else f"x{x:.2f}"


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
    for label, qd, gain in (
        ("", year.inside, year.gain_inside),
        (" (rest of the city)", year.outside, year.gain_outside),
    ):
        t = time.perf_counter()
        res = simulate_outcome(
            qd,
            calibrate=CAL,
            validate=VAL,
            radius_m=load_catalogue().service(SERVICE).duplicate_radius_m,
            routing_gain=gain,
            curve_scales=SCALES if not label else (),
        )
        a, s, g = res.actual, res.as_city, res.with_geo311
        assert s is not None
        pol = res.policy
        print(
            f"calibrated{label}: slack x{pol.slack:.2f}, deferred {pol.deferred_share:.0%} of "
            f"reports waiting a median {pol.deferred_median_days:.0f} d (log-sd "
            f"{pol.deferred_sigma:g}), oldest-first "
            f"{pol.fifo_share:.0%} else random ({time.perf_counter() - t:.1f} s)"
        )
        print(validation_line(res, SERVICE, label))
        print(f"  intervals: sim {_iv(s)}; actual {_iv(a)} ({a.reports} reports)")
        print(
            f"geo311 at the City's effort{label}: median {g.median_days.value:.1f} d, p90 "
            f"{g.p90_days.value:.1f} d, within SLA {g.within_sla.value:.0%}  ({_iv(g)})"
        )
        if res.curve:
            for sc, o in res.curve:
                print(f"  curve x{sc:.2f} effort: {_iv(o)}")
            need, lo, hi = effort_needed(res.curve, target_p90_days=args.target_p90)
            fmt = _multiple
            print(
                f"effort needed for p90 <= {args.target_p90:g} d: {fmt(need)} of the City's "
                f"effort (interval {fmt(lo)} .. {fmt(hi)})"
            )
    print(f"total {time.perf_counter() - t0:.1f} s; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
