"""The vendored browser assets: complete, licensed, installed, and the only scripts a map loads."""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from fnmatch import fnmatch
from pathlib import Path

import folium
import pytest
from fastapi.testclient import TestClient
from folium.plugins import Fullscreen

from api.app import create_app
from geo311.city.profile import default_city
from geo311.errors import ConfigurationError, InputError
from geo311.settings import REPO_DATA_DIR, Settings
from maps.assets import (
    API_PREFIX,
    MANIFEST,
    VENDOR_DIR,
    copy_assets,
    local_asset,
    render_html,
    vendor_file,
    vendor_packages,
    vendor_url,
)
from maps.base import base_map, write_map
from maps.openwork import open_work_map
from tests.maps.synthetic import synthetic_work_orders

REPO = Path(__file__).resolve().parents[2]
AT = datetime(2015, 10, 6, 7, 0, tzinfo=default_city().tz)
# A stylesheet's url() may name old-browser font formats that are not shipped, as long as the
# woff/woff2 of the same font (the one current browsers load) is.
FALLBACK_FONTS = {".ttf", ".eot", ".svg"}
SCRIPT_OR_STYLE = re.compile(r'<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+)"')


def _loads(html_text: str) -> list[str]:
    return SCRIPT_OR_STYLE.findall(html_text)


def test_every_listed_file_and_licence_is_vendored() -> None:
    for package in vendor_packages():
        root = VENDOR_DIR if package.scope == "package" else REPO / "tests" / "vendor"
        for rel in package.files:
            assert (root / package.dir / rel).is_file(), f"{package.dir}/{rel} is missing"
        for rel in package.urls.values():
            assert rel in package.files, f"{package.dir}: {rel} is mapped but not shipped"
    raw = tomllib.loads(MANIFEST.read_text())["package"]
    for entry in raw:
        if entry["license_file"]:
            root = (
                VENDOR_DIR if entry.get("scope", "package") == "package" else REPO / "tests/vendor"
            )
            assert (root / entry["dir"] / entry["license_file"]).is_file()


def test_vendored_stylesheets_load_only_shipped_local_files() -> None:
    for css in VENDOR_DIR.rglob("*.css"):
        for ref in re.findall(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", css.read_text()):
            if ref.startswith(("data:", "#")):
                continue
            assert not ref.startswith(("http:", "https:", "//")), f"{css}: loads {ref}"
            target = (css.parent / ref.split("?", 1)[0].split("#", 1)[0]).resolve()
            if target.suffix in FALLBACK_FONTS and not target.exists():
                shipped = [target.with_suffix(s) for s in (".woff", ".woff2")]
                assert any(p.is_file() for p in shipped), f"{css}: no font for {ref}"
                continue
            assert target.is_file(), f"{css}: {ref} is not shipped"
            assert VENDOR_DIR in target.parents


def test_package_data_installs_every_vendored_file() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["maps"]
    maps_dir = REPO / "maps"
    files = [p for p in (maps_dir / "static").rglob("*") if p.is_file()]
    assert len(files) > 20
    for path in files:
        rel = path.relative_to(maps_dir).as_posix()
        assert any(fnmatch(rel, pattern) for pattern in patterns), f"{rel} is not package data"


def test_written_map_loads_only_its_assets_folder(catalogue, tmp_path: Path) -> None:
    orders = synthetic_work_orders(30, catalogue, at=AT, seed=2)
    path = write_map(open_work_map(orders, catalogue, at=AT), tmp_path / "maps" / "o.html")
    loads = _loads(path.read_text())
    assert len(loads) >= 9  # Leaflet, MarkerCluster, Bootstrap, Font Awesome, jQuery
    for url in loads:
        assert url.startswith("assets/"), url
        assert (path.parent / url).is_file(), url
    fonts = tmp_path / "maps/assets/fontawesome-free-6.2.0/webfonts/fa-solid-900.woff2"
    assert fonts.is_file()
    assert not (tmp_path / "maps/assets/d3-3.5.5").exists()  # only what the page uses


def test_api_rendering_links_the_static_mount_and_a_second_render_changes_prefix(
    catalogue, tmp_path: Path
) -> None:
    m = open_work_map(synthetic_work_orders(5, catalogue, at=AT), catalogue, at=AT)
    served = _loads(m.get_root().render())
    assert served and all(u.startswith(API_PREFIX) for u in served)
    written = _loads(write_map(m, tmp_path / "o.html").read_text())
    assert [u.removeprefix("assets/") for u in written] == [
        u.removeprefix(API_PREFIX) for u in served
    ]
    again = _loads(render_html(m, prefix="../assets/"))
    assert all(u.startswith("../assets/") for u in again) and len(again) == len(served)
    assert _loads(m.get_root().render()) == served  # the prefix was for that page only
    with pytest.raises(InputError, match="pass the folium Map"):
        render_html(folium.Map().get_root())


def test_a_cdn_file_that_is_not_vendored_is_refused(tmp_path: Path) -> None:
    m = base_map()
    Fullscreen().add_to(m)
    with pytest.raises(
        ConfigurationError, match=r"leaflet\.fullscreen.* no local copy; add .*vendor\.toml"
    ):
        write_map(m, tmp_path / "f.html")
    with pytest.raises(ConfigurationError, match="fetch_vendor.py"):
        local_asset("https://cdn.example.org/x.js")
    assert local_asset("//code.jquery.com/jquery-3.7.1.min.js") == "jquery-3.7.1/dist/jquery.min.js"


def test_render_html_localizes_a_folium_map_and_refuses_unshipped_plugins() -> None:
    m = folium.Map(tiles=None)
    # folium's default Awesome Markers are not shipped: base_map leaves them out
    with pytest.raises(ConfigurationError, match="awesome-markers"):
        render_html(m)
    m = folium.Map(tiles=None)
    m.default_js = [(n, u) for n, u in m.default_js if n != "awesome_markers"]
    unused = {"glyphicons_css", "awesome_markers_css", "awesome_rotate_css"}
    m.default_css = [(n, u) for n, u in m.default_css if n not in unused]
    loads = _loads(render_html(m, prefix="/x/"))
    assert len(loads) == 6 and all(u.startswith("/x/") for u in loads)


def test_copy_assets_without_a_page_copies_every_installed_package(tmp_path: Path) -> None:
    target = copy_assets(tmp_path)
    names = {p.name for p in target.iterdir()}
    assert names == {p.dir for p in vendor_packages() if p.scope == "package"}
    assert "axe-core-4.14.1" not in names  # test-only


def test_api_serves_the_vendored_files_the_map_pages_link(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'a.db'}",
        data_dir=REPO_DATA_DIR,
        staff_tokens={"plan-token": "planner"},
    )
    with TestClient(create_app(settings)) as client:
        page = client.get("/maps/open-work", headers={"Authorization": "Bearer plan-token"})
        assert page.status_code == 200, page.text
        loads = _loads(page.text)
        assert loads and all(u.startswith(API_PREFIX) for u in loads)
        for url in loads:
            got = client.get(url)
            assert got.status_code == 200, url
            kind = "javascript" if url.endswith(".js") else "css"
            assert kind in got.headers["content-type"], (url, got.headers["content-type"])
        htmx = client.get(vendor_url("htmx.org", "dist/htmx.min.js"))
        assert htmx.status_code == 200 and b"htmx" in htmx.content


def test_data_readme_lists_every_vendored_package_with_its_licence() -> None:
    text = (REPO / "data" / "README.md").read_text()
    for package in vendor_packages():
        rows = [line for line in text.splitlines() if f"`{package.dir}`" in line]
        assert len(rows) == 1, f"data/README.md has no row for {package.dir}"
        assert package.version in rows[0] and package.license.split(" ")[0] in rows[0]


def test_vendor_url_and_file_name_the_pinned_version_and_refuse_unknown_files() -> None:
    assert vendor_url("htmx.org", "dist/htmx.min.js") == (
        "/static/vendor/htmx.org-2.0.11/dist/htmx.min.js"
    )
    assert vendor_url("leaflet", "dist/leaflet.js", prefix="assets/") == (
        "assets/leaflet-1.9.3/dist/leaflet.js"
    )
    assert vendor_file("axe-core", "axe.min.js") == REPO / "tests/vendor/axe-core-4.14.1/axe.min.js"
    assert vendor_file("axe-core", "axe.min.js").is_file()
    with pytest.raises(InputError, match="not vendored; use one of"):
        vendor_url("react", "index.js")
    with pytest.raises(InputError, match="ships no 'dist/htmx.js'"):
        vendor_url("htmx.org", "dist/htmx.js")
    with pytest.raises(InputError, match="for the tests only"):
        vendor_url("axe-core", "axe.min.js")  # test-only, not served
