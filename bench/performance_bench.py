"""The public service record under load: /performance (page, CSV, JSON) at 50 clients.

Generates N stored requests (default 100,000 over the last 365 days) in a fresh PostgreSQL
schema, serves the API with uvicorn in its own process (as ``geo311 serve``), and measures with
``bench/http_load.py`` (its own process) the p50 / p99 latency and requests/s of
``GET /performance``, ``/performance.csv`` and ``/performance.json`` at 50 clients: once on
unchanged data, once while a writer posts a new report every second (each post changes the
data, so the figures are computed again within ``check_every_s``).

Baselines in the same run: what one computation of the figures costs (the page right after a
data change, one client: what every request would cost without the cache), and the ceiling:
``bench/static_body_app.py`` serving the same page bytes from memory under the same uvicorn.

    .venv/bin/python bench/performance_bench.py [--requests 100000] [--count 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_bench import (  # noqa: E402  (bench helpers beside this script)
    KEY,
    PG,
    PROCS,
    REPO,
    R,
    fill,
    load,
    new_schema,
    report,
    spawn,
    start_server,
)

PAGES = ("/performance", "/performance.csv", "/performance.json")


def cold_costs(base: str, rounds: int) -> list[float]:
    """Return the latency (ms) of a page computed anew (a new report, a period not asked before)."""
    costs = []
    for i in range(rounds):
        post = {"api_key": KEY, "service_code": "pothole", "lat": "42.35", "long": "-71.08"}
        post["description"] = f"cold {i}"
        assert httpx.post(f"{base}{R}", data=post, timeout=60).status_code in (200, 201)
        time.sleep(2.1)  # past the cache's check interval: the next read sees the change
        t = time.perf_counter()  # a period not asked before: computed now, nothing older kept
        period = f"/performance?from=2000-01-{i + 1:02d}"
        assert httpx.get(f"{base}{period}", timeout=120).status_code == 200
        costs.append((time.perf_counter() - t) * 1000)
    return costs


def start_ceiling(base: str, tmp: Path) -> str:
    """Serve the /performance page's bytes from memory (bench/static_body_app.py)."""
    body = tmp / "performance.html"
    body.write_bytes(httpx.get(f"{base}/performance", timeout=120).content)
    env = dict(os.environ, BENCH_BODY_FILE=str(body), BENCH_BODY_TYPE="text/html")
    bench = str(Path(__file__).resolve().parent)
    return spawn(["static_body_app:app", "--app-dir", bench], env=env, cwd=bench, probe="/x")


def writer(base: str, stop: threading.Event, posted: list[int]) -> None:
    """Post a report every second until ``stop`` is set."""
    i = 0
    while not stop.wait(1.0):
        data = {"api_key": KEY, "service_code": "streetlight_outage", "lat": "42.35"}
        data.update({"long": "-71.08", "description": f"soak {i}"})
        if httpx.post(f"{base}{R}", data=data, timeout=60).status_code in (200, 201):
            posted.append(i)
        i += 1


def measure(base: str, ceiling: str, count: int, clients: int) -> None:
    """Run the measurements (warm pages, then under writes) and print them."""
    for path in PAGES:
        load(base, path, 20, 1)  # warm-up: computed once per format
    print(f"load average before measuring: {os.getloadavg()}\n", flush=True)
    report(
        f"ceiling: the page's bytes from memory, {clients} clients",
        *load(ceiling, "/", count, clients),
    )
    for path in PAGES:
        report(f"GET {path}, {clients} clients, data unchanged", *load(base, path, count, clients))
    stop, posted = threading.Event(), []
    thread = threading.Thread(target=writer, args=(base, stop, posted), daemon=True)
    thread.start()
    try:
        for path in PAGES:
            name = f"GET {path}, {clients} clients, a new report every second"
            report(name, *load(base, path, count, clients))
    finally:
        stop.set()
        thread.join(30)
    print(f"(the writer posted {len(posted)} reports meanwhile)")
    print(f"load average after measuring: {os.getloadavg()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=100_000, help="stored requests to generate")
    ap.add_argument("--count", type=int, default=2000, help="HTTP requests per measurement")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--cold-rounds", type=int, default=5, help="computations timed (baseline)")
    args = ap.parse_args()
    admin = sa.create_engine(PG)
    schema, url = new_schema(admin)
    tmp = tempfile.TemporaryDirectory(prefix="performance_bench_")
    try:
        fill(url, args.requests)
        base = start_server(url, pythonpath=str(REPO))
        costs = cold_costs(base, args.cold_rounds)
        print(
            f"baseline: one computation of the figures (page after a data change, 1 client): "
            f"median {statistics.median(costs):.0f} ms, max {max(costs):.0f} ms "
            f"over {len(costs)} changes",
            flush=True,
        )
        ceiling = start_ceiling(base, Path(tmp.name))
        measure(base, ceiling, args.count, args.clients)
        print("\ntarget: /performance at 50 clients, PostgreSQL, 100,000 requests: p99 <= 250 ms")
        print(json.dumps({"requests": args.requests, "clients": args.clients}))
    finally:
        for p in PROCS:
            p.terminate()
            p.wait(timeout=30)
        tmp.cleanup()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
