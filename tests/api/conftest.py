"""Fixtures of the API tests: an app over the real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.model import ServiceRequest
from geo311.requests import repo as request_repo
from geo311.settings import REPO_DATA_DIR, Settings

API_KEY = "test-key-1"
TOKENS = {
    "disp-token": "dispatcher",
    "plan-token": "planner",
    "crew-a-token": "crew:A",
    "crew-b-token": "crew:B",
}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_settings(url: str, **extra: object) -> Settings:
    values: dict[str, object] = {
        "database_url": url,
        "data_dir": REPO_DATA_DIR,
        "api_keys": [API_KEY],
        "staff_tokens": TOKENS,
        "max_request_bytes": 64_000,
    }
    values.update(extra)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture()
def api_store(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture()
def client(api_store: Store, store_url: str) -> Iterator[TestClient]:
    app = create_app(make_settings(store_url), store=api_store)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture()
def api_key() -> str:
    """An Open311 api_key the test app accepts."""
    return API_KEY


@pytest.fixture()
def api_settings(store_url: str) -> Settings:
    """Settings of the test app over ``store_url`` (keys, staff tokens, a small body limit)."""
    return make_settings(store_url)


Seed = Callable[..., ServiceRequest]


@pytest.fixture()
def seed(api_store: Store, catalogue: Catalogue) -> Seed:
    """Store a request ``seed(rid, code=..., status=..., days_ago=...)`` (see seed_request)."""

    def _seed(rid: str, **options: object) -> ServiceRequest:
        return seed_request(api_store, catalogue, rid, **options)  # type: ignore[arg-type]

    return _seed


def seed_request(
    store: Store,
    catalogue: Catalogue,
    rid: str,
    *,
    code: str = "pothole",
    status: str = "open",
    days_ago: float = 1.0,
    lat: float = 42.3505,
    lon: float = -71.0810,
    notes: str = "",
) -> ServiceRequest:
    now = datetime.now(UTC) - timedelta(days=days_ago)
    req = ServiceRequest(
        service_request_id=rid,
        service_code=code,
        service_name=catalogue.service(code).name,
        status=status,
        status_notes=notes,
        requested_datetime=now,
        updated_datetime=now,
        expected_datetime=now + catalogue.service(code).sla,
        sla_target_datetime=now + catalogue.service(code).sla,
        source="boston",
        source_id=rid,
        description=f"report {rid}",
        address="145 Ipswich St",
        zipcode="02215",
        lat=lat,
        long=lon,
    )
    return request_repo.add_request(store, req)
