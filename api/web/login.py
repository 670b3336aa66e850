"""``/login`` and ``/logout``: password sign-in with rate limiting, no user enumeration."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from api.deps import StoreDep
from api.web import audit
from api.web.deps import CSRF_FIELD, HOME, PageRoute, check_csrf, page_user, safe_next
from api.web.sessions import (
    LOGIN_CSRF_COOKIE,
    WebSession,
    end_session,
    load_session,
    set_cookie,
    start_session,
)
from api.web.templating import render
from geo311.db.store import Store
from geo311.requests.intake import find_control
from geo311.staff import users

router = APIRouter(route_class=PageRoute, include_in_schema=False)

WRONG = "The username or password is wrong."
LOCKED = (
    "Too many failed sign-ins for this username or from this network: wait 15 minutes and "
    "try again, or ask an administrator."
)


def _client_address(request: Request) -> str:
    # The connection's address; behind a proxy named in GEO311_TRUSTED_PROXIES the address
    # it forwarded (api.app applies X-Forwarded-For from those proxies only).
    return request.client.host if request.client else ""


def _login_page(
    request: Request, *, next_path: str | None, username: str = "", error: str = "", status: int
) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {"next": next_path or "", "username": username, "error": error, "login_csrf": token},
        status_code=status,
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, 3600)
    return response


@router.get("/login", summary="Sign-in page")
def login_form(request: Request, store: StoreDep, next: str | None = None) -> Response:
    """Show the sign-in form (a signed-in user goes straight to ``next`` or its home page)."""
    session = load_session(store, request)
    target = safe_next(next)
    if session is not None:
        return RedirectResponse(target or HOME[session.user.role], status_code=302)
    return _login_page(request, next_path=target, status=200)


def _attempt(store: Store, username: str, password: str, address: str) -> users.User | str:
    """Count the attempt, then check the password; return the user or the message to show."""
    result = users.sign_in(store, username, password, address=address)
    if result == "locked":
        return LOCKED
    if result == "wrong":
        return WRONG
    return result


@router.post("/login", summary="Sign in")
async def login(
    request: Request,
    store: StoreDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """Sign in with ``username`` and ``password``; 401 when wrong, 429 when locked out."""
    target = safe_next(next)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not csrf_token or not hmac.compare_digest(csrf_token.encode(), cookie.encode()):
        return _login_page(
            request,
            next_path=target,
            username=username,
            error="The form's security token is missing or out of date; sign in again.",
            status=403,
        )
    if find_control(username) >= 0:
        return _login_page(
            request,
            next_path=target,
            error="username: it holds a control character; type the username again.",
            status=400,
        )
    if not username.strip() or not password:
        return _login_page(
            request,
            next_path=target,
            username=username,
            error="Enter your username and your password.",
            status=400,
        )
    result = await run_in_threadpool(_attempt, store, username, password, _client_address(request))
    if isinstance(result, str):
        status = 429 if result is LOCKED else 401
        return _login_page(
            request, next_path=target, username=username, error=result, status=status
        )
    response = RedirectResponse(target or HOME[result.role], status_code=303)
    await run_in_threadpool(start_session, store, request, response, result)
    await run_in_threadpool(
        audit.record, store, result.username, "login", f"user:{result.username}"
    )
    return response


@router.post("/logout", summary="Sign out")
async def logout(
    request: Request,
    store: StoreDep,
    session: Annotated[WebSession, Depends(page_user(*HOME))],
) -> Response:
    """End the session (CSRF-checked) and go back to the sign-in page."""
    await check_csrf(request, session)
    response = RedirectResponse("/login", status_code=303)
    await run_in_threadpool(end_session, store, request, response)
    await run_in_threadpool(
        audit.record, store, session.user.username, "logout", f"user:{session.user.username}"
    )
    return response
