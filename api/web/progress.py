"""The crews' progress for the console's map: ``/dispatch/progress.json`` (polled, small).

The console map asks for it every few seconds and redraws the published stops of the day:
done, can't do (with the crew's reason and note) or still to do, and the last position each
crew shared, without reloading the page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from api.deps import SettingsDep, StoreDep
from api.web.deps import PageRoute, page_user
from api.web.sessions import WebSession
from geo311.db.store import Store
from geo311.plans import repo as plan_repo
from geo311.staff import positions
from geo311.staff import store as auth_store

router = APIRouter(prefix="/dispatch", route_class=PageRoute, include_in_schema=False)
DispatcherPage = Annotated[WebSession, Depends(page_user("dispatcher"))]
_UTC = ZoneInfo("UTC")
PUBLICATIONS_READ = 200  # the newest publications looked at for one day


def _stop_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Return one row per stop of a published plan: where, whose, its state and note."""
    states = doc.get("stop_states") or {}
    cant = doc.get("cant_do") or {}
    labels = doc.get("labels") or {}
    out = []
    for route in doc.get("routes") or []:
        order = 0
        for step in route.get("steps") or []:
            if step.get("type") != "job" or step.get("lat") is None:
                continue
            order += 1
            job_id = str(step.get("job_id"))
            why = cant.get(job_id) or {}
            out.append(
                {
                    "plan_id": doc.get("plan_id"),
                    "crew_id": route.get("crew_id"),
                    "order": order,
                    "job_id": job_id,
                    "work_order_id": step.get("work_order_id") or step.get("ref"),
                    "label": str(labels.get(job_id) or job_id),
                    "lat": step["lat"],
                    "lon": step["lon"],
                    "state": states.get(job_id, "planned"),
                    "reason": why.get("reason_text", ""),
                    "note": why.get("note") or "",
                }
            )
    return out


def crew_positions(store: Store, crews: set[str], *, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Return the last position each of ``crews`` shared.

    Each item: ``crew_id``, ``lat``, ``lon``, ``accuracy_m`` (or None), ``at`` (ISO, UTC) and
    ``clock`` (``at`` as ``HH:MM`` in ``tz``, the city's time, for the map's label).
    """
    found = positions.latest_positions(store, crews)
    return [
        {
            "crew_id": p.crew_id,
            "lat": p.lat,
            "lon": p.lon,
            "accuracy_m": p.accuracy_m,
            "at": p.at.isoformat(timespec="seconds"),
            "clock": p.at.astimezone(tz).strftime("%H:%M"),
        }
        for p in sorted(found.values(), key=lambda p: p.crew_id)
    ]


def day_progress(
    store: Store, day: str, *, district: str | None, tz: ZoneInfo = _UTC
) -> dict[str, Any]:
    """Return the stops of the plans published for ``day`` (a district's only, when given).

    ``tz`` is the city's time zone (the clock of the crews' positions).

    Returns
    -------
    dict
        ``day``, ``stops`` (see :func:`_stop_rows`), ``counts`` (state -> stops),
        ``positions`` (the last one each of these crews shared, see :func:`crew_positions`)
        and ``read_at``.
    """
    stops: list[dict[str, Any]] = []
    for pub in auth_store.latest_publications(store, limit=PUBLICATIONS_READ):
        if str(pub["plan_date"]) != day:
            continue
        doc = plan_repo.get_plan(store, int(pub["plan_id"]))
        if district is not None and doc.get("district") not in (None, district):
            continue
        stops.extend(_stop_rows(doc))
    counts: dict[str, int] = {}
    crews = {str(s["crew_id"]) for s in stops if s.get("crew_id")}
    for s in stops:
        counts[s["state"]] = counts.get(s["state"], 0) + 1
    return {
        "day": day,
        "stops": stops,
        "counts": counts,
        "positions": crew_positions(store, crews, tz=tz),
        "read_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


@router.get("/progress.json", summary="The crews' progress of a day")
def progress(
    session: DispatcherPage,
    store: StoreDep,
    settings: SettingsDep,
    day: Annotated[str, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")],
    districts: Annotated[str, Query(pattern="^(mine|all)$")] = "mine",
) -> Response:
    """Return the published stops of ``day`` with their state (done, can't do and why)."""
    mine = getattr(session.user, "district", None)
    district = None if districts == "all" or not mine else str(mine)
    body = day_progress(store, day, district=district, tz=ZoneInfo(settings.timezone))
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
