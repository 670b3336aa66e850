"""The dispatcher's console: ``/dispatch`` (open work, crews on duty, "Plan the day")."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from api.deps import CatalogueDep, SettingsDep, StoreDep
from api.planner.staff import parse_at
from api.principal import Principal
from api.scope import check_crew, city_districts, in_district
from api.web import audit
from api.web.deps import PageRoute, action_user, page_user
from api.web.sessions import WebSession
from api.web.templating import render
from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.i18n import N_
from geo311.model import WorkOrder
from geo311.plans import repo as plan_repo
from geo311.requests import repo as request_repo
from geo311.settings import Settings
from geo311.staff import store as auth_store
from routing.engine.crews import CrewConfig, CrewSpec, load_crews

router = APIRouter(prefix="/dispatch", route_class=PageRoute, include_in_schema=False)
DispatcherPage = Annotated[WebSession, Depends(page_user("dispatcher"))]
DispatcherAction = Annotated[WebSession, Depends(action_user("dispatcher"))]
CrewId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
# The words are translated where they are shown (the console, `_(text)`).
SLA_STATES = {
    "all": N_("all"),
    "overdue": N_("overdue"),
    "due": N_("due within 24 h"),
    "ok": N_("on time"),
}
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# Most urgent first; the map and the counts show everything. 250 rows keep the first paint
# of a 10,000-order morning quick (bench/staff_bench.py); "show all" lists every row.
TABLE_ROWS = 250


def district_scope(user: Any, districts: str) -> str | None:
    """Return the district whose work a page shows: the user's, unless ``districts=all``.

    A user without a district sees every district (None).
    """
    name = getattr(user, "district", None)
    return None if districts == "all" or not name else str(name)


def moment(text: str | None, settings: Settings) -> datetime:
    """Return the moment a page shows: ``text`` (ISO, local when no offset) or now."""
    tz = ZoneInfo(settings.timezone)
    return parse_at(text, tz) if text else datetime.now(tz).replace(second=0, microsecond=0)


def data_as_of(store: Store) -> datetime | None:
    """Return when the newest report in the store was made (None for an empty store)."""
    newest = request_repo.query_requests(
        store, request_repo.RequestFilters(limit=1, newest_first=True)
    )
    return newest[0].requested_datetime if newest else None


def console_moment(store: Store, settings: Settings) -> tuple[datetime, datetime | None]:
    """Return the console's default moment and the data's newest report time.

    When the newest report is older than today (sample or stale data), the console opens at
    the shift start (the earliest crew's) of the data's latest day instead of the clock's
    time, so its ages and SLA states are those of that morning.
    """
    now = moment(None, settings)
    newest = data_as_of(store)
    if newest is None or newest.astimezone(now.tzinfo).date() >= now.date():
        return now, newest
    start = min(c.shift_start for c in load_crews(settings.crews_file).crews)
    day = newest.astimezone(now.tzinfo).date()
    return datetime.combine(day, start, tzinfo=now.tzinfo), newest


def matches_query(row: dict[str, Any], query: str) -> bool:
    """Return whether a work-order row matches a search: its id (``123``, ``wo-123``) or address."""
    text = query.strip().lower()
    if not text:
        return True
    number = text.removeprefix("wo-").removeprefix("#")
    if number.isdigit():
        return str(row["id"]) == number
    return text in str(row["address"] or "").lower()


def sla_state(wo: WorkOrder, at: datetime) -> str:
    """Return ``overdue``, ``due`` (within 24 h) or ``ok``."""
    if wo.sla_due < at:
        return "overdue"
    return "due" if wo.sla_due < at + timedelta(hours=24) else "ok"


def work_rows(
    orders: list[WorkOrder], catalogue: Catalogue, at: datetime, tz: ZoneInfo
) -> list[dict[str, Any]]:
    """Return the open-work table rows (also the map's points)."""
    rows = []
    for wo in orders:
        service = catalogue.services.get(wo.service_code)
        rows.append(
            {
                "id": wo.work_order_id,
                "service_code": wo.service_code,
                "service": service.name if service else wo.service_code,
                "age_days": round((at - wo.opened).total_seconds() / 86400.0, 1),
                "sla_due": wo.sla_due.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                "sla_due_ts": int(wo.sla_due.timestamp()),
                "reports": wo.report_count,
                "address": wo.address,
                "state": sla_state(wo, at),
                # 5 decimals (about 1 m) keep the map's points compact in the page
                "lat": round(wo.lat, 5),
                "lon": round(wo.lon, 5),
            }
        )
    return rows


def roster(store: Store, settings: Settings, day: str) -> list[dict[str, Any]]:
    """Return the day's crews: crews.toml with the dispatcher's changes for that day."""
    changes = auth_store.crew_day_rows(store, day)
    crews: list[CrewSpec] = list(load_crews(settings.crews_file).crews)
    out = []
    for crew in crews:
        change = changes.get(crew.id, {})
        out.append(
            {
                "id": crew.id,
                "label": crew.label,
                "on_duty": change.get("on_duty", True),
                "shift_start": change.get("shift_start") or crew.shift_start.strftime("%H:%M"),
                "shift_end": change.get("shift_end") or crew.shift_end.strftime("%H:%M"),
                "changed": bool(change),
            }
        )
    return out


def day_crews(store: Store, settings: Settings, day: str) -> CrewConfig:
    """Return the crews of ``crews.toml`` as the dispatcher changed them for one day.

    Crews turned off are left out; a changed shift replaces the file's, and a break whose
    window no longer starts inside the shift is dropped.

    Raises
    ------
    InputError
        When every crew is off that day.
    """
    config = load_crews(settings.crews_file)
    by_id = {c["id"]: c for c in roster(store, settings, day)}
    crews = []
    for crew in config.crews:
        change = by_id[crew.id]
        if not change["on_duty"]:
            continue
        start = time.fromisoformat(change["shift_start"])
        end = time.fromisoformat(change["shift_end"])
        breaks = tuple(
            b for b in crew.breaks if any(w0 < end and w1 > start for w0, w1 in b.windows)
        )
        crews.append(replace(crew, shift_start=start, shift_end=end, breaks=breaks))
    if not crews:
        raise InputError("crews: no crew is on duty that day; turn a crew on first", field="crews")
    return replace(config, crews=tuple(crews))


def district_bounds(settings: Settings, name: str | None) -> list[list[float]]:
    """Return ``[[south, west], [north, east]]`` of a district (default the city's first).

    The console's map opens on it: the district the dispatcher plans, not the whole city.
    """
    areas = city_districts(str(settings.districts_file))
    area = areas.get(name) if name else areas[0]
    west, south, east, north = area.geometry.bounds
    return [[round(south, 5), round(west, 5)], [round(north, 5), round(east, 5)]]


def _filtered(rows: list[dict[str, Any]], service: str, query: str) -> list[dict[str, Any]]:
    """Return the rows of one service (all for '') that match the search, most urgent first."""
    return sorted(
        (
            r
            for r in rows
            if (not service or r["service_code"] == service) and matches_query(r, query)
        ),
        key=lambda r: r["sla_due_ts"],
    )


def _page_context(
    store: Store,
    catalogue: Catalogue,
    settings: Settings,
    at: datetime,
    filters: dict[str, str],
    *,
    show_all: bool = False,
    district: str | None = None,
) -> dict[str, Any]:
    from geo311.workorders.open_view import (
        open_work_orders_at,  # loads scipy: only when a page asks
    )

    tz = ZoneInfo(settings.timezone)
    orders = in_district(open_work_orders_at(store, at, catalogue=catalogue), settings, district)
    rows = work_rows(orders, catalogue, at, tz)
    services = sorted({(r["service_code"], r["service"]) for r in rows}, key=lambda s: s[1])
    sla = filters["sla"]
    matching = _filtered(rows, filters["service"], filters["q"])
    shown = [r for r in matching if sla == "all" or r["state"] == sla]
    # the counts are those of the service and search chosen (the SLA filter picks among them)
    counts = {s: sum(r["state"] == s for r in matching) for s in ("overdue", "due", "ok")}
    return {
        "at": at,
        "at_value": at.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
        "rows": shown if show_all else shown[:TABLE_ROWS],
        "matching": len(shown),
        "show_all": show_all,
        "total": len(rows),
        "filtered_total": len(matching),
        "reports": sum(r["reports"] for r in matching),
        "counts": counts,
        "services": services,
        **filters,
        "sla_states": SLA_STATES,
        "crews": roster(store, settings, at.astimezone(tz).date().isoformat()),
        "day": at.astimezone(tz).date().isoformat(),
        "time_limit_s": settings.solver_time_limit_s,
        "publications": auth_store.latest_publications(store, limit=5),
        "latest_plan_id": plan_repo.latest_plan_id(store),
        "map_points": [[r["lat"], r["lon"], r["id"], r["service"], r["state"]] for r in shown],
        "district": district,
        "city_districts": [str(n) for n in city_districts(str(settings.districts_file)).names],
        "map_bounds": district_bounds(settings, district),
    }


class ConsoleQuery(BaseModel):
    """The console's query: the moment, the filters, the search, which rows and districts."""

    at: str | None = Field(None, max_length=40)
    service: str = Field("", max_length=64)
    sla: str = Field("all", pattern="^(all|overdue|due|ok)$")
    rows: str = Field("urgent", pattern="^(urgent|all)$")
    districts: str = Field("mine", pattern="^(mine|all)$")
    q: str = Field("", max_length=120)


@router.get("", summary="Dispatcher console")
def dispatch_page(
    request: Request,
    session: DispatcherPage,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    query: Annotated[ConsoleQuery, Query()],
) -> Response:
    """Show the open work at a moment with filters, search, crews and the plan form.

    Without ``at`` the console opens now, or, when the data's newest report is older than
    today, at the shift start of the data's latest day ("data as of" says so). The table
    lists the most urgent matching work orders unless ``rows=all``; ``q`` finds a work order
    by id (``123``, ``wo-123``) or by address. A dispatcher with a district sees that
    district's work (and plans it) unless ``districts=all``.
    """
    at = query.at
    default_at, newest = console_moment(store, settings)
    when = moment(at, settings) if at else default_at
    scope = district_scope(session.user, query.districts)
    filters = {"service": query.service, "sla": query.sla, "q": query.q}
    context = _page_context(
        store, catalogue, settings, when, filters, show_all=query.rows == "all", district=scope
    )
    context["user_district"] = session.user.district
    context["data_as_of"] = newest.astimezone(ZoneInfo(settings.timezone)) if newest else None
    # opened at the data's latest day instead of now (sample or stale data): say so
    context["at_default"] = at is None and when.date() < moment(None, settings).date()
    return render(request, "dispatch.html", context)


def _check_shift(start: str, end: str) -> None:
    for name, value in (("shift_start", start), ("shift_end", end)):
        if not HHMM.match(value):
            raise InputError(f"{name}: {value!r} is not a time; use HH:MM, e.g. 07:00", field=name)
    if start >= end:
        raise InputError(
            f"shift_end: {end} is not after shift_start {start}; end the shift later",
            field="shift_end",
        )


class CrewDayForm(BaseModel):
    """A crew's day on the roster: the day, on duty or not, the shift's start and end."""

    day: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    on_duty: str = Field("", max_length=8)
    shift_start: str = Field("", max_length=8)
    shift_end: str = Field("", max_length=8)


@router.post("/crews/{crew_id}", summary="Change a crew for one day")
def set_crew_day(
    request: Request,
    session: DispatcherAction,
    store: StoreDep,
    settings: SettingsDep,
    crew_id: CrewId,
    form: Annotated[CrewDayForm, Form()],
) -> Response:
    """Turn a crew off or on and change its shift for one day (written to the audit log).

    A dispatcher of a district changes only the crews of its district (403).
    """
    day, shift_start, shift_end = form.day, form.shift_start, form.shift_end
    before = next((c for c in roster(store, settings, day) if c["id"] == crew_id), None)
    if before is None:
        raise InputError(f"crew_id: no crew {crew_id!r} in {settings.crews_file}", field="crew_id")
    check_crew(Principal.of_user(session.user), crew_id, settings)
    error = ""
    try:
        _check_shift(shift_start, shift_end)
    except InputError as exc:
        error = str(exc)
    after = dict(before)
    if not error:
        values = {
            "on_duty": form.on_duty == "on",
            "shift_start": shift_start,
            "shift_end": shift_end,
        }
        with store.begin():  # the change and its audit row commit together
            auth_store.upsert_crew_day(store, day=day, crew_id=crew_id, **values)
            after = next(c for c in roster(store, settings, day) if c["id"] == crew_id)
            audit.record(
                store,
                session.user.username,
                "crew.day",
                f"crew:{crew_id}:{day}",
                before=before,
                after=after,
            )
    if request.headers.get("HX-Request"):
        typed = {**after, "shift_start": shift_start, "shift_end": shift_end} if error else after
        context = {"crew": typed, "day": day, "error": error, "saved": not error}
        return render(request, "_crew_form.html", context)
    if error:
        raise InputError(error)
    return RedirectResponse(f"/dispatch?at={day}T07:00", status_code=303)
