"""Crash safety and throughput of the notification outbox sender.

Queues N "request received" events (default 10,000; each reporter has an e-mail address),
then runs the real sender (``python -m geo311.notify run``) as subprocesses against a local
aiosmtpd receiver that counts deliveries by Message-ID. Each sender is killed with SIGKILL
``--kills`` times (default 5) at random moments (after a random number of deliveries plus a
random delay) and restarted at once. At the end it prints

    events 10000, delivered 10000, duplicates 0, lost 0

counting per event and recipient (an outbox row): ``delivered`` rows the receiver accepted at
least once, ``duplicates`` copies a mailbox that drops repeated Message-IDs would still show
(a second Message-ID for the same event and recipient), ``lost`` rows never accepted. The same
line gives ``resent``: acceptances beyond the first of one Message-ID, the at-least-once window
(a kill between the relay's 250 and the sender's commit of ``sent``); a receiver that does not
honour Message-ID would show those as duplicates. Plus the throughput; baseline in the same
run: the same sender without kills on ``--baseline-events`` events.

SQLite runs one sender (SQLite takes one); ``--postgres URL`` runs on a fresh schema of that
PostgreSQL with ``--senders`` (default 2) concurrent senders.

    .venv/bin/python bench/notify_bench.py [--events 10000] [--kills 5] [--postgres URL]
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiosmtpd.controller import Controller

from geo311.db.notify_schema import outbox
from geo311.db.store import Store
from geo311.model import ServiceRequest
from geo311.notify import Event, enqueue, save_contact
from geo311.notify.templates import message_id
from geo311.requests import repo as request_repo
from geo311.requests.repo import request_to_row

DOMAIN = "bench.example.gov"
T0 = datetime(2015, 10, 5, 12, 15, tzinfo=UTC)


class Counter:
    """aiosmtpd handler: acceptances per Message-ID, and Message-IDs per event and recipient."""

    def __init__(self) -> None:
        self.by_id: collections.Counter[str] = collections.Counter()
        self.ids_of: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
        self.total = 0
        self.last = time.perf_counter()
        self.lock = threading.Lock()

    def clear(self) -> None:
        with self.lock:
            self.by_id.clear()
            self.ids_of.clear()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        head = envelope.content.split(b"\r\n\r\n", 1)[0].decode()
        fields = dict(
            (name.lower(), value.strip())
            for name, _, value in (line.partition(":") for line in head.splitlines())
        )
        mid, event = fields["message-id"], fields["x-geo311-event"]
        with self.lock:
            self.by_id[mid] += 1
            self.ids_of[(event, envelope.rcpt_tos[0])].add(mid)
            self.total += 1
            self.last = time.perf_counter()
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def queue_events(store: Store, n: int, *, prefix: str, chunk: int = 500) -> None:
    """Store n requests with contacts and queue their events, one transaction per chunk."""
    for start in range(0, n, chunk):
        ids = [f"{prefix}{i:06d}" for i in range(start, min(n, start + chunk))]
        rows = [
            request_to_row(
                ServiceRequest(
                    service_request_id=rid, service_code="pothole",
                    service_name="Request Pothole Repair", status="open",
                    requested_datetime=T0, source="bench", source_id=rid,
                    address=f"{int(rid[-4:]) + 1} Boylston St",
                )
            )
            for rid in ids
        ]  # fmt: skip
        with store.begin() as conn:
            request_repo.insert_request_rows(store, conn, rows)
            for rid in ids:
                save_contact(conn, rid, email=f"r{rid}@example.org", first_name="Ada")
                enqueue(conn, Event(type="received", service_request_id=rid, occurred_at=T0))


@dataclass
class Run:
    """Sender processes of one measurement and what happened to them."""

    url: str
    env: dict[str, str]
    senders: int
    log: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    kills: int = 0

    def start(self, i: int | None = None) -> None:
        cmd = [sys.executable, "-m", "geo311.notify", "run", "--batch", "100", "--poll", "0.2"]
        cmd += ["--database-url", self.url]
        with self.log.open("ab") as err:
            proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=err)
        if i is None:
            self.procs.append(proc)
        else:
            self.procs[i] = proc

    def kill_one(self, rng: random.Random) -> None:
        i = rng.randrange(len(self.procs))
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait()  # the kernel has freed its locks and connections
        self.kills += 1
        self.start(i)

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def pending(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).where(outbox.c.status != "sent")).scalar_one()
        )


def expected_rows(store: Store) -> set[tuple[str, str]]:
    with store.engine.connect() as conn:
        return {(e, a) for e, a in conn.execute(sa.select(outbox.c.event_id, outbox.c.address))}


def measure(store: Store, run: Run, counter: Counter, *, kills: int, seed: int) -> float:
    """Start the senders, kill them ``kills`` times, wait for an empty outbox; return seconds."""
    rng = random.Random(seed)
    n = len(expected_rows(store))
    base = counter.total
    marks = sorted(rng.sample(range(n // 20, n - n // 20), kills))
    t0 = time.perf_counter()
    for _ in range(run.senders):
        run.start()
    for mark in marks:
        while counter.total - base < mark:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.05))  # a random moment, not a message boundary
        run.kill_one(rng)
    while pending(store):
        time.sleep(0.2)
    elapsed = counter.last - t0
    run.stop()
    return elapsed


def report(store: Store, counter: Counter, seconds: float, run: Run, label: str) -> None:
    expected = expected_rows(store)
    with store.engine.connect() as conn:
        keys = conn.execute(sa.select(outbox.c.idempotency_key)).scalars().all()
    ids = {message_id(k, domain=DOMAIN) for k in keys}
    same_ids = all(counter.ids_of.get(row, set()) <= ids for row in expected)
    delivered = sum(1 for row in expected if counter.ids_of.get(row))
    duplicates = sum(max(len(counter.ids_of.get(row, ())) - 1, 0) for row in expected)
    lost = len(expected) - delivered
    resent = sum(c - 1 for c in counter.by_id.values())
    print(
        f"{label}: events {len(expected)}, delivered {delivered}, duplicates {duplicates}, "
        f"lost {lost}; resent (same Message-ID) {resent}; "
        f"Message-IDs from the idempotency keys: {'yes' if same_ids else 'NO'}; "
        f"{run.kills} SIGKILLs, {run.senders} sender(s); "
        f"{len(expected) / seconds:,.0f} events/s ({seconds:.1f} s)",
        flush=True,
    )


def bench(url: str, args: argparse.Namespace, work: Path) -> None:
    counter = Counter()
    port = free_port()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    env = os.environ | {
        "GEO311_SMTP_HOST": "127.0.0.1",
        "GEO311_SMTP_PORT": str(port),
        "GEO311_MAIL_FROM": f"Bench 311 <noreply@{DOMAIN}>",
        "GEO311_NOTIFY_SECRET": "bench-secret-0123456789",
        "GEO311_NOTIFY_BACKOFF_S": "1",
    }
    senders = args.senders if url.startswith("postgresql") else 1
    try:
        for label, n, kills in (
            ("baseline (no kills)", args.baseline_events, 0),
            ("with SIGKILLs", args.events, args.kills),
        ):
            if n <= 0:
                continue
            counter.clear()
            with Store(url) as store:
                store.drop_all()
                store.migrate()
                t = time.perf_counter()
                queue_events(store, n, prefix="B" if kills == 0 else "K")
                print(f"  queued {n} events in {time.perf_counter() - t:.1f} s", flush=True)
                run = Run(url, env, senders, work / "senders.log")
                seconds = measure(store, run, counter, kills=kills, seed=args.seed)
                report(store, counter, seconds, run, label)
    finally:
        controller.stop()


def postgres_schema_url(base: str) -> tuple[str, str]:
    schema = f"notify_bench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", schema


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--baseline-events", type=int, default=2_000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL instead of SQLite")
    parser.add_argument("--senders", type=int, default=2, help="concurrent senders (PostgreSQL)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.postgres:
            url, schema = postgres_schema_url(args.postgres)
            try:
                bench(url, args, work)
            finally:
                engine = sa.create_engine(args.postgres)
                with engine.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                engine.dispose()
        else:
            bench(f"sqlite:///{work / 'notify.db'}", args, work)
        log = (work / "senders.log").read_text() if (work / "senders.log").exists() else ""
        if log.strip():
            print("sender stderr (last lines):\n" + "\n".join(log.splitlines()[-5:]))


if __name__ == "__main__":
    main()
