"""Browser test infrastructure: local copies of the maps' CDN assets, a static server, Chromium.

There is no internet in tests. Every CDN URL a generated map references is answered from a
local copy:

* ``cdn.jsdelivr.net/npm/<pkg>@<ver>/<path>``, cdnjs ``ajax/libs/<pkg>/<ver>/<file>``
  (looked up at the package root, ``dist/`` and ``min/``) and ``code.jquery.com`` come from the npm packages of the same version, fetched once with
  ``npm pack`` into ``cache/map_assets/`` (git-ignored; the npm registry is reachable in CI).
  As jsdelivr does, ``x.min.js`` is served from ``x.js`` when a package ships no minified file.
* ``cdn.jsdelivr.net/gh/python-visualization/folium/.../templates/<f>`` comes from the
  installed folium package, which ships those files.
* The Bootstrap 3.0.0 Glyphicons font that leaflet.timedimension's CSS loads from
  netdna.bootstrapcdn.com comes from ``bootstrap@3.1.1`` (3.0.0 is not on npm).
* OpenStreetMap tiles are answered with a plain light-grey tile (screenshots show no streets).

Any other non-local request fails the test, naming the URL.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import struct
import subprocess
import tarfile
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import folium
import pytest

REPO = Path(__file__).resolve().parents[2]
ASSET_CACHE = REPO / "cache" / "map_assets"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
FOLIUM_TEMPLATES = Path(folium.__file__).parent / "templates"

_NPM = re.compile(r"^https://cdn\.jsdelivr\.net/npm/((?:@[^/@]+/)?[^/@]+)@([^/]+)/(.+)$")
_CDNJS = re.compile(r"^https://cdnjs\.cloudflare\.com/ajax/libs/([^/]+)/([^/]+)/(.+)$")
_JQUERY = re.compile(r"^https://code\.jquery\.com/jquery-([0-9.]+)\.min\.js$")
_FOLIUM_GH = re.compile(
    r"^https://cdn\.jsdelivr\.net/gh/python-visualization/folium(?:@[^/]+)?/folium/templates/(.+)$"
)
_GLYPH_FONTS = re.compile(
    r"^https://netdna\.bootstrapcdn\.com/bootstrap/3\.[0-9.]+/fonts/(glyphicons-halflings-regular\.\w+)$"
)
# leaflet.timedimension.control.css loads the Glyphicons font of Bootstrap 3.0.0, which is not
# on npm; bootstrap@3.1.1 (the oldest 3.x on npm) ships the same Glyphicons Halflings font
# family, with the same code points for the play/pause glyphs the control draws.
GLYPH_FONT_PACKAGE = ("bootstrap", "3.1.1")
_TILE = re.compile(r"^https://([a-c]\.)?tile\.openstreetmap\.org/\d+/\d+/\d+\.png$")
_MIME = {
    ".js": "application/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
}


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


class AssetMirror:
    """Maps CDN URLs to local files, fetching npm packages into the cache when missing."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache

    def _package_dir(self, name: str, version: str) -> Path:
        target = self.cache / f"{name.replace('/', '__')}@{version}"
        if (target / "package.json").exists():
            return target
        if shutil.which("npm") is None:
            raise LookupError(f"npm is not installed, cannot fetch {name}@{version}")
        tgz_dir = self.cache / "_tgz"
        tgz_dir.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            ["npm", "pack", f"{name}@{version}", "--pack-destination", str(tgz_dir), "--silent"],
            capture_output=True,
            text=True,
            timeout=180,
        )
        if out.returncode != 0:
            raise LookupError(f"npm pack {name}@{version} failed: {out.stderr.strip()[-300:]}")
        tgz = tgz_dir / out.stdout.strip().splitlines()[-1]
        tmp = target.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        with tarfile.open(tgz) as tar:
            tar.extractall(tmp, filter="data")
        shutil.rmtree(target, ignore_errors=True)
        (tmp / "package").rename(target)
        shutil.rmtree(tmp, ignore_errors=True)
        return target

    @staticmethod
    def _existing(path: Path) -> Path | None:
        if path.is_file():
            return path
        if path.name.endswith(".min.js"):
            plain = path.with_name(path.name.removesuffix(".min.js") + ".js")
            if plain.is_file():
                return plain
        return None

    def resolve(self, url: str) -> Path | None:
        """Return the local file for a CDN URL, or None when no rule covers it."""
        url = url.split("?", 1)[0].split("#", 1)[0]
        if m := _FOLIUM_GH.match(url):
            return self._existing(FOLIUM_TEMPLATES / m.group(1))
        if m := _NPM.match(url):
            return self._existing(self._package_dir(m.group(1), m.group(2)) / m.group(3))
        if m := _CDNJS.match(url):  # cdnjs names its libraries after their npm packages
            pkg = self._package_dir(m.group(1), m.group(2))
            for sub in ("", "dist/", "min/"):
                if found := self._existing(pkg / (sub + m.group(3))):
                    return found
            return None
        if m := _GLYPH_FONTS.match(url):
            pkg = self._package_dir(*GLYPH_FONT_PACKAGE)
            return self._existing(pkg / "dist" / "fonts" / m.group(1))
        if m := _JQUERY.match(url):
            return self._existing(self._package_dir("jquery", m.group(1)) / "dist/jquery.min.js")
        return None


@pytest.fixture(scope="session")
def asset_mirror() -> AssetMirror:
    return AssetMirror(ASSET_CACHE)


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
    """A loaded map page with what went wrong while loading it."""

    page: Any
    errors: list[str] = field(default_factory=list)
    unserved: list[str] = field(default_factory=list)
    served: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        """Fail naming every CDN URL that could not be served and every JavaScript error."""
        assert not self.unserved, f"no local copy for: {self.unserved}"
        assert not self.errors, f"JavaScript errors: {self.errors}"


@pytest.fixture()
def open_map(
    chromium: Any, static_server: StaticServer, asset_mirror: AssetMirror
) -> Iterator[Any]:
    """Return ``open(path, *, timeout_ms)`` loading a map file through the static server."""
    contexts: list[Any] = []

    def _open(path: Path, *, timeout_ms: float = 30_000) -> MapPage:
        rel = path.resolve().relative_to(static_server.root.resolve())
        context = chromium.new_context(viewport={"width": 1200, "height": 800})
        contexts.append(context)
        page = context.new_page()
        result = MapPage(page)
        page.on("pageerror", lambda exc: result.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: (
                result.errors.append(f"console: {msg.text}") if msg.type == "error" else None
            ),
        )

        def handle(route: Any) -> None:
            url = route.request.url
            if url.startswith(static_server.url):
                route.continue_()
                return
            if _TILE.match(url):
                route.fulfill(status=200, body=BLANK_TILE, content_type="image/png")
                return
            try:
                local = asset_mirror.resolve(url)
            except LookupError as exc:
                result.unserved.append(f"{url} ({exc})")
                local = None
            if local is None:
                if url not in " ".join(result.unserved):
                    result.unserved.append(url)
                route.abort()
                return
            result.served.append(url)
            route.fulfill(
                status=200,
                body=local.read_bytes(),
                content_type=_MIME.get(local.suffix, "application/octet-stream"),
                headers={"Access-Control-Allow-Origin": "*"},
            )

        page.route("**/*", handle)
        page.goto(f"{static_server.url}/{rel.as_posix()}", wait_until="load", timeout=timeout_ms)
        return result

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture()
def site_dir(static_server: StaticServer, request: pytest.FixtureRequest) -> Path:
    """A fresh folder under the static server's root for one test's files."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", request.node.name)[:60]
    folder = static_server.root / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
