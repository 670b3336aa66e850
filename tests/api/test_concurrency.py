"""2,000 POSTs from 50 concurrent clients against a real uvicorn on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import math
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from geo311.db.store import Store
from geo311.requests import repo as request_repo
from geo311.workorders import repo as work_order_repo

API_KEY = "concurrency-key"
CLUSTERS = 40
PER_CLUSTER = 50
CLIENTS = 50
RETRIED = 100


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(postgres_module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    postgres_url = postgres_module_url
    # Migrate once before the workers start, so that the test measures requests, not two
    # workers' first start (that race is covered by tests/geo311/db/test_store.py).
    Store(postgres_url).close()
    tmp_path = tmp_path_factory.mktemp("uvicorn")
    port = _free_port()
    env = dict(
        os.environ,
        GEO311_DATABASE_URL=postgres_url,
        GEO311_API_KEYS=json.dumps([API_KEY]),
        # One client posting for 50: a relay, exempt from the per-address report limit.
        GEO311_REPORT_LIMIT_IP_EXEMPT_KEYS=json.dumps([API_KEY]),
        GEO311_STAFF_TOKENS="{}",
    )
    geo311 = Path(sys.executable).with_name("geo311")
    log = (tmp_path / "uvicorn.log").open("w")
    proc = subprocess.Popen(
        [str(geo311), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # start-up on a loaded 2-core machine
        while True:
            try:
                if httpx.get(f"{base}/open311/v2/discovery.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"uvicorn did not start: {(tmp_path / 'uvicorn.log').read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _point(cluster: int, i: int) -> tuple[float, float]:
    # Cluster centres 300 m apart on a grid in Back Bay; members within ~3 m of the centre.
    row, col = divmod(cluster, 8)
    lat = 42.340 + row * 0.0027
    lon = -71.100 + col * 0.0037
    angle = 2 * math.pi * i / PER_CLUSTER
    return lat + 0.00002 * math.sin(angle), lon + 0.00002 * math.cos(angle)


async def _post(client: httpx.AsyncClient, *, data: dict[str, str], key: str) -> httpx.Response:
    """POST as a phone app does: a connection the server closed is retried with the same key."""
    for attempt in range(3):
        try:
            return await client.post(
                "/open311/v2/requests.json", data=data, headers={"Idempotency-Key": key}
            )
        except (httpx.ReadError, httpx.RemoteProtocolError):  # a kept-alive connection closed
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _post_all(base: str) -> list[tuple[int, str, dict]]:
    jobs = [(c, i) for i in range(PER_CLUSTER) for c in range(CLUSTERS)]
    # The first RETRIED reports are sent twice with the same Idempotency-Key (a client retry).
    jobs += jobs[:RETRIED]
    sem = asyncio.Semaphore(CLIENTS)
    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def one(c: int, i: int) -> tuple[int, str, dict]:
            lat, lon = _point(c, i)
            async with sem:
                resp = await _post(
                    client,
                    data={
                        "api_key": API_KEY,
                        "service_code": "pothole",
                        "lat": f"{lat:.7f}",
                        "long": f"{lon:.7f}",
                        "description": f"cluster {c} report {i}",
                    },
                    key=f"c{c}-r{i}",
                )
            assert resp.status_code == 200, resp.text
            return c, f"c{c}-r{i}", resp.json()[0]

        return await asyncio.gather(*(one(c, i) for c, i in jobs))


@pytest.fixture(scope="module")
def posted(server: str, postgres_module_url: str) -> tuple[list[tuple[int, str, dict]], list, list]:
    t0 = time.perf_counter()
    results = asyncio.run(_post_all(server))
    elapsed = time.perf_counter() - t0
    print(f"\n{len(results)} POSTs from {CLIENTS} clients in {elapsed:.1f} s")
    store = Store(postgres_module_url, create=False)
    try:
        return results, request_repo.query_requests(store), work_order_repo.query_work_orders(store)
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_2000_concurrent_posts_none_lost_or_doubled(posted: tuple) -> None:
    results, stored, _orders = posted
    assert len(results) == CLUSTERS * PER_CLUSTER + RETRIED
    by_key: dict[str, set[str]] = {}
    for _c, key, body in results:
        by_key.setdefault(key, set()).add(body["service_request_id"])
    assert len(by_key) == CLUSTERS * PER_CLUSTER
    assert all(len(ids) == 1 for ids in by_key.values()), "a retry created a second request"
    assert len(stored) == CLUSTERS * PER_CLUSTER
    assert {r.service_request_id for r in stored} == {next(iter(ids)) for ids in by_key.values()}
    assert all(r.work_order_id is not None for r in stored)


@pytest.mark.slow
@pytest.mark.postgres
def test_concurrent_duplicates_merge_into_one_work_order_per_place(posted: tuple) -> None:
    results, stored, orders = posted
    wo_of_cluster: dict[int, set[int | None]] = {}
    for r in stored:
        cluster = int(r.description.split()[1])
        wo_of_cluster.setdefault(cluster, set()).add(r.work_order_id)
    split = {c: w for c, w in wo_of_cluster.items() if len(w) != 1}
    assert not split, f"{len(split)} of {CLUSTERS} places split over several work orders"
    assert len({next(iter(w)) for w in wo_of_cluster.values()}) == CLUSTERS
    assert len(orders) == CLUSTERS
    assert Counter(wo.report_count for wo in orders) == Counter({PER_CLUSTER: CLUSTERS})
    joined = sum("Joined work order" in body["service_notice"] for _c, _k, body in results)
    assert joined >= CLUSTERS * (PER_CLUSTER - 1)
