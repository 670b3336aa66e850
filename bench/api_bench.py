"""Latency and throughput of the Open311 API on loopback with a large store.

Generates N stored requests (default 100,000, spread over the last 365 days) in a fresh
PostgreSQL schema, starts a real uvicorn on 127.0.0.1 and measures p50/p99 latency and
requests/s of ``GET /open311/v2/requests.json`` (1 client, then 50 concurrent clients) and of
``POST /open311/v2/requests.json`` at 50 concurrent clients. Baseline in the same run:
``GET /open311/v2/discovery.json`` (no database work) at the same concurrency.

With ``--baseline-ref REF`` (e.g. ``HEAD~3``) the ``api`` package of that git revision is
exported to a temporary folder and served by a second uvicorn over the same database; every
GET measurement then alternates between the two servers in rounds, so both see the same
machine load, and prints the baseline's numbers next to the current code's.

    .venv/bin/python bench/api_bench.py [--requests 100000] [--count 1000] [--baseline-ref REF]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

from geo311.model import ServiceRequest
from geo311.store import Store, request_to_row

PG = os.environ.get("GEO311_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
KEY = "bench-key"
D = "/open311/v2/discovery.json"
R = "/open311/v2/requests.json"
R50 = "/open311/v2/requests.json?page_size=50"
CODES = ["pothole", "streetlight_outage", "general_lighting", "streetlight_knockdown"]


def generate(store: Store, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        t = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
        code = rng.choice(CODES)
        closed = rng.random() < 0.7
        req = ServiceRequest(
            service_request_id=f"B{i:08d}",
            service_code=code,
            service_name=code,
            status="fixed" if closed else "open",
            status_notes="Repaired by crew" if closed else "",
            requested_datetime=t,
            updated_datetime=t,
            expected_datetime=t + timedelta(days=2),
            source="bench",
            source_id=str(i),
            description=f"bench report {i}",
            address=f"{rng.randint(1, 400)} Boylston St",
            zipcode="02116",
            lat=42.34 + rng.random() * 0.03,
            long=-71.10 + rng.random() * 0.04,
        )
        rows.append(request_to_row(req))
        if len(rows) == 10_000:
            with store.begin() as conn:
                store.insert_request_rows(conn, rows)
            rows = []
    if rows:
        with store.begin() as conn:
            store.insert_request_rows(conn, rows)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(
    base: str,
    method: str,
    path: str,
    count: int,
    clients: int,
    headers: dict[str, str] | None = None,
) -> tuple[list[float], float]:
    sem = asyncio.Semaphore(clients)
    lat: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:

        async def one(i: int) -> None:
            async with sem:
                t = time.perf_counter()
                if method == "GET":
                    r = await client.get(path, headers=headers)
                else:
                    r = await client.post(
                        path,
                        data={
                            "api_key": KEY,
                            "service_code": "pothole",
                            "lat": f"{42.34 + (i % 97) * 0.0003:.6f}",
                            "long": f"{-71.09 + (i // 97) * 0.0003:.6f}",
                            "description": "bench post",
                        },
                    )
                lat.append((time.perf_counter() - t) * 1000)
                assert r.status_code in ((200, 304) if headers else (200,)), r.text[:300]

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return lat, time.perf_counter() - t0


def report(name: str, lat: list[float], wall: float) -> None:
    q = statistics.quantiles(lat, n=100)
    print(
        f"{name:<58} n={len(lat):>5}  p50={q[49]:7.1f} ms  p99={q[98]:7.1f} ms  {len(lat) / wall:7.1f} req/s"
    )


def export_api(ref: str, dest: Path) -> None:
    """Write the ``api`` package of git revision ``ref`` into ``dest`` (read-only git use)."""
    repo = Path(__file__).resolve().parent.parent
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", ref, "api"],
        check=True,
        capture_output=True,
    ).stdout
    tar = dest / "api.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(dest, filter="data")


def start_server(url: str, *, pythonpath: str | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``geo311 serve`` on a free loopback port; return the process and its base URL."""
    port = free_port()
    env = dict(os.environ, GEO311_DATABASE_URL=url, GEO311_API_KEYS=json.dumps([KEY]))
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    # What ``geo311 serve`` runs, without the CLI: its entry points come from the installed
    # distribution, which may be another tree than the one measured.
    args = ["-m", "uvicorn", "api.app:create_app", "--factory", "--log-level", "warning"]
    proc = subprocess.Popen(
        [sys.executable, *args, "--host", "127.0.0.1", "--port", str(port)], env=env
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/open311/v2/discovery.json", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    return proc, base


def compare(
    names: Sequence[str],
    bases: Sequence[str],
    label: str,
    path: str,
    count: int,
    clients: int,
    *,
    revalidate: bool = False,
) -> None:
    """Measure ``GET path`` on each server, alternating in 4 rounds; report each.

    With ``revalidate`` every request sends ``If-None-Match`` with the ETag the server gave
    for the page (a polling client); a server without ETags answers the full page.
    """
    tags = {
        b: {"If-None-Match": httpx.get(f"{b}{path}").headers.get("etag", "none")} for b in bases
    }
    lat: dict[str, list[float]] = {b: [] for b in bases}
    wall = dict.fromkeys(bases, 0.0)
    rounds = 4
    for r in range(rounds):
        order = bases if r % 2 == 0 else list(reversed(bases))
        for b in order:
            got, w = asyncio.run(
                run(
                    b,
                    "GET",
                    path,
                    max(count // rounds, 1),
                    clients,
                    tags[b] if revalidate else None,
                )
            )
            lat[b].extend(got)
            wall[b] += w
    for name, b in zip(names, bases, strict=True):
        report(f"{label} [{name}]" if len(bases) > 1 else label, lat[b], wall[b])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=100_000, help="stored requests to generate")
    ap.add_argument("--count", type=int, default=1000, help="HTTP requests per measurement")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument(
        "--baseline-ref",
        default=None,
        help="git revision whose api package is served as the same-run baseline",
    )
    args = ap.parse_args()

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG}{'&' if '?' in PG else '?'}options=-csearch_path%3D{schema}"
    procs: list[subprocess.Popen[bytes]] = []
    tmp = tempfile.TemporaryDirectory(prefix="api_bench_")
    try:
        store = Store(url)
        t = time.perf_counter()
        generate(store, args.requests)
        with store.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
        print(
            f"generated {store.count_requests():,} stored requests in {time.perf_counter() - t:.1f} s"
        )
        store.close()
        names, bases = ["current"], []
        proc, base = start_server(url)
        procs.append(proc)
        bases.append(base)
        if args.baseline_ref:
            export_api(args.baseline_ref, Path(tmp.name))
            # Only api is the baseline's; geo311, routing and maps are this tree's (the store's
            # schema must match), never whatever the environment's install points at.
            tree = str(Path(__file__).resolve().parent.parent)
            old, old_base = start_server(url, pythonpath=f"{tmp.name}{os.pathsep}{tree}")
            procs.append(old)
            names.append(f"baseline {args.baseline_ref}")
            bases.append(old_base)
        n = args.count
        c = args.clients
        for b in bases:
            first = httpx.get(f"{b}/open311/v2/requests.json")
            assert first.status_code == 200, first.text[:300]
            asyncio.run(run(b, "GET", "/open311/v2/requests.json", 20, 1))  # warm-up
        size = len(first.json())
        print(f"GET requests.json returns {size} requests (90-day default window, 1,000 max)")
        if len(bases) > 1:
            same = [httpx.get(f"{b}/open311/v2/requests.json").content for b in bases]
            print(f"current and baseline bodies identical: {same[0] == same[1]}")
        print(f"load average before measuring: {os.getloadavg()}\n")
        compare(names, bases, "baseline: GET discovery.json, 1 client", D, n, 1)
        compare(names, bases, f"baseline: GET discovery.json, {c} clients", D, n, c)
        compare(names, bases, "GET requests.json (1,000 per page), 1 client", R, n // 4, 1)
        compare(names, bases, "GET requests.json?page_size=50, 1 client", R50, n, 1)
        compare(names, bases, f"GET requests.json (1,000 per page), {c} clients", R, n // 4, c)
        compare(names, bases, f"GET requests.json?page_size=50, {c} clients", R50, n, c)
        compare(
            names,
            bases,
            f"GET requests.json (1,000) with If-None-Match, {c} clients",
            R,
            n // 4,
            c,
            revalidate=True,
        )
        report(
            f"POST requests.json, {c} clients [current]",
            *asyncio.run(run(bases[0], "POST", R, n, c)),
        )
        print(f"load average after measuring: {os.getloadavg()}")
        print("\ntarget: p99 <= 50 ms for GET requests.json")
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
        tmp.cleanup()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
