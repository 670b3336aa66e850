"""HTTP plumbing of ``bench/ops_soak.py``: a client that retries through server kills, the
tally of every answer, and the small page parsers (CSRF token, crew data, planning job)."""

from __future__ import annotations

import html
import io
import json
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from PIL import Image

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)"')
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
CREW_DATA = re.compile(r'<script type="application/json" id="crew-data">(.*?)</script>', re.S)
NEW_WORK = re.compile(r'name="new_work_order" value="(\d+)"')
PLAN_URL = re.compile(r"/dispatch/plans/(\d+)")
ALERT = re.compile(r'role="alert">(.*?)</', re.S)
IDS = re.compile(r"/(?:\d+|[0-9a-f]{16,})(?=/|\.|$)")


def route_of(method: str, path: str) -> str:
    """Return ``METHOD /path`` with ids and the query left out (``/plans/{id}``)."""
    return f"{method} {IDS.sub('/{id}', path.split('?', 1)[0])}"


@dataclass
class Tally:
    """Every answer of the soak by status, the 5xx ones named, and transport errors."""

    statuses: Counter[int] = field(default_factory=Counter)
    routes: Counter[tuple[str, int]] = field(default_factory=Counter)
    samples: dict[tuple[str, int], str] = field(default_factory=dict)  # first 4xx body
    server_errors: list[str] = field(default_factory=list)
    transport_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, method: str, path: str, status: int, body: str) -> None:
        """Count one answer; keep the first 5xx answers' path and body for the report."""
        with self.lock:
            self.statuses[status] += 1
            self.routes[route_of(method, path), status] += 1
            if 400 <= status < 500:
                self.samples.setdefault((route_of(method, path), status), short(body))
            if status >= 500 and len(self.server_errors) < 20:
                self.server_errors.append(f"{status} {method} {path}: {body[:200]!r}")

    def transport_error(self) -> None:
        """Count a request that got no answer (server down or killed mid-request)."""
        with self.lock:
            self.transport_errors += 1

    def by_route(self) -> list[str]:
        """Return one line per route: its answers by status."""
        lines: dict[str, list[str]] = {}
        for (route, status), n in sorted(self.routes.items()):
            sample = self.samples.get((route, status))
            lines.setdefault(route, []).append(
                f"{status} x{n}" + (f" (e.g. {sample!r})" if sample else "")
            )
        return [f"{route}: {', '.join(counts)}" for route, counts in lines.items()]

    @property
    def five_xx(self) -> int:
        """Return how many answers were 5xx."""
        return sum(n for s, n in self.statuses.items() if s >= 500)


class Http:
    """One user's HTTP client (its own cookies) that resends a request on a transport error.

    A request that gets no answer (the server was killed, or is restarting) is sent again,
    identical (same idempotency key), every ``pause_s`` until it is answered or ``give_up``
    (a ``time.monotonic()`` value) has passed; then :meth:`call` returns ``None``.
    """

    def __init__(self, base: str, tally: Tally, give_up: float, *, timeout_s: float = 60.0):
        # plain HTTP on loopback: no TLS context to build (slow for 76 clients on a busy machine)
        self.client = httpx.Client(
            base_url=base, timeout=timeout_s, follow_redirects=False, verify=False
        )
        self.tally = tally
        self.give_up = give_up
        self.pause_s = 0.5

    def call(
        self, method: str, path: str, *, unanswered: list[int] | None = None, **kwargs: Any
    ) -> httpx.Response | None:
        """Send the request until it is answered; return the answer (``None`` on giving up).

        ``unanswered`` gets a 1 appended for every send that got no answer.
        """
        while True:
            try:
                response = self.client.request(method, path, **kwargs)
            except httpx.TransportError:
                self.tally.transport_error()
                if unanswered is not None:
                    unanswered.append(1)
                if time.monotonic() > self.give_up:
                    return None
                time.sleep(self.pause_s)
                continue
            body = response.text if response.status_code >= 400 else ""
            self.tally.answer(method, path, response.status_code, body)
            return response

    def login(self, username: str, password: str) -> bool:
        """Sign in through the login form (its CSRF cookie and field); True when signed in."""
        page = self.call("GET", "/login")
        found = CSRF_FIELD.search(page.text) if page is not None else None
        if found is None:
            return False
        form = {"username": username, "password": password, "csrf_token": found.group(1)}
        answer = self.call("POST", "/login", data={**form, "next": ""})
        return answer is not None and answer.status_code == 303

    def close(self) -> None:
        """Close the connections."""
        self.client.close()


def short(body: str) -> str:
    """Return an answer's message in a few words (an error page's alert, else the start)."""
    found = ALERT.search(body)
    return html.unescape(found.group(1)).strip()[:160] if found else body[:160]


def csrf_of(page: str) -> str:
    """Return the session's CSRF token of a staff page ('' when the page has none)."""
    found = CSRF_META.search(page) or CSRF_FIELD.search(page)
    return html.unescape(found.group(1)) if found else ""


def crew_data(page: str) -> dict[str, Any] | None:
    """Return the crew page's data (crew_id, plan_id, stops), or None without a plan."""
    found = CREW_DATA.search(page)
    return json.loads(found.group(1)) if found else None


def stop_finished(stop: dict[str, Any]) -> bool:
    """Tell whether the crew page shows a stop as done or can't-do (old and new pages)."""
    state = str(stop.get("state") or "")
    return bool(stop.get("done") or stop.get("cant")) or state in ("done", "cant_do", "cant")


def photo(rng: random.Random) -> tuple[str, bytes, str]:
    """Return a small phone photo (JPEG or PNG) as an upload tuple."""
    out = io.BytesIO()
    colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    image = Image.new("RGB", (rng.randint(48, 160), rng.randint(48, 120)), colour)
    if rng.random() < 0.5:
        image.save(out, "JPEG", quality=80)
        return ("IMG_soak.jpg", out.getvalue(), "image/jpeg")
    image.save(out, "PNG")
    return ("IMG_soak.png", out.getvalue(), "image/png")
