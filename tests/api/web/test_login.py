"""Sign-in, sessions, rate limiting, CSRF and the per-user API tokens."""

from __future__ import annotations

import sqlalchemy as sa

from geo311.db.store import Store
from geo311.staff import store as auth_store
from geo311.staff import users
from tests.api.conftest import auth
from tests.api.web.conftest import PASSWORD, csrf_of, login


def test_login_sets_a_safe_session_cookie_and_logout_ends_it(browser, web_store: Store) -> None:
    client = browser()
    response = login(client, "ada")
    assert response.status_code == 303 and response.headers["location"] == "/admin/users"
    cookie = response.headers["set-cookie"]
    assert "geo311_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http in the test; https gets Secure
    page = client.get("/admin/users")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    home = client.get("/login", follow_redirects=False)
    assert home.status_code == 302 and home.headers["location"] == "/admin/users"

    token = csrf_of(client.get("/login?next=/admin/audit", follow_redirects=True).text)
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    with web_store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM sessions")).scalar() == 0
    again = client.get("/admin/audit", follow_redirects=False)
    assert again.status_code == 302 and again.headers["location"].startswith("/login")
    actions = [r["action"] for r in auth_store.audit_rows(web_store)]
    assert actions[:2] == ["logout", "login"]


def test_https_cookie_is_secure(web_app) -> None:
    from fastapi.testclient import TestClient

    with TestClient(web_app, base_url="https://testserver") as client:
        response = login(client, "ada")
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


def test_wrong_password_and_unknown_user_look_the_same(browser) -> None:
    client = browser()
    wrong = login(client, "dina", "not the password")
    unknown = login(client, "nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "The username or password is wrong." in wrong.text
    assert "The username or password is wrong." in unknown.text
    assert 'value="dina"' in wrong.text  # what was typed stays
    assert "not the password" not in wrong.text


def test_five_failures_lock_the_username_with_429(browser, web_store: Store) -> None:
    client = browser()
    for _ in range(5):
        assert login(client, "pete", "wrong password!").status_code == 401
    locked = login(client, "pete")  # even the right password
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.text and "15 minutes" in locked.text
    assert login(client, "dina").status_code == 303  # other users are not locked out
    # unknown usernames are counted the same way (no enumeration through the lock either)
    client = browser()
    for _ in range(5):
        login(client, "ghost", "wrong password!")
    assert login(client, "ghost", "wrong password!").status_code == 429


def test_twenty_failures_from_one_address_lock_it(browser) -> None:
    client = browser()
    for i in range(20):
        assert login(client, f"guess{i}", "wrong password!").status_code == 401
    assert login(client, "dina").status_code == 429


def test_missing_login_csrf_is_403(browser) -> None:
    client = browser()
    client.get("/login")
    response = client.post("/login", data={"username": "dina", "password": PASSWORD})
    assert response.status_code == 403
    assert "security token" in response.text


def test_next_returns_to_the_page_only_when_local(browser) -> None:
    client = browser()
    first = client.get("/admin/audit?page=1", follow_redirects=False)
    assert first.status_code == 302
    assert first.headers["location"] == "/login?next=/admin/audit?page=1"
    response = login(client, "ada", next_path="/admin/audit?page=1")
    assert response.headers["location"] == "/admin/audit?page=1"
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        other = browser()
        response = login(other, "ada", next_path=evil)
        assert response.status_code == 303 and response.headers["location"] == "/admin/users"


def test_expired_session_goes_back_to_the_page_after_login(browser, web_store: Store) -> None:
    client = browser("ada")
    assert client.get("/admin/audit", follow_redirects=False).status_code == 200
    with web_store.begin() as conn:
        conn.execute(sa.text("UPDATE sessions SET expires_at = created_at"))
    response = client.get("/admin/audit?page=2", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "/login?next=/admin/audit?page=2"
    page = client.get(response.headers["location"])
    assert 'name="next" value="/admin/audit?page=2"' in page.text


def test_state_changes_without_csrf_are_403(browser, web_store: Store) -> None:
    client = browser("ada")
    add = {"username": "newbie", "role": "planner", "password": PASSWORD}
    assert client.post("/admin/users", data=add).status_code == 403
    assert client.post("/admin/users", data={**add, "csrf_token": "forged"}).status_code == 403
    assert client.post("/admin/users/pete/disable").status_code == 403
    assert client.post("/logout").status_code == 403
    assert auth_store.user_by_username(web_store, "newbie") is None
    assert users.find_user(web_store, "pete").active
    # the header works as well as the form field
    token = csrf_of(client.get("/admin/users").text)
    response = client.post(
        "/admin/users/pete/disable", headers={"X-CSRF-Token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    assert not users.find_user(web_store, "pete").active


def test_user_api_tokens_work_as_bearer_tokens(browser, web_store: Store) -> None:
    client = browser()
    planner = users.issue_token(web_store, "pete")
    crew = users.issue_token(web_store, "crewa")
    assert client.get("/metrics", headers=auth(planner)).status_code == 200
    assert (
        client.post("/plans", json={"at": "2015-10-06T07:00"}, headers=auth(planner)).status_code
        == 403
    )
    assert client.get("/metrics", headers=auth(crew)).status_code == 403
    assert client.get("/metrics", headers=auth("plan-token")).status_code == 200  # settings
    assert client.get("/metrics", headers=auth(planner + "x")).status_code == 401
    users.set_active(web_store, "pete", active=False)
    assert client.get("/metrics", headers=auth(planner)).status_code == 401
