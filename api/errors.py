"""Map errors to HTTP once: geo311 domain errors, validation errors, HTTP errors and crashes.

Routes under ``/open311/v2`` answer in the GeoReport v2 error format
(``[{"code": 400, "description": "..."}]``, or ``<errors><error>...`` for ``.xml``); the staff
endpoints answer ``{"detail": "...", "field": ...}``. No response ever carries a stack trace.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.open311 import xml as _xml
from geo311.errors import (
    ConflictError,
    Geo311Error,
    GeocodingError,
    InputError,
    NotFoundError,
    RoutingError,
)

OPEN311_PREFIX = "/open311/v2"
log = logging.getLogger("api")


class Open311HTTPError(Exception):
    """An Open311 error response: status code and one or more descriptions.

    Parameters
    ----------
    status_code
        400, 403 or 404 (the codes the GeoReport v2 page uses); 413 or 415 for a body that
        is too large or of a type the resource does not read.
    descriptions
        One entry per problem; each names the field and the fix.
    """

    def __init__(self, status_code: int, *descriptions: str) -> None:
        super().__init__("; ".join(descriptions))
        self.status_code = status_code
        self.descriptions = list(descriptions)


def _wants_xml(request: Request) -> bool:
    return request.url.path.endswith(".xml")


def is_open311_path(path: str) -> bool:
    """Tell whether a URL path answers Open311 errors: the resources and the report page's POST."""
    return path.startswith(OPEN311_PREFIX) or path.startswith(("/report.", "/report/"))


def error_body(path: str, status_code: int, descriptions: Sequence[str]) -> tuple[bytes, str]:
    """Return ``(body, media type)`` of an error answered on ``path`` outside a route.

    Open311 paths get the GeoReport v2 list (XML for a ``.xml`` path), other paths the staff
    shape ``{"detail": ..., "field": null}``; for middleware that answers before routing.
    """
    if is_open311_path(path):
        errors = [{"code": status_code, "description": d} for d in descriptions]
        if path.endswith(".xml"):
            return _xml.render_list("errors", errors, item="error"), "text/xml; charset=utf-8"
        return json.dumps(errors).encode(), "application/json"
    body = {"detail": "; ".join(descriptions), "field": None}
    return json.dumps(body).encode(), "application/json"


def open311_error_response(
    request: Request, status_code: int, descriptions: Sequence[str]
) -> Response:
    """Return a GeoReport v2 error body in the request's format (path suffix)."""
    errors = [{"code": status_code, "description": d} for d in descriptions]
    if _wants_xml(request):
        return Response(
            _xml.render_list("errors", errors, item="error"),
            status_code=status_code,
            media_type="text/xml; charset=utf-8",
        )
    return JSONResponse(errors, status_code=status_code)


def _is_open311(request: Request) -> bool:
    return is_open311_path(request.url.path)


def _status_of(exc: Geo311Error) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, InputError | GeocodingError):
        return 400
    if isinstance(exc, RoutingError):
        return 422
    return 400


def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Geo311Error)
    code = _status_of(exc)
    if _is_open311(request):
        # GeoReport v2 knows 400, 403 and 404 only.
        return open311_error_response(request, code if code in (403, 404) else 400, [str(exc)])
    body = {"detail": str(exc), "field": getattr(exc, "field", None)}
    if getattr(exc, "state", None) is not None:  # a refused stop change: the stop's state
        body["state"] = exc.state  # type: ignore[attr-defined]
    return JSONResponse(body, status_code=code)


def _open311_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Open311HTTPError)
    return open311_error_response(request, exc.status_code, exc.descriptions)


_FIXES = {
    "missing": "send it",
    "string_too_long": "shorten it",
    "string_too_short": "send a longer value",
    "float_parsing": "send a decimal number such as 42.35",
    "int_parsing": "send a whole number",
    "literal_error": "use one of the allowed values",
    "greater_than_equal": "send a larger value",
    "less_than_equal": "send a smaller value",
    "greater_than": "send a larger value",
    "less_than": "send a smaller value",
}


def describe_validation_error(error: dict[str, Any]) -> tuple[str, str]:
    """Return ``(field, description)`` for one pydantic/FastAPI validation error.

    Parameters
    ----------
    error
        One item of ``RequestValidationError.errors()``.

    Returns
    -------
    tuple of str
        The field name and a sentence naming the field, the problem and the fix.
    """
    loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or "request"
    if field == "response_format":
        return field, "response_format: the path must end in .json or .xml"
    msg = str(error.get("msg", "is invalid"))
    fix = _FIXES.get(str(error.get("type", "")), "correct it")
    return field, f"{field}: {msg}; {fix}"


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    described = [describe_validation_error(dict(e)) for e in exc.errors()]
    if _is_open311(request):
        return open311_error_response(request, 400, [d for _, d in described])
    field, description = described[0] if described else ("request", "invalid request")
    return JSONResponse(
        {"detail": "; ".join(d for _, d in described) or description, "field": field},
        status_code=422,
    )


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = getattr(exc, "headers", None)
    if _is_open311(request):
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = (
                f"no Open311 resource at {request.url.path}; use {OPEN311_PREFIX}/discovery.json,"
                " services.json, services/{service_code}.json, requests.json,"
                " requests/{id}.json or tokens/{token}.json (or .xml)"
            )
        code = exc.status_code if exc.status_code in (400, 403, 404) else exc.status_code
        response = open311_error_response(request, code, [detail])
    else:
        response = JSONResponse({"detail": str(exc.detail), "field": None}, exc.status_code)
    if headers:
        response.headers.update(headers)
    return response


def _data_error(request: Request, exc: Exception) -> Response:
    """Answer a value the database refused (NUL in text, too long for its column) with a 400."""
    assert isinstance(exc, sa.exc.DataError)
    reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "invalid value"
    log.warning("database refused a value on %s %s: %s", request.method, request.url.path, reason)
    message = (
        f"a value could not be stored ({reason}); remove control characters and shorten "
        "over-long fields, then send it again"
    )
    if _is_open311(request):
        return open311_error_response(request, 400, [message])
    return JSONResponse({"detail": message, "field": None}, status_code=400)


def _crash(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    message = "internal server error; the failure was logged, please retry later"
    if _is_open311(request):
        errors = [{"code": 500, "description": message}]
        if _wants_xml(request):
            return Response(
                _xml.render_list("errors", errors, item="error"),
                500,
                media_type="text/xml; charset=utf-8",
            )
        return JSONResponse(errors, status_code=500)
    return JSONResponse({"detail": message, "field": None}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Register every exception handler on the app (called once by ``create_app``)."""
    app.add_exception_handler(Geo311Error, _domain_error)
    app.add_exception_handler(Open311HTTPError, _open311_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(sa.exc.DataError, _data_error)
    app.add_exception_handler(Exception, _crash)
