"""A bounded soak of a real morning against ``geo311 serve`` on PostgreSQL (issue 21).

Sets up a fresh PostgreSQL schema (dropped at the end) with the embedded demo data (the
city's sample export, its work orders), a city folder whose ``crews.toml`` has 25 crews
(the city's yard and its two crew kinds, copied; shifts span the whole day so that a plan
made "now" has work whenever the soak runs), a dispatcher, a planner (its API token reads
the results) and one user per crew. Starts ``geo311 serve`` (this tree's code, a free
loopback port); the dispatcher plans the day from the console ("Plan the day", a short
solver time limit) and publishes it, after 40 reports were posted (the night's, so that the
pothole crews have work too: the sample's open potholes lie outside the street extract).
Then, for ``--duration`` seconds:

- 25 crews read their published stops (``/crew``) and send done / can't-do with an
  idempotency key (JSON, or a form with a photo); every third crew is "offline": it queues
  2-4 actions, then replays them and sends each key twice more, two senders at once. Now and
  then a second phone acts on a stop already acted on (the same "done" twice at once with
  two keys, or "can't do" from a stale page);
- 50 citizens POST Open311 reports with an ``Idempotency-Key`` (a quarter with a small JPEG
  or PNG, 4 % with a NUL byte or a vertical tab in the text), sometimes resend one (same
  key), sometimes read ``requests.xml``;
- the dispatcher, every 10-20 s, plans the day afresh (the citizens' new reports included)
  or re-plans the published plan ("Re-plan now", ticking new work), in turn, and publishes;
- the server (its process group) is killed with SIGKILL ``--kills`` times (default 2) at
  random moments (the last one while a planning run is in progress, if one starts soon) and
  restarted on the same port. Clients resend an unanswered request as it was (same key).

At the end it checks, from the database and the API: every crew action answered 2xx is a
mark on its stop (read from ``GET /plans/{id}``, the stored plan document and, where the
schema has them, ``plan_stops`` rows: see ``bench/_soak_checks.py``); no stop carries two
marks and no work order was closed twice; every acknowledged report is stored once under
its id and served by ``GET /open311/v2/requests/{id}.json``; nothing refused was stored;
every planning run finished (none forgotten by a restart); every open request with a
location is in exactly one open work order and every work order's report count matches its
member rows (SQL, and ``GET /workorders``). It prints the details, then one line::

    actions N, marks kept N, lost 0, duplicated 0, 5xx 0, reports N, work orders consistent: yes

``actions`` counts crew actions answered 2xx, ``reports`` reports acknowledged; ``lost``
counts marks and acknowledged reports missing, crew actions lost in a restart (sent as the
server was killed, resent with their key after it and never accepted, while no mark is on
their stop and no newer plan was published) and planning runs the server forgot;
``duplicated`` stops marked twice, work orders closed twice and reports stored twice. The
exit status is 1 when lost, duplicated or 5xx is not 0, the work orders are inconsistent or
a refused report was stored, or an answer of ``requests.xml`` was not well-formed XML.

Only loopback addresses are used. The run is bounded: ``--duration`` (at most 900 s) of load,
then at most 150 s for unanswered requests to be answered. A server setting can be added
with ``--server-env`` (e.g. a higher per-address report limit: every citizen posts from
127.0.0.1). Run it before 22:00 in the city's time zone (a plan made later has little day
left).

    .venv/bin/python bench/ops_soak.py [--duration 120] [--postgres URL] [--kills 2]
        [--time-limit 2] [--seed 0] [--server-env GEO311_X=value ...] [--keep-schema]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import _soak_checks as checks  # noqa: E402
import _soak_setup as setup  # noqa: E402
from _soak_citizens import Citizen, start_citizens  # noqa: E402
from _soak_crews import Crew, start_crews  # noqa: E402
from _soak_dispatcher import Dispatcher  # noqa: E402
from _soak_http import Http, Tally  # noqa: E402

PG = os.environ.get("GEO311_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
KEY = re.compile(r"[0-9a-f]{32}")
MAX_DURATION_S = 900.0  # the hard cap of --duration
DRAIN_S = 150.0
EARLY_REPORTS = 40  # posted before the first plan  # after the soak, unanswered requests are resent for at most this long


def load() -> str:
    """Return the load average (1, 5, 15 min) as text."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def kill_moments(rng: random.Random, duration: float, kills: int) -> list[float]:
    """Return ``kills`` random offsets (s) into the soak, one in each equal slice of its
    middle 80 %, at least 5 s before the slice ends (the restart needs a moment)."""
    out = []
    for i in range(kills):
        lo = duration * (0.1 + 0.8 * i / kills)
        hi = duration * (0.1 + 0.8 * (i + 1) / kills) - 5.0
        out.append(rng.uniform(lo, max(lo, hi)))
    return out


def run_kills(
    server: setup.Server,
    dispatcher: Dispatcher,
    moments: list[float],
    t0: float,
    rng: random.Random,
) -> list[str]:
    """SIGKILL and restart the server at the given offsets; return what happened.

    A kill comes at least 5 s after the server answered again; the last one waits up to
    15 s past its moment for a planning run in progress.
    """
    notes = []
    earliest = t0
    for i, at in enumerate(moments):
        time.sleep(max(0.0, t0 + at - time.monotonic(), earliest - time.monotonic()))
        if i == len(moments) - 1:
            dispatcher.solving.wait(timeout=15.0)
        solving = dispatcher.solving.is_set()
        when = time.monotonic() - t0
        server.kill()
        time.sleep(rng.uniform(0.5, 3.0))
        took = server.start()
        earliest = time.monotonic() + 5.0
        during = " during a planning run" if solving else ""
        notes.append(f"SIGKILL at {when:.1f} s{during}, answering again {took:.1f} s later")
    return notes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--postgres", default=PG, help="PostgreSQL URL (a new schema is used)")
    ap.add_argument("--duration", type=float, default=120.0, help="seconds of load (cap 900)")
    ap.add_argument("--crews", type=int, default=25, choices=range(1, 26), metavar="1-25")
    ap.add_argument("--citizens", type=int, default=50)
    ap.add_argument("--kills", type=int, default=2, help="SIGKILLs of the server")
    ap.add_argument("--time-limit", type=float, default=2.0, help="solver seconds per plan")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="GEO311_X=VALUE",
        help="an extra setting of the server (e.g. a higher report rate limit)",
    )
    ap.add_argument("--keep-schema", action="store_true", help="leave the schema for a look")
    args = ap.parse_args(argv)
    if not 0 < args.duration <= MAX_DURATION_S:
        ap.error(f"--duration: give 1-{MAX_DURATION_S:.0f} seconds")
    if any("=" not in e for e in args.server_env):
        ap.error("--server-env: write NAME=VALUE, e.g. GEO311_SOLVER_SEED=1")
    return args


def soak(args: argparse.Namespace, url: str, tmp: Path) -> int:
    """Set up, run the load with the kills, check; return the exit status."""
    city = setup.city_folder(tmp)
    t = time.monotonic()
    filled = setup.fill_store(url, city)
    print(
        f"set-up: {filled['requests']:,} requests, {filled['work_orders']:,} work orders, "
        f"{args.crews} crews + dispatcher + planner in {time.monotonic() - t:.1f} s",
        flush=True,
    )
    extra = dict(e.split("=", 1) for e in args.server_env)
    server = setup.Server(url, city, tmp, args.time_limit, extra_env=extra)
    engine = sa.create_engine(url)
    api = httpx.Client(
        base_url=server.base,
        headers={"Authorization": f"Bearer {filled['token']}"},
        timeout=120,
    )
    try:
        print(f"server: geo311 serve answered in {server.start():.1f} s at {server.base}")
        return _load_and_check(args, server, engine, api)
    finally:
        api.close()
        server.stop()
        engine.dispose()


def _load_and_check(
    args: argparse.Namespace, server: setup.Server, engine: sa.Engine, api: httpx.Client
) -> int:
    """Plan and publish the day, run the clients and the kills, then check."""
    from geo311.city.catalogue import load_catalogue
    from geo311.settings import Settings

    catalogue = load_catalogue(Settings(city_dir=server.city).services_file)
    open_states = [s.code for s in catalogue.states.values() if s.is_open]
    before = checks.check_work_orders(engine, api, open_states)
    if before:
        print("work orders before the soak (not counted):", "; ".join(before))
    after_update = checks.last_update_id(engine)
    tally = Tally()
    rng = random.Random(args.seed)
    t0 = time.monotonic()
    dispatcher = Dispatcher(  # the first plan is given 10 minutes at most
        Http(server.base, tally, t0 + 600.0), time_limit_s=args.time_limit, end=t0, seed=args.seed
    )
    early = Citizen(Http(server.base, tally, t0 + 600.0), end=t0, since=datetime.now(UTC), seed=-1)
    for _ in range(EARLY_REPORTS):  # the night's reports: work for the pothole crews too
        early.report()
    first = dispatcher.first_plan()
    print(
        f"{EARLY_REPORTS} early reports posted, plan {first} of the day published in "
        f"{time.monotonic() - t0:.1f} s"
    )
    t0 = time.monotonic()
    end, give_up = t0 + args.duration, t0 + args.duration + DRAIN_S
    dispatcher.end = end
    dispatcher.http.give_up = give_up
    crews = start_crews(
        server.base, tally, setup.crew_ids()[: args.crews], end=end, give_up=give_up, seed=args.seed
    )
    citizens = start_citizens(
        server.base, tally, args.citizens, end=end, give_up=give_up, seed=args.seed
    )
    dispatcher.start()
    print(f"load: {len(crews)} crews, {len(citizens)} citizens, 1 dispatcher; load {load()}")
    notes = run_kills(server, dispatcher, kill_moments(rng, args.duration, args.kills), t0, rng)
    for thread in [*crews, *citizens, dispatcher]:
        thread.join(timeout=max(1.0, give_up - time.monotonic() + 30.0))
    print(f"load ended after {time.monotonic() - t0:.1f} s; load {load()}")
    for note in notes:
        print(f"server: {note}")
    everyone = [early, *citizens]
    return report(engine, api, tally, crews, everyone, dispatcher, after_update, catalogue)


@dataclass
class Found:
    """What the end-of-soak checks found."""

    marks: checks.Marks
    closed_twice: list[int]
    reports: checks.Reports
    work_orders: list[str]
    malformed_xml: int


def report(
    engine: sa.Engine,
    api: httpx.Client,
    tally: Tally,
    crews: list[Crew],
    citizens: list[Citizen],
    dispatcher: Dispatcher,
    after_update: int,
    catalogue: Any,
) -> int:
    """Check the invariants, print the details and the one line; return the exit status."""
    actions = [a for c in crews for a in c.sent]
    sent = [r for c in citizens for r in c.sent]
    closing = [s.code for s in catalogue.states.values() if not s.is_open]
    open_states = [s.code for s in catalogue.states.values() if s.is_open]
    found = Found(
        marks=checks.check_marks(api, engine, actions, dispatcher.jobs.publications),
        closed_twice=checks.closed_twice(engine, after_update, closing),
        reports=checks.check_reports(engine, api, sent),
        work_orders=checks.check_work_orders(engine, api, open_states),
        malformed_xml=sum(c.malformed_xml for c in citizens),
    )
    _client_details(tally, crews, actions, sent, dispatcher, found.reports)
    _problems(tally, found)
    if found.marks.lost:
        audited = checks.audited_lost(engine, found.marks.lost_actions)
        print(f"lost marks the server audited as applied (overwritten later): {audited}")
    marks, reports = found.marks, found.reports
    lost = len(marks.lost) + len(marks.stuck) + len(reports.missing) + len(reports.api_missing)
    lost += dispatcher.jobs.lost
    duplicated = len(marks.twice) + len(found.closed_twice) + len(reports.duplicated)
    consistent = not found.work_orders and not reports.unacked_stored
    print(
        f"actions {marks.actions}, marks kept {marks.kept}, lost {lost}, duplicated {duplicated}, "
        f"5xx {tally.five_xx}, reports {reports.acked}, "
        f"work orders consistent: {'yes' if consistent else 'no'}",
        flush=True,
    )
    failed = lost or duplicated or tally.five_xx or not consistent or found.malformed_xml
    return 1 if failed else 0


def _client_details(
    tally: Tally,
    crews: list[Crew],
    actions: list[Any],
    sent: list[Any],
    dispatcher: Dispatcher,
    reports: checks.Reports,
) -> None:
    """Print what the clients did and how they were answered."""
    print(
        f"crews: {len(actions)} actions ({sum(a.second for a in actions)} second actions on a "
        f"stop), {sum(len(a.statuses) for a in actions)} sends (resends included; "
        f"{sum(c.offline for c in crews)} crews offline), "
        f"{sum(not c.signed_in for c in crews)} crews could not sign in"
    )
    caught = [a for a in actions if a.unanswered and not a.acked]
    if caught:
        said = Counter(KEY.sub("<key>", a.refusal or "no answer") for a in caught)
        print(f"crew actions caught by a kill and never accepted: {len(caught)}; {dict(said)}")
    photos, bad = sum(r.photo for r in sent), [r for r in sent if r.bad]
    print(
        f"citizens: {len(sent)} reports ({photos} with a photo, {len(bad)} with a control "
        f"character, answered {sorted({s for r in bad for s in r.statuses})}), "
        f"{reports.acked} acknowledged, {reports.stored} stored; "
        f"refusals {sorted({s for r in sent for s in r.statuses if s >= 400})}"
    )
    jobs = dispatcher.jobs
    print(
        f"dispatcher: {jobs.started} planning runs, {jobs.finished} finished, {jobs.failed} "
        f"failed, {jobs.lost} lost; {len(jobs.published)} plans published"
    )
    print(
        f"answers: {dict(sorted(tally.statuses.items()))}; {tally.transport_errors} sends "
        "unanswered (server down, or a kept-alive connection closed), each sent again"
    )
    for line in tally.by_route():
        print(f"  {line}")


def _problems(tally: Tally, found: Found) -> None:
    """Print every problem found (a few examples each) and where the marks were read."""
    print(f"marks read: {dict(found.marks.seen)}")
    for label, items in (
        ("5xx", tally.server_errors),
        ("lost marks", found.marks.lost),
        ("actions lost in a restart (no mark, no newer plan)", found.marks.stuck),
        ("stops with two marks", found.marks.twice),
        ("work orders closed twice", [str(i) for i in found.closed_twice]),
        ("reports missing", found.reports.missing),
        ("reports not served by the API", found.reports.api_missing),
        ("reports stored twice", found.reports.duplicated),
        ("reports stored though refused", found.reports.unacked_stored),
        ("work orders", found.work_orders),
    ):
        if items:
            print(f"{label}: {len(items)}; e.g. " + " | ".join(items[:3]))
    if found.malformed_xml:
        print(f"requests.xml: {found.malformed_xml} answers were not well-formed XML")


def main(argv: list[str] | None = None) -> int:
    """Run the soak in a fresh schema (dropped at the end unless ``--keep-schema``)."""
    args = parse_args(argv)
    print(f"ops soak: {args.duration:.0f} s, load {load()} ({os.cpu_count()} cores)", flush=True)
    schema, url = setup.new_schema(args.postgres)
    tmp = Path(tempfile.mkdtemp(prefix="ops_soak_"))
    try:
        return soak(args, url, tmp)
    finally:
        if args.keep_schema:
            print(f"schema kept: {schema} ({url})")
        else:
            setup.drop_schema(args.postgres, schema)
        setup.clean(tmp)


if __name__ == "__main__":
    threading.excepthook = lambda a: print(f"thread {a.thread}: {a.exc_value!r}", file=sys.stderr)
    sys.exit(main())
