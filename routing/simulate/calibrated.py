"""The calibrated what-if of one service, whole city: a document for the command line and the web.

:func:`calibrated_whatif` reads the service's year (:func:`routing.simulate.calibrate.load_year`),
then per area (inside the street extract: graph travel; the rest of the city: the fitted travel
model) calibrates the City's policy on January-June, validates on July-December, replays
geo311's policy at the City's effort and along an effort curve. The result is plain JSON (stored
by the planner's job, drawn by the dashboard); :func:`whatif_rows` gives the same numbers as CSV
rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from geo311.city.catalogue import Catalogue, load_catalogue
from routing.simulate.calibrate import (
    OMITTED,
    UNLIMITED,
    Outcome,
    OutcomeSettings,
    SimulatedOutcome,
    effort_needed,
    load_year,
    simulate_outcome,
)

__all__ = [
    "CALIBRATE",
    "SCALES",
    "VALIDATE",
    "area_document",
    "calibrated_whatif",
    "whatif_document",
    "whatif_rows",
]

CALIBRATE = (date(2015, 1, 1), date(2015, 6, 30))
VALIDATE = (date(2015, 7, 1), date(2015, 12, 31))
SCALES: tuple[float, ...] = tuple(float(x) for x in np.round(np.arange(0.5, 4.01, 0.25), 2))
AREAS = (("extract", "inside the street extract"), ("rest", "the rest of the city"))


def _iv(o: Outcome) -> dict[str, Any]:
    out: dict[str, Any] = {"reports": o.reports}
    for key in ("median_days", "p90_days", "within_sla", "never_closed"):
        out[key] = asdict(getattr(o, key))
    return out


def _needed(curve: Sequence[tuple[float, Outcome]], target: float) -> dict[str, float | None]:
    value, low, high = effort_needed(curve, target_p90_days=target)
    return {"value": value, "low": low, "high": high}


def _ensemble(res: SimulatedOutcome) -> dict[str, Any] | None:
    """Return the fitted ensemble: its size, the loss margin and each parameter's range."""
    cal = res.calibration
    if cal is None:
        return None
    ranges = {k: list(v) for k, v in cal.ranges().items()}
    return {
        "members": len(cal.members),
        "candidates": cal.candidates,
        "within": cal.within,
        "tolerance": cal.tolerance,
        "ranges": ranges,
    }


def area_document(res: SimulatedOutcome, target: float) -> dict[str, Any]:
    """Return one area's validation, side by side, curve and effort needed as JSON."""
    return {
        "policy": asdict(res.policy),
        "ensemble": _ensemble(res),
        "routing_gain": res.routing_gain,
        "actual": _iv(res.actual),
        "as_city": _iv(res.as_city),
        "with_geo311": _iv(res.with_geo311),
        "curve": [{"effort": s, **_iv(o)} for s, o in res.curve],
        "crew_curve": [{"effort": s, **_iv(o)} for s, o in res.crew_curve],
        "unlimited": None if res.floor is None else _iv(res.floor),
        "calibration": None
        if res.fit is None
        else {"actual": _iv(res.fit[0]), "as_city": _iv(res.fit[1])},
        "needed": _needed(res.curve, target),
        "crew_needed": _needed(res.crew_curve, target),
    }


READ_SHARE = 0.1
"""Share of a what-if's progress for reading the year (the areas share the rest by reports)."""
FIT_SHARE = 0.9
"""Share of an area's progress for its calibration (the replays take the rest)."""


def calibrated_whatif(
    service: str = "streetlight_outage",
    *,
    target_p90_days: float = 7.0,
    catalogue: Catalogue | None = None,
    progress: Callable[[str, float], None] | None = None,
    cache_dir: Path | None = None,
    **year_options: Any,
) -> tuple[dict[str, Any], list[SimulatedOutcome]]:
    """Run the calibrated what-if of ``service`` for both areas.

    Parameters
    ----------
    service
        Catalogue service code whose records carry waiting time (not Pothole Repair (Internal)).
    target_p90_days
        The planner's target: the effort needed for a p90 at or below it.
    catalogue
        Default ``data/services.toml``.
    progress
        Called with a short line and the share done (0..1) at each step: reading, each area,
        every tenth of an area's calibration.
    cache_dir
        Where the fitted City policies are kept for the next what-if on the same data (the
        target does not change them); None: fit every time.
    **year_options
        ``data_file``, ``graph`` (:func:`routing.simulate.calibrate.load_year`).

    Returns
    -------
    tuple
        The JSON document (``service``, ``target_p90_days``, periods, ``notes``, ``omitted``,
        ``areas`` keyed ``extract`` / ``rest``) and the results per area.
    """
    cat = catalogue or load_catalogue()
    say = progress or (lambda _line, _done: None)
    say("reading the year and fitting travel outside the street extract", 0.0)
    year = load_year(service, catalogue=cat, **year_options)
    radius = cat.service(service).duplicate_radius_m
    doc = whatif_document(service, target_p90_days, notes=year.notes)
    queues = (year.inside, year.outside)
    total = sum(q.requested.size for q in queues) or 1
    done = READ_SHARE
    results = []
    for (key, name), qd, gain in zip(
        AREAS, queues, (year.gain_inside, year.gain_outside), strict=True
    ):
        share = (1.0 - READ_SHARE) * qd.requested.size / total
        say(f"calibrating and replaying {name}", done)
        settings = OutcomeSettings(
            CALIBRATE, VALIDATE, radius, routing_gain=gain, curve_scales=SCALES, cache_dir=cache_dir
        )
        res = simulate_outcome(qd, settings, progress=_area_progress(say, name, done, share))
        doc["areas"][key] = {"name": name, **area_document(res, target_p90_days)}
        results.append(res)
        done += share
    say("done", 1.0)
    return doc, results


def _area_progress(
    say: Callable[[str, float], None], name: str, start: float, share: float
) -> Callable[[int, int], None]:
    """Return the calibration's progress as lines and shares of the whole what-if."""

    def tell(fitted: int, candidates: int) -> None:
        part = FIT_SHARE * fitted / max(candidates, 1)
        say(f"{name}: fitted {fitted:,} of {candidates:,} candidate policies", start + share * part)

    return tell


def whatif_document(
    service: str, target_p90_days: float, *, notes: Sequence[str] = ()
) -> dict[str, Any]:
    """Return an empty what-if document (fill ``areas`` with :func:`area_document`)."""
    return {
        "service": service,
        "target_p90_days": target_p90_days,
        "calibrate": [d.isoformat() for d in CALIBRATE],
        "validate": [d.isoformat() for d in VALIDATE],
        "unlimited_effort": UNLIMITED,
        "notes": list(notes),
        "omitted": list(OMITTED),
        "areas": {},
    }


def whatif_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Return a stored what-if document's numbers as CSV rows (one per figure line).

    Columns as :func:`routing.simulate.calibrate.outcome_rows`: ``service``, ``area``, ``row``,
    ``effort``, ``reports``, then each figure with ``_low`` / ``_high``.
    """
    rows = []
    for key, area in doc["areas"].items():
        named = [("actual", 1.0, area["actual"]), ("as_city", 1.0, area["as_city"])]
        named += [("with_geo311", 1.0, area["with_geo311"])]
        named += [("curve", c["effort"], c) for c in area["curve"]]
        named += [("crew_curve", c["effort"], c) for c in area["crew_curve"]]
        if area.get("unlimited"):
            named.append(("unlimited", doc["unlimited_effort"], area["unlimited"]))
        if area.get("calibration"):
            named.append(("calibration_actual", 1.0, area["calibration"]["actual"]))
            named.append(("calibration_as_city", 1.0, area["calibration"]["as_city"]))
        for row, effort, o in named:
            line: dict[str, Any] = {"service": doc["service"], "area": key, "row": row}
            line["effort"], line["reports"] = effort, o["reports"]
            for fig in ("median_days", "p90_days", "within_sla", "never_closed"):
                iv = o[fig]
                line[fig] = iv["value"]
                line[f"{fig}_low"], line[f"{fig}_high"] = iv["low"], iv["high"]
            rows.append(line)
    return rows
