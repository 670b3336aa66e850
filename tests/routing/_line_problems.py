"""Small routing problems on one straight street, shared by the solver and search tests."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from geo311.city.profile import default_city
from routing.engine.problem import Break, Crew, Depot, Problem, TimeWindow

H = 3600.0
ORIGIN = datetime(2015, 10, 6, tzinfo=default_city().tz)


def crew(cid, skills, *, start=7 * H, end=15.5 * H, capacity=100.0, lunch=False):
    breaks = (Break(1800.0, (TimeWindow(11 * H, 13 * H),), "lunch"),) if lunch else ()
    return Crew(
        cid,
        frozenset(skills),
        TimeWindow(start, end),
        capacity,
        "yard",
        "yard",
        breaks=breaks,
        cost_per_hour=100.0,
    )


def problem(crews, jobs, xs_m, **kw):
    """Locations on one straight street, 10 m/s: travel time = |xi - xj| / 10."""
    xs = np.asarray(xs_m, dtype=float)
    dist = np.abs(xs[:, None] - xs[None, :])
    return Problem((Depot("yard", 0),), tuple(crews), tuple(jobs), dist / 10, dist, ORIGIN, **kw)
