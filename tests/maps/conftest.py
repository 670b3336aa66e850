"""Browser test infrastructure of the maps: written maps opened with the network blocked.

The maps load Leaflet and its plugins from the files geo311 ships (``maps/static/vendor``,
copied to ``assets/`` beside each written map), so the tests need no cache and no network.
Blocking, the blank tiles and the error record are ``tests/_browser.py`` (shared with the
staff pages); the ``chromium`` fixture is in ``tests/conftest.py``.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests._browser import Watch, block_network, record_errors

REPO = Path(__file__).resolve().parents[2]


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


@dataclass
class MapPage(Watch):
    """A loaded page with what went wrong while loading it (:class:`tests._browser.Watch`)."""

    page: Any = None


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
        result = MapPage(page=page)
        record_errors(page, result)
        block_network(page, result)
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
