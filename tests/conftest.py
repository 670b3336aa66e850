"""Shared fixtures: the catalogue, settings, and stores on SQLite and on the local PostgreSQL.

PostgreSQL is reached at ``GEO311_TEST_POSTGRES_URL`` (default: the local server's ``test``
database). Each test gets its own schema there, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from geo311.city.catalogue import Catalogue, load_catalogue
from geo311.db.store import Store
from geo311.settings import REPO_DATA_DIR, Settings

DATA_DIR = REPO_DATA_DIR
POSTGRES_URL = os.environ.get(
    "GEO311_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue(DATA_DIR / "services.toml")


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'geo311.db'}", data_dir=DATA_DIR)


def _postgres_schema_url() -> Iterator[str]:
    engine = sa.create_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # pragma: no cover - only when the server is down
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc}); start it with "
            "pg_ctlcluster --skip-systemctl-redirect 15 main start (see .ci/run)"
        )
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    """A URL to a fresh, empty PostgreSQL schema of its own (dropped afterwards)."""
    yield from _postgres_schema_url()


@pytest.fixture(scope="module")
def postgres_module_url() -> Iterator[str]:
    """A URL to a fresh PostgreSQL schema shared by one test module (dropped afterwards)."""
    yield from _postgres_schema_url()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test runs on SQLite and on the real local PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield from _postgres_schema_url()


@pytest.fixture()
def store(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """The system Chromium, headless, for one test module (see ``tests/_browser.py``)."""
    from tests._browser import launch_chromium

    with launch_chromium() as browser:
        yield browser
