"""GET requests under load: coalesced rounds and reused pages never answer older data.

The coalescer is driven with a computation that blocks until the test releases it; the page
cache and its change check run on the real store (SQLite and PostgreSQL).
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.open311.coalesce import Coalescer
from api.open311.list_cache import PageCache, moved_spans
from api.open311.service import RequestQuery
from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.requests import repo as request_repo
from geo311.requests.read import read_state
from tests.api.conftest import seed_request

P = "/open311/v2"


class Gate:
    """A computation that counts its runs and blocks each until released."""

    def __init__(self) -> None:
        self.runs = 0
        self.release = threading.Semaphore(0)
        self.started = threading.Semaphore(0)

    def __call__(self) -> int:
        self.runs += 1
        run = self.runs
        self.started.release()
        self.release.acquire(timeout=10)
        if run == 99:
            raise RuntimeError("boom")
        return run


async def _started(gate: Gate) -> None:
    await asyncio.to_thread(gate.started.acquire, True, 10)


def test_requests_arriving_during_a_round_share_the_next_one() -> None:
    async def scenario() -> None:
        rounds: Coalescer[int] = Coalescer()
        gate = Gate()
        first = asyncio.create_task(rounds.run("k", gate))
        await _started(gate)
        late = [asyncio.create_task(rounds.run("k", gate)) for _ in range(10)]
        await asyncio.sleep(0.05)
        assert gate.runs == 1  # the late ones wait: round 1 may have read before they came
        gate.release.release()
        assert await first == 1
        await _started(gate)
        gate.release.release()
        assert [await t for t in late] == [2] * 10
        assert gate.runs == 2 and rounds.rounds == 2

    asyncio.run(scenario())


def test_other_keys_run_alone_and_errors_reach_every_waiter() -> None:
    async def scenario() -> None:
        rounds: Coalescer[int] = Coalescer()
        gate = Gate()
        gate.runs = 98  # the next run raises
        a = asyncio.create_task(rounds.run("a", gate))
        await _started(gate)
        b = asyncio.create_task(rounds.run("b", gate))
        await _started(gate)  # "b" does not wait for "a"
        waiting = [asyncio.create_task(rounds.run("a", gate)) for _ in range(3)]
        gate.release.release()
        gate.release.release()
        results = await asyncio.gather(a, b, return_exceptions=True)
        assert sorted(map(str, results)) == ["100", "boom"]
        await _started(gate)
        gate.release.release()
        assert [await t for t in waiting] == [101] * 3  # a failed round is not reused

    asyncio.run(scenario())


def test_a_waiter_that_goes_away_does_not_cancel_the_round_of_the_others() -> None:
    async def scenario() -> None:
        rounds: Coalescer[int] = Coalescer()
        gate = Gate()
        first = asyncio.create_task(rounds.run("k", gate))
        await _started(gate)
        quitter = asyncio.create_task(rounds.run("k", gate))
        stayer = asyncio.create_task(rounds.run("k", gate))
        await asyncio.sleep(0.01)
        quitter.cancel()
        gate.release.release()
        await first
        await _started(gate)
        gate.release.release()
        assert await stayer == 2

    asyncio.run(scenario())


def _query(start: datetime | None, end: datetime | None, **other: object) -> RequestQuery:
    values: dict[str, object] = {
        "ids": None,
        "service_codes": None,
        "statuses": None,
        "start": start,
        "end": end,
        "limit": 1000,
        "offset": 0,
    }
    values.update(other)
    return RequestQuery(**values)  # type: ignore[arg-type]


def test_moved_spans_are_the_slices_between_two_windows() -> None:
    t = datetime(2026, 5, 1, tzinfo=UTC)
    s = timedelta(seconds=3)
    old, new = _query(t - timedelta(days=90), t), _query(t - timedelta(days=90) + s, t + s)
    assert moved_spans(old, new) == [
        (t - timedelta(days=90), t - timedelta(days=90) + s),
        (t, t + s),
    ]
    assert moved_spans(old, old) == []
    assert moved_spans(old, _query(old.start, old.end, offset=1000)) is None
    assert moved_spans(old, _query(None, None, ids=["A"])) is None


def test_read_state_finds_requests_in_spans_and_marks_writes(
    store: Store, catalogue: Catalogue
) -> None:
    req = seed_request(store, catalogue, "S1", days_ago=3)
    t = req.requested_datetime
    before = read_state(store, [(t, t + timedelta(seconds=1))])
    if store.dialect != "postgresql":
        assert before.marker is None and before.requested_in_spans  # nothing is reused
        return
    assert before.requested_in_spans
    assert not read_state(
        store, [(t + timedelta(seconds=1), t + timedelta(days=1))]
    ).requested_in_spans
    assert not read_state(store).requested_in_spans
    seed_request(store, catalogue, "S2")
    assert read_state(store).marker != before.marker


def test_a_write_or_a_moved_window_is_never_answered_from_a_kept_page(
    client: TestClient, api_store: Store, catalogue: Catalogue
) -> None:
    seed_request(api_store, catalogue, "K1", days_ago=2)
    # Requested 1.5 s from now: outside the default window (it ends now) until then.
    seed_request(api_store, catalogue, "K2", days_ago=-1.5 / 86400)
    ids = [r["service_request_id"] for r in client.get(f"{P}/requests.json").json()]
    assert ids == ["K1"]
    time.sleep(1.6)
    ids = [r["service_request_id"] for r in client.get(f"{P}/requests.json").json()]
    assert ids == ["K2", "K1"]  # no write since: only the moved window tells
    seed_request(api_store, catalogue, "K3", days_ago=1)
    ids = [r["service_request_id"] for r in client.get(f"{P}/requests.json").json()]
    assert ids == ["K2", "K3", "K1"]
    xml = client.get(f"{P}/requests.xml").content
    assert xml.count(b"<request>") == 3 and b"K3" in xml


@pytest.mark.postgres
def test_an_unchanged_page_is_reused_on_postgresql(postgres_url: str) -> None:
    from api.app import create_app
    from tests.api.conftest import make_settings

    store = Store(postgres_url)
    try:
        app = create_app(make_settings(postgres_url), store=store)
        with TestClient(app) as client:
            first = client.get(f"{P}/requests.json?start_date=2026-01-01T00:00:00Z")
            pages: PageCache = app.state.open311_list_reads[1]
            # Another writer on the same server (other tests) changes the marker: retry.
            for _ in range(20):
                again = client.get(f"{P}/requests.json?start_date=2026-01-01T00:00:00Z")
                assert again.content == first.content
                if pages.reused:
                    break
            assert pages.reused >= 1
    finally:
        store.close()


def test_the_page_digest_changes_with_the_page_only(store: Store, catalogue: Catalogue) -> None:
    from api.open311.service import OUT_COLUMNS
    from geo311.requests.read import page_digest, page_rows
    from geo311.requests.repo import RequestFilters

    for i in range(3):
        seed_request(store, catalogue, f"D{i}", days_ago=i + 1)
    seed_request(store, catalogue, "OLD", days_ago=200)
    now = datetime.now(UTC)
    window = RequestFilters(start=now - timedelta(days=90), end=now, limit=1000, offset=0)
    rows, digest = page_rows(store, OUT_COLUMNS, window)
    assert [r[0] for r in rows] == ["D0", "D1", "D2"]
    if store.dialect != "postgresql":
        assert digest is None and page_digest(store, OUT_COLUMNS, window) is None
        return
    assert page_digest(store, OUT_COLUMNS, window) == digest
    request_repo.update_request_fields(store, "OLD", status_notes="not on the page")
    assert page_digest(store, OUT_COLUMNS, window) == digest
    request_repo.update_request_fields(store, "D1", status_notes="Fixed")
    changed = page_digest(store, OUT_COLUMNS, window)
    assert changed != digest and page_rows(store, OUT_COLUMNS, window)[1] == changed
    request_repo.update_request_fields(store, "D2", lat=42.3505000001)
    assert page_digest(store, OUT_COLUMNS, window) != changed


def test_a_changed_row_is_shown_after_writes_elsewhere(
    client: TestClient, api_store: Store, catalogue: Catalogue
) -> None:
    seed_request(api_store, catalogue, "E1", days_ago=2)
    first = client.get(f"{P}/requests.json").json()
    seed_request(api_store, catalogue, "ELSEWHERE", days_ago=300)  # outside the window
    assert client.get(f"{P}/requests.json").json() == first
    request_repo.update_request_fields(api_store, "E1", status_notes="Patched today")
    again = client.get(f"{P}/requests.json").json()
    assert again[0]["status_notes"] == "Patched today"
