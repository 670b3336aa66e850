"""Admin pages: users (list, add, edit, reset a password, disable), the audit log.

``/admin/users``, ``/admin/users/{username}``, ``/admin/audit`` (filtered) and, for every
signed-in user, ``/account/password``.

A crew user is made for one of the city's crews (``crews.toml``), picked from a list; a
dispatcher's district is one of the city's districts. Every change writes its audit row in
the same transaction; no password ever reaches the audit log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from api.deps import SettingsDep, StoreDep
from api.web import audit
from api.web.deps import PageRoute, action_user, page_user
from api.web.sessions import WebSession
from api.web.templating import render
from geo311.db.store import Store
from geo311.errors import Geo311Error, InputError
from geo311.settings import Settings
from geo311.staff import store as auth_store
from geo311.staff import users

router = APIRouter(prefix="/admin", route_class=PageRoute, include_in_schema=False)
account_router = APIRouter(prefix="/account", route_class=PageRoute, include_in_schema=False)
ANY_ROLE = tuple(users.ROLES)
AdminPage = Annotated[WebSession, Depends(page_user("admin"))]
AdminAction = Annotated[WebSession, Depends(action_user("admin"))]
Username = Annotated[str, Path(max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")]
PAGE_SIZE = 100


def city_crews(settings: Settings) -> dict[str, str]:
    """Return the city's crews: crew id -> label (``crews.toml``)."""
    from routing.engine.crews import load_crews

    return {c.id: c.label or c.id for c in load_crews(settings.crews_file).crews}


def city_district_names(settings: Settings) -> list[str]:
    """Return the names of the city's districts (none when the city has no districts file)."""
    from api.scope import city_districts

    if not settings.districts_file or not settings.districts_file.exists():
        return []
    return list(city_districts(str(settings.districts_file)).names)


def spelled_role(settings: Settings, role: str, crew_id: str) -> str:
    """Return the role as :func:`geo311.staff.users.parse_role` reads it, the crew one of the city's.

    Raises
    ------
    InputError
        Naming ``crew_id`` when a crew user's crew is not one of the city's crews.
    """
    if role != "crew":
        return role
    crews = city_crews(settings)
    if crew_id.strip() not in crews:
        raise InputError(
            f"crew_id: pick one of the city's crews ({', '.join(crews)}); "
            f"{crew_id.strip()!r} is not one",
            field="crew_id",
        )
    return f"crew:{crew_id.strip()}"


def check_district(settings: Settings, district: str) -> str:
    """Return the district (empty: every district) when it is one of the city's."""
    names = city_district_names(settings)
    if district.strip() and district.strip() not in names:
        raise InputError(
            f"district: pick one of {', '.join(names) or 'none (the city has no districts)'}",
            field="district",
        )
    return district.strip()


def user_state(user: Any) -> dict[str, Any]:
    """Return what the audit log keeps of a user: its audit state and its district."""
    return {**audit.user_state(user), "district": user.district}


def _choices(settings: Settings) -> dict[str, Any]:
    return {
        "roles": users.ROLES,
        "crews": city_crews(settings),
        "districts": city_district_names(settings),
        "min_password": users.MIN_PASSWORD,
    }


def _users_page(
    request: Request,
    store: Store,
    settings: Settings,
    *,
    form: dict[str, Any] | None = None,
    error: str = "",
    message: str = "",
    status: int = 200,
) -> Response:
    context = {
        **_choices(settings),
        "users": users.list_users(store),
        "form": form or {"role": "dispatcher"},
        "error": error,
        "message": message,
    }
    return render(request, "admin_users.html", context, status_code=status)


@router.get("/users", summary="Users")
def users_page(
    request: Request,
    _s: AdminPage,
    store: StoreDep,
    settings: SettingsDep,
    added: Annotated[str | None, Query(max_length=64)] = None,
    saved: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """List the users with the form to add one."""
    message = f"Added user {added}." if added else (f"Saved user {saved}." if saved else "")
    return _users_page(request, store, settings, message=message)


class UserForm(BaseModel):
    """A user's name, role, crew and district as an admin types them."""

    display_name: str = Field("", max_length=200)
    role: str = Field("", max_length=32)
    crew_id: str = Field("", max_length=64)
    district: str = Field("", max_length=200)


class NewUserForm(UserForm):
    """The form that adds a user: the user's fields, its username and first password."""

    username: str = Field("", max_length=200)
    password: str = Field("", max_length=2000)


@router.post("/users", summary="Add a user")
def add_user(
    request: Request,
    session: AdminAction,
    store: StoreDep,
    settings: SettingsDep,
    new: Annotated[NewUserForm, Form()],
) -> Response:
    """Add a user; a bad field re-shows the form with what was typed (except the password)."""
    username, role, district = new.username, new.role, new.district
    form = {"username": username, **new.model_dump(include=set(UserForm.model_fields))}
    try:
        spelled = spelled_role(settings, role, new.crew_id)
        with store.begin():  # the new user and its audit row commit together
            user = users.create_user(
                store,
                username,
                role=spelled,
                password=new.password,
                display_name=new.display_name,
                district=check_district(settings, district) if role == "dispatcher" else None,
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
        return _users_page(request, store, settings, form=form, error=str(exc), status=status)
    return RedirectResponse(f"/admin/users?added={user.username}", status_code=303)


@dataclass(frozen=True)
class _Outcome:
    """What the user page reports after an action: the form as typed, errors, a message."""

    form: dict[str, Any] | None = None
    error: str = ""
    password_error: str = ""
    message: str = ""
    status: int = 200


def _user_page(
    request: Request,
    store: Store,
    settings: Settings,
    username: str,
    outcome: _Outcome = _Outcome(),
) -> Response:
    form, error, password_error = outcome.form, outcome.error, outcome.password_error
    message, status = outcome.message, outcome.status
    found = users.find_user(store, username)
    context = {
        **_choices(settings),
        "target": found,
        "form": form
        or {
            "display_name": found.display_name,
            "role": found.role,
            "crew_id": found.crew_id or "",
            "district": found.district or "",
        },
        "error": error,
        "password_error": password_error,
        "message": message,
    }
    return render(request, "admin_user.html", context, status_code=status)


@router.get("/users/{username}", summary="Edit a user")
def user_page(
    request: Request,
    _s: AdminPage,
    store: StoreDep,
    settings: SettingsDep,
    username: Username,
    reset: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    """Show a user's role, crew, district and name to edit, and the password reset."""
    message = "Password reset: the user signs in with the new one." if reset else ""
    return _user_page(request, store, settings, username, _Outcome(message=message))


@router.post("/users/{username}", summary="Save a user's role, crew, district and name")
def edit_user(
    request: Request,
    session: AdminAction,
    store: StoreDep,
    settings: SettingsDep,
    username: Username,
    edited: Annotated[UserForm, Form()],
) -> Response:
    """Save a user's changes with their audit row; a bad field re-shows what was typed."""
    form = edited.model_dump()
    role, district, display_name = edited.role, edited.district, edited.display_name
    if username == session.user.username and role != "admin":
        error = "role: you cannot take the admin role from yourself; ask another admin"
        return _user_page(
            request, store, settings, username, _Outcome(form=form, error=error, status=409)
        )
    try:
        spelled = spelled_role(settings, role, edited.crew_id)
        kept = check_district(settings, district) if role == "dispatcher" else ""
        with store.begin():  # the change and its audit row commit together
            before, after = users.edit_user(
                store, username, role=spelled, display_name=display_name, district=kept
            )
            audit.record(
                store,
                session.user.username,
                "user.edit",
                f"user:{username}",
                before=user_state(before),
                after=user_state(after),
            )
    except InputError as exc:
        return _user_page(
            request, store, settings, username, _Outcome(form=form, error=str(exc), status=400)
        )
    return RedirectResponse(f"/admin/users?saved={username}", status_code=303)


@router.post("/users/{username}/password", summary="Reset a user's password")
def reset_password(
    request: Request,
    session: AdminAction,
    store: StoreDep,
    settings: SettingsDep,
    username: Username,
    password: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Give a user a new password (its sessions end); the audit row names no password."""
    try:
        with store.begin():
            user = users.set_password(store, username, password)
            audit.record(
                store, session.user.username, "user.password_reset", f"user:{user.username}"
            )
    except InputError as exc:
        return _user_page(
            request, store, settings, username, _Outcome(password_error=str(exc), status=400)
        )
    return RedirectResponse(f"/admin/users/{username}?reset=1", status_code=303)


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


def changes(before: Any, after: Any) -> list[dict[str, str]]:
    """Return an audit row's changes as readable lines: ``field``, ``before``, ``after``.

    Two objects give the fields that differ (all of ``after`` when there was no ``before``);
    anything else is one line with the whole values.
    """

    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    if isinstance(after, dict) and isinstance(before or {}, dict):
        old = before or {}
        keys = [k for k in {**old, **after} if old.get(k) != after.get(k)]
        return [{"field": k, "before": text(old.get(k)), "after": text(after.get(k))} for k in keys]
    if before is None and after is None:
        return []
    return [{"field": "", "before": text(before), "after": text(after)}]


def _day(value: str | None, tz: ZoneInfo, field: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=tz)
    except ValueError:
        raise InputError(f"{field}: give a date as YYYY-MM-DD", field=field) from None


class AuditQuery(BaseModel):
    """The audit page's filters: the page, who, what (a prefix), object (a prefix), dates."""

    page: int = Field(1, ge=1, le=100_000)
    actor: str = Field("", max_length=200)
    action: str = Field("", max_length=100)
    obj: str = Field("", alias="object", max_length=200)
    since: str = Field("", alias="from", max_length=10)
    until: str = Field("", alias="to", max_length=10)


@router.get("/audit", summary="Audit log")
def audit_page(
    request: Request,
    _s: AdminPage,
    store: StoreDep,
    settings: SettingsDep,
    query: Annotated[AuditQuery, Query()],
) -> Response:
    """Show the audit log, newest first, 100 rows a page, filtered by who, what, object, dates."""
    page, actor, action, obj = query.page, query.actor, query.action, query.obj
    since, until = query.since, query.until
    tz = ZoneInfo(settings.timezone)
    start, end = _day(since, tz, "from"), _day(until, tz, "to")
    audit_filter = auth_store.AuditFilter(
        actor=actor or None,
        action_prefix=action or None,
        object_prefix=obj or None,
        since=start,
        until=end + timedelta(days=1) if end else None,
    )
    rows = auth_store.audit_rows(
        store, audit_filter, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
    )
    for row in rows:
        row["at_local"] = row["at"].astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
        row["changes"] = changes(row["before"], row["after"])
    filters = {"actor": actor, "action": action, "object": obj, "from": since, "to": until}
    context = {
        "rows": rows[:PAGE_SIZE],
        "page": page,
        "more": len(rows) > PAGE_SIZE,
        "filters": filters,
        "query": urlencode({k: v for k, v in filters.items() if v}),
        "values": auth_store.audit_values(store),
    }
    return render(request, "admin_audit.html", context)


def _password_page(
    request: Request, *, error: str = "", message: str = "", status: int = 200
) -> Response:
    context = {"min_password": users.MIN_PASSWORD, "error": error, "message": message}
    return render(request, "account_password.html", context, status_code=status)


@account_router.get("/password", summary="Change my password")
def password_page(
    request: Request, _s: Annotated[WebSession, Depends(page_user(*ANY_ROLE))]
) -> Response:
    """Show the form to change one's own password."""
    return _password_page(request)


@account_router.post("/password", summary="Change my password")
def change_password(
    request: Request,
    session: Annotated[WebSession, Depends(action_user(*ANY_ROLE))],
    store: StoreDep,
    current: Annotated[str, Form(max_length=2000)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
    again: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Change one's own password (the current one first); every session ends: sign in again."""
    name = session.user.username
    if users.verify_password(store, name, current) is None:
        return _password_page(request, error="current: that is not your password", status=400)
    if password != again:
        error = "again: the two new passwords differ; type the same one twice"
        return _password_page(request, error=error, status=400)
    try:
        with store.begin():
            users.set_password(store, name, password)
            audit.record(store, name, "user.password_change", f"user:{name}")
    except InputError as exc:
        return _password_page(request, error=str(exc), status=400)
    return RedirectResponse("/login?changed=1", status_code=303)
