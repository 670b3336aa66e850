"""The citizen's public side outside Open311.

``/report`` (a phone-first page to report a problem; it posts to ``/report.json``, which is
the Open311 ``POST requests`` handler itself: same validation, same errors), the JSON helpers
it calls (``/report/geocode.json``, ``/report/nearby.json``), ``/requests/{id}`` (the public
timeline every notification links to) and ``/media/{name}`` (the photos).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from api.deps import CatalogueDep, CityDep, GeocoderDep, SettingsDep, StoreDep
from api.errors import Open311HTTPError
from api.open311 import service as o
from api.open311.router import post_request, require_form
from api.public import service as _public
from api.public.language import (
    city_localizer,
    language_context,
    remember_language,
    request_language,
)
from api.schemas import NON_JSON_ERRORS, STAFF_RESPONSES, Open311Error
from api.web.templating import BROWSER_SECURITY_HEADERS, SECURITY_HEADERS, static, templates
from geo311.errors import NotFoundError
from geo311.requests.media import media_path, media_type_of
from maps.assets import vendor_url

router = APIRouter(tags=["public"], responses=STAFF_RESPONSES)
TEMPLATES = templates  # the staff pages' environment: one i18n setup for every page
REPORT_PATH = "/report"
_HTML: dict[int | str, dict[str, Any]] = {**NON_JSON_ERRORS, 200: {"content": {"text/html": {}}}}
# The report page's JSON helpers answer errors as Open311 does (api.errors.is_open311_path).
_OPEN311_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": list[Open311Error], "description": text}
    for code, text in {
        400: "invalid value (names the field and the fix)",
        500: "internal error",
    }.items()
}


def _assets() -> dict[str, str]:
    return {
        "leaflet_js": vendor_url("leaflet", "dist/leaflet.js"),
        "leaflet_css": vendor_url("leaflet", "dist/leaflet.css"),
        "report_js": static("report.js"),
    }


def _page(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """Render a public page in the citizen's language (``?lang=`` is remembered in a cookie).

    The staff pages' security headers go with it (CSP, nosniff, no-store).
    """
    city = request.app.state.city
    values = {**language_context(request, city), **context}
    response = TEMPLATES.TemplateResponse(
        request, name, values, status_code=status_code, headers=SECURITY_HEADERS
    )
    remember_language(request, response, city)
    return response


@router.get(REPORT_PATH, response_class=HTMLResponse, summary="Report a problem", responses=_HTML)
def report_page(request: Request, catalogue: CatalogueDep, city: CityDep) -> HTMLResponse:
    """Return the report page: service and its questions, place, description, photo, contact.

    The contact (e-mail, phone) is optional: it is for updates and never shown in public.
    """
    min_lon, min_lat, max_lon, max_lat = city.service_area
    context: dict[str, Any] = {
        "city": city.name,
        "services": sorted(catalogue.services.values(), key=lambda s: s.name),
        "question_sets": _public.question_sets(catalogue, city),
        "centre": [(min_lat + max_lat) / 2, (min_lon + max_lon) / 2],
        "bounds": [[min_lat, min_lon], [max_lat, max_lon]],
        **_assets(),
    }
    return _page(request, "public/report.html", context)


# The page's form goes through the Open311 handler itself (the page needs no api_key).
router.add_api_route(
    REPORT_PATH + ".{response_format}",
    post_request,
    methods=["POST"],
    dependencies=[Depends(require_form)],
    summary="Report a problem from the report page (the Open311 POST)",
    include_in_schema=False,
)


@router.get(
    "/report/geocode.json",
    summary="Place an address (offline geocoder)",
    responses=_OPEN311_ERRORS,
)
async def geocode(
    geocoder: GeocoderDep, q: Annotated[str, Query(min_length=1, max_length=300)]
) -> JSONResponse:
    """Return ``{"lat", "long", "match_type"}`` of an address, or the spec's 400 naming it."""
    lat, lon, match_type, _score = await run_in_threadpool(lambda: o.geocode_address(geocoder(), q))
    return JSONResponse({"lat": lat, "long": lon, "match_type": match_type})


@router.get(
    "/report/nearby.json",
    summary="Open reports of a service near a point",
    responses=_OPEN311_ERRORS,
)
def nearby(
    store: StoreDep,
    catalogue: CatalogueDep,
    service_code: Annotated[str, Query(max_length=64)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    long: Annotated[float, Query(ge=-180, le=180)],
) -> JSONResponse:
    """Return open reports of the service within its duplicate radius (no personal details)."""
    if service_code not in catalogue.services:
        raise Open311HTTPError(
            400, f"service_code: {service_code!r} is not a service; see services.json"
        )
    found = _public.nearby_open(
        store, catalogue, service_code=service_code, lat=lat, lon=long, now=o.now_utc()
    )
    return JSONResponse(found)


@router.get(
    "/requests/{service_request_id}",
    response_class=HTMLResponse,
    summary="A request's public timeline",
    responses={
        **_HTML,
        404: {"description": "no such report (an HTML page)", "content": {"text/html": {}}},
    },
)
def request_page(
    request: Request,
    service_request_id: Annotated[str, Path(max_length=64)],
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    city: CityDep,
) -> HTMLResponse:
    """Return the public timeline of a request: received, merged, scheduled, fixed."""
    tz = o.tz_of(settings)
    try:
        i18n = city_localizer(city, request_language(request, city))
        req, events, neighbours = _public.timeline(
            store, catalogue, service_request_id, tz=tz, i18n=i18n
        )
    except NotFoundError:
        missing = {"city": city.name, "service_request_id": service_request_id}
        return _page(request, "public/not_found.html", missing, status_code=404)
    state = catalogue.states.get(req.status)
    group = (
        catalogue.services[req.service_code].group if req.service_code in catalogue.services else ""
    )
    said, answers = _public.reported(req.description or "", city.attributes.get(group, []))
    context: dict[str, Any] = {
        "said": said,
        "answers": answers,
        "city": city.name,
        "req": req,
        "service_name": req.service_name or catalogue.service(req.service_code).name,
        "status": state.label if state is not None else req.status,
        "is_open": state.is_open if state is not None else False,
        "expected": (
            req.expected_datetime.astimezone(tz)
            if req.expected_datetime and _public.is_scheduled(events)
            else None
        ),
        "events": events,
        "neighbours": neighbours,
    }
    return _page(request, "public/request.html", context)


@router.get(
    "/media/{name}",
    summary="A photo posted with a report",
    response_class=FileResponse,
    responses={
        **NON_JSON_ERRORS,
        200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}},
    },
)
def get_media(name: Annotated[str, Path(max_length=80)], settings: SettingsDep) -> FileResponse:
    """Return a stored photo; its name is the SHA-256 of its bytes, so it never changes."""
    path = media_path(settings.media_dir, name)
    if path is None:
        raise NotFoundError(
            f"media {name!r} does not exist; use the media_url of a service request"
        )
    return FileResponse(
        path,
        media_type=media_type_of(name),
        headers={
            **BROWSER_SECURITY_HEADERS,
            "Cache-Control": "public, max-age=31536000, immutable",
        },
    )
