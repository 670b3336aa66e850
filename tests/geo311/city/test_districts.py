"""Districts: which district a point belongs to, and clear errors for a bad districts file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geo311.city.districts import OUTSIDE, load_districts
from geo311.errors import ConfigurationError, InputError


def _square(name: str, lon0: float, lat0: float, size: float = 0.01) -> dict:
    ring = [[lon0, lat0], [lon0 + size, lat0], [lon0 + size, lat0 + size], [lon0, lat0 + size]]
    return {
        "type": "Feature",
        "properties": {"name": name},
        "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
    }


def _write(path: Path, *features: dict) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}))
    return path


def test_points_join_the_district_holding_them_or_the_nearest_within_the_margin(
    tmp_path: Path,
) -> None:
    d = load_districts(
        _write(tmp_path / "d.geojson", _square("A", 2.0, 48.0), _square("B", 2.01, 48.0))
    )
    assert d.names == ["A", "B"]
    # inside A, inside B, 30 m south of A (joins it), 500 m south (outside every district)
    lats = [48.005, 48.005, 48.0 - 30 / 111_000, 48.0 - 500 / 111_000]
    lons = [2.005, 2.015, 2.005, 2.005]
    assert list(d.assign(lats, lons)) == ["A", "B", "A", OUTSIDE]
    assert list(d.assign(lats, lons, margin_m=0)) == ["A", "B", OUTSIDE, OUTSIDE]
    with pytest.raises(InputError, match="district 'C' is not one of the city's districts"):
        d.get("C")


def test_a_bad_districts_file_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_districts(tmp_path / "none.geojson")
    (tmp_path / "bad.geojson").write_text("{")
    with pytest.raises(ConfigurationError, match="is not JSON"):
        load_districts(tmp_path / "bad.geojson")
    with pytest.raises(ConfigurationError, match="unique"):
        load_districts(_write(tmp_path / "dupe.geojson", _square("A", 0, 0), _square("A", 1, 1)))
    point = {
        "type": "Feature",
        "properties": {"name": "P"},
        "geometry": {"type": "Point", "coordinates": [0, 0]},
    }
    with pytest.raises(ConfigurationError, match="Polygon or MultiPolygon"):
        load_districts(_write(tmp_path / "pt.geojson", point))
    doc = json.loads(_write(tmp_path / "crs.geojson", _square("A", 0, 0)).read_text())
    doc["crs"] = {"type": "name", "properties": {"name": "EPSG:3857"}}
    (tmp_path / "crs.geojson").write_text(json.dumps(doc))
    with pytest.raises(ConfigurationError, match="reproject it to EPSG:4326"):
        load_districts(tmp_path / "crs.geojson")
