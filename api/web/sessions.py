"""Server-side sessions: a random id in an HttpOnly cookie, the session row in the store.

Why server-side rather than signed cookies: a logout or a disabled user ends the session at
once (the row is gone), there is no signing key to manage or rotate, and the cookie carries
nothing but 256 random bits. The store keeps only the SHA-256 of the id.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request, Response

from geo311.db.store import Store
from geo311.staff import store as auth_store
from geo311.staff.users import User

COOKIE = "geo311_session"
LOGIN_CSRF_COOKIE = "geo311_login_csrf"
LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser: the user, the session's CSRF token and the stored key."""

    user: User
    csrf_token: str
    session_hash: str


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def is_https(request: Request) -> bool:
    """Return True when the request came over https (cookies then get ``Secure``)."""
    return request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    """Set an HttpOnly, SameSite=Lax cookie, ``Secure`` when served over https."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def start_session(store: Store, request: Request, response: Response, user: User) -> WebSession:
    """Create a session for a user and put its id in the response's cookie.

    A session the browser already had is deleted first (no session fixation).
    """
    old = request.cookies.get(COOKIE)
    if old:
        auth_store.delete_session(store, _hash(old))
    session_id = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session = WebSession(user, secrets.token_urlsafe(32), _hash(session_id))
    auth_store.insert_session(
        store,
        session_hash=session.session_hash,
        user_id=user.user_id,
        csrf_token=session.csrf_token,
        created_at=now,
        expires_at=now + LIFETIME,
    )
    set_cookie(request, response, COOKIE, session_id, int(LIFETIME.total_seconds()))
    request.state.web_session = session
    return session


def load_session(store: Store, request: Request) -> WebSession | None:
    """Return the request's live session (cached on ``request.state``), or None."""
    if hasattr(request.state, "web_session"):
        cached: WebSession | None = request.state.web_session
        return cached
    session = None
    session_id = request.cookies.get(COOKIE)
    if session_id and len(session_id) < 200:
        row = auth_store.session_with_user(store, _hash(session_id), now=datetime.now(UTC))
        if row is not None:
            session = WebSession(User.from_row(row), str(row["csrf_token"]), _hash(session_id))
    request.state.web_session = session
    return session


def end_session(store: Store, request: Request, response: Response) -> None:
    """Delete the request's session and its cookie."""
    session_id = request.cookies.get(COOKIE)
    if session_id:
        auth_store.delete_session(store, _hash(session_id))
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request)
    )
    request.state.web_session = None
