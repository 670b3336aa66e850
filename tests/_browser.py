"""Headless Chromium with the network blocked, shared by the map tests and the staff pages.

Every request of a watched page (or browser context) is routed:

* ``file://``, ``data:``, ``blob:`` and ``http://127.0.0.1`` / ``localhost`` (the maps, their
  assets, the API and the staff pages) go on;
* OpenStreetMap tile requests (the one optional network use) are answered with a plain
  light-grey tile and counted (screenshots show no streets);
* anything else is aborted and recorded; :meth:`Watch.assert_clean` fails naming it, as it
  does for every failed load and JavaScript error.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
TILE = re.compile(r"^https://([a-c]\.)?tile\.openstreetmap\.org/\d+/\d+/\d+\.png$")


def _png(rgb: tuple[int, int, int], size: int = 256) -> bytes:
    raw = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


BLANK_TILE = _png((236, 236, 232))


@dataclass
class Watch:
    """What went wrong while a page loaded and ran: errors, blocked and failed requests."""

    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    tiles: list[str] = field(default_factory=list)
    local: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        """Fail naming every request that tried to leave the machine (tiles aside), every
        failed load and every JavaScript error."""
        assert not self.blocked, f"requests that would leave the machine: {self.blocked}"
        assert not self.failed, f"failed loads: {self.failed}"
        assert not self.errors, f"JavaScript errors: {self.errors}"


def is_local(url: str) -> bool:
    """Return whether a request stays on the machine (a file or a local server)."""
    parts = urlsplit(url)
    return parts.scheme in ("file", "data", "blob") or parts.hostname in LOCAL_HOSTS


def block_network(target: Any, watch: Watch, *, allow: Callable[[str], bool] = is_local) -> None:
    """Route every request of a page or browser context: allowed ones go on, tiles get a
    blank tile, the rest is aborted and recorded in ``watch.blocked``."""

    def handle(route: Any) -> None:
        url = route.request.url
        if allow(url):
            watch.local.append(url)
            route.continue_()
        elif TILE.match(url):
            watch.tiles.append(url)
            route.fulfill(status=200, body=BLANK_TILE, content_type="image/png")
        else:
            watch.blocked.append(url)
            route.abort("internetdisconnected")

    target.route("**/*", handle)


def record_errors(page: Any, watch: Watch, *, failed_loads: bool = True) -> None:
    """Record a page's JavaScript errors, console errors and failed loads in ``watch``.

    With ``failed_loads=False`` a failed load is not an error (a test that takes the phone
    offline on purpose): neither the request nor Chromium's console line about it.
    """
    page.on("pageerror", lambda exc: watch.errors.append(f"pageerror: {exc}"))

    def console(msg: Any) -> None:
        if msg.type != "error":
            return
        if not failed_loads and "Failed to load resource" in msg.text:
            return
        watch.errors.append(f"console: {msg.text}")

    page.on("console", console)
    if failed_loads:
        # Leaflet cancels the tiles of a view it leaves (fit_bounds): those are not failures.
        page.on(
            "requestfailed",
            lambda req: (
                watch.failed.append(f"{req.url} ({req.failure})")
                if req.url not in watch.blocked and not TILE.match(req.url)
                else None
            ),
        )


@contextmanager
def launch_chromium() -> Iterator[Any]:
    """Start the system Chromium headless (fails naming the package when it is missing)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing; install it with apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
