"""The sign-in limit under concurrency, behind proxies and with odd client addresses."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.app import create_app
from geo311.db.store import Store
from geo311.settings import Settings
from geo311.staff import users
from tests.api.conftest import make_settings
from tests.api.web.conftest import PASSWORD, csrf_of

PARALLEL = 30


def _together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released at the same moment; return the results."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # reported below, with the thread's error
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    return results


def _attempts(store: Store) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT username, ip FROM login_attempts"))
        return [(r[0], r[1]) for r in rows]


def test_parallel_wrong_passwords_check_exactly_the_limit(web_store: Store) -> None:
    results = _together(
        PARALLEL,
        lambda i: users.sign_in(web_store, "pete", f"wrong password {i}", address="192.0.2.7"),
    )
    assert Counter(results) == {
        "wrong": users.MAX_FAILURES_PER_USERNAME,
        "locked": PARALLEL - users.MAX_FAILURES_PER_USERNAME,
    }
    # the refused attempts left no row: the lock is the checked failures' window
    assert len(_attempts(web_store)) == users.MAX_FAILURES_PER_USERNAME
    assert users.sign_in(web_store, "pete", PASSWORD, address="192.0.2.7") == "locked"


def test_parallel_wrong_passwords_through_the_page_give_401_then_429(browser) -> None:
    client = browser()
    token = csrf_of(client.get("/login").text)

    def post(i: int) -> int:
        form = {"username": "dina", "password": f"wrong {i}", "csrf_token": token}
        return client.post("/login", data=form, follow_redirects=False).status_code

    statuses = Counter(_together(PARALLEL, post))
    limit = users.MAX_FAILURES_PER_USERNAME
    assert statuses == {401: limit, 429: PARALLEL - limit}


def test_parallel_attempts_from_one_address_check_exactly_its_limit(web_store: Store) -> None:
    results = _together(
        PARALLEL,
        lambda i: users.sign_in(web_store, f"guess{i}", "wrong password", address="192.0.2.8"),
    )
    limit = users.MAX_FAILURES_PER_ADDRESS
    assert Counter(results) == {"wrong": limit, "locked": PARALLEL - limit}


def test_a_success_forgets_the_failures_and_is_not_counted(web_store: Store) -> None:
    for _ in range(users.MAX_FAILURES_PER_USERNAME - 1):
        assert users.sign_in(web_store, "ada", "wrong password", address="192.0.2.9") == "wrong"
    user = users.sign_in(web_store, "ada", PASSWORD, address="192.0.2.9")
    assert isinstance(user, users.User) and user.username == "ada"
    assert _attempts(web_store) == []


def test_an_address_longer_than_the_column_is_counted_not_a_crash(web_store: Store) -> None:
    odd = "203.0.113.1, " * 30 + "x" * 200  # what a misbehaving proxy may forward
    for _ in range(users.MAX_FAILURES_PER_USERNAME):
        assert users.sign_in(web_store, "pete", "wrong password", address=odd) == "wrong"
    assert users.sign_in(web_store, "pete", "wrong password", address=odd) == "locked"
    rows = _attempts(web_store)
    assert len(rows) == users.MAX_FAILURES_PER_USERNAME
    assert {len(ip) for _, ip in rows} == {users.ADDRESS_LENGTH}


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("", "unknown"),
        (None, "unknown"),
        ("testclient", "testclient"),
        ("a\x00b" + "c" * 100, "ab" + "c" * 62),
    ],
)
def test_login_address_keys(host: str | None, key: str) -> None:
    assert users.login_address(host) == key


def _proxied_client(web_store: Store, store_url: str, tmp_path: Path, peer: str) -> TestClient:
    settings = make_settings(
        store_url, media_dir=tmp_path / "media", trusted_proxies=["10.0.0.0/8"]
    )
    return TestClient(
        create_app(settings, store=web_store), raise_server_exceptions=False, client=(peer, 4321)
    )


def _login_from(client: TestClient, forwarded: str, username: str, password: str) -> int:
    token = csrf_of(client.get("/login").text)
    form = {"username": username, "password": password, "csrf_token": token}
    headers = {"X-Forwarded-For": forwarded}
    return client.post("/login", data=form, headers=headers, follow_redirects=False).status_code


def test_x_forwarded_for_is_believed_from_a_trusted_proxy_only(
    web_store: Store, store_url: str, tmp_path: Path
) -> None:
    limit = users.MAX_FAILURES_PER_ADDRESS
    with _proxied_client(web_store, store_url, tmp_path, "10.1.2.3") as proxy:
        for i in range(limit):
            # a client's forged first hop is ignored: the proxy's own (rightmost) entry counts
            forged = f"198.51.100.{i}, 203.0.113.5"
            assert _login_from(proxy, forged, f"guess{i}", "wrong password") == 401
        assert _login_from(proxy, "203.0.113.5", "dina", PASSWORD) == 429
        # another client behind the same proxy is not locked out
        assert _login_from(proxy, "203.0.113.6", "dina", PASSWORD) == 303
    assert {ip for _, ip in _attempts(web_store)} == {"203.0.113.5"}
    with _proxied_client(web_store, store_url, tmp_path, "192.0.2.50") as direct:
        # from a connection that is not a trusted proxy, X-Forwarded-For is ignored
        for i in range(limit):
            assert _login_from(direct, f"203.0.113.{100 + i}", f"g{i}", "wrong password") == 401
        assert _login_from(direct, "203.0.113.200", "dina", PASSWORD) == 429
    assert "192.0.2.50" in {ip for _, ip in _attempts(web_store)}


def test_a_long_forwarded_address_is_a_401_not_a_500(
    web_store: Store, store_url: str, tmp_path: Path
) -> None:
    with _proxied_client(web_store, store_url, tmp_path, "10.9.9.9") as proxy:
        status = _login_from(proxy, "y" * 300, "pete", "wrong password")
    assert status == 401
    assert _attempts(web_store) == [("pete", "y" * users.ADDRESS_LENGTH)]


def test_trusted_proxies_setting_reads_a_list_and_names_a_bad_entry() -> None:
    assert Settings(trusted_proxies="127.0.0.1, 10.0.0.1/8").trusted_proxies == [
        "127.0.0.1",
        "10.0.0.0/8",
    ]
    with pytest.raises(ValidationError, match="trusted_proxies: 'proxy.local'"):
        Settings(trusted_proxies="127.0.0.1,proxy.local")


def test_x_forwarded_proto_makes_the_cookie_secure_from_a_trusted_proxy_only(
    web_store: Store, store_url: str, tmp_path: Path
) -> None:
    def cookie_via(peer: str) -> str:
        with _proxied_client(web_store, store_url, tmp_path, peer) as client:
            token = csrf_of(client.get("/login").text)
            form = {"username": "ada", "password": PASSWORD, "csrf_token": token}
            headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
            resp = client.post("/login", data=form, headers=headers, follow_redirects=False)
            assert resp.status_code == 303
            return resp.headers["set-cookie"]

    assert "Secure" in cookie_via("10.0.0.7")  # the TLS proxy in front says https
    assert "Secure" not in cookie_via("192.0.2.60")  # anyone else's header is ignored
