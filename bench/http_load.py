"""A lean HTTP/1.1 load generator: N keep-alive clients on one asyncio loop, its own process.

``api_bench.py`` runs it as a subprocess, so the load comes from a process of its own, apart
from the servers measured. Why not ``httpx.AsyncClient``: at 50 connections it spends about
6 ms of CPU per request in the client itself (its pool and h11), so that serving a fixed
535 kB body from a trivial Starlette app measured 80 req/s and a p99 of 3.2 s, which is the
client's limit, not the server's. This client writes each request as bytes and reads the
answer by its ``Content-Length`` (or chunks), checking the status; the same app then gives
over 1,000 req/s.

    python bench/http_load.py http://127.0.0.1:8000 /open311/v2/requests.json \
        --count 1000 --clients 50 [--header 'If-None-Match: W/"..."'] [--bodies file.json]

Prints one JSON object: ``latencies_ms`` (one per request), ``wall_s``, ``statuses``,
``body_bytes``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Plan:
    """What to send: the request head (without its blank line) and the bodies, used in turn."""

    host: str
    port: int
    head: str
    bodies: list[bytes]
    ok: set[int]
    count: int
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    body_bytes: int = 0
    sent: int = 0


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Read one HTTP/1.1 response; return status, body and whether the server keeps the line."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    status = int(status_line.split()[1])
    length, chunked, keep = 0, False, True
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            keep = b"close" not in value.lower()
    if not chunked:
        return status, await reader.readexactly(length), keep
    body = bytearray()
    while size := int((await reader.readline()).split(b";")[0], 16):
        body += await reader.readexactly(size)
        await reader.readline()
    await reader.readline()
    return status, bytes(body), keep


async def client(plan: Plan) -> None:
    """Send requests over one keep-alive connection until the plan's count is reached."""
    reader, writer = await asyncio.open_connection(plan.host, plan.port)
    try:
        while plan.sent < plan.count:
            i = plan.sent
            plan.sent += 1
            body = plan.bodies[i % len(plan.bodies)] if plan.bodies else b""
            t = time.perf_counter()
            length = f"Content-Length: {len(body)}\r\n" if plan.bodies else ""
            writer.write(f"{plan.head}{length}\r\n".encode() + body)
            status, answer, keep = await read_response(reader)
            plan.latencies.append((time.perf_counter() - t) * 1000)
            plan.statuses[status] += 1
            plan.body_bytes += len(answer)
            if status not in plan.ok:
                raise AssertionError(f"HTTP {status}: {answer[:300]!r}")
            if not keep:
                writer.close()
                reader, writer = await asyncio.open_connection(plan.host, plan.port)
    finally:
        writer.close()


def make_plan(args: argparse.Namespace) -> Plan:
    """Build the plan from the command line."""
    url = urlsplit(args.base)
    lines = [f"{args.method} {args.path} HTTP/1.1", f"Host: {url.netloc}"]
    lines += [h.strip() for h in args.header]
    bodies: list[bytes] = []
    if args.bodies:
        with open(args.bodies, encoding="utf-8") as f:
            bodies = [b.encode() for b in json.load(f)]
        lines.append(f"Content-Type: {args.content_type}")
    head = "".join(f"{line}\r\n" for line in lines)
    ok = {int(s) for s in args.ok.split(",")}
    return Plan(url.hostname or "127.0.0.1", url.port or 80, head, bodies, ok, args.count)


async def main_async(plan: Plan, clients: int) -> float:
    """Run the clients; return the wall time in seconds."""
    t0 = time.perf_counter()
    await asyncio.gather(*(client(plan) for _ in range(min(clients, plan.count))))
    return time.perf_counter() - t0


def main() -> None:
    """Parse the command line, run the load and print the JSON result."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base", help="e.g. http://127.0.0.1:8000")
    ap.add_argument("path", help="path and query string")
    ap.add_argument("--method", default="GET")
    ap.add_argument("--count", type=int, default=1000, help="requests in all")
    ap.add_argument("--clients", type=int, default=50, help="concurrent connections")
    ap.add_argument("--header", action="append", default=[], help="'Name: value' (repeat)")
    ap.add_argument("--bodies", help="JSON file: a list of request bodies, used in turn")
    ap.add_argument("--content-type", default="application/x-www-form-urlencoded")
    ap.add_argument("--ok", default="200", help="accepted statuses, e.g. 200,304")
    args = ap.parse_args()
    plan = make_plan(args)
    wall = asyncio.run(main_async(plan, args.clients))
    print(
        json.dumps(
            {
                "latencies_ms": plan.latencies,
                "wall_s": wall,
                "statuses": {str(k): v for k, v in plan.statuses.items()},
                "body_bytes": plan.body_bytes,
            }
        )
    )


if __name__ == "__main__":
    main()
