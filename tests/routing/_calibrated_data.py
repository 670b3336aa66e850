"""A synthetic city for the calibrated what-if: a year whose closures come from a known policy.

Shared by the routing tests and the planner's page tests (which replace the real year, minutes
of work on the embedded export, by this one: seconds).
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import numpy as np

from routing.simulate.calibrate import (
    CalibratedPolicy,
    CalibrationGrid,
    OutcomeSettings,
    QueueData,
    SimulatedOutcome,
    simulate_outcome,
)
from routing.simulate.calibrate import replay_runs as runs_of
from routing.simulate.calibrated import CALIBRATE, VALIDATE, area_document, whatif_document

TRUTH = CalibratedPolicy(1.0, 0.3, 20.0, 1.5, 0.7, 0.0)
GRID = CalibrationGrid(
    seeds=(0, 1),
    slacks=(0.9, 1.0, 1.1, 1.2),
    deferred_shares=(0.1, 0.3),
    deferred_medians=(20.0,),
    deferred_sigmas=(1.5,),
    orders=((0.7, 0.0),),
)


def synthetic_city(seed: int = 3, *, reports: int = 1200) -> tuple[QueueData, CalibratedPolicy]:
    """Return a year of reports closed by the replay itself under :data:`TRUTH`.

    The City's effort: 5.5 closures a weekday, half on Saturdays, none on Sundays (scaled with
    ``reports``); reports sit in a 3 km square.
    """
    rng = np.random.default_rng(seed)
    req = np.sort(rng.uniform(0, 360, reports))
    xy = rng.uniform(0, 3000, (reports, 2))
    base = QueueData(date(2015, 1, 1), req, req + 15.0, np.full(req.size, math.inf), 380.0, xy)
    days = [base.origin + timedelta(days=k) for k in range(381)]
    per_day = 5.5 * reports / 1200
    cap = np.array(
        [0.0 if d.weekday() == 6 else per_day / (2 if d.weekday() == 5 else 1) for d in days]
    )
    closed = runs_of(base, cap, TRUTH, seeds=[9])[0]
    return QueueData(base.origin, req, req + 15.0, closed, 380.0, xy), TRUTH


def synthetic_outcome(seed: int = 3, *, reports: int = 1200) -> SimulatedOutcome:
    """Return the calibrated what-if of :func:`synthetic_city` (a short effort curve)."""
    qd, _ = synthetic_city(seed, reports=reports)
    settings = OutcomeSettings(
        CALIBRATE,
        VALIDATE,
        radius_m=30.0,
        routing_gain=1.1,
        seeds=(0, 1, 2),
        curve_scales=(0.5, 0.75, 1.0, 1.5, 2.0, 3.0),
        n_boot=60,
        grid=GRID,
    )
    return simulate_outcome(qd, settings)


def synthetic_whatif(
    service: str = "streetlight_outage", *, target_p90_days: float = 7.0, **_: Any
) -> tuple[dict[str, Any], list[SimulatedOutcome]]:
    """Stand in for :func:`routing.simulate.calibrated.calibrated_whatif` on two synthetic areas."""
    doc = whatif_document(service, target_p90_days, notes=["synthetic year (tests)"])
    results = []
    for key, name, seed, n in (
        ("extract", "inside the street extract", 3, 600),
        ("rest", "the rest of the city", 4, 1200),
    ):
        res = synthetic_outcome(seed, reports=n)
        doc["areas"][key] = {"name": name, **area_document(res, target_p90_days)}
        results.append(res)
    return doc, results
