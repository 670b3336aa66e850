"""GeoReport v2 logic behind the Open311 router: documents, queries and the POST of a request."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from starlette.requests import Request

from api.errors import Open311HTTPError
from api.planner.staff import parse_at
from geo311.city.catalogue import Catalogue
from geo311.city.profile import City, default_city
from geo311.db.store import Store
from geo311.errors import InputError, NotFoundError
from geo311.model import ServiceRequest
from geo311.requests import repo as request_repo
from geo311.settings import Settings

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
DEFAULT_WINDOW = timedelta(days=90)
MAX_REQUESTS = 1000
MAX_DESCRIPTION = 4000


def attribute_definitions(
    catalogue: Catalogue, service_code: str, *, city: City | None = None
) -> list[dict[str, Any]]:
    """Return the GeoReport v2 attribute definitions of one service.

    Parameters
    ----------
    catalogue
        The service catalogue.
    service_code
        The service.
    city
        Holds the definitions per service group (default: the city profile).

    Returns
    -------
    list of dict
        Attribute definitions (empty when the service has none).
    """
    attributes = (city or default_city()).attributes
    return [dict(a) for a in attributes.get(catalogue.service(service_code).group, [])]


def discovery(base_url: str, *, city: City | None = None) -> dict[str, Any]:
    """Return the service discovery document for an API served at ``base_url``.

    Contact, key service and changeset come from the city profile (``[open311]``).
    """
    details = (city or default_city()).open311
    return {
        "changeset": details.get("changeset", ""),
        "contact": details.get("contact", ""),
        "key_service": details.get("key_service", ""),
        # the list's date window, which a client cannot guess (GeoReport v2 leaves it open)
        "notes": list_window_note(),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base_url.rstrip("/"),
                "changeset": details.get("changeset", ""),
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }


def list_window_note() -> str:
    """Return the sentence that states ``GET requests``'s default date window and limits."""
    days = DEFAULT_WINDOW.days
    return (
        f"GET requests without start_date and end_date lists the requests of the last {days} "
        f"days only; a call may span at most {days} days and returns at most "
        f"{MAX_REQUESTS:,} requests per page (page=2, 3, ...). Give start_date and end_date "
        "to read older requests, or service_request_id to read one."
    )


def services(catalogue: Catalogue, *, city: City | None = None) -> list[dict[str, Any]]:
    """Return ``GET services``: every catalogue service as a GeoReport v2 service."""
    attributes = (city or default_city()).attributes
    return [
        {
            "service_code": s.code,
            "service_name": s.name,
            "description": s.description,
            "metadata": bool(attributes.get(s.group)),
            "type": "realtime",
            "keywords": ", ".join(s.keywords),
            "group": catalogue.groups.get(s.group, s.group),
        }
        for s in catalogue.services.values()
    ]


def request_out(
    req: ServiceRequest,
    catalogue: Catalogue,
    tz: ZoneInfo,
    *,
    notice: str | None = None,
    city: City | None = None,
) -> dict[str, Any]:
    """Return a stored request as a GeoReport v2 ``request`` (citizen status open/closed).

    Parameters
    ----------
    req
        The stored request.
    catalogue
        Gives the citizen-facing status of the state and the service name.
    tz
        The city's zone for the times.
    notice
        A ``service_notice`` to show.
    city
        Gives ``agency_responsible`` (default: the city profile).

    Returns
    -------
    dict
        The GeoReport v2 fields.
    """
    row = tuple(getattr(req, "long" if c == "lon" else c) for c in OUT_COLUMNS)
    out = requests_out([row], catalogue, tz, times_as_text=True, city=city)[0]
    out["service_notice"] = notice
    return out


# The service_requests columns GET requests reads, in the order requests_out unpacks them.
OUT_COLUMNS = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "zipcode",
    "lat",
    "lon",
    "media_url",
)


def requests_out(
    rows: Iterable[Sequence[Any]],
    catalogue: Catalogue,
    tz: ZoneInfo,
    *,
    times_as_text: bool,
    city: City | None = None,
) -> list[dict[str, Any]]:
    """Return stored rows (columns :data:`OUT_COLUMNS`) as GeoReport v2 ``request`` dicts.

    The same fields and values as :func:`request_out`, built straight from the row tuples of
    :func:`geo311.requests.repo.query_request_rows` (the hot path of ``GET requests``).

    Parameters
    ----------
    rows
        Rows with the values of :data:`OUT_COLUMNS`, in that order.
    catalogue
        Gives the citizen-facing status of each state and the service names.
    tz
        The city's zone for the times.
    times_as_text
        True: times as ISO 8601 strings (as :func:`request_out`). False: aware datetimes in
        ``tz``, for :func:`dumps_json`, which writes them in the same ISO 8601 form faster.
    city
        Gives ``agency_responsible`` (default: the city profile).

    Returns
    -------
    list of dict
        The GeoReport v2 fields of each request.
    """
    agency = (city or default_city()).agency
    status_of = {code: state.open311 for code, state in catalogue.states.items()}
    name_of = {code: service.name for code, service in catalogue.services.items()}
    out = []
    for (
        rid,
        state,
        notes,
        name,
        code,
        description,
        requested,
        updated,
        expected,
        address,
        zipcode,
        lat,
        lon,
        media_url,
    ) in rows:
        times = [t if t is None else t.astimezone(tz) for t in (requested, updated, expected)]
        if times_as_text:
            times = [t if t is None else t.isoformat(timespec="seconds") for t in times]
        out.append(
            {
                "service_request_id": rid,
                "status": status_of.get(state, "closed"),
                "status_notes": notes or None,
                "service_name": name or name_of.get(code),
                "service_code": code,
                "description": description or None,
                "agency_responsible": agency,
                "service_notice": None,
                "requested_datetime": times[0],
                "updated_datetime": times[1],
                "expected_datetime": times[2],
                "address": address or None,
                "address_id": None,
                "zipcode": zipcode or None,
                "lat": lat,
                "long": lon,
                "media_url": media_url or None,
            }
        )
    return out


def dumps_json(payload: Any) -> bytes:
    """Serialise a response document as compact UTF-8 JSON (orjson).

    Same bytes as ``json.dumps(payload, ensure_ascii=False, separators=(",", ":"))``
    (Starlette's ``JSONResponse``) for the documents of this API; aware datetimes are
    written as ISO 8601 with their offset, to the second, as :func:`iso` does.

    Parameters
    ----------
    payload
        Dicts, lists, strings, numbers, None and aware datetimes.

    Returns
    -------
    bytes
        The JSON document.
    """
    return orjson.dumps(payload, option=orjson.OPT_OMIT_MICROSECONDS)


def split_list(value: str | None) -> list[str] | None:
    """Split a comma-delimited query value (None or blank gives None)."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def parse_time(value: str, field: str, tz: ZoneInfo) -> datetime:
    """Parse an ISO 8601 time (local time when it has no offset) or raise a 400 naming it."""
    try:
        return parse_at(value, tz, field=field)
    except InputError:
        raise Open311HTTPError(
            400, f"{field}: {value!r} is not ISO 8601; send e.g. 2015-10-06T07:00:00-04:00"
        ) from None


@dataclass(frozen=True)
class RequestQuery:
    """The filters of ``GET requests`` after applying the spec's defaults."""

    ids: list[str] | None
    service_codes: list[str] | None
    statuses: list[str] | None
    start: datetime | None
    end: datetime | None
    limit: int
    offset: int

    def filters(self) -> request_repo.RequestFilters:
        """Return the store's filters of this query, newest first."""
        return request_repo.RequestFilters(
            ids=self.ids,
            service_codes=self.service_codes,
            statuses=self.statuses,
            start=self.start,
            end=self.end,
            limit=self.limit,
            offset=self.offset,
            newest_first=True,
        )


@dataclass(frozen=True, kw_only=True)
class ListParams:
    """The GeoReport v2 query parameters of ``GET requests``, as the client sent them.

    Parameters
    ----------
    service_request_id : str, optional
        Comma-delimited ids; overrides every other filter.
    service_code : str, optional
        Comma-delimited service codes.
    start_date, end_date : str, optional
        ISO 8601 times; a window of at most 90 days.
    status : str, optional
        ``open``, ``closed`` or ``open,closed``.
    page, page_size : int
        The page (extension): its number and its number of requests.
    """

    service_request_id: str | None = None
    service_code: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    status: str | None = None
    page: int = 1
    page_size: int = MAX_REQUESTS


def build_query(
    catalogue: Catalogue, params: ListParams, *, tz: ZoneInfo, now: datetime
) -> RequestQuery:
    """Apply the GeoReport v2 rules to the query parameters of ``GET requests``.

    ``service_request_id`` overrides every other filter. Without dates the last 90 days are
    searched (up to ``now``, dates without an offset in ``tz``); a window may not span more
    than 90 days; at most 1,000 requests per page.

    Returns
    -------
    RequestQuery
        The filters for :func:`geo311.requests.repo.query_requests`.

    Raises
    ------
    Open311HTTPError
        400 naming the bad parameter and the fix.
    """
    page_size = params.page_size
    service_code, start_date, end_date = params.service_code, params.start_date, params.end_date
    offset = (params.page - 1) * page_size
    ids = split_list(params.service_request_id)
    if ids is not None:
        return RequestQuery(ids, None, None, None, None, page_size, offset)
    codes = split_list(service_code)
    for code in codes or []:
        if code not in catalogue.services:
            raise Open311HTTPError(
                400,
                f"service_code: {code!r} is not a service; use one of "
                f"{', '.join(sorted(catalogue.services))} (see services.json)",
            )
    statuses = None
    wanted = split_list(params.status)
    if wanted is not None:
        for w in wanted:
            if w not in ("open", "closed"):
                raise Open311HTTPError(400, f"status: {w!r} is not open or closed; use open,closed")
        statuses = [s.code for s in catalogue.states.values() if s.open311 in wanted]
    start = parse_time(start_date, "start_date", tz) if start_date else None
    end = parse_time(end_date, "end_date", tz) if end_date else None
    if start is None and end is None:
        end, start = now, now - DEFAULT_WINDOW
    elif start is None:
        assert end is not None
        start = end - DEFAULT_WINDOW
    elif end is None:
        end = start + DEFAULT_WINDOW
    if end < start:
        raise Open311HTTPError(400, "end_date: it is before start_date; swap the two dates")
    if end - start > DEFAULT_WINDOW:
        raise Open311HTTPError(
            400,
            "end_date: the window from start_date to end_date spans more than 90 days; "
            "ask for at most 90 days at a time",
        )
    return RequestQuery(None, codes, statuses, start, end, page_size, offset)


def query_request_rows(store: Store, query: RequestQuery) -> list[tuple[Any, ...]]:
    """Run a :class:`RequestQuery` on the store, newest first: rows of :data:`OUT_COLUMNS`."""
    return request_repo.query_request_rows(store, OUT_COLUMNS, query.filters())


def validate_attributes(
    catalogue: Catalogue, service_code: str, given: Mapping[str, str]
) -> dict[str, str]:
    """Check ``attribute[CODE]`` values against the service definition.

    Returns
    -------
    dict
        Attribute code -> value.

    Raises
    ------
    Open311HTTPError
        400 for an unknown attribute, a missing required one or a value not in the list.
    """
    defs = {a["code"]: a for a in attribute_definitions(catalogue, service_code)}
    problems = []
    for code, value in given.items():
        if code not in defs:
            known = ", ".join(defs) or "none"
            problems.append(
                f"attribute[{code}]: service {service_code!r} has no such attribute; "
                f"its attributes are: {known}"
            )
            continue
        keys = [v["key"] for v in defs[code]["values"]]
        if keys and value not in keys:
            problems.append(f"attribute[{code}]: {value!r} is not allowed; use one of {keys}")
    for code, d in defs.items():
        if d["required"] and not given.get(code):
            problems.append(f"attribute[{code}]: required for service {service_code!r}; send it")
    if problems:
        raise Open311HTTPError(400, *problems)
    return dict(given)


def post_answer(service_request_id: str | None, token: str, notice: str) -> dict[str, Any]:
    """Return the ``POST requests`` answer as GeoReport v2 defines it.

    ``service_request_id`` when the request has its id (a stored request always has), else
    the ``token`` to ask ``GET tokens/{token}`` for it later: never both, as the spec says.

    Parameters
    ----------
    service_request_id
        The request's id, or None when it has none yet.
    token
        The token the request was stored with (the client's Idempotency-Key or a random one).
    notice
        The ``service_notice`` for the citizen.

    Returns
    -------
    dict
        ``service_request_id`` or ``token``, then ``service_notice`` and ``account_id``.
    """
    key = {"service_request_id": service_request_id} if service_request_id else {"token": token}
    return {**key, "service_notice": notice, "account_id": None}


def check_location(
    lat: float | None,
    long: float | None,
    address_string: str | None,
    *,
    city: City | None = None,
) -> tuple[float | None, float | None]:
    """Validate the location fields: lat and long together, or an address_string.

    A point must lie in the city's ``service_area`` (default city: the profile's).

    Raises
    ------
    Open311HTTPError
        400 naming the missing or out-of-area field.
    """
    if (lat is None) != (long is None):
        missing = "long" if long is None else "lat"
        raise Open311HTTPError(400, f"{missing}: send lat and long together (WGS 84 degrees)")
    if lat is None and not (address_string or "").strip():
        raise Open311HTTPError(
            400,
            "lat/long or address_string: a location is required; send lat and long, "
            "or address_string",
        )
    if lat is not None and long is not None:
        min_lon, min_lat, max_lon, max_lat = (city or default_city()).service_area
        if not (min_lat <= lat <= max_lat and min_lon <= long <= max_lon):
            raise Open311HTTPError(
                400,
                f"lat/long: ({lat}, {long}) is outside the service area "
                f"(lat {min_lat}..{max_lat}, long {min_lon}..{max_lon}); check the point",
            )
    return lat, long


def geocode_address(geocoder: Any, address: str) -> tuple[float, float, str, float | None]:
    """Geocode an address_string offline, or raise a 400 that says how to fix it.

    Returns
    -------
    tuple
        ``(lat, lon, match_type, score)``.
    """
    from geo311.errors import GeocodingError

    try:
        result = geocoder.geocode(address)
    except GeocodingError as exc:
        raise Open311HTTPError(400, f"address_string: {exc}") from None
    if result is None or getattr(result, "lat", None) is None:
        reason = getattr(result, "reason", "") or "not found in the city's address list"
        raise Open311HTTPError(
            400,
            f"address_string: {address!r} could not be located ({reason}); "
            "send lat and long instead, or a full street address with its number",
        )
    return float(result.lat), float(result.lon), str(result.match_type), result.score


def media_url(request: Request, settings: Settings, name: str) -> str:
    """Return the URL to store for a photo: ``GEO311_PUBLIC_URL`` + ``/media/<name>``.

    Site-relative (``/media/<name>``) when no public URL is configured; never built from the
    request's ``Host`` header (a forged one would be stored and published).
    """
    return settings.public_base + request.app.url_path_for("get_media", name=name)


def now_utc() -> datetime:
    """Return the current time (UTC, aware)."""
    return datetime.now(UTC)


def tz_of(settings: Settings) -> ZoneInfo:
    """Return the city's time zone."""
    return ZoneInfo(settings.timezone)


def get_request_or_404(store: Store, service_request_id: str) -> ServiceRequest:
    """Return a request or raise the spec's 404 naming the id."""
    try:
        return request_repo.get_request(store, service_request_id)
    except NotFoundError:
        raise Open311HTTPError(
            404,
            f"service_request_id: {service_request_id!r} does not exist; "
            "check the id returned by POST requests",
        ) from None
