"""Local copies of the maps' browser assets: folium's CDN links rewritten to shipped files.

folium and branca write ``<script src="https://cdn...">`` and ``<link href="https://cdn...">``
into a map's ``<head>``. geo311 ships those files (``maps/static/vendor/``, listed with their
versions and licences in ``maps/static/vendor.toml``) and rewrites every such link when a map is
rendered, so maps work with no network; only the OpenStreetMap tiles stay optional network use.

* A map written to a folder (:func:`write_html`, used by ``maps.base.write_map``) gets the files
  it uses copied into ``<folder>/assets/`` and links ``assets/<package>/<file>``: it opens from
  ``file://`` and from any static web server.
* A map inside another page geo311 writes (a crew's itinerary): :func:`embed_html` returns
  an ``<iframe>`` whose page loads the same ``assets/`` folder.
* A map rendered for the API (:func:`render_html`, or ``get_root().render()`` of a map from
  ``maps.base.base_map``) links ``/static/vendor/<package>/<file>``; the API serves
  :data:`STATIC_DIR` at :data:`STATIC_URL`.

A link to a CDN file that is not vendored raises :class:`~geo311.errors.ConfigurationError`
instead of reaching the network.
"""

from __future__ import annotations

import html
import shutil
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from branca.element import CssLink, Element, Figure, JavascriptLink

from geo311.errors import ConfigurationError, InputError

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""The folder the API serves at :data:`STATIC_URL` (``vendor/`` holds the assets)."""
VENDOR_DIR = STATIC_DIR / "vendor"
MANIFEST = STATIC_DIR / "vendor.toml"
TEST_VENDOR_DIR = STATIC_DIR.parents[1] / "tests" / "vendor"
"""Test-only vendored files (axe-core), in a source checkout."""
STATIC_URL = "/static"
API_PREFIX = f"{STATIC_URL}/vendor/"
"""URL prefix of the vendored files in pages the API serves."""
ASSETS_FOLDER = "assets"
"""Folder written beside a map file, holding the vendored files it uses."""


@dataclass(frozen=True, slots=True)
class VendorPackage:
    """One vendored browser library (an entry of ``maps/static/vendor.toml``).

    Attributes
    ----------
    npm : str
        Its npm package name (``folium`` for folium's own plugin scripts).
    version : str
        The pinned version.
    dir : str
        Its folder under the vendor folder, ``<name>-<version>``.
    license : str
        SPDX licence expression.
    files : tuple of str
        The files shipped, relative to :attr:`dir`.
    urls : dict
        CDN URL -> shipped file (relative to :attr:`dir`).
    requires : tuple of str
        Other vendor folders its stylesheets load files from.
    scope : str
        ``package`` (installed with geo311) or ``test`` (tests/vendor only).
    """

    npm: str
    version: str
    dir: str
    license: str
    files: tuple[str, ...]
    urls: dict[str, str]
    requires: tuple[str, ...] = ()
    scope: str = "package"


@lru_cache(maxsize=1)
def vendor_packages() -> tuple[VendorPackage, ...]:
    """Return the vendored packages listed in ``maps/static/vendor.toml``.

    Returns
    -------
    tuple of VendorPackage
        In file order.
    """
    raw = tomllib.loads(MANIFEST.read_text(encoding="utf-8"))
    return tuple(
        VendorPackage(
            npm=p["npm"],
            version=p["version"],
            dir=p["dir"],
            license=p["license"],
            files=tuple(p["files"]),
            urls=dict(p.get("urls", {})),
            requires=tuple(p.get("requires", ())),
            scope=p.get("scope", "package"),
        )
        for p in raw["package"]
    )


@lru_cache(maxsize=1)
def _url_table() -> dict[str, str]:
    return {
        _normal(url): f"{p.dir}/{rel}"
        for p in vendor_packages()
        if p.scope == "package"
        for url, rel in p.urls.items()
    }


def _normal(url: str) -> str:
    url = url.split("#", 1)[0].split("?", 1)[0]
    return "https:" + url if url.startswith("//") else url


def _package(npm: str) -> VendorPackage:
    for package in vendor_packages():
        if package.npm == npm:
            return package
    names = ", ".join(sorted({p.npm for p in vendor_packages()}))
    raise InputError(f"npm package {npm!r} is not vendored; use one of {names}", field="npm")


def vendor_url(npm: str, file: str, *, prefix: str = API_PREFIX) -> str:
    """Return the URL of a vendored file, for pages that link it themselves (staff pages).

    Parameters
    ----------
    npm : str
        The npm package, e.g. ``htmx.org``.
    file : str
        A shipped file of it, e.g. ``dist/htmx.min.js``.
    prefix : str, keyword-only
        URL of the vendor folder as the page sees it (default: the API's).

    Returns
    -------
    str
        For example ``/static/vendor/htmx.org-2.0.11/dist/htmx.min.js``.

    Raises
    ------
    InputError
        If the package is not vendored or does not ship that file.
    """
    package = _package(npm)
    if package.scope != "package":
        raise InputError(
            f"{package.dir} is for the tests only (tests/vendor), not served; use vendor_file()",
            field="npm",
        )
    if file not in package.files:
        raise InputError(
            f"{package.dir} ships no {file!r}; use one of {', '.join(package.files)}",
            field="file",
        )
    return f"{prefix}{package.dir}/{file}"


def vendor_file(npm: str, file: str) -> Path:
    """Return the path of a vendored file (test-only packages are under ``tests/vendor/``).

    Parameters
    ----------
    npm : str
        The npm package, e.g. ``axe-core``.
    file : str
        A shipped file of it, e.g. ``axe.min.js``.

    Returns
    -------
    Path
        The file (test-only files exist in a source checkout only).

    Raises
    ------
    InputError
        If the package is not vendored or does not ship that file.
    """
    package = _package(npm)
    if file not in package.files:
        raise InputError(
            f"{package.dir} ships no {file!r}; use one of {', '.join(package.files)}",
            field="file",
        )
    root = VENDOR_DIR if package.scope == "package" else TEST_VENDOR_DIR
    return root / package.dir / file


def is_external(url: str) -> bool:
    """Return whether a link leaves the page's own server (``http(s)://`` or ``//host``).

    Parameters
    ----------
    url : str
        A ``src`` or ``href`` value.

    Returns
    -------
    bool
        True for absolute and scheme-relative URLs.
    """
    return url.startswith(("http://", "https://", "//"))


def local_asset(url: str) -> str:
    """Return the vendored file (``<package dir>/<file>``) that replaces a CDN URL.

    Parameters
    ----------
    url : str
        A script or stylesheet URL that folium or branca emit.

    Returns
    -------
    str
        Path relative to the vendor folder.

    Raises
    ------
    ConfigurationError
        If the URL is not vendored (a new folium plugin or version).
    """
    found = _url_table().get(_normal(url))
    if found is None:
        raise ConfigurationError(
            f"asset {url} has no local copy; add its package and URL to maps/static/vendor.toml "
            "and run `python maps/static/fetch_vendor.py`",
            field="url",
        )
    return found


def localize_links(header: Element, *, prefix: str) -> list[str]:
    """Point every external script and stylesheet link of a figure's head at local copies.

    Parameters
    ----------
    header : branca.element.Element
        ``figure.header`` after the figure's children are rendered (they add the links).
    prefix : str
        URL of the vendor folder as the page sees it, ending in ``/`` (``assets/``,
        ``../assets/`` or :data:`API_PREFIX`).

    Returns
    -------
    list of str
        The vendored files the page uses (relative to the vendor folder).

    Raises
    ------
    ConfigurationError
        If a link points at a CDN file that is not vendored.
    """
    used = []
    # folium keeps a figure's header links only in Element._children (no public accessor).
    for child in header._children.values():  # noqa: SLF001
        if not isinstance(child, JavascriptLink | CssLink):
            continue
        # A figure rendered twice keeps the original URL of each link.
        source = getattr(child, "cdn_url", child.url)
        if not is_external(source):
            continue
        rel = local_asset(source)
        setattr(child, "cdn_url", source)  # noqa: B010 (branca links have no such field)
        child.url = prefix + rel
        used.append(rel)
    return used


class AssetFigure(Figure):
    """A branca Figure whose rendered page loads the vendored assets, never a CDN.

    Parameters
    ----------
    prefix : str, keyword-only
        URL of the vendor folder as the page sees it (default: the API's
        :data:`API_PREFIX`); :func:`write_html` sets it while writing a file.
    """

    def __init__(self, *, prefix: str = API_PREFIX) -> None:
        super().__init__()
        self.asset_prefix = prefix
        self.assets_used: list[str] = []

    def render(self, **kwargs: Any) -> str:
        """Render the children, rewrite the head's links, then render the page."""
        for child in self._children.values():
            child.render(**kwargs)
        self.assets_used = localize_links(self.header, prefix=self.asset_prefix)
        return str(self._template.render(this=self, kwargs=kwargs))


def use_local_assets(element: Element, *, prefix: str | None = None) -> AssetFigure:
    """Re-root a folium map (or any element) in an :class:`AssetFigure`.

    Parameters
    ----------
    element : branca.element.Element
        The map; it is detached from its current figure.
    prefix : str, keyword-only, optional
        URL of the vendor folder as the page sees it; default: keep the figure's, or
        :data:`API_PREFIX` for a new one.

    Returns
    -------
    AssetFigure
        The root (``element.get_root()``), new unless it was one already.

    Raises
    ------
    InputError
        If ``element`` is a plain Figure (pass the map it holds).
    """
    if isinstance(element, Figure) and not isinstance(element, AssetFigure):
        raise InputError(
            "element is a branca Figure; pass the folium Map it holds (map.get_root() is the "
            "Figure)",
            field="element",
        )
    root = element.get_root()
    if isinstance(root, AssetFigure):
        if prefix is not None:
            root.asset_prefix = prefix
        return root
    figure = AssetFigure(prefix=API_PREFIX if prefix is None else prefix)
    figure.add_child(element)
    return figure


def _render_with(figure: AssetFigure, prefix: str) -> str:
    previous = figure.asset_prefix
    figure.asset_prefix = prefix
    try:
        return figure.render()
    finally:
        figure.asset_prefix = previous


def render_html(element: Element, *, prefix: str = API_PREFIX) -> str:
    """Return a map as an HTML page whose scripts and stylesheets come from ``prefix``.

    Parameters
    ----------
    element : branca.element.Element
        The map (re-rooted in an :class:`AssetFigure` when it is not one already).
    prefix : str, keyword-only
        URL of the vendor folder as the page sees it, for this page only; the default suits
        pages the API serves.

    Returns
    -------
    str
        The page.
    """
    return _render_with(use_local_assets(element), prefix)


def _referenced(used: Iterable[str]) -> set[str]:
    # A stylesheet loads the fonts and images of its own package, and of the packages it
    # `requires` (the time slider's the Glyphicons font): copy whole package folders.
    dirs = {rel.split("/", 1)[0] for rel in used}
    for package in vendor_packages():
        if package.dir in dirs:
            dirs.update(package.requires)
    return dirs


def copy_assets(folder: str | Path, used: Iterable[str] | None = None) -> Path:
    """Copy vendored packages into ``<folder>/assets/`` (skipping files already there).

    Parameters
    ----------
    folder : str or Path
        The folder the HTML pages are written to.
    used : iterable of str, optional
        Files a page uses (from :func:`localize_links`); their packages are copied whole.
        ``None`` copies every package installed with geo311.

    Returns
    -------
    Path
        The assets folder.
    """
    target = Path(folder) / ASSETS_FOLDER
    if used is None:
        dirs = {p.dir for p in vendor_packages() if p.scope == "package"}
    else:
        dirs = _referenced(used)
    for name in sorted(dirs):
        source = VENDOR_DIR / name
        for path in source.rglob("*"):
            if not path.is_file():
                continue
            dest = target / name / path.relative_to(source)
            if dest.is_file() and dest.stat().st_size == path.stat().st_size:
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
    return target


def _render_for_folder(element: Element, folder: Path) -> str:
    # Render with links to <folder>/assets/ and copy the files the page uses there.
    figure = use_local_assets(element)
    page = _render_with(figure, f"{ASSETS_FOLDER}/")
    copy_assets(folder, figure.assets_used)
    return page


def write_html(element: Element, path: str | Path) -> Path:
    """Write a map as an HTML file with its assets in ``assets/`` beside it.

    Parameters
    ----------
    element : branca.element.Element
        The map.
    path : str or Path
        Output file (its folder is created).

    Returns
    -------
    Path
        The written file; it opens from ``file://`` with no network (tiles aside).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page = _render_for_folder(element, path.parent)
    path.write_text(page, encoding="utf-8")
    return path


def embed_html(
    element: Element, folder: str | Path, *, height: str = "360px", title: str = "Map"
) -> str:
    """Return an ``<iframe>`` showing a map inside another page written to ``folder``.

    For pages geo311 writes itself (e.g. a crew's itinerary): the map's own page goes in the
    frame's ``srcdoc`` (so its full-page styles do not touch the host page) and loads the
    vendored files from ``<folder>/assets/``, copied there now.

    Parameters
    ----------
    element : branca.element.Element
        The map.
    folder : str or Path
        Folder the host page is written to (created if missing).
    height : str, keyword-only
        CSS height of the frame.
    title : str, keyword-only
        Accessible title of the frame.

    Returns
    -------
    str
        The ``<iframe>`` element.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    page = _render_for_folder(element, folder)
    return (
        f'<iframe title="{html.escape(title)}" srcdoc="{html.escape(page, quote=True)}" '
        f'style="width:100%;height:{html.escape(height)};border:0"></iframe>'
    )
