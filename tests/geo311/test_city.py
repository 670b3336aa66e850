"""The city profile in use: settings read it, and the embedded data agrees with it."""

from __future__ import annotations

import json
from pathlib import Path

from shapely.geometry import box, shape

from geo311.city import default_city
from geo311.settings import REPO_DATA_DIR, Settings


def test_settings_take_the_time_zone_and_profile_from_the_city(tmp_path: Path) -> None:
    city = default_city()
    settings = Settings(data_dir=REPO_DATA_DIR)
    assert settings.timezone == city.timezone and settings.city == city
    assert settings.city_file == REPO_DATA_DIR / "city.toml"
    # A data folder without a profile of its own keeps the embedded city ...
    assert Settings(data_dir=tmp_path).city == city
    # ... one with a profile uses it; an explicit time zone wins over the profile's.
    (tmp_path / "city.toml").write_text(
        (REPO_DATA_DIR / "city.toml").read_text().replace("America/New_York", "Europe/Paris")
    )
    assert Settings(data_dir=tmp_path).timezone == "Europe/Paris"
    assert Settings(data_dir=tmp_path, timezone="UTC").timezone == "UTC"


def test_boundary_file_outlines_the_district_inside_the_service_area() -> None:
    doc = json.loads((REPO_DATA_DIR / "osm" / "boston_backbay_boundary.geojson").read_text())
    area = box(*default_city().service_area)
    shapes = [shape(f["geometry"]) for f in doc["features"]]
    assert [s.geom_type for s in shapes] == ["Polygon"]
    assert all(area.contains(s) for s in shapes)
