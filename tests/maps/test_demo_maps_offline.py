"""Every map file `geo311 demo` writes shows the city's streets opened from disk, network blocked.

The demo runs once (its own store, in a temporary folder); each ``out/*.html`` is opened from
``file://`` in Chromium with every request that would leave the machine aborted. Inside the
map, with the markers, routes, hexagons and controls hidden, the pixels that are not the
background are the streets the file carries; at street zoom their names show.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from maps.basemap import BACKGROUND, LABEL_ZOOM

pytestmark = pytest.mark.browser

ONLY_STREETS = """() => {
  for (const el of document.querySelectorAll(
      '.leaflet-overlay-pane, .leaflet-marker-pane, .leaflet-shadow-pane, .leaflet-tooltip-pane,'
      + ' .leaflet-popup-pane, .leaflet-control-container, .g311-legend, .legend, svg.legend'))
    el.style.visibility = 'hidden';
}"""

THE_MAP = """() => {
  for (const k of Object.keys(window)) {
    let v; try { v = window[k]; } catch (e) { continue; }
    if (v instanceof L.Map) return k;
  }
  return null;
}"""


def street_share(page: Any, shot: Path | None = None) -> float:
    """Return the share of the map's pixels that are not its background, streets alone shown."""
    page.wait_for_selector(".leaflet-pane canvas")
    page.wait_for_timeout(400)
    page.evaluate(ONLY_STREETS)
    png = page.locator(".folium-map").screenshot()
    if shot is not None:
        shot.write_bytes(png)
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    return float((np.abs(rgb.astype(int) - np.array(BACKGROUND)).sum(axis=1) > 12).mean())


def visible_names(page: Any) -> int:
    """Return how many street-name labels are on screen and not hidden by the de-cluttering."""
    return int(
        page.evaluate(
            "() => [...document.querySelectorAll('.g311-street-name')].filter((el) =>"
            " el.style.visibility !== 'hidden' && el.getBoundingClientRect().width > 0).length"
        )
    )


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from geo311.cli.app import app

    out = tmp_path_factory.mktemp("demo") / "out"
    home = tmp_path_factory.mktemp("home")
    result = CliRunner().invoke(
        app, ["demo", "--out", str(out)], env={**os.environ, "GEO311_HOME": str(home)}
    )
    assert result.exit_code == 0, result.output
    return out


def test_every_demo_map_file_shows_streets_offline_with_names_at_street_zoom(
    demo_out: Path, open_map: Any, tmp_path: Path
) -> None:
    names = sorted(p.name for p in demo_out.glob("*.html"))
    assert {"open_work.html", "hotspots.html", "routes.html"} <= set(names), names
    assert any(n.startswith("route_") for n in names), names
    for name in names:
        mp = open_map(demo_out / name)
        page = mp.page
        page.wait_for_selector(".leaflet-pane canvas")
        assert not mp.tiles, f"{name}: the online tiles are on when the page opens"
        opening = street_share(page, tmp_path / f"open_{name}.png")
        assert opening > 0.002, f"{name}: {opening:.2%} of the opening view is streets"
        variable = page.evaluate(THE_MAP)
        page.evaluate(
            f"() => {{ const m = window['{variable}'];"
            f" m.setView(m.getCenter(), {LABEL_ZOOM - 1}, {{animate: false}}); }}"
        )
        page.wait_for_timeout(400)
        assert visible_names(page) == 0, f"{name}: street names before street zoom"
        # street zoom on the middle of the city's streets (the map's own street data)
        page.evaluate(
            f"""() => {{
              const m = window['{variable}'];
              let box = null;
              m.eachLayer((l) => {{ if (l.options && l.options.className === 'g311-street')
                box = box ? box.extend(l.getBounds()) : L.latLngBounds(l.getLatLngs()); }});
              m.setView(box.getCenter(), {LABEL_ZOOM + 1}, {{animate: false}});
            }}"""
        )
        page.wait_for_timeout(600)
        assert visible_names(page) > 3, f"{name}: no street names at street zoom"
        share = street_share(page, tmp_path / f"{name}.png")
        assert share > 0.03, f"{name}: {share:.1%} of the map is streets offline"
        mp.assert_clean()


def test_demo_map_files_stay_small(demo_out: Path) -> None:
    # the street data of a file is the extract's streets clipped to its extent: tens of kB
    for path in demo_out.glob("route*.html"):
        assert path.stat().st_size < 200_000, (path.name, path.stat().st_size)
