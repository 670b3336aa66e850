"""Admin pages: ``/admin/users`` (list, add, disable, enable) and ``/admin/audit``."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import SettingsDep, StoreDep
from api.web import audit
from api.web.deps import PageRoute, action_user, page_user
from api.web.sessions import WebSession
from api.web.templating import render
from geo311.db.store import Store
from geo311.errors import Geo311Error
from geo311.staff import store as auth_store
from geo311.staff import users

router = APIRouter(prefix="/admin", route_class=PageRoute, include_in_schema=False)
AdminPage = Annotated[WebSession, Depends(page_user("admin"))]
AdminAction = Annotated[WebSession, Depends(action_user("admin"))]
Username = Annotated[str, Path(max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")]
PAGE_SIZE = 100


def _users_page(
    request: Request,
    store: Store,
    *,
    form: dict[str, Any] | None = None,
    error: str = "",
    message: str = "",
    status: int = 200,
) -> Response:
    context = {
        "users": users.list_users(store),
        "roles": users.ROLES,
        "min_password": users.MIN_PASSWORD,
        "form": form or {"role": "dispatcher"},
        "error": error,
        "message": message,
    }
    return render(request, "admin_users.html", context, status_code=status)


@router.get("/users", summary="Users")
def users_page(
    request: Request, _s: AdminPage, store: StoreDep, added: str | None = None
) -> Response:
    """List the users with the form to add one."""
    message = f"Added user {added}." if added else ""
    return _users_page(request, store, message=message)


@router.post("/users", summary="Add a user")
def add_user(
    request: Request,
    session: AdminAction,
    store: StoreDep,
    username: Annotated[str, Form(max_length=200)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    crew_id: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Add a user; a bad field re-shows the form with what was typed (except the password)."""
    form = {"username": username, "display_name": display_name, "role": role, "crew_id": crew_id}
    spelled = f"crew:{crew_id.strip()}" if role == "crew" else role
    try:
        with store.begin():  # the new user and its audit row commit together
            user = users.create_user(
                store, username, role=spelled, password=password, display_name=display_name
            )
            audit.record(
                store,
                session.user.username,
                "user.add",
                f"user:{user.username}",
                after=audit.user_state(user),
            )
    except Geo311Error as exc:
        status = 400 if isinstance(exc, ValueError) else 409
        return _users_page(request, store, form=form, error=str(exc), status=status)
    return RedirectResponse(f"/admin/users?added={user.username}", status_code=303)


def _set_active(session: WebSession, store: Store, username: str, *, active: bool) -> Response:
    if username == session.user.username and not active:
        raise HTTPException(409, "you cannot disable your own account; ask another admin")
    with store.begin():  # the change and its audit row commit together
        before, after = users.set_active(store, username, active=active)
        audit.record(
            store,
            session.user.username,
            "user.enable" if active else "user.disable",
            f"user:{username}",
            before=audit.user_state(before),
            after=audit.user_state(after),
        )
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{username}/disable", summary="Disable a user")
def disable_user(session: AdminAction, store: StoreDep, username: Username) -> Response:
    """Disable a user (sessions end at once)."""
    return _set_active(session, store, username, active=False)


@router.post("/users/{username}/enable", summary="Enable a user")
def enable_user(session: AdminAction, store: StoreDep, username: Username) -> Response:
    """Enable a disabled user again."""
    return _set_active(session, store, username, active=True)


@router.get("/audit", summary="Audit log")
def audit_page(
    request: Request,
    _s: AdminPage,
    store: StoreDep,
    settings: SettingsDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Show the audit log, newest first, 100 rows a page."""
    tz = ZoneInfo(settings.timezone)
    rows = auth_store.audit_rows(store, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    for row in rows:
        row["at_local"] = row["at"].astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
    context = {"rows": rows[:PAGE_SIZE], "page": page, "more": len(rows) > PAGE_SIZE}
    return render(request, "admin_audit.html", context)
