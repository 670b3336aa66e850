"""Dependencies shared by the routers: settings, store, catalogue, geocoder and staff auth."""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api._simulations import SimulationRunner
from geo311.catalogue import Catalogue
from geo311.city import City
from geo311.settings import Settings
from geo311.store import Store
from geo311.users import user_for_token

_geocoder_lock = threading.Lock()

# The app-state getters are ``async def``: FastAPI runs a sync dependency in the threadpool,
# one thread hop per dependency per request, for what is only an attribute read.


async def get_settings_dep(request: Request) -> Settings:
    """Return the app's settings."""
    settings: Settings = request.app.state.settings
    return settings


async def get_store(request: Request) -> Store:
    """Return the app's store (opened in the lifespan)."""
    store: Store = request.app.state.store
    return store


async def get_catalogue(request: Request) -> Catalogue:
    """Return the app's service catalogue."""
    catalogue: Catalogue = request.app.state.catalogue
    return catalogue


async def get_city(request: Request) -> City:
    """Return the app's city profile (jurisdiction, agency, service area, attributes)."""
    city: City = request.app.state.city
    return city


async def get_geocoder(request: Request) -> Callable[[], Any]:
    """Return a function giving the app's offline geocoder (built on first call, then shared)."""
    return lambda: _geocoder_of(request.app.state)


async def get_simulations(request: Request) -> SimulationRunner:
    """Return the app's simulation runner (queues simulation jobs, reads them back)."""
    runner: SimulationRunner = request.app.state.simulations
    return runner


def _geocoder_of(state: Any) -> Any:
    geocoder = getattr(state, "geocoder", None)
    if geocoder is None:
        with _geocoder_lock:
            geocoder = getattr(state, "geocoder", None)
            if geocoder is None:
                builder: Callable[[Settings], Any] = state.geocoder_factory
                geocoder = builder(state.settings)
                state.geocoder = geocoder
    return geocoder


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
StoreDep = Annotated[Store, Depends(get_store)]
CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
CityDep = Annotated[City, Depends(get_city)]
GeocoderDep = Annotated[Callable[[], Any], Depends(get_geocoder)]
SimulationsDep = Annotated[SimulationRunner, Depends(get_simulations)]

_bearer = HTTPBearer(auto_error=False, description="staff token from GEO311_STAFF_TOKENS")


def role_of(settings: Settings, token: str) -> str | None:
    """Return the role a bearer token has in the settings, or None for an unknown token.

    Parameters
    ----------
    settings
        Holds ``staff_tokens`` (token -> role).
    token
        The bearer token received.

    Returns
    -------
    str or None
        ``dispatcher``, ``planner`` or ``crew:<crew id>``.
    """
    found = None
    for known, role in settings.staff_tokens.items():
        if hmac.compare_digest(known.encode(), token.encode()):
            found = role
    return found


def current_role(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """Return the caller's role from its bearer token (401 without a known token)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "send 'Authorization: Bearer <token>' with a staff token from GEO311_STAFF_TOKENS",
            headers={"WWW-Authenticate": "Bearer"},
        )
    role = role_of(settings, credentials.credentials)
    if role is None:  # a per-user API token (geo311 users token)
        user = user_for_token(request.app.state.store, credentials.credentials)
        role = user.role_label if user is not None else None
    if role is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the bearer token is not one of GEO311_STAFF_TOKENS; ask an administrator for one",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return role


RoleDep = Annotated[str, Depends(current_role)]


def require(*roles: str) -> Callable[[str], str]:
    """Return a dependency that lets through only the given roles (``crew`` means any crew).

    Parameters
    ----------
    *roles
        Allowed roles: ``dispatcher``, ``planner``, ``crew``.

    Returns
    -------
    callable
        A FastAPI dependency returning the caller's role.
    """

    def _check(role: RoleDep) -> str:
        kind = "crew" if role.startswith("crew:") else role
        if kind not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role {kind!r} may not do this; it needs one of: {', '.join(roles)}",
            )
        return role

    return _check


DispatcherDep = Annotated[str, Depends(require("dispatcher"))]
PlannerDep = Annotated[str, Depends(require("planner", "dispatcher"))]
StaffDep = Annotated[str, Depends(require("dispatcher", "planner", "crew"))]
