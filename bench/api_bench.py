"""Latency and throughput of the Open311 API on loopback with a large store (PostgreSQL).

Generates N stored requests (default 100,000, spread over the last 365 days) in a fresh
PostgreSQL schema, starts the API (uvicorn, as ``geo311 serve`` runs it) in its own process
on 127.0.0.1 and measures p50/p99 latency and requests/s of ``GET /open311/v2/requests.json``
(1 client, then 50 concurrent clients; also ``?page_size=50``, XML, and revalidation with
``If-None-Match``) and of ``POST /open311/v2/requests.json`` at 50 concurrent clients (the
baseline too: each server posts into its own schema).
Baselines in the same run: ``GET /open311/v2/discovery.json`` (no database work), and for
the 1,000-row page at 50 clients a ceiling: ``bench/static_body_app.py``, a bare ASGI app
under the same uvicorn answering with the same bytes from memory (no work at all), which
shows what this machine and its load allow.

The load comes from ``bench/http_load.py``, run as a process of its own for each measurement
(a lean keep-alive HTTP/1.1 client: ``httpx.AsyncClient`` is itself the bottleneck at 50
connections, see that module).

With ``--baseline-ref REF`` (e.g. ``6b49b75``) the whole tree of that git revision
(``geo311``, ``routing``, ``maps``, ``api``, ``data``) is exported to a temporary folder with
``git archive`` and served by a second uvicorn whose ``PYTHONPATH`` is that folder only, so
the baseline is that revision's code throughout, store included, not this tree's ``geo311``.
It gets a schema of its own, created by its own migrations, filled with a copy of the
generated requests (the columns both schemas have); the bench checks that both servers give
the same bytes. Every measurement alternates between the two servers in rounds, so both see
the same machine load, and prints the baseline's numbers next to the current code's.

    .venv/bin/python bench/api_bench.py [--requests 100000] [--count 1000] [--baseline-ref REF]
        [--posts-only] [--workers 1]
"""

from __future__ import annotations

import argparse
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
from urllib.parse import urlencode

import httpx
import psutil
import sqlalchemy as sa

from geo311.db.store import Store
from geo311.model import ServiceRequest
from geo311.requests import repo as request_repo
from geo311.requests.repo import request_to_row

PG = os.environ.get("GEO311_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
KEY = "bench-key"
D = "/open311/v2/discovery.json"
R = "/open311/v2/requests.json"
R50 = "/open311/v2/requests.json?page_size=50"
RX = "/open311/v2/requests.xml"
REPO = Path(__file__).resolve().parent.parent
LOADER = Path(__file__).resolve().parent / "http_load.py"
CEILING = "ceiling: uvicorn alone, same body"
PROCS: list[subprocess.Popen[bytes]] = []  # every server started, stopped at the end
PIDS: dict[str, int] = {}  # base URL -> its uvicorn process (workers are its children)
# What the baseline export holds: the packages and the city data they read.
TREE = ("geo311", "routing", "maps", "api", "data")
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
            sla_target_datetime=t + timedelta(days=2),
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
                request_repo.insert_request_rows(store, conn, rows)
            rows = []
    if rows:
        with store.begin() as conn:
            request_repo.insert_request_rows(store, conn, rows)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post_bodies(n: int) -> list[str]:
    """Return ``n`` POST bodies: reports on a grid of points (some near each other)."""
    return [
        urlencode(
            {
                "api_key": KEY,
                "service_code": "pothole",
                "lat": f"{42.34 + (i % 97) * 0.0003:.6f}",
                "long": f"{-71.09 + (i // 97) * 0.0003:.6f}",
                "description": "bench post",
            }
        )
        for i in range(n)
    ]


def load(
    base: str,
    path: str,
    count: int,
    clients: int,
    *,
    headers: Sequence[str] = (),
    bodies: Path | None = None,
    ok: str = "200",
) -> tuple[list[float], float]:
    """Run ``bench/http_load.py`` in its own process; return its latencies (ms) and wall time."""
    args = [sys.executable, str(LOADER), base, path, "--count", str(count)]
    args += ["--clients", str(clients), "--ok", ok]
    for h in headers:
        args += ["--header", h]
    if bodies is not None:
        args += ["--method", "POST", "--bodies", str(bodies)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    result = json.loads(out)
    return result["latencies_ms"], result["wall_s"]


def report(name: str, lat: list[float], wall: float) -> None:
    q = statistics.quantiles(lat, n=100)
    print(
        f"{name:<64} n={len(lat):>5}  p50={q[49]:7.1f} ms  p99={q[98]:7.1f} ms  "
        f"{len(lat) / wall:7.1f} req/s",
        flush=True,
    )


def export_tree(ref: str, dest: Path) -> None:
    """Write the packages and data of git revision ``ref`` into ``dest`` (read-only git use)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", ref, *TREE],
        check=True,
        capture_output=True,
    ).stdout
    tar = dest / "tree.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(dest, filter="data")


def spawn(args: Sequence[str], *, env: dict[str, str], cwd: str, probe: str) -> str:
    """Start uvicorn with ``args`` on a free loopback port; return its base URL once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", *args, "--log-level", "warning"]
    PROCS.append(
        subprocess.Popen([*command, "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=cwd)
    )
    base = f"http://127.0.0.1:{port}"
    PIDS[base] = PROCS[-1].pid
    for _ in range(1200):
        try:
            if httpx.get(f"{base}{probe}", timeout=1).status_code == 200:
                return base
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"the server at {base} did not start in 2 minutes")


def start_server(url: str, *, pythonpath: str, workers: int = 1) -> str:
    """Start the API (``workers`` processes, as ``geo311 serve --workers``); return its URL."""
    env = dict(
        os.environ,
        GEO311_DATABASE_URL=url,
        GEO311_API_KEYS=json.dumps([KEY]),
        # The clients all post from 127.0.0.1 (a tree without report limits ignores it).
        GEO311_REPORT_LIMIT_IP_EXEMPT_KEYS=json.dumps([KEY]),
        PYTHONPATH=pythonpath,
    )
    # What ``geo311 serve`` runs, without the CLI: its entry points come from the installed
    # distribution, which may be another tree than the one measured.
    args = ["api.app:create_app", "--factory", "--workers", str(workers)]
    return spawn(args, env=env, cwd=pythonpath, probe=D)


def start_ceiling(base: str, tmp: Path) -> str:
    """Serve the current ``requests.json`` page from memory (bench/static_body_app.py)."""
    body = tmp / "body.json"
    body.write_bytes(httpx.get(f"{base}{R}", timeout=60).content)
    env = dict(os.environ, BENCH_BODY_FILE=str(body), BENCH_BODY_TYPE="application/json")
    bench = str(Path(__file__).resolve().parent)
    return spawn(["static_body_app:app", "--app-dir", bench], env=env, cwd=bench, probe=R)


def copy_requests(admin: sa.Engine, source: str, target: str) -> None:
    """Copy the stored requests of schema ``source`` into ``target`` (the columns of both)."""
    with admin.begin() as conn:
        columns = [
            [
                r[0]
                for r in conn.execute(
                    sa.text(
                        "SELECT column_name FROM information_schema.columns WHERE "
                        "table_schema = :s AND table_name = 'service_requests' "
                        "ORDER BY ordinal_position"
                    ),
                    {"s": schema},
                )
            ]
            for schema in (source, target)
        ]
        shared = ", ".join(f'"{c}"' for c in columns[0] if c in columns[1])
        conn.execute(
            sa.text(
                f'INSERT INTO "{target}".service_requests ({shared}) '
                f'SELECT {shared} FROM "{source}".service_requests'
            )
        )
        conn.execute(sa.text(f'ANALYZE "{target}".service_requests'))


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) of a process and its children so far."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return total


def postgres_seconds() -> float:
    """Return the CPU time of PostgreSQL so far: live processes and the backends that ended.

    The postmaster reaps its backends, so their time stays counted in its ``children_*``.
    """
    total = 0.0
    for p in psutil.process_iter(["name", "ppid"]):
        if not (p.info["name"] or "").startswith("postgres"):
            continue
        try:
            t = p.cpu_times()
            total += t.user + t.system
            if psutil.Process(p.info["ppid"]).name() != "postgres":  # the postmaster
                total += t.children_user + t.children_system
        except psutil.NoSuchProcess:
            continue
    return total


def compare(
    names: Sequence[str],
    bases: Sequence[str],
    label: str,
    path: str,
    count: int,
    clients: int,
    *,
    revalidate: bool = False,
    bodies: Path | None = None,
) -> None:
    """Measure ``GET path`` (``POST`` with ``bodies``) on each server, alternating in 4 rounds.

    With ``revalidate`` every request sends ``If-None-Match`` with the ETag the server gave
    for the page (a polling client); a server without ETags answers the full page. Each
    server has its own schema, so POSTs to one do not touch the other's data.
    """
    tags = {b: httpx.get(f"{b}{path}").headers.get("etag", '"none"') for b in bases}
    lat: dict[str, list[float]] = {b: [] for b in bases}
    wall = dict.fromkeys(bases, 0.0)
    cpu = {b: [0.0, 0.0] for b in bases}  # server, PostgreSQL seconds
    rounds = 4
    for r in range(rounds):
        order = bases if r % 2 == 0 else list(reversed(bases))
        for b in order:
            headers = [f"If-None-Match: {tags[b]}"] if revalidate else []
            ok = "200,304" if revalidate else "200"
            n = max(count // rounds, 1)
            before = cpu_seconds(PIDS[b]), postgres_seconds()
            got, w = load(b, path, n, clients, headers=headers, ok=ok, bodies=bodies)
            cpu[b][0] += cpu_seconds(PIDS[b]) - before[0]
            cpu[b][1] += postgres_seconds() - before[1]
            lat[b].extend(got)
            wall[b] += w
    for name, b in zip(names, bases, strict=True):
        report(f"{label} [{name}]" if len(bases) > 1 else label, lat[b], wall[b])
        per = [1000.0 * c / max(len(lat[b]), 1) for c in cpu[b]]
        cores = os.cpu_count() or 1
        print(
            f"{'':<64} CPU per request: server {per[0]:.1f} ms, PostgreSQL {per[1]:.1f} ms "
            f"-> at most {1000.0 * cores / max(sum(per), 1e-9):.0f} req/s on {cores} cores",
            flush=True,
        )


def new_schema(admin: sa.Engine) -> tuple[str, str]:
    """Create a fresh schema; return its name and a database URL that uses it."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    return schema, f"{PG}{'&' if '?' in PG else '?'}options=-csearch_path%3D{schema}"


def fill(url: str, n: int) -> None:
    """Generate ``n`` stored requests in the store at ``url`` (this tree's code)."""
    store = Store(url)
    t = time.perf_counter()
    generate(store, n)
    with store.begin() as conn:
        conn.execute(sa.text("ANALYZE"))
    print(
        f"generated {request_repo.count_requests(store):,} stored requests in {time.perf_counter() - t:.1f} s"
    )
    store.close()


def check_same(names: Sequence[str], bases: Sequence[str]) -> None:
    """Print the size of the lists and whether every server gives the same bytes."""
    for path in (R, R50, RX):
        answers = [httpx.get(f"{b}{path}", timeout=60) for b in bases]
        assert all(r.status_code == 200 for r in answers), answers[0].text[:300]
        same = all(r.content == answers[0].content for r in answers)
        rows = answers[0].content.count(b"<request>") if path == RX else len(answers[0].json())
        print(f"GET {path}: {rows} requests, {len(answers[0].content):,} bytes", end="")
        print(f"; {' and '.join(names)} identical: {same}" if len(bases) > 1 else "")


def measure(
    names: Sequence[str],
    bases: Sequence[str],
    ceiling: str,
    n: int,
    c: int,
    tmp: Path,
    *,
    posts_only: bool = False,
) -> None:
    """Run every measurement, alternating between the servers (the ceiling for the 1,000)."""
    for b in (*bases, ceiling):
        load(b, R, 20, 1)  # warm-up
    print(f"load average before measuring: {os.getloadavg()}\n", flush=True)
    if not posts_only:
        measure_gets(names, bases, ceiling, n, c)
    bodies = tmp / "posts.json"
    bodies.write_text(json.dumps(post_bodies(n)))
    compare(names, bases, "POST requests.json, 1 client", R, n // 4, 1, bodies=bodies)
    compare(names, bases, f"POST requests.json, {c} clients", R, n, c, bodies=bodies)
    print(f"load average after measuring: {os.getloadavg()}")
    print(
        "\ntarget: GET requests.json (1,000) at 50 clients: p99 <= 250 ms, >= 3x the baseline's "
        "req/s; POST at 50 clients: p99 <= 500 ms, >= 4x the baseline's req/s"
    )


def measure_gets(names: Sequence[str], bases: Sequence[str], ceiling: str, n: int, c: int) -> None:
    """Measure the GET lists (and their baselines and ceiling)."""
    compare(names, bases, "baseline: GET discovery.json, 1 client", D, n, 1)
    compare(names, bases, f"baseline: GET discovery.json, {c} clients", D, n, c)
    compare(names, bases, "GET requests.json (1,000 per page), 1 client", R, n // 4, 1)
    compare(names, bases, "GET requests.json?page_size=50, 1 client", R50, n, 1)
    compare(
        [*names, CEILING],
        [*bases, ceiling],
        f"GET requests.json (1,000 per page), {c} clients",
        R,
        n,
        c,
    )
    compare(names, bases, f"GET requests.json?page_size=50, {c} clients", R50, n, c)
    compare(names, bases, f"GET requests.xml (1,000 per page), {c} clients", RX, n // 4, c)
    compare(
        names,
        bases,
        f"GET requests.json (1,000) with If-None-Match, {c} clients",
        R,
        n,
        c,
        revalidate=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=100_000, help="stored requests to generate")
    ap.add_argument("--count", type=int, default=1000, help="HTTP requests per measurement")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument(
        "--baseline-ref",
        default=None,
        help="git revision whose whole tree is served as the same-run baseline",
    )
    ap.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes of each server"
    )
    ap.add_argument(
        "--posts-only",
        action="store_true",
        help="measure only POST requests.json (1 and N clients)",
    )
    args = ap.parse_args()
    admin = sa.create_engine(PG)
    schemas: list[str] = []
    tmp = tempfile.TemporaryDirectory(prefix="api_bench_")
    try:
        schema, url = new_schema(admin)
        schemas.append(schema)
        fill(url, args.requests)
        workers = args.workers
        names, bases = ["current"], [start_server(url, pythonpath=str(REPO), workers=workers)]
        if args.baseline_ref:
            export_tree(args.baseline_ref, Path(tmp.name))
            old_schema, old_url = new_schema(admin)
            schemas.append(old_schema)
            # its own migrations, as many workers
            bases.append(start_server(old_url, pythonpath=tmp.name, workers=workers))
            copy_requests(admin, schema, old_schema)
            names.append(f"baseline {args.baseline_ref}")
        check_same(names, bases)
        ceiling = start_ceiling(bases[0], Path(tmp.name))
        measure(
            names,
            bases,
            ceiling,
            args.count,
            args.clients,
            Path(tmp.name),
            posts_only=args.posts_only,
        )
    finally:
        for p in PROCS:
            p.terminate()
            p.wait(timeout=30)
        tmp.cleanup()
        with admin.begin() as conn:
            for schema in schemas:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
