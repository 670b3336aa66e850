"""The City's year for :mod:`routing.simulate.calibrate`: one service's reports per area, travel, gain.

Private to :mod:`routing.simulate.calibrate` users (the bench and the command line go through
:func:`load_year`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from geo311.city.catalogue import Catalogue, load_catalogue
from geo311.model import ServiceRequest
from geo311.settings import get_settings
from routing.engine.crews import load_crews
from routing.simulate.calibrate import QueueData, TravelModel, fit_travel_model, local_days
from routing.simulate.season import INTERNAL_POTHOLE_TYPE, _read_requests, _season_matrix

EARTH_M = 6_371_000.0


@dataclass(frozen=True)
class Year:
    """One service's year: the extract's queue, the rest of the city's, travel and gain."""

    service: str
    inside: QueueData
    outside: QueueData
    travel: TravelModel
    gain_inside: float
    gain_outside: float
    on_site_min: float
    travel_min_per_job: float
    notes: tuple[str, ...]


def _xy(lat: np.ndarray, lon: np.ndarray, lat0: float) -> np.ndarray:
    k = math.pi / 180 * EARTH_M
    return np.column_stack([(lon * math.cos(math.radians(lat0))) * k, lat * k])


def _queue(
    reqs: Sequence[ServiceRequest],
    cat: Catalogue,
    origin: date,
    tz: Any,
    horizon: float,
    lat0: float,
) -> QueueData:
    req = np.array([local_days(r.requested_datetime, origin, tz) for r in reqs])
    due = np.array([local_days(cat.sla_target(r), origin, tz) for r in reqs])
    clo = np.array([local_days(r.closed_datetime, origin, tz) for r in reqs])
    located = [r.lat is not None and r.long is not None for r in reqs]
    xy = None
    if reqs and all(located):
        xy = _xy(
            np.array([float(r.lat or 0) for r in reqs]),
            np.array([float(r.long or 0) for r in reqs]),
            lat0,
        )
    return QueueData(origin, req, due, clo, horizon, xy)


def load_year(
    service: str,
    *,
    year: int = 2015,
    data_file: str | Path | None = None,
    graph: Any = None,
    catalogue: Catalogue | None = None,
) -> Year:
    """Read one service's reports of ``year``, split them by the street extract, fit travel."""
    from routing.engine.graph import SnapError, load_street_graph

    cat = catalogue or load_catalogue()
    cfg = load_crews()
    g = graph if graph is not None else load_street_graph()
    path = Path(data_file) if data_file is not None else get_settings().sample_requests_file
    origin = date(year, 1, 1)
    allreq = _read_requests(
        path, start=origin, end=date(year, 12, 31), crew_config=cfg, catalogue=cat
    )
    horizon = max(
        local_days(r.closed_datetime, origin, cfg.tz)
        for r in allreq
        if r.closed_datetime is not None
    )
    mine = [
        r
        for r in allreq
        if r.service_code == service
        and r.source_type != INTERNAL_POTHOLE_TYPE
        and r.requested_datetime.year == year
    ]
    located = [r for r in mine if r.lat is not None and r.long is not None]
    far: set[int] = set()
    try:
        g.snap_many([float(r.lat or 0) for r in located], [float(r.long or 0) for r in located])
    except SnapError as exc:
        far = set(exc.indices)
    inside = [r for k, r in enumerate(located) if k not in far]
    inside_ids = {r.service_request_id for r in inside}
    outside = [r for r in mine if r.service_request_id not in inside_ids]
    lat0 = float(np.median([float(r.lat or 0) for r in located]))
    matrix, loc = _season_matrix(g, cfg, inside)
    dur = np.asarray(matrix.durations_s)[np.ix_(loc, loc)]
    dist = np.asarray(matrix.distances_m)[np.ix_(loc, loc)]
    qi = _queue(inside, cat, origin, cfg.tz, horizon, lat0)
    assert qi.xy_m is not None
    straight = np.hypot(*(qi.xy_m[:, None, :] - qi.xy_m[None, :, :]).transpose(2, 0, 1))
    travel = fit_travel_model(straight.ravel(), dist.ravel(), dur.ravel())
    on_site = float(cat.service(service).on_site_minutes)
    gi, city_min = _routing_gain(qi, lambda a, bs: dur[a, bs] / 60.0, on_site)
    qo = _queue(outside, cat, origin, cfg.tz, horizon, lat0)
    ql = _queue(
        [r for r in outside if r.lat is not None and r.long is not None],
        cat,
        origin,
        cfg.tz,
        horizon,
        lat0,
    )
    go = 1.0
    if ql.xy_m is not None:
        xy = ql.xy_m
        go, _ = _routing_gain(
            ql, lambda a, bs: travel.seconds(np.hypot(*(xy[bs] - xy[a]).T)) / 60.0, on_site
        )
    notes = (
        f"{len(inside)} reports inside the street extract (graph travel), {len(outside)} outside "
        f"({len(mine) - len(located)} without a location)",
        f"travel model outside the extract: straight line x {travel.detour:.2f} / "
        f"{travel.speed_mps * 3.6:.1f} km/h, mean error {travel.error.value:.0%} "
        f"({travel.error.low:.0%}..{travel.error.high:.0%}) on {travel.pairs} pairs",
    )
    return Year(service, qi, qo, travel, gi, go, on_site, city_min, notes)


def _routing_gain(
    qd: QueueData, minutes: Callable[[int, list[int]], np.ndarray], on_site: float
) -> tuple[float, float]:
    """Return jobs per crew-hour routed over the City's, and the City's travel minutes per job.

    The City's travel: between its consecutive closures of a day, in its order; routed: the
    same day's closures in nearest-neighbour order from the day's first. ``minutes(a, bs)``
    returns the travel minutes from report ``a`` to each of ``bs``.
    """
    days: dict[int, list[int]] = {}
    for i in np.argsort(qd.closed):
        c = qd.closed[i]
        if math.isfinite(c):
            days.setdefault(int(math.floor(c)), []).append(int(i))
    city = routed = 0.0
    jobs = 0
    for idx in days.values():
        if len(idx) < 2:
            continue
        jobs += len(idx) - 1
        city += sum(float(minutes(a, [b])[0]) for a, b in zip(idx, idx[1:], strict=False))
        left, cur = list(idx[1:]), idx[0]
        while left:
            m = minutes(cur, left)
            k = int(np.argmin(m))
            routed += float(m[k])
            cur = left.pop(k)
    if jobs == 0:
        return 1.0, 0.0
    c, r = city / jobs, routed / jobs
    return (on_site + c) / (on_site + r), c
