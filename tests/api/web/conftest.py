"""Fixtures of the staff-page tests: an app over the real store and signed-in browsers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from geo311.db.store import Store
from geo311.staff import users
from tests.api.conftest import make_settings

PASSWORD = "a long test password"
# username -> role of every test user
ROLES = {
    "dina": "dispatcher",
    "pete": "planner",
    "ada": "admin",
    "crewa": "crew:A",
    "crewb": "crew:B",
}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no csrf_token field on the page"
    return found.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD, next_path: str = ""):
    page = client.get("/login")
    assert page.status_code == 200, page.text
    return client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf_of(page.text),
            "next": next_path,
        },
        follow_redirects=False,
    )


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with small parameters: the tests sign in often on a shared 2-core machine."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=8192))


@pytest.fixture()
def web_store(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    for name, role in ROLES.items():
        users.create_user(s, name, role=role, password=PASSWORD, display_name=name.title())
    try:
        yield s
    finally:
        s.close()


@pytest.fixture()
def web_app(web_store: Store, store_url: str, tmp_path: Path):
    settings = make_settings(store_url, media_dir=tmp_path / "media", max_media_bytes=300_000)
    return create_app(settings, store=web_store)


@pytest.fixture()
def browser(web_app) -> Callable[[str | None], TestClient]:
    """Return a function giving a fresh client, signed in as the username given (or not)."""
    opened: list[TestClient] = []

    def make(username: str | None = None) -> TestClient:
        client = TestClient(web_app, raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        if username is not None:
            response = login(client, username)
            assert response.status_code == 303, response.text
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)
