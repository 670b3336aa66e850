"""Benchmark the staff pages in headless Chromium (issue 12, "Quality bars: Performance").

(a) The dispatcher console with 10,000 open work orders (generated in a fresh SQLite store)
    must first paint in < 1.5 s. First contentful paint is read from the page
    (``performance.getEntriesByName('first-contentful-paint')``) over ``--runs`` loads after
    one warm-up; printed with the server's response time (``responseStart``), the page's
    size, and as baseline the same page over 100 open work orders, measured in the same run.
(b) Planning from the button for the demo morning (the sample export at 2015-10-06 07:00)
    must return within the solver's time limit + 2 s: the dispatcher clicks "Plan the day"
    on the console; the time runs until the plan's page has loaded (the progress page polls
    once a second, every 200 ms once the limit is near); the server loads the street graph
    at start-up as ``geo311 serve`` does. Printed: limit, elapsed, overhead (elapsed -
    limit), and as baseline the same morning planned in-process
    (``routing.dispatch.plan_day``, the engine alone).

The machine's load average is printed with the figures. The browser is the system
``/usr/bin/chromium`` with the network blocked (``tests/_browser.py``).

Run: .venv/bin/python bench/staff_bench.py [--orders 10000] [--runs 7] [--time-limit 10]
     [--skip-plan] [--skip-fcp]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo311.city.catalogue import Catalogue, load_catalogue  # noqa: E402
from geo311.city.profile import default_city  # noqa: E402
from geo311.db.store import Store  # noqa: E402
from geo311.ingest.importer import ImportOptions, import_file  # noqa: E402
from geo311.model import ServiceRequest  # noqa: E402
from geo311.plans import repo as plan_repo  # noqa: E402
from geo311.requests import repo as request_repo  # noqa: E402
from geo311.requests.repo import request_to_row  # noqa: E402
from geo311.settings import Settings  # noqa: E402
from geo311.staff import users  # noqa: E402
from geo311.workorders import repo as work_order_repo  # noqa: E402
from geo311.workorders.grouping import rebuild_work_orders  # noqa: E402
from tests._browser import Watch, block_network, launch_chromium, record_errors  # noqa: E402

DEMO_MORNING = "2015-10-06T07:00"
SERVER_CPU: list[float] = []  # CPU seconds the server spent on each /dispatch page
PASSWORD = "a long bench password"
CODES = ("pothole", "streetlight_outage", "general_lighting", "streetlight_knockdown")
FCP_JS = """() => new Promise(resolve => {
  const read = () => {
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    if (fcp) {
      const nav = performance.getEntriesByType('navigation')[0];
      resolve({fcp: fcp.startTime, ttfb: nav.responseStart, bytes: nav.transferSize});
    } else { setTimeout(read, 20); }
  };
  read();
})"""


def load() -> str:
    """Return the load average (1, 5, 15 min) as text."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _report(rng: random.Random, i: int, catalogue: Catalogue, at: datetime) -> ServiceRequest:
    west, south, east, north = default_city().service_area
    t = at - timedelta(seconds=rng.uniform(600, 40 * 86400))
    code = rng.choice(CODES)
    return ServiceRequest(
        service_request_id=f"S{i:07d}",
        service_code=code,
        status="open",
        requested_datetime=t,
        updated_datetime=t,
        expected_datetime=t + catalogue.service(code).sla,
        sla_target_datetime=t + catalogue.service(code).sla,
        source="bench",
        source_id=str(i),
        address=f"{rng.randint(1, 400)} Bench St",
        lat=rng.uniform(south, north),
        long=rng.uniform(west, east),
    )


def fill_open_work(store: Store, catalogue: Catalogue, n: int, *, seed: int) -> int:
    """Add open reports over the city's service area before the demo morning until at least
    ``n`` work orders are open (nearby reports merge); return how many are open."""
    rng = random.Random(seed)
    at = datetime.fromisoformat(DEMO_MORNING).replace(tzinfo=default_city().tz)
    made, need, count = 0, n, 0
    while count < n:
        rows = [request_to_row(_report(rng, made + k, catalogue, at)) for k in range(need)]
        with store.begin() as conn:
            request_repo.insert_request_rows(store, conn, rows)
        made += need
        rebuild_work_orders(store, catalogue)
        count = len(work_order_repo.work_orders_open_at(store, at))
        need = int((n - count) * 1.2) + 5
    return count


@contextmanager
def serve(store: Store, settings: Settings, *, warm_up: bool = False) -> Iterator[str]:
    """Serve the app over ``store`` with uvicorn in a thread; yield its URL.

    ``warm_up`` as ``geo311 serve`` does: the street graph loads in the background at
    start-up (the URL is yielded once it has).
    """
    import uvicorn

    from api.app import create_app
    from routing.dispatch.build import _cached_graph

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(settings, store=store, warm_up=warm_up)

    async def timed(scope: Any, receive: Any, send: Any) -> None:
        # CPU seconds of this process (the server; Chromium is another process) per page
        before = time.process_time()
        await app(scope, receive, send)
        if scope["type"] == "http" and scope["path"] == "/dispatch":
            SERVER_CPU.append(time.process_time() - before)

    server = uvicorn.Server(uvicorn.Config(timed, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    while warm_up and not _cached_graph.cache_info().currsize and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@contextmanager
def dispatcher(browser: Any, url: str) -> Iterator[tuple[Any, Watch]]:
    """Yield a browser context signed in as the bench's dispatcher (network blocked)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watch = Watch()
    block_network(context, watch, allow=lambda u: u.startswith(url + "/"))
    page = context.new_page()
    page.goto(f"{url}/login")
    page.fill("#username", "bench")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    page.close()
    try:
        yield context, watch
    finally:
        context.close()


def paint_times(browser: Any, url: str, runs: int) -> list[dict[str, float]]:
    """Load the console ``runs`` times (after a warm-up) in fresh tabs; return FCP and more."""
    path = f"{url}/dispatch?at={DEMO_MORNING}"
    out = []
    with dispatcher(browser, url) as (context, watch):
        for i in range(runs + 1):
            page = context.new_page()
            record_errors(page, watch, failed_loads=False)
            page.goto(path, wait_until="load", timeout=120_000)
            numbers = page.evaluate(FCP_JS)
            drawn = int(page.get_attribute("#map", "data-drawn") or 0)
            page.close()
            if i:  # the first load warms the caches
                out.append({**numbers, "drawn": drawn})
        if watch.errors or watch.blocked:
            print("errors:", watch.errors, "blocked:", watch.blocked)
    return out


def _users_store(path: Path) -> tuple[Store, Settings]:
    url = f"sqlite:///{path}"
    store = Store(url)
    users.create_user(store, "bench", role="dispatcher", password=PASSWORD)
    settings = Settings(database_url=url, media_dir=path.parent / "media")
    return store, settings


def fcp_bench(args: argparse.Namespace, tmp: Path, browser: Any) -> None:
    """Print the console's first contentful paint at ``--orders`` and at the baseline size."""
    print(f"\n(a) dispatcher console first contentful paint, {args.runs} loads each")
    print(
        f"{'open work orders':>17} {'FCP median':>11} {'FCP p90':>8} {'server':>7} "
        f"{'srv CPU':>8} {'page KB':>8} {'on map':>7}"
    )
    for n in (args.baseline_orders, args.orders):
        store, settings = _users_store(tmp / f"console_{n}.db")
        catalogue = load_catalogue(settings.services_file)
        t0 = time.perf_counter()
        count = fill_open_work(store, catalogue, n, seed=n)
        made = time.perf_counter() - t0
        SERVER_CPU.clear()
        with serve(store, settings) as url:
            runs = paint_times(browser, url, args.runs)
        cpu = statistics.median(SERVER_CPU[1:])
        store.close()
        fcp = sorted(r["fcp"] / 1000 for r in runs)
        p90 = fcp[min(len(fcp) - 1, int(0.9 * len(fcp)))]
        ttfb = statistics.median(r["ttfb"] / 1000 for r in runs)
        kb = statistics.median(r["bytes"] for r in runs) / 1024
        label = f"{count:,}" + (" (base)" if n == args.baseline_orders else "")
        print(
            f"{label:>17} {statistics.median(fcp):>10.2f}s {p90:>7.2f}s {ttfb:>6.2f}s "
            f"{cpu:>7.2f}s {kb:>8.0f} {runs[-1]['drawn']:>7,}   (store filled in {made:.0f} s)"
        )
    print(f"target: FCP < 1.5 s with {args.orders:,} open work orders; load {load()}")


def plan_by_button(browser: Any, url: str, limit: float) -> tuple[float, int]:
    """Click "Plan the day" for the demo morning; return seconds until the plan page loaded
    and the plan's id."""
    with dispatcher(browser, url) as (context, watch):
        page = context.new_page()
        record_errors(page, watch, failed_loads=False)
        page.goto(f"{url}/dispatch?at={DEMO_MORNING}", wait_until="load")
        page.fill("#plan-limit", str(int(limit)))
        t0 = time.perf_counter()
        page.click("form[action='/dispatch/plan'] button[type=submit]")
        page.wait_for_url("**/dispatch/plans/*", wait_until="load", timeout=600_000)
        elapsed = time.perf_counter() - t0
        if watch.errors:
            print("errors:", watch.errors)
        return elapsed, int(page.url.rsplit("/", 1)[1])


def plan_bench(args: argparse.Namespace, tmp: Path, browser: Any) -> None:
    """Print the button's planning time for the demo morning next to the engine's."""
    from routing.dispatch import DayOptions, default_graph, plan_day

    store, settings = _users_store(tmp / "demo.db")
    catalogue = load_catalogue(settings.services_file)
    import_file(
        store, settings.sample_requests_file, catalogue, ImportOptions(timezone=settings.timezone)
    )
    rebuild_work_orders(store, catalogue)
    at = datetime.fromisoformat(DEMO_MORNING).replace(tzinfo=default_city().tz)
    limit = float(args.time_limit)
    print(f"\n(b) planning the demo morning {DEMO_MORNING}, solver time limit {limit:g} s")
    print("(overhead = elapsed - limit; solver = OR-Tools search time of the plan's summary)")
    print(f"{'run':<52} {'elapsed':>8} {'solver':>7} {'overhead':>9}")
    with serve(store, settings, warm_up=True) as url:  # as `geo311 serve`
        for i in range(args.plan_runs):
            secs, plan_id = plan_by_button(browser, url, limit)
            solver = float(plan_repo.get_plan(store, plan_id)["summary"]["solve_time_s"])
            kind = "first (graph loaded at start-up)" if i == 0 else "again"
            print(
                f"{'button -> plan page, ' + kind:<52} {secs:>7.2f}s {solver:>6.2f}s "
                f"{secs - limit:>8.2f}s"
            )
    graph = default_graph()
    t0 = time.perf_counter()
    dp = plan_day(store, catalogue, at=at, options=DayOptions(graph=graph, time_limit_s=limit))
    secs = time.perf_counter() - t0
    solver = dp.plan.summary.solve_time_s
    print(
        f"{'baseline: plan_day in-process (warm)':<52} {secs:>7.2f}s {solver:>6.2f}s "
        f"{secs - limit:>8.2f}s"
    )
    store.close()
    print(f"target: elapsed < limit + 2 s; load {load()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=10_000, help="open work orders (a)")
    ap.add_argument("--baseline-orders", type=int, default=100, help="baseline size (a)")
    ap.add_argument("--runs", type=int, default=7, help="page loads per size (a)")
    ap.add_argument("--time-limit", type=float, default=10.0, help="solver seconds (b)")
    ap.add_argument("--plan-runs", type=int, default=2, help="plans from the button (b)")
    ap.add_argument("--skip-fcp", action="store_true")
    ap.add_argument("--skip-plan", action="store_true")
    args = ap.parse_args()
    print(f"load average at start: {load()} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as tmp, launch_chromium() as browser:
        if not args.skip_fcp:
            fcp_bench(args, Path(tmp), browser)
        if not args.skip_plan:
            plan_bench(args, Path(tmp), browser)


if __name__ == "__main__":
    main()
