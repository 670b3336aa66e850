"""Dependencies of the staff pages: the signed-in user, roles, CSRF, and HTML error pages."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import StoreDep
from api.web.sessions import WebSession, load_session
from api.web.templating import render
from geo311.errors import ConflictError, Geo311Error, InputError, NotFoundError

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
# The page each role lands on after login.
HOME = {"dispatcher": "/dispatch", "planner": "/planner", "crew": "/crew", "admin": "/admin/users"}


def safe_next(target: str | None) -> str | None:
    """Return ``target`` when it is a local path of this site (``/x?y``), else None."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return None
    return target


def _return_path(request: Request) -> str:
    if request.method in ("GET", "HEAD"):
        query = request.url.query
        return request.url.path + (f"?{query}" if query else "")
    referer = request.headers.get("referer") or ""
    parts = urlsplit(referer)
    if parts.netloc == request.url.netloc and safe_next(parts.path):
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return "/"


def page_user(*roles: str) -> Callable[[Request, StoreDep], WebSession]:
    """Return a dependency: the signed-in user when its role is one of ``roles``.

    Without a session the browser is sent to ``/login?next=<this page>`` (302); a user of
    another role gets 403.
    """

    def _dep(request: Request, store: StoreDep) -> WebSession:
        session = load_session(store, request)
        if session is None:
            target = quote(_return_path(request), safe="/?=&")
            raise HTTPException(302, "sign in first", headers={"Location": f"/login?next={target}"})
        if session.user.role not in roles:
            raise HTTPException(
                403,
                f"your role ({session.user.role}) may not open this page; it is for: "
                f"{', '.join(roles)}. Go to {HOME.get(session.user.role, '/')}",
            )
        return session

    return _dep


async def check_csrf(request: Request, session: WebSession) -> None:
    """Refuse (403) a state-changing request without the session's CSRF token.

    The token comes in the ``X-CSRF-Token`` header (htmx, fetch) or the ``csrf_token``
    form field (plain forms).
    """
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and "form" in request.headers.get("content-type", ""):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise HTTPException(
            403,
            "the form's security token (CSRF) is missing or out of date; reload the page "
            "and try again",
        )


def action_user(*roles: str) -> Callable[..., Awaitable[WebSession]]:
    """Return a dependency for a state-changing request: role check, then CSRF check."""
    # A default, not Annotated[...]: the annotation is a string (future import) that could
    # not see ``roles`` when FastAPI resolves it.
    signed_in = Depends(page_user(*roles))

    async def _dep(request: Request, session: WebSession = signed_in) -> WebSession:
        await check_csrf(request, session)
        return session

    return _dep


def _status_of(exc: Geo311Error) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    return 400 if isinstance(exc, InputError) else 500


def _error_page(request: Request, exc: Exception) -> Response:
    if isinstance(exc, StarletteHTTPException):
        headers = dict(exc.headers or {})
        if exc.status_code in (301, 302, 303, 307) and "Location" in headers:
            if request.headers.get("HX-Request"):
                return Response(status_code=200, headers={"HX-Redirect": headers["Location"]})
            return RedirectResponse(headers["Location"], status_code=exc.status_code)
        status, message = exc.status_code, str(exc.detail)
    elif isinstance(exc, RequestValidationError):
        problems = [f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors()]
        status, message = 400, "; ".join(problems) + ". Correct the form and send it again."
    else:
        assert isinstance(exc, Geo311Error)
        status, message = _status_of(exc), str(exc)
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)


class PageRoute(APIRoute):
    """A route whose errors are HTML pages (and redirects), not the JSON API's errors."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler: HTTP, validation and geo311 errors become error pages."""
        handler = super().get_route_handler()

        async def _handle(request: Request) -> Response:
            try:
                return await handler(request)
            except (StarletteHTTPException, RequestValidationError, Geo311Error) as exc:
                return _error_page(request, exc)

        return _handle
