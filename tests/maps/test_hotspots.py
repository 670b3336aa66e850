from __future__ import annotations

import os
import random
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import h3
import pandas as pd
import pytest

from geo311.db.store import Store
from geo311.errors import InputError
from geo311.ingest.importer import ImportOptions, import_file
from geo311.requests import repo as request_repo
from geo311.settings import Settings
from maps.base import write_map
from maps.hotspots import gi_star_hexagons, hex_counts, hotspots_map, located_requests_frame

REPO = Path(__file__).resolve().parents[2]
# Screenshots go to GEO311_SCREENSHOT_DIR (e.g. docs/img to refresh the README) or a temp dir.
IMG = Path(
    os.environ.get("GEO311_SCREENSHOT_DIR", Path(tempfile.gettempdir()) / "geo311-screenshots")
)
IMG.mkdir(parents=True, exist_ok=True)
TZ = ZoneInfo("America/New_York")


def _frame(n_background: int = 1500, n_cluster: int = 600, seed: int = 2) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    t0 = datetime(2015, 1, 1, tzinfo=TZ)
    for i in range(n_background + n_cluster):
        if i < n_background:
            lat, lon = rng.uniform(42.30, 42.38), rng.uniform(-71.13, -71.03)
        else:  # a planted hot spot
            lat, lon = rng.gauss(42.35, 0.003), rng.gauss(-71.08, 0.003)
        code = rng.choice(["pothole", "streetlight_outage"])
        rows.append((f"r{i}", code, t0 + timedelta(hours=rng.uniform(0, 24 * 360)), lat, lon))
    return pd.DataFrame(
        rows, columns=["service_request_id", "service_code", "requested_datetime", "lat", "lon"]
    )


def test_gi_star_finds_the_planted_hot_spot_after_fdr() -> None:
    frame = _frame()
    gi = gi_star_hexagons(hex_counts(frame, resolution=8))
    centre = h3.latlng_to_cell(42.35, -71.08, 8)
    assert gi.loc[centre, "gi_class"] == "hot_fdr"
    assert gi["count"].sum() == len(frame)
    # background cells far from the cluster are not hot after the correction
    far = h3.latlng_to_cell(42.305, -71.125, 8)
    if far in gi.index:
        assert gi.loc[far, "gi_class"] != "hot_fdr"
    assert set(gi["gi_class"]) <= {"hot_fdr", "hot", "ns", "cold", "cold_fdr"}


def test_uniform_counts_have_no_fdr_hot_spots() -> None:
    cells = list(h3.grid_disk(h3.latlng_to_cell(42.35, -71.08, 8), 4))
    gi = gi_star_hexagons(pd.Series({c: 5 for c in cells}))
    assert (gi.loc[cells, "gi_class"] != "hot_fdr").all()


def test_frame_without_columns_is_refused(catalogue) -> None:
    with pytest.raises(InputError, match="lacks column"):
        hotspots_map(pd.DataFrame({"lat": [1.0]}), catalogue)


def test_requests_frame_skips_placeholders_and_missing_points(store: Store, catalogue) -> None:
    from geo311.model import ServiceRequest

    t = datetime(2015, 5, 1, tzinfo=TZ)
    for i, (lat, lon) in enumerate([(42.35, -71.08), (42.3594, -71.0587), (None, None)]):
        request_repo.add_request(
            store,
            ServiceRequest(f"s{i}", "pothole", "open", t, "boston", f"b{i}", lat=lat, long=lon),
        )
    frame = located_requests_frame(store)
    assert list(frame["service_request_id"]) == ["s0"]


JS_LAYERS = """() => ({
  gi: document.querySelectorAll('path.g311-hex-gi').length,
  counts: document.querySelectorAll('path.g311-hex-count').length,
  heat: document.querySelectorAll('canvas.leaflet-heatmap-layer').length,
})"""


@pytest.mark.browser
def test_hotspot_map_in_browser(catalogue, site_dir: Path, open_map) -> None:
    frame = _frame()
    gi = gi_star_hexagons(hex_counts(frame))
    path = write_map(hotspots_map(frame, catalogue), site_dir / "hotspots.html")
    text = path.read_text()
    for name in (
        "Heat map: Pothole repair",
        "Heat map: Street light outage",
        "Gi* hot and cold spots",
        "Hexagon counts 2015Q4",
        "Weekly heat map",
    ):
        assert name in text
    mp = open_map(path)
    mp.page.wait_for_selector("path.g311-hex-gi")
    got = mp.page.evaluate(JS_LAYERS)
    assert got["gi"] == len(gi)
    q4 = frame[
        pd.to_datetime(frame["requested_datetime"], utc=True).dt.tz_convert(TZ).dt.quarter == 4
    ]
    assert got["counts"] == len(hex_counts(q4))
    assert mp.page.locator(".timecontrol-slider").count() >= 1  # the weekly slider
    mp.assert_clean()


@pytest.mark.browser
@pytest.mark.slow
def test_citywide_hotspot_map_of_the_embedded_boston_data(
    catalogue, site_dir: Path, open_map
) -> None:
    settings = Settings(database_url=f"sqlite:///{site_dir / 'b.db'}")
    with Store(settings.database_url) as store:
        import_file(
            store,
            settings.sample_requests_file,
            catalogue,
            ImportOptions(timezone=settings.timezone),
        )
        frame = located_requests_frame(store)
        assert request_repo.count_requests(store) == 15_409
    assert len(frame) > 13_000  # every record with a real point (placeholders are not points)
    path = write_map(hotspots_map(frame, catalogue), site_dir / "hotspots_boston.html")
    mp = open_map(path)
    mp.page.wait_for_selector("path.g311-hex-gi")
    assert mp.page.evaluate(JS_LAYERS)["gi"] > 100
    mp.page.wait_for_timeout(500)
    IMG.mkdir(parents=True, exist_ok=True)
    mp.page.screenshot(path=str(IMG / "hotspots.png"))
    mp.assert_clean()
