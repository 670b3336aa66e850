"""Dependencies shared by the routers: settings, store, catalogue, geocoder and staff auth."""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.planner.simulation_runs import SimulationRunner
from api.principal import Principal
from api.scope import city_districts
from geo311.city.catalogue import Catalogue
from geo311.city.profile import City
from geo311.db.store import Store
from geo311.errors import ConfigurationError, InputError
from geo311.settings import Settings
from geo311.staff.users import user_for_token

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
    """Return the value a static bearer token has in the settings, or None for an unknown token.

    Parameters
    ----------
    settings
        Holds ``staff_tokens`` (token -> role).
    token
        The bearer token received.

    Returns
    -------
    str or None
        ``dispatcher``, ``dispatcher@<district>``, ``planner``, ``admin`` or ``crew:<crew id>``.
    """
    found = None
    for known, role in settings.staff_tokens.items():
        if hmac.compare_digest(known.encode(), token.encode()):
            found = role
    return found


def check_static_tokens(settings: Settings) -> None:
    """Refuse (at start-up) a ``staff_tokens`` value that is not ``<role>[@<district>]``.

    Raises
    ------
    ConfigurationError
        Naming ``staff_tokens`` and the accepted spellings, or the city's districts when a
        token's district is none of them.
    """
    districts = {Principal.of_static(t, v).district for t, v in settings.staff_tokens.items()}
    for name in sorted(d for d in districts if d is not None):
        try:
            city_districts(str(settings.districts_file)).get(name)
        except InputError as exc:
            raise ConfigurationError(f"staff_tokens: {exc}", field="staff_tokens") from exc


def principal_of(request: Request, settings: Settings, token: str) -> Principal | None:
    """Return the principal of a bearer token: a static token, else a per-user token.

    None for an unknown, revoked or disabled user's token.
    """
    value = role_of(settings, token)
    if value is not None:
        return Principal.of_static(token, value)
    user = user_for_token(request.app.state.store, token)  # geo311 users token
    return Principal.of_user(user) if user is not None else None


def current_principal(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Return the caller from its bearer token (401 without a known token)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "send 'Authorization: Bearer <token>' with a staff token from GEO311_STAFF_TOKENS",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = principal_of(request, settings, credentials.credentials)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the bearer token is not one of GEO311_STAFF_TOKENS; ask an administrator for one",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(*roles: str) -> Callable[[Principal], Principal]:
    """Return a dependency that lets through only the given roles (``crew`` means any crew).

    Parameters
    ----------
    *roles
        Allowed roles: ``dispatcher``, ``planner``, ``crew``.

    Returns
    -------
    callable
        A FastAPI dependency returning the caller (:class:`api.principal.Principal`).
    """

    def _check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role {principal.role!r} may not do this; it needs one of: {', '.join(roles)}",
            )
        return principal

    return _check


DispatcherDep = Annotated[Principal, Depends(require("dispatcher"))]
PlannerDep = Annotated[Principal, Depends(require("planner", "dispatcher"))]
StaffDep = Annotated[Principal, Depends(require("dispatcher", "planner", "crew"))]
