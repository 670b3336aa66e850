"""The city's service record, open to everyone: ``/performance`` (page, CSV, JSON) and open data.

No login: residents, reporters and council staff read the same figures as the planner's
dashboard (:func:`geo311.requests.performance.period_metrics` computes both) for a period they choose.
The renderings are kept until the data changes (:class:`api.public.performance_cache.PerformanceCache`).
``/open-data/requests.csv`` serves the day's open-data export (the Open311 public fields, see
:mod:`geo311.requests.open_data`), written at most once per data change and day.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response

from api.deps import CatalogueDep, CityDep, SettingsDep, StoreDep
from api.public.language import (
    city_localizer,
    language_context,
    remember_language,
    request_language,
)
from api.public.performance_cache import PerformanceCache
from api.public.performance_view import page_context
from api.public.router import TEMPLATES
from api.schemas import NON_JSON_ERRORS
from api.web.templating import BROWSER_SECURITY_HEADERS
from geo311.city.catalogue import Catalogue
from geo311.city.profile import City
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.requests.metrics import requests_frame
from geo311.requests.open_data import export_columns, request_points, write_open_data
from geo311.requests.performance import (
    DEFINITIONS,
    FIGURE_COLUMNS,
    PerformanceReport,
    Period,
    parse_period,
    performance_report,
)

router = APIRouter(tags=["public"])
DateQuery = Annotated[
    str | None, Query(max_length=10, description="a local date, YYYY-MM-DD (see the page)")
]
_HTML: dict[int | str, dict[str, Any]] = {
    **NON_JSON_ERRORS,
    200: {"content": {"text/html": {}}},
    400: {
        "description": "a date not understood (the page says which), or a control character "
        "in the query (JSON, naming it)",
        "content": {"text/html": {}, **NON_JSON_ERRORS[400]["content"]},
    },
}
_CSV: dict[int | str, dict[str, Any]] = {**NON_JSON_ERRORS, 200: {"content": {"text/csv": {}}}}
_JSON: dict[int | str, dict[str, Any]] = {
    **NON_JSON_ERRORS,
    200: {"content": {"application/json": {}}},
}
_export_lock = threading.Lock()


def cache_of(request: Request) -> PerformanceCache:
    """Return the app's performance cache (made on first use)."""
    state = request.app.state
    cache: PerformanceCache | None = getattr(state, "performance_cache", None)
    if cache is None:
        with _export_lock:
            cache = getattr(state, "performance_cache", None)
            if cache is None:
                cache = state.performance_cache = PerformanceCache()
    return cache


def _latest_day(request: Request, store: Store, tz: ZoneInfo) -> Any:
    marker = cache_of(request).last_marker()  # read by _cached just before: no query here
    latest = marker[1] if marker is not None else None
    if latest is None:
        return None
    stamp = pd.Timestamp(latest)
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).tz_convert(tz).date()


def _report(store: Store, catalogue: Catalogue, period: Period, tz: ZoneInfo) -> PerformanceReport:
    frame, points = requests_frame(store), request_points(store)
    return performance_report(frame, points, period, catalogue=catalogue, tz=tz)


def _shared_report(
    request: Request, store: Store, catalogue: Catalogue, period: Period, tz: ZoneInfo
) -> PerformanceReport:
    """Return a period's figures, computed once per data change for every format."""
    build = lambda: _report(store, catalogue, period, tz)  # noqa: E731
    report: PerformanceReport = cache_of(request).get(store, (period, "report"), build)
    return report


def _period(
    request: Request, store: Store, tz: ZoneInfo, start: str | None, end: str | None
) -> Period:
    return parse_period(start, end, latest=_latest_day(request, store, tz))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = json.loads(frame.to_json(orient="records", date_format="iso", force_ascii=False))
    return list(out)


def report_json(report: PerformanceReport, city: City) -> bytes:
    """Return the JSON file of a period's figures (columns and definitions included)."""
    body = {
        "city": city.name,
        "period": {"from": report.period.start.isoformat(), "to": report.period.end.isoformat()},
        "data_as_of": report.data_as_of.isoformat() if report.data_as_of else None,
        "columns": FIGURE_COLUMNS,
        "definitions": DEFINITIONS,
        "by_service": _records(report.by_service),
        "by_neighbourhood": _records(report.by_neighbourhood),
        "backlog_at_end": _records(report.backlog),
        "weekly": _records(report.weekly),
    }
    return json.dumps(body, ensure_ascii=False, indent=1).encode()


def report_csv(report: PerformanceReport) -> bytes:
    """Return the CSV file: one row per service and per neighbourhood (``section`` says which)."""
    service = report.by_service.rename(columns={"service_code": "group", "service_name": "name"})
    area = report.by_neighbourhood.rename(columns={"neighbourhood": "group"})
    area.insert(1, "name", area["group"])
    service.insert(0, "section", "service")
    area.insert(0, "section", "neighbourhood")
    columns = ["section", "group", "name", *FIGURE_COLUMNS]
    table = pd.concat([service, area], ignore_index=True)[columns]
    return str(table.to_csv(index=False, float_format="%.4f")).encode()


async def _cached(
    request: Request,
    store: Store,
    tz: ZoneInfo,
    dates: tuple[str | None, str | None],
    fmt: str,
    build: Callable[[Period], bytes],
) -> tuple[Period, bytes]:
    """Return the period and its rendering; a kept one is served with no thread hop or query."""
    cache = cache_of(request)
    if cache.due():
        await run_in_threadpool(cache.marker, store)
    period = _period(request, store, tz, *dates)
    kept: bytes | None = cache.peek((period, fmt))
    if kept is None:  # the data changed: the older rendering while the new one is built
        kept = cache.stale(store, (period, fmt), lambda: build(period))
    if kept is not None:
        return period, kept
    body: bytes = await run_in_threadpool(cache.get, store, (period, fmt), lambda: build(period))
    return period, body


@router.get("/performance", response_class=HTMLResponse, summary="Service record", responses=_HTML)
async def performance_page(
    request: Request,
    store: StoreDep,
    catalogue: CatalogueDep,
    city: CityDep,
    start: Annotated[DateQuery, Query(alias="from")] = None,
    end: Annotated[DateQuery, Query(alias="to")] = None,
) -> Response:
    """Show the period's figures: tables, charts, the trend by week, the map of the work."""
    language = request_language(request, city)

    def build(period: Period) -> bytes:
        report = _shared_report(request, store, catalogue, period, city.tz)
        shown = {"from": period.start.isoformat(), "to": period.end.isoformat()}
        context = {
            **language_context(request, city, query=shown),
            **page_context(
                report, city=city, catalogue=catalogue, i18n=city_localizer(city, language)
            ),
        }
        return TEMPLATES.get_template("public/performance.html").render(context).encode()

    try:
        dates = (start, end)
        _chosen, body = await _cached(request, store, city.tz, dates, f"html:{language}", build)
    except InputError as exc:
        context = {
            **language_context(request, city),
            "city": city.name,
            "error": str(exc),
            "start": start or "",
            "end": end or "",
        }
        response: Response = TEMPLATES.TemplateResponse(
            request,
            "public/performance.html",
            context,
            status_code=400,
            headers=BROWSER_SECURITY_HEADERS,
        )
    else:
        response = HTMLResponse(body, headers=BROWSER_SECURITY_HEADERS)
    return remember_language(request, response, city)


async def _file(
    request: Request,
    store: Store,
    catalogue: Catalogue,
    city: City,
    fmt: str,
    dates: tuple[str | None, str | None],
) -> Response:
    def build(period: Period) -> bytes:
        report = _shared_report(request, store, catalogue, period, city.tz)
        return report_json(report, city) if fmt == "json" else report_csv(report)

    period, body = await _cached(request, store, city.tz, dates, fmt, build)
    if fmt == "json":
        return Response(body, media_type="application/json", headers=BROWSER_SECURITY_HEADERS)
    name = f"performance_{period.start}_{period.end}.csv"
    headers = {**BROWSER_SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


@router.get(
    "/performance.csv", summary="Service record as CSV", response_class=Response, responses=_CSV
)
async def performance_csv(
    request: Request,
    store: StoreDep,
    catalogue: CatalogueDep,
    city: CityDep,
    start: Annotated[DateQuery, Query(alias="from")] = None,
    end: Annotated[DateQuery, Query(alias="to")] = None,
) -> Response:
    """Return the period's figures per service and neighbourhood as CSV."""
    return await _file(request, store, catalogue, city, "csv", (start, end))


@router.get(
    "/performance.json", summary="Service record as JSON", response_class=Response, responses=_JSON
)
async def performance_json(
    request: Request,
    store: StoreDep,
    catalogue: CatalogueDep,
    city: CityDep,
    start: Annotated[DateQuery, Query(alias="from")] = None,
    end: Annotated[DateQuery, Query(alias="to")] = None,
) -> Response:
    """Return the period's figures, backlog and weekly trend as JSON."""
    return await _file(request, store, catalogue, city, "json", (start, end))


def open_data_dir(settings: Any) -> FilePath:
    """Return the folder of the daily open-data files (beside the photos' folder)."""
    return FilePath(settings.media_dir).parent / "open-data"


@router.get(
    "/open-data/requests.csv",
    summary="Every request's public fields (open data)",
    response_class=FileResponse,
    responses=_CSV,
)
def open_data_file(
    request: Request,
    store: StoreDep,
    catalogue: CatalogueDep,
    city: CityDep,
    settings: SettingsDep,
) -> FileResponse:
    """Return today's open-data file, written first if the data changed since the last one."""
    marker = cache_of(request).marker(store)  # the figures' marker: no scan per download
    day = datetime.now(UTC).astimezone(city.tz).date()
    columns = ",".join(export_columns(city))
    stamp = hashlib.sha256(f"{marker}|{day}|{columns}".encode()).hexdigest()[:12]
    path = open_data_dir(settings) / f"requests_{day}_{stamp}.csv"
    with _export_lock:
        if not path.is_file():
            for old in path.parent.glob("requests_*.csv"):
                old.unlink(missing_ok=True)
            write_open_data(store, catalogue, city, path)
    name = f"{city.name.lower().replace(' ', '-')}_311_requests_{day}.csv"
    return FileResponse(
        path, media_type="text/csv; charset=utf-8", filename=name, headers=BROWSER_SECURITY_HEADERS
    )
