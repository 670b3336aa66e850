"""Open311 GeoReport v2 for citizens' apps, mounted at ``/open311/v2``.

Every resource exists as ``.json`` and ``.xml`` (the format is the path suffix); errors are
the spec's ``[{"code": ..., "description": ...}]`` (``<errors><error>`` in XML).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Header, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.deps import CatalogueDep, CityDep, GeocoderDep, SettingsDep, StoreDep
from api.errors import Open311HTTPError
from api.open311 import service as o
from api.open311 import xml as _xml
from api.open311.coalesce import Coalescer
from api.open311.list_cache import PageCache
from api.open311.report_guard import Gate, gate_of, stage_photo
from api.open311.schemas import (
    Discovery,
    PostResponse,
    Service,
    ServiceDefinition,
    ServiceRequestOut,
    TokenResponse,
)
from api.public.language import request_language
from api.schemas import Open311Error
from api.workorders import updates as _updates
from geo311.city.catalogue import Catalogue
from geo311.city.profile import City
from geo311.db.store import Store
from geo311.errors import ConflictError
from geo311.notify.contacts import contact_values
from geo311.requests import repo as request_repo
from geo311.requests import reports
from geo311.requests import updates as update_log
from geo311.requests.intake import check_texts
from geo311.requests.media import StagedImage
from geo311.settings import Settings

Format = Annotated[Literal["json", "xml"], Path(description="json or xml")]
_XML = "text/xml; charset=utf-8"


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {
        200: {"content": {"application/xml": {}, "text/xml": {}}},
    }
    for code in (*codes, 413, 500):
        out[code] = {
            "model": list[Open311Error],
            "description": "GeoReport v2 error list",
            "content": {"application/xml": {}, "text/xml": {}},
        }
    return out


router = APIRouter(prefix="/open311/v2", tags=["open311"], responses=_responses(400, 404))


def _render(
    fmt: str, root: str, payload: list[dict[str, Any]] | dict[str, Any], *, status: int = 200
) -> Response:
    if fmt == "xml":
        body = (
            _xml.render_list(root, payload)
            if isinstance(payload, list)
            else _xml.render_object(root, payload)
        )
        return Response(body, status_code=status, media_type=_XML)
    return Response(o.dumps_json(payload), status_code=status, media_type="application/json")


def _etag(body: bytes) -> str:
    return 'W/"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _render_cached(request: Request, response: Response, *, tag: str | None = None) -> Response:
    """Give a list answer an ``ETag`` of its bytes; a matching ``If-None-Match`` gets a 304.

    Clients polling an unchanged page (FixMyStreet every few minutes) get no body again.
    ``tag`` is the body's tag when it was computed already.
    """
    tag = tag or _etag(bytes(response.body))
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    wanted = request.headers.get("if-none-match", "")
    if tag in (t.strip() for t in wanted.split(",")) or wanted.strip() == "*":
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response


def _check_jurisdiction(jurisdiction_id: str | None, city: City) -> None:
    if jurisdiction_id and jurisdiction_id != city.jurisdiction_id:
        raise Open311HTTPError(
            404,
            f"jurisdiction_id: {jurisdiction_id!r} is not served here; use "
            f"{city.jurisdiction_id!r} or leave it out",
        )


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def require_form(request: Request) -> None:
    """Refuse a POST body that is not a form (415) or whose fields hold control characters (400).

    Every text field (``attribute[CODE]`` ones too) goes through
    :func:`geo311.requests.intake.check_texts` once, here, before any of it is used or stored.

    Raises
    ------
    Open311HTTPError
        415 naming the content type received and the ones read.
    InputError
        400 (in the spec's error shape) naming the field with a control character.
    """
    given = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if given not in FORM_TYPES:
        raise Open311HTTPError(
            415,
            f"Content-Type: {given or 'none'!r} is not read here; send the fields as "
            "application/x-www-form-urlencoded (or multipart/form-data with a media file)",
        )
    form = await request.form()  # parsed once (FastAPI's own parse, cached on the request)
    check_texts((str(k), v) for k, v in form.multi_items() if isinstance(v, str))


Jurisdiction = Annotated[
    str | None, Query(max_length=100, description="optional; the city's jurisdiction_id")
]


@router.get(
    "/discovery.{response_format}",
    response_model=Discovery,
    summary="Service discovery",
)
def get_discovery(
    request: Request, response_format: Format, city: CityDep, settings: SettingsDep
) -> Response:
    """Return the service discovery document (where the endpoint is, which formats).

    The endpoint's URL is built on ``GEO311_PUBLIC_URL`` (site-relative when it is unset),
    never on the request's ``Host`` header.
    """
    path = request.app.url_path_for("get_discovery", response_format="json").rsplit("/", 1)[0]
    return _render(
        response_format, "discovery", o.discovery(settings.public_base + path, city=city)
    )


@router.get(
    "/services.{response_format}",
    response_model=list[Service],
    summary="List services",
    responses=_responses(404),
)
def list_services(
    response_format: Format,
    catalogue: CatalogueDep,
    city: CityDep,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """Return every service citizens can report, with its code, name, group and keywords."""
    _check_jurisdiction(jurisdiction_id, city)
    return _render(response_format, "services", o.services(catalogue, city=city))


@router.get(
    "/services/{service_code}.{response_format}",
    response_model=ServiceDefinition,
    summary="Service definition",
    responses=_responses(404),
)
def service_definition(
    service_code: Annotated[str, Path(max_length=64)],
    response_format: Format,
    catalogue: CatalogueDep,
    city: CityDep,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """Return the attribute definitions of one service (``attribute[CODE]`` in a POST)."""
    _check_jurisdiction(jurisdiction_id, city)
    if service_code not in catalogue.services:
        raise Open311HTTPError(
            404,
            f"service_code: {service_code!r} does not exist; use one of "
            f"{', '.join(sorted(catalogue.services))} (see services.json)",
        )
    doc = {
        "service_code": service_code,
        "attributes": o.attribute_definitions(catalogue, service_code, city=city),
    }
    return _render(response_format, "service_definition", doc)


@router.get(
    "/requests.{response_format}",
    response_model=list[ServiceRequestOut],
    summary="Query service requests",
    responses=_responses(404),
)
async def list_requests(
    request: Request,
    response_format: Format,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    city: CityDep,
    service_request_id: Annotated[
        str | None,
        Query(max_length=20_000, description="comma-delimited ids; overrides every other filter"),
    ] = None,
    service_code: Annotated[
        str | None, Query(max_length=1000, description="comma-delimited service codes")
    ] = None,
    start_date: Annotated[
        str | None, Query(max_length=40, description="ISO 8601; window of at most 90 days")
    ] = None,
    end_date: Annotated[str | None, Query(max_length=40, description="ISO 8601")] = None,
    status: Annotated[
        str | None, Query(max_length=20, description="open, closed or open,closed")
    ] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000, description="page number (extension)")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=o.MAX_REQUESTS, description="requests per page (extension)")
    ] = o.MAX_REQUESTS,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """Return service requests, newest first: by default those of the last 90 days, 1,000 max.

    Identical requests arriving together share one query and one rendering (a round that
    starts after they arrived, see :mod:`api.open311.coalesce`), and a round serves the page it
    rendered before when the database shows no change since (:mod:`api.open311.list_cache`): the
    answer is never older than the request, and a busy list costs one cheap check per round.
    """
    _check_jurisdiction(jurisdiction_id, city)
    tz = o.tz_of(settings)
    params = o.ListParams(
        service_request_id=service_request_id,
        service_code=service_code,
        start_date=start_date,
        end_date=end_date,
        status=status,
        page=page,
        page_size=page_size,
    )
    query_at = functools.partial(o.build_query, catalogue, params, tz=tz)
    query_at(now=o.now_utc())  # a bad parameter: its 400 now, before waiting for a round

    def render(rows: list[tuple[Any, ...]]) -> tuple[bytes, str]:
        xml = response_format == "xml"
        items = o.requests_out(rows, catalogue, tz, times_as_text=xml, city=city)
        body = bytes(_render(response_format, "service_requests", items).body)
        return body, _etag(body)

    key = (response_format, params, tz)
    rounds, pages = _list_reads(request)
    # the window ends when the round starts: never before this request arrived
    body, tag = await rounds.run(
        key, lambda: pages.get(key, store, query_at(now=o.now_utc()), render)
    )
    media_type = _XML if response_format == "xml" else "application/json"
    return _render_cached(request, Response(body, media_type=media_type), tag=tag)


def _list_reads(request: Request) -> tuple[Coalescer[tuple[bytes, str]], PageCache]:
    """Return the app's coalescer and page cache of ``GET requests`` (made on first use)."""
    state = request.app.state
    reads: tuple[Coalescer[tuple[bytes, str]], PageCache] | None = getattr(
        state, "open311_list_reads", None
    )
    if reads is None:
        reads = (Coalescer(), PageCache())
        state.open311_list_reads = reads
    return reads


@router.get(
    "/requests/{service_request_id}.{response_format}",
    response_model=list[ServiceRequestOut],
    summary="One service request",
    responses=_responses(404),
)
def get_request(
    service_request_id: Annotated[str, Path(max_length=64)],
    response_format: Format,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    city: CityDep,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """Return one service request (a list of one, as the spec says)."""
    _check_jurisdiction(jurisdiction_id, city)
    req = o.get_request_or_404(store, service_request_id)
    items = [o.request_out(req, catalogue, o.tz_of(settings), city=city)]
    return _render(response_format, "service_requests", items)


@router.get(
    "/tokens/{token}.{response_format}",
    response_model=list[TokenResponse],
    summary="Request id from a token",
    responses=_responses(404),
)
def get_token(
    token: Annotated[str, Path(max_length=64)],
    response_format: Format,
    store: StoreDep,
    city: CityDep,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """Return the service_request_id of the request that was posted with this token."""
    _check_jurisdiction(jurisdiction_id, city)
    found = reports.find_by_token(store, token)
    if found is None:
        raise Open311HTTPError(
            404, f"token: {token!r} is unknown; use the token returned by POST requests"
        )
    return _render(
        response_format, "service_requests", [{"service_request_id": found, "token": token}]
    )


@router.post(
    "/requests.{response_format}",
    response_model=list[PostResponse],
    summary="Create a service request",
    responses=_responses(403, 404, 415, 429),
    dependencies=[Depends(require_form)],
)
async def post_request(
    request: Request,
    response_format: Format,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    city: CityDep,
    geocoder: GeocoderDep,
    service_code: Annotated[str, Form(max_length=64)],
    api_key: Annotated[
        str | None, Form(max_length=200, description="required: a key from GEO311_API_KEYS")
    ] = None,
    lat: Annotated[float | None, Form(ge=-90, le=90, description="WGS 84 latitude")] = None,
    long: Annotated[float | None, Form(ge=-180, le=180, description="WGS 84 longitude")] = None,
    address_string: Annotated[str | None, Form(max_length=300)] = None,
    address_id: Annotated[str | None, Form(max_length=100)] = None,
    email: Annotated[str | None, Form(max_length=200)] = None,
    device_id: Annotated[str | None, Form(max_length=200)] = None,
    account_id: Annotated[str | None, Form(max_length=200)] = None,
    first_name: Annotated[str | None, Form(max_length=200)] = None,
    last_name: Annotated[str | None, Form(max_length=200)] = None,
    phone: Annotated[str | None, Form(max_length=50)] = None,
    description: Annotated[str | None, Form(max_length=o.MAX_DESCRIPTION)] = None,
    media_url: Annotated[str | None, Form(max_length=500)] = None,
    media: Annotated[
        UploadFile | None,
        File(description="a photo (JPEG, PNG or WebP; EXIF removed); multipart/form-data"),
    ] = None,
    jurisdiction_id: Annotated[str | None, Form(max_length=100)] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=64,
            description="optional; a retry with the same key returns the first request",
        ),
    ] = None,
) -> Response:
    """Create a service request from a form-encoded body (``attribute[CODE]`` for attributes).

    A report near an open work order of the same service group joins it; ``service_notice``
    says so. Contact fields (email, name, phone) are kept apart from the request (never shown
    by the public API) for the reporter's notifications; the acknowledgement is queued with it.
    Reports are limited per client address and e-mail address (429, :mod:`api.open311.report_guard`);
    a photo is put in place only once its report is stored. GeoReport v2 has no language
    field: the reporter's e-mails are written in the ``Accept-Language`` header's language
    (or ``?lang=``, or the report page's ``geo311_lang`` cookie) among the city's
    ``languages``, else the city's own.
    """
    if not request.url.path.startswith("/report."):  # the city's own report page
        _check_api_key(api_key, settings)
    _check_jurisdiction(jurisdiction_id, city)
    if service_code not in catalogue.services:
        raise Open311HTTPError(
            400,
            f"service_code: {service_code!r} is not a service; use one of "
            f"{', '.join(sorted(catalogue.services))} (see services.json)",
        )
    attributes = o.validate_attributes(catalogue, service_code, await _attributes(request))
    lat, long = o.check_location(lat, long, address_string, city=city)
    given = {"email": email, "first_name": first_name, "last_name": last_name, "phone": phone}
    contact = contact_values(**{k: v or "" for k, v in given.items()})
    contact["language"] = request_language(request, city)  # its e-mails' language
    gate = gate_of(request, settings, api_key=api_key, email=contact["email"], now=o.now_utc())
    await run_in_threadpool(gate.check, store)  # before the photo's work
    photo, media_url = await _stage_photo(request, settings, media, media_url)
    new = reports.NewRequest(
        service_code=service_code,
        lat=lat,
        long=long,
        address_string=(address_string or "").strip(),
        description=(description or "").strip(),
        media_url=(media_url or "").strip(),
        attributes=attributes,
        contact=contact,
    )
    token = idempotency_key or secrets.token_hex(16)
    try:
        result = await run_in_threadpool(
            _create,
            store,
            catalogue,
            geocoder,
            new,
            token,
            gate=gate,
            photo=photo,
            keyed=idempotency_key is not None,
        )
    finally:
        if photo is not None:
            photo.discard()  # refused (or a retry of a stored report): no file left behind
    body = [o.post_answer(result.service_request_id, token, result.service_notice)]
    return _render(response_format, "service_requests", body)


async def _attributes(request: Request) -> dict[str, str]:
    """Return the posted ``attribute[CODE]`` values by code."""
    form = await request.form()
    return {
        str(k)[len("attribute[") : -1]: str(v)
        for k, v in form.multi_items()
        if str(k).startswith("attribute[") and str(k).endswith("]")
    }


async def _stage_photo(
    request: Request, settings: Settings, media: UploadFile | None, media_url: str | None
) -> tuple[StagedImage | None, str | None]:
    """Check an uploaded photo and stage it (put in place once the report commits).

    Returns the staged photo (None without one) and the ``media_url`` to store: the photo's
    stable URL, else the given one.
    """
    if media is None:
        return None, media_url
    data = await media.read(settings.max_media_bytes + 1)
    if not data and not media.filename:
        return None, media_url  # a form's empty file field
    if (media_url or "").strip():
        raise Open311HTTPError(400, "media: send a media file or a media_url, not both")
    photo = await run_in_threadpool(stage_photo, data, settings)
    return photo, o.media_url(request, settings, photo.name)


def _check_api_key(api_key: str | None, settings: Settings) -> None:
    if api_key is None or not any(_same(api_key, k) for k in settings.api_keys):
        raise Open311HTTPError(
            403, "api_key: missing or not valid; ask the city for an api_key (key_service)"
        )


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


def _create(
    store: Store,
    catalogue: Catalogue,
    geocoder: Callable[[], Any],
    new: reports.NewRequest,
    token: str,
    *,
    gate: Gate,
    photo: StagedImage | None,
    keyed: bool,
) -> reports.Intake:
    # A token the server just drew cannot be stored yet: look it up only for a client's key.
    existing = reports.find_by_token(store, token) if keyed else None
    if existing is not None:
        return reports.Intake(
            existing, "this report was already received (same Idempotency-Key)", None, False
        )
    geocoded = None
    if new.lat is None:
        geocoded = o.geocode_address(geocoder(), new.address_string)
    req = reports.build_request(new, catalogue, token=token, now=o.now_utc(), geocoded=geocoded)
    try:
        # The request, its acknowledgement and its work order commit together (one commit).
        with store.begin() as conn:
            gate.count(store)  # first: a report over a limit stores nothing
            request_repo.add_request(store, req)
            reports.acknowledge(conn, req, new.contact)
            intake = reports.assign_stored(store, catalogue, req)
    except ConflictError:
        # A concurrent retry with the same Idempotency-Key stored it first.
        existing = reports.find_by_token(store, token)
        if existing is None:
            raise
        return reports.Intake(
            existing, "this report was already received (same Idempotency-Key)", None, False
        )
    if photo is not None:
        photo.commit()  # the report is stored: its photo goes in place
    return intake


@router.get(
    "/servicerequestupdates.{response_format}",
    summary="Updates of requests in a time window (mySociety's extension)",
    responses=_responses(404),
)
def list_updates(
    request: Request,
    response_format: Format,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    city: CityDep,
    start_date: Annotated[str | None, Query(max_length=40, description="W3C datetime")] = None,
    end_date: Annotated[str | None, Query(max_length=40, description="W3C datetime")] = None,
    api_key: Annotated[
        str | None, Query(max_length=200, description="accepted, not needed")
    ] = None,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """Return the status changes, notes, schedules and comments of a window, oldest first.

    Without dates the last day; at most 90 days and 1,000 updates per call. XML:
    ``<service_request_updates><request_update>...``, as FixMyStreet reads it.
    """
    _check_jurisdiction(jurisdiction_id, city)
    tz = o.tz_of(settings)
    start, end = _updates.updates_window(start_date, end_date, tz=tz, now=o.now_utc())
    rows = update_log.request_updates_between(store, start, end, limit=o.MAX_REQUESTS)
    items = _updates.updates_out(rows, catalogue, tz)
    return _render_cached(request, _render(response_format, "service_request_updates", items))


@router.post(
    "/servicerequestupdates.{response_format}",
    summary="Post a citizen's update of a request (mySociety's extension)",
    responses=_responses(403, 404, 415),
    dependencies=[Depends(require_form)],
)
def post_update(
    response_format: Format,
    store: StoreDep,
    settings: SettingsDep,
    city: CityDep,
    service_request_id: Annotated[str, Form(max_length=64)],
    updated_datetime: Annotated[str, Form(max_length=40, description="W3C datetime")],
    status: Annotated[str, Form(max_length=40, description="OPEN, CLOSED, FIXED ...")],
    description: Annotated[str, Form(max_length=o.MAX_DESCRIPTION)] = "",
    api_key: Annotated[str | None, Form(max_length=200)] = None,
    jurisdiction_id: Annotated[str | None, Form(max_length=100)] = None,
    update_id: Annotated[str | None, Form(max_length=64, description="the client's id")] = None,
    update_id_ext: Annotated[str | None, Form(max_length=64)] = None,
    media_url: Annotated[str | None, Form(max_length=500)] = None,
    email: Annotated[str | None, Form(max_length=200)] = None,
    first_name: Annotated[str | None, Form(max_length=200)] = None,
    last_name: Annotated[str | None, Form(max_length=200)] = None,
) -> Response:
    """Record a citizen's comment on a request and answer its ``update_id``.

    The request keeps the city's status (the comment's ``status`` is checked, not applied);
    a repeated ``update_id`` (the client's comment id) answers the first update. Contact
    fields are accepted but not stored here, and never shown.
    """
    _check_api_key(api_key, settings)
    _check_jurisdiction(jurisdiction_id, city)
    _updates.check_posted_update(status, updated_datetime, tz=o.tz_of(settings))
    text, photo = description.strip(), (media_url or "").strip()
    if not text and not photo:
        raise Open311HTTPError(400, "description: the update is empty; send its text")
    o.get_request_or_404(store, service_request_id)
    uid, _created = update_log.add_request_update(
        store,
        service_request_id,
        description=text,
        media_url=photo,
        external_id=update_id or update_id_ext or None,
    )
    return _render(response_format, "service_request_updates", [{"update_id": str(uid)}])
