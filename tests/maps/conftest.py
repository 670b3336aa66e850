"""Browser test infrastructure: headless Chromium with the network blocked.

The maps load Leaflet and its plugins from the files geo311 ships (``maps/static/vendor``,
copied to ``assets/`` beside each written map), so the tests need no cache and no network.
Every request is routed:

* ``file://`` and ``http://127.0.0.1`` / ``localhost`` (the maps, their assets, the API) go on;
* OpenStreetMap tile requests (the one optional network use) are answered with a plain
  light-grey tile and counted (screenshots show no streets);
* anything else is aborted and recorded; :meth:`MapPage.assert_clean` fails naming it, as it
  does for every failed load and JavaScript error.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
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
_TILE = re.compile(r"^https://([a-c]\.)?tile\.openstreetmap\.org/\d+/\d+/\d+\.png$")


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


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@dataclass
class StaticServer:
    """A static HTTP server over one folder (so relative links in the maps work)."""

    root: Path
    url: str


@pytest.fixture(scope="session")
def static_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticServer]:
    root = tmp_path_factory.mktemp("site")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StaticServer(root, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing; install it with apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class MapPage:
    """A loaded page with what went wrong while loading it."""

    page: Any
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


def _watch(page: Any, result: MapPage) -> None:
    page.on("pageerror", lambda exc: result.errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: result.errors.append(f"console: {msg.text}") if msg.type == "error" else None,
    )
    # Leaflet cancels the tiles of a view it leaves (fit_bounds): those are not failures.
    page.on(
        "requestfailed",
        lambda req: (
            result.failed.append(f"{req.url} ({req.failure})")
            if req.url not in result.blocked and not _TILE.match(req.url)
            else None
        ),
    )

    def handle(route: Any) -> None:
        url = route.request.url
        if is_local(url):
            result.local.append(url)
            route.continue_()
        elif _TILE.match(url):
            result.tiles.append(url)
            route.fulfill(status=200, body=BLANK_TILE, content_type="image/png")
        else:
            result.blocked.append(url)
            route.abort("internetdisconnected")

    page.route("**/*", handle)


@pytest.fixture()
def open_page(chromium: Any) -> Iterator[Any]:
    """Return ``open(target, *, timeout_ms, headers)`` loading a page with the network blocked.

    ``target`` is a file (opened from ``file://``, as a crew opens ``out/*.html``) or an
    ``http://127.0.0.1...`` URL; ``headers`` are sent with every request (a staff token).
    """
    contexts: list[Any] = []

    def _open(
        target: Path | str, *, timeout_ms: float = 30_000, headers: dict[str, str] | None = None
    ) -> MapPage:
        url = target.resolve().as_uri() if isinstance(target, Path) else target
        context = chromium.new_context(
            viewport={"width": 1200, "height": 800}, extra_http_headers=headers or {}
        )
        contexts.append(context)
        page = context.new_page()
        result = MapPage(page)
        _watch(page, result)
        page.goto(url, wait_until="load", timeout=timeout_ms)
        return result

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture()
def open_map(open_page: Any) -> Any:
    """Return ``open(path, *, timeout_ms)`` loading a written map from ``file://``."""
    return open_page


@pytest.fixture()
def site_dir(static_server: StaticServer, request: pytest.FixtureRequest) -> Path:
    """A fresh folder under the static server's root for one test's files."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", request.node.name)[:60]
    folder = static_server.root / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
