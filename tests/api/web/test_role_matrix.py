"""The role matrix: every staff page and JSON route x every kind of caller -> the status.

Callers (:data:`WHO`): nobody signed in / no token, a crew on its own stops (crew
``pothole-1``), a planner, a dispatcher of every district, a dispatcher of the plans' district
(Back Bay / South End), an admin, a dispatcher of another district, and a crew on another
crew's stop (crew ``pothole-2`` acting on ``pothole-1``'s). Pages are called with a signed-in
browser (its CSRF token on the POSTs), JSON routes with the user's own API token.

An allowed caller gets the route's answer; a request the allowed roles could only send
wrongly (a bad time, an unknown id, a published plan) proves the caller got past the role
and scope checks with a 400, 404 or 409 without starting a solver. Each case gets fresh
plans; the users, the work orders and the signed-in clients are shared by the module.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from geo311.city.catalogue import Catalogue, load_catalogue
from geo311.city.districts import load_districts
from geo311.db.store import Store
from geo311.plans import repo as plan_repo
from geo311.settings import REPO_DATA_DIR, Settings
from geo311.staff import store as auth_store
from geo311.staff import users
from geo311.workorders import repo as work_order_repo
from tests.api.conftest import make_settings
from tests.api.web.conftest import PASSWORD, login
from tests.conftest import _postgres_schema_url
from tests.routing._dispatch_data import fill

BACK_BAY = "Back Bay / South End"
OTHER = "Charlestown"  # the other district of the test city (none of the work is in it)
OK, SEE, LOGIN, BAD, NOAUTH, NO, GONE, CONFLICT = 200, 303, 302, 400, 401, 403, 404, 409
UNFIT = 422
WHO = (
    "nobody",
    "crew",
    "planner",
    "dispatcher",
    "district",
    "admin",
    "other_district",
    "other_crew",
)
USERS = {  # who -> (username, role, district)
    "crew": ("crewa", "crew:pothole-1", None),
    "planner": ("pete", "planner", None),
    "dispatcher": ("dina", "dispatcher", None),
    "district": ("dora", "dispatcher", BACK_BAY),
    "admin": ("ada", "admin", None),
    "other_district": ("odile", "dispatcher", OTHER),
    "other_crew": ("crewb", "crew:pothole-2", None),
}
HOME = {"crew": "/crew", "planner": "/planner", "admin": "/admin/users"}
STOPS_OF_OTHER_CREW = "needs i21-stops: a crew acts only on its own stops of its published plan"


@dataclass(frozen=True)
class Row:
    """One route: method, URL, body, and the status for each of :data:`WHO`.

    In ``url`` and ``body``: ``{pub}`` a published plan of Back Bay, ``{draft}`` an
    unpublished one, ``{city}`` an unpublished plan of every district, ``{wo}`` a work order
    of crew pothole-1's stop ``j1``, ``{wo3}`` another Back Bay work order, ``{far}`` one
    outside every district, ``{crew}`` the acting crew's own crew (``pothole-1`` for the
    others), ``{key}`` a fresh idempotency key. ``xfail``: callers whose row needs another
    branch.
    """

    method: str
    url: str
    expected: tuple[int, ...]
    body: dict[str, Any] | None = None
    form: bool = False
    xfail: tuple[str, ...] = ()


def page(url: str, *expected: int, method: str = "GET", **kw: Any) -> Row:
    return Row(method, url, expected, form=True, **kw)


def api(url: str, *expected: int, method: str = "GET", **kw: Any) -> Row:
    return Row(method, url, expected, **kw)


STATUS = {"status": "{toggle}", "note": "matrix"}
CANT = {"key": "{key}", "plan_id": "{pub}", "job_id": "j1", "action": "cant", "reason": "no_access"}
# fmt: off
#                                         nobody  crew   planner disp.  district admin other_d other_c
ROWS = {
    # -- staff pages ------------------------------------------------------------------------
    "page dispatch": page("/dispatch", LOGIN, NO, NO, OK, OK, NO, OK, NO),
    "page dispatch filtered": page(
        "/dispatch?at=2015-10-06T07:00&sla=overdue", LOGIN, NO, NO, OK, OK, NO, OK, NO),
    "page plan": page("/dispatch/plans/{pub}", LOGIN, NO, NO, OK, OK, NO, OK, NO),
    "page plan job": page(
        "/dispatch/plan-jobs/0123456789abcdef", LOGIN, NO, NO, GONE, GONE, NO, GONE, NO),
    "page plan job json": page(
        "/dispatch/plan-jobs/0123456789abcdef.json", LOGIN, NO, NO, GONE, GONE, NO, GONE, NO),
    "page my stops": page("/crew", LOGIN, OK, NO, NO, NO, NO, NO, OK),
    "page crew stops": page("/crew/pothole-1", LOGIN, OK, NO, OK, OK, NO, OK, NO),
    "page crew gpx": page(  # a plan without street legs: 400 once allowed
        "/crew/pothole-1/plans/{pub}.gpx", LOGIN, BAD, NO, BAD, BAD, NO, BAD, NO),
    "page planner": page("/planner", LOGIN, NO, OK, OK, OK, NO, OK, NO),
    "page metrics csv": page("/planner/metrics.csv", LOGIN, NO, OK, OK, OK, NO, OK, NO),
    "page backlog csv": page("/planner/backlog.csv", LOGIN, NO, OK, OK, OK, NO, OK, NO),
    "page planner map": page("/planner/maps/open-work", LOGIN, NO, OK, OK, OK, NO, OK, NO),
    "page what-if": page("/planner/whatif/999999", LOGIN, NO, GONE, GONE, GONE, NO, GONE, NO),
    "page what-if plot": page(
        "/planner/whatif/999999/plot.png", LOGIN, NO, GONE, GONE, GONE, NO, GONE, NO),
    "page what-if progress": page(
        "/planner/whatif/999999/progress.json", LOGIN, NO, GONE, GONE, GONE, NO, GONE, NO),
    "page calibrated csv": page(
        "/planner/whatif/999999/calibrated.csv", LOGIN, NO, GONE, GONE, GONE, NO, GONE, NO),
    "page weekly csv": page("/planner/weekly.csv", LOGIN, NO, OK, OK, OK, NO, OK, NO),
    "page users": page("/admin/users", LOGIN, NO, NO, NO, NO, OK, NO, NO),
    "page audit": page("/admin/audit", LOGIN, NO, NO, NO, NO, OK, NO, NO),
    # -- staff page actions (POST with the session's CSRF token) ------------------------------
    "plan the day: every district": page(
        "/dispatch/plan", LOGIN, NO, NO, BAD, NO, NO, NO, NO, method="POST",
        body={"at": "not a time", "districts": "all"}),
    "plan the day: own district": page(
        "/dispatch/plan", LOGIN, NO, NO, BAD, BAD, NO, BAD, NO, method="POST",
        body={"at": "not a time", "districts": "mine"}),
    "roster: a crew of Back Bay": page(
        "/dispatch/crews/pothole-1", LOGIN, NO, NO, SEE, SEE, NO, NO, NO, method="POST",
        body={"day": "2015-10-06", "on_duty": "on", "shift_start": "07:00", "shift_end": "15:00"}),
    "publish a Back Bay plan": page(
        "/dispatch/plans/{draft}/publish", LOGIN, NO, NO, SEE, SEE, NO, NO, NO, method="POST"),
    "publish a plan of every district": page(
        "/dispatch/plans/{city}/publish", LOGIN, NO, NO, SEE, NO, NO, NO, NO, method="POST"),
    "re-plan (published: 409)": page(
        "/dispatch/plans/{pub}/replan", LOGIN, NO, NO, CONFLICT, CONFLICT, NO, NO, NO,
        method="POST", body={"mode": "locked"}),
    "edit (published: 409)": page(
        "/dispatch/plans/{pub}/edit", LOGIN, NO, NO, CONFLICT, CONFLICT, NO, NO, NO,
        method="POST", body={"action": "lock", "job_id": "j1"}),
    "edit save (published: 409)": page(
        "/dispatch/plans/{pub}/edit/save", LOGIN, NO, NO, CONFLICT, CONFLICT, NO, NO, NO,
        method="POST", body={"action": "drop", "job_id": "j1"}),
    "crew action on crew A's stop": page(
        "/crew/actions", LOGIN, OK, NO, OK, OK, NO, NO, NO, method="POST",
        body={**CANT, "crew_id": "pothole-1"}),
    "crew action on A's stop under its own crew": page(
        "/crew/actions", LOGIN, OK, NO, OK, OK, NO, NO, NO, method="POST",
        body={**CANT, "crew_id": "{crew}"}),
    "share the crew's position": page(
        "/crew/position", LOGIN, OK, NO, NO, NO, NO, NO, OK, method="POST",
        body={"lat": "42.35", "lon": "-71.08", "accuracy": "10"}),
    "share the crew's position (bad lat: 400)": page(
        "/crew/position", LOGIN, BAD, NO, NO, NO, NO, NO, BAD, method="POST",
        body={"lat": "north", "lon": "-71.08"}),
    "what-if (bad sweep: 400)": page(
        "/planner/whatif", LOGIN, NO, BAD, BAD, BAD, NO, BAD, NO, method="POST",
        body={"crews_sweep": "many"}),
    "calibrated what-if (bad target: 400)": page(
        "/planner/whatif/calibrated", LOGIN, NO, BAD, BAD, BAD, NO, BAD, NO, method="POST",
        body={"target_p90_days": "-1"}),
    "add a user (short password: 400)": page(
        "/admin/users", LOGIN, NO, NO, NO, NO, BAD, NO, NO, method="POST",
        body={"username": "newbie", "role": "planner", "password": "short"}),
    "disable a user (unknown: 404)": page(
        "/admin/users/nobody-here/disable", LOGIN, NO, NO, NO, NO, GONE, NO, NO, method="POST"),
    # -- JSON routes (bearer token) -----------------------------------------------------------
    "GET /workorders": api("/workorders", NOAUTH, OK, OK, OK, OK, NO, OK, OK),
    "GET /workorders.geojson": api("/workorders.geojson", NOAUTH, OK, OK, OK, OK, NO, OK, OK),
    "GET /workorders/{id} of crew A's stop": api(
        "/workorders/{wo}", NOAUTH, OK, OK, OK, OK, NO, NO, NO),
    "status of a Back Bay work order": api(
        "/workorders/{wo3}/status", NOAUTH, NO, NO, OK, OK, NO, NO, NO, method="POST",
        body=STATUS),
    "status of a work order outside the districts": api(
        "/workorders/{far}/status", NOAUTH, NO, NO, OK, NO, NO, NO, NO, method="POST",
        body=STATUS),
    "POST /plans for Back Bay (bad time: 400)": api(
        "/plans", NOAUTH, NO, NO, BAD, BAD, NO, NO, NO, method="POST",
        body={"at": "not a time", "district": BACK_BAY}),
    "GET /plans/{id}": api("/plans/{pub}", NOAUTH, NO, OK, OK, OK, NO, OK, NO),
    "GET /plans/{id}/geojson": api("/plans/{pub}/geojson", NOAUTH, NO, OK, OK, OK, NO, OK, NO),
    "GET /plans/{id}/map": api("/plans/{pub}/map", NOAUTH, NO, OK, OK, OK, NO, OK, NO),
    "re-plan (bad time: 400)": api(
        "/plans/{pub}/replan", NOAUTH, NO, NO, BAD, BAD, NO, NO, NO, method="POST",
        body={"at": "not a time"}),
    "publish a Back Bay plan (JSON)": api(
        "/plans/{draft}/publish", NOAUTH, NO, NO, OK, OK, NO, NO, NO, method="POST"),
    "publish a plan of every district (JSON)": api(
        "/plans/{city}/publish", NOAUTH, NO, NO, OK, NO, NO, NO, NO, method="POST"),
    "itinerary": api("/plans/{pub}/crews/pothole-1", NOAUTH, OK, OK, OK, OK, NO, OK, NO),
    "itinerary html (no street legs: 400)": api(
        "/plans/{pub}/crews/pothole-1.html", NOAUTH, BAD, BAD, BAD, BAD, NO, BAD, NO),
    "itinerary gpx (no street legs: 400)": api(
        "/plans/{pub}/crews/pothole-1.gpx", NOAUTH, BAD, BAD, BAD, BAD, NO, BAD, NO),
    "stop done on crew A's stop": api(
        "/plans/{pub}/crews/pothole-1/stops/j1/done", NOAUTH, OK, NO, OK, OK, NO, NO, NO,
        method="POST", body={"note": "matrix"}),
    "stop done on A's stop under its own crew": api(
        "/plans/{pub}/crews/{crew}/stops/j1/done", NOAUTH, OK, NO, OK, OK, NO, NO, NO,
        method="POST", body={"note": "matrix"}),
    "GET /maps/open-work": api("/maps/open-work", NOAUTH, NO, OK, OK, OK, NO, OK, NO),
    "GET /metrics": api("/metrics", NOAUTH, NO, OK, OK, OK, NO, OK, NO),
    "GET /backlog": api("/backlog", NOAUTH, NO, OK, OK, OK, NO, OK, NO),
    "POST /simulations (bad body: 422)": api(
        "/simulations", NOAUTH, NO, UNFIT, UNFIT, UNFIT, NO, UNFIT, NO, method="POST",
        body={"crews_sweep": "many"}),
    "GET /simulations/{id}": api("/simulations/999999", NOAUTH, NO, GONE, GONE, GONE, NO, GONE, NO),
}
# fmt: on


def _cases() -> Iterator[Any]:
    for name, row in ROWS.items():
        assert len(row.expected) == len(WHO), name
        for who, status in zip(WHO, row.expected, strict=True):
            marks = [pytest.mark.xfail(strict=True, reason=STOPS_OF_OTHER_CREW)] * (
                who in row.xfail
            )
            yield pytest.param(name, who, status, id=f"{name}|{who}", marks=marks)


@dataclass
class World:
    """The module's app, store, signed-in clients (with CSRF tokens) and API tokens."""

    store: Store
    app: Any
    clients: dict[str, TestClient]
    csrf: dict[str, str]
    tokens: dict[str, str]
    work_orders: dict[str, int]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    from argon2 import PasswordHasher

    saved = users._hasher
    users._hasher = PasswordHasher(time_cost=1, memory_cost=8192)  # quick sign-ins
    folder = tmp_path_factory.mktemp("matrix")
    city = two_district_city(folder / "city")
    urls = _postgres_schema_url() if request.param == "postgresql" else None
    url = next(urls) if urls is not None else f"sqlite:///{folder / 'store.db'}"
    store = Store(url)
    catalogue = load_catalogue(REPO_DATA_DIR / "services.toml")
    settings = make_settings(url, data_dir=city, media_dir=folder / "media")
    app = create_app(settings, store=store)
    try:
        yield _world(store, catalogue, app, settings)
    finally:
        for client in getattr(app.state, "matrix_clients", []):
            client.__exit__(None, None, None)
        store.close()
        users._hasher = saved
        if urls is not None:
            next(urls, None)


def two_district_city(folder: Path) -> Path:
    """Copy the embedded city and add a second district (north of Back Bay, no work in it)."""
    shutil.copytree(REPO_DATA_DIR, folder)
    path = folder / "districts.geojson"
    areas = json.loads(path.read_text())
    ring = [
        [-71.075, 42.37],
        [-71.05, 42.37],
        [-71.05, 42.385],
        [-71.075, 42.385],
        [-71.075, 42.37],
    ]
    areas["features"].append(
        {
            "type": "Feature",
            "properties": {"name": OTHER},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }
    )
    path.write_text(json.dumps(areas))
    return folder


def _world(store: Store, catalogue: Catalogue, app: Any, settings: Settings) -> World:
    fill(store, catalogue)  # seven work orders: some in Back Bay, some outside every district
    orders = work_order_repo.query_work_orders(store)
    areas = load_districts(settings.districts_file)
    names = areas.assign([o.lat for o in orders], [o.lon for o in orders])
    where = dict(zip([o.work_order_id for o in orders], names, strict=True))
    inside = [o for o in orders if where[o.work_order_id] == BACK_BAY]
    far = next(o for o in orders if o.address == "1 Far Away Rd")
    assert len(inside) >= 3 and where[far.work_order_id] == "" and OTHER not in where.values()
    clients, csrf, tokens = {}, {}, {}
    app.state.matrix_clients = []
    for who, (name, role, district) in USERS.items():
        users.create_user(store, name, role=role, password=PASSWORD, district=district)
        tokens[who] = users.issue_token(store, name)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        app.state.matrix_clients.append(client)
        assert login(client, name).status_code == 303
        home = client.get(HOME.get(who, "/dispatch"))
        found = re.search(r'name="csrf-token" content="([^"]+)"', home.text)
        assert found, (who, home.status_code)
        clients[who], csrf[who] = client, found.group(1)
    anonymous = TestClient(app, raise_server_exceptions=False)
    anonymous.__enter__()
    app.state.matrix_clients.append(anonymous)
    clients["nobody"] = anonymous
    ids = {"wo": inside[0].work_order_id, "wo2": inside[1].work_order_id}
    ids.update(wo3=inside[2].work_order_id, far=far.work_order_id)
    return World(store, app, clients, csrf, tokens, ids)


def _route(crew: str, job: str, wo: int, hour: int) -> dict[str, Any]:
    arrival = f"2015-10-06T{hour:02d}:00:00-04:00"
    step = {"type": "job", "job_id": job, "ref": str(wo), "arrival": arrival, "service_s": 600}
    return {"crew_id": crew, "steps": [{"type": "start"}, step, {"type": "end"}]}


def plans(store: Store, wo: int, wo2: int) -> dict[str, int]:
    """Store a published Back Bay plan, an unpublished one and one of every district."""

    def doc(district: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "plan_date": "2015-10-06",
            "at": "2015-10-06T07:00:00-04:00",
            "timezone": "America/New_York",
            "routes": [_route("pothole-1", "j1", wo, 8), _route("pothole-2", "j2", wo2, 9)],
            "unassigned": [],
        }
        return {**out, "district": district} if district else out

    ids = {name: plan_repo.save_plan(store, doc(d), plan_date="2015-10-06") for name, d in (
        ("pub", BACK_BAY), ("draft", BACK_BAY), ("city", None))}  # fmt: skip
    auth_store.insert_publication(
        store, plan_id=ids["pub"], plan_date="2015-10-06", published_at=datetime.now(UTC),
        published_by="dina",
    )  # fmt: skip
    return ids


def _fill(body: dict[str, Any], names: dict[str, Any]) -> dict[str, Any]:
    return {k: v.format(**names) if isinstance(v, str) else v for k, v in body.items()}


def _call(world: World, row: Row, who: str, names: dict[str, Any]) -> Any:
    url = row.url.format(**names)
    body = _fill(row.body or {}, names)
    client = world.clients[who]
    if row.form:
        headers = {"Accept": "application/json"} if url == "/crew/actions" else {}
        if row.method == "GET":
            return client.get(url, follow_redirects=False)
        if url == "/crew/actions":
            headers["X-CSRF-Token"] = world.csrf.get(who, "")
            return client.post(url, json=body, headers=headers, follow_redirects=False)
        data = {**body, "csrf_token": world.csrf.get(who, "")}
        return client.post(url, data=data, headers=headers, follow_redirects=False)
    headers = {"Authorization": f"Bearer {world.tokens[who]}"} if who in world.tokens else {}
    if row.method == "GET":
        return client.get(url, headers=headers, follow_redirects=False)
    return client.post(url, json=body, headers=headers, follow_redirects=False)


@pytest.mark.parametrize(("name", "who", "expected"), list(_cases()))
def test_role_matrix(world: World, name: str, who: str, expected: int) -> None:
    row = ROWS[name]
    ids = world.work_orders
    names: dict[str, Any] = {**ids, **plans(world.store, ids["wo"], ids["wo2"])}
    names["crew"] = {"crew": "pothole-1", "other_crew": "pothole-2"}.get(who, "pothole-1")
    names["key"] = uuid.uuid4().hex
    if "{toggle}" in str(row.body):
        wo = work_order_repo.get_work_order(world.store, int(row.url.split("/")[2].format(**names)))
        names["toggle"] = "in_progress" if wo.status == "scheduled" else "scheduled"
    response = _call(world, row, who, names)
    assert response.status_code == expected, response.text[-600:]
    if expected == LOGIN:
        assert response.headers["location"].startswith("/login?next=/")
