"""Season loading for the replay: the embedded reports, snapped, with one travel matrix.

Private to :mod:`routing.simulate.run`, which re-exports the public names.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geo311.city.catalogue import Catalogue
from geo311.model import ServiceRequest
from geo311.requests import repo as request_repo
from geo311.settings import get_settings
from routing.engine.crews import CrewConfig
from routing.simulate.core import SimReport
from routing.simulate.result import DAY_S, OutcomeStats

if TYPE_CHECKING:
    from routing.engine.graph import StreetGraph
    from routing.engine.matrix import TravelTimeMatrix

INTERNAL_POTHOLE_TYPE = "Pothole Repair (Internal)"


def actual_outcomes(reports: Iterable[SimReport]) -> OutcomeStats:
    """Return the City's figures: days from report to ``CLOSED_DT`` and closure by ``TARGET_DT``.

    Parameters
    ----------
    reports
        The reports (``actual_closed`` None: never closed).

    Returns
    -------
    OutcomeStats
    """
    days: list[float] = []
    within: list[bool] = []
    for r in reports:
        c = r.actual_closed
        days.append(math.inf if c is None else max(0.0, (c - r.requested).total_seconds()) / DAY_S)
        within.append(c is not None and c <= r.sla_due)
    return OutcomeStats.of(days, within)


@dataclass(frozen=True)
class Season:
    """Reports ready to replay, with the travel matrix over their street points.

    Attributes
    ----------
    reports : tuple of SimReport
        Replayable reports (location index into the matrix).
    durations_s, distances_m : numpy.ndarray
        Travel matrix over yards and report points.
    yard_index : dict of str to int
        Matrix index of every yard.
    notes : tuple of str
        What was left out and why.
    """

    reports: tuple[SimReport, ...]
    durations_s: np.ndarray
    distances_m: np.ndarray
    yard_index: dict[str, int]
    notes: tuple[str, ...] = ()


def load_season(
    *,
    start: date,
    end: date,
    groups: Sequence[str],
    crew_config: CrewConfig,
    catalogue: Catalogue,
    data_file: str | Path | None = None,
    graph: Any = None,
) -> Season:
    """Read the embedded 2015 reports and prepare them for replay.

    Imports the Boston export into a temporary SQLite store with :func:`geo311.ingest.importer.import_file`,
    keeps the groups' reports made from ``start`` to ``end`` (plus the drain period, 60 days),
    drops ``Pothole Repair (Internal)`` and reports without a location, snaps the rest to the
    street graph (those beyond its snap limit lie outside the extract and are dropped) and
    computes one travel matrix over the yards and every snapped report point.

    Parameters
    ----------
    start, end
        The season.
    groups
        Service groups to keep.
    crew_config
        Its yards are snapped too.
    catalogue
        Services.
    data_file
        A Boston CSV export; default the city's sample export (``Settings.sample_requests_file``).
    graph
        Default :func:`routing.engine.graph.load_street_graph` (the embedded extract).

    Returns
    -------
    Season
    """
    from routing.engine.graph import load_street_graph

    g = graph if graph is not None else load_street_graph()
    path = Path(data_file) if data_file is not None else get_settings().sample_requests_file
    reqs = _read_requests(path, start=start, end=end, crew_config=crew_config, catalogue=catalogue)
    inside, notes = _replayable(reqs, g, groups=groups, catalogue=catalogue)
    matrix, loc = _season_matrix(g, crew_config, inside)
    reports = []
    for k, r in enumerate(inside):
        lat, lon = _lat_lon(r)
        sla_due = catalogue.sla_target(r)  # the City's target, never a plan's ETA
        reports.append(
            SimReport(
                id=r.service_request_id,
                service_code=r.service_code,
                requested=r.requested_datetime,
                lat=lat,
                lon=lon,
                location_index=loc[k],
                sla_due=sla_due,
                actual_closed=r.closed_datetime,
            )
        )
    return Season(
        reports=tuple(reports),
        durations_s=matrix.durations_s,
        distances_m=matrix.distances_m,
        yard_index={y.id: i for i, y in enumerate(crew_config.yards)},
        notes=tuple(notes),
    )


def _read_requests(
    path: Path, *, start: date, end: date, crew_config: CrewConfig, catalogue: Catalogue
) -> list[ServiceRequest]:
    """Import the export into a temporary SQLite store; return the requests of the season.

    The season here runs from ``start`` to 61 days after ``end`` (the drain period).
    """
    from geo311.db.store import Store
    from geo311.ingest.importer import ImportOptions, import_file

    tz = crew_config.tz
    lo = datetime.combine(start, time(0), tzinfo=tz)
    hi = datetime.combine(end + timedelta(days=61), time(0), tzinfo=tz)
    with tempfile.TemporaryDirectory(prefix="geo311-sim-") as tmp:
        store = Store(f"sqlite:///{tmp}/season.db")
        try:
            import_file(
                store,
                path,
                catalogue,
                ImportOptions(
                    timezone=crew_config.timezone, rejects_path=Path(tmp) / "rejects.csv"
                ),
            )
            return list(
                request_repo.query_requests(store, request_repo.RequestFilters(start=lo, end=hi))
            )
        finally:
            store.close()


def _replayable(
    reqs: Sequence[ServiceRequest], g: StreetGraph, *, groups: Sequence[str], catalogue: Catalogue
) -> tuple[list[ServiceRequest], list[str]]:
    """Keep the groups' citizen reports with a location inside the street extract.

    Returns the kept requests and one note per kind left out.
    """
    from routing.engine.graph import SnapError

    notes: list[str] = []
    keep = [r for r in reqs if catalogue.service(r.service_code).group in groups]
    internal = [r for r in keep if r.source_type == INTERNAL_POTHOLE_TYPE]
    keep = [r for r in keep if r.source_type != INTERNAL_POTHOLE_TYPE]
    notes.append(
        f"left out {len(internal)} '{INTERNAL_POTHOLE_TYPE}' reports: crews logging their own "
        "repairs, not citizen demand"
    )
    no_loc = [r for r in keep if r.lat is None or r.long is None]
    keep = [r for r in keep if r.lat is not None and r.long is not None]
    notes.append(
        f"left out {len(no_loc)} reports without a location (City Hall placeholder, not geocoded)"
    )
    far: set[int] = set()
    try:
        g.snap_many(*_columns(keep))
    except SnapError as exc:
        far = set(exc.indices)
    inside = [r for k, r in enumerate(keep) if k not in far]
    notes.append(
        f"left out {len(far)} reports outside the street extract (farther than "
        f"{g.max_snap_distance_m:g} m from its streets); {len(inside)} replayable"
    )
    return inside, notes


def _lat_lon(r: ServiceRequest) -> tuple[float, float]:
    """Return a located request's point (only located requests get here)."""
    assert r.lat is not None and r.long is not None
    return float(r.lat), float(r.long)


def _columns(reqs: Sequence[ServiceRequest]) -> tuple[list[float], list[float]]:
    """Return the latitudes and longitudes of located requests."""
    points = [_lat_lon(r) for r in reqs]
    return [p[0] for p in points], [p[1] for p in points]


def _season_matrix(
    g: StreetGraph, crew_config: CrewConfig, inside: Sequence[ServiceRequest]
) -> tuple[TravelTimeMatrix, list[int]]:
    """Return one travel matrix over the yards and every distinct report street point.

    Also returns each report's row in it (reports at the same street point share a row).
    """
    from routing.engine.matrix import travel_time_matrix

    snaps = g.snap_many([y.lat for y in crew_config.yards], [y.lon for y in crew_config.yards])
    pts = g.snap_many(*_columns(inside))
    key_of: dict[tuple[int, float], int] = {}
    uniq = list(snaps)
    loc: list[int] = []
    for s in pts:
        k = (s.edge, round(s.fraction, 9))
        if k not in key_of:
            key_of[k] = len(uniq)
            uniq.append(s)
        loc.append(key_of[k])
    return travel_time_matrix(g, uniq), loc


def actual_backlog(
    reports: Sequence[SimReport], days: Sequence[date], plan_time: time, tz: Any
) -> tuple[tuple[date, int], ...]:
    """Return the reports the City still had open at ``plan_time`` of each day."""
    out = []
    for d in days:
        t = datetime.combine(d, plan_time, tzinfo=tz)
        n = sum(
            1
            for r in reports
            if r.requested <= t and (r.actual_closed is None or r.actual_closed > t)
        )
        out.append((d, n))
    return tuple(out)
