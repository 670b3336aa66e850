"""The city profile in use: settings read it, and the embedded data agrees with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shapely.geometry import box, shape

from geo311.city.profile import default_city
from geo311.db.store import Store
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


def test_the_city_folder_names_its_files_and_the_boston_names_stay(tmp_path: Path) -> None:
    import pytest

    from geo311.errors import ConfigurationError

    embedded = Settings(data_dir=REPO_DATA_DIR)
    assert embedded.city_dir == REPO_DATA_DIR
    assert embedded.osm_drive_file == REPO_DATA_DIR / "osm" / "boston_backbay_drive.osm.bz2"
    assert embedded.osm_addresses_file == REPO_DATA_DIR / "osm" / "boston_backbay_addresses.osm.bz2"
    assert embedded.services_file == REPO_DATA_DIR / "services.toml"
    assert embedded.crews_file == REPO_DATA_DIR / "crews.toml"
    assert embedded.districts_file == REPO_DATA_DIR / "districts.geojson"
    assert embedded.sample_requests_file.is_file() and embedded.city.metric_crs == "EPSG:26986"
    (tmp_path / "city.toml").write_text(
        'name = "Lyon"\njurisdiction_id = "lyon.example"\nagency = "Voirie"\n'
        'timezone = "Europe/Paris"\n[files]\ncrews = "equipes.toml"\n[osm]\nstreets = "rues.osm"\n'
    )
    lyon = Settings(city_dir=tmp_path)
    assert lyon.data_dir == tmp_path and lyon.timezone == "Europe/Paris"
    assert lyon.crews_file == tmp_path / "equipes.toml"
    assert lyon.osm_drive_file == tmp_path / "rues.osm"
    assert lyon.services_file == tmp_path / "services.toml"
    with pytest.raises(ConfigurationError, match="names no addresses file"):
        _ = lyon.osm_addresses_file
    with pytest.raises(ValueError, match="holds no city.toml; create the profile with"):
        Settings(city_dir=tmp_path / "nowhere")  # (pydantic wraps the validator's error)


def test_the_city_option_and_environment_select_the_city(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from geo311.city.profile import CITY_DIR_ENV
    from geo311.cli.app import app
    from geo311.settings import get_settings

    (tmp_path / "city.toml").write_text(
        (REPO_DATA_DIR / "city.toml").read_text().replace('name = "Boston"', 'name = "Elsewhere"')
    )
    monkeypatch.delenv(CITY_DIR_ENV, raising=False)
    assert default_city().name != "Elsewhere"
    monkeypatch.setenv(CITY_DIR_ENV, str(tmp_path))
    get_settings.cache_clear()
    try:
        assert default_city().name == "Elsewhere" and get_settings().city.name == "Elsewhere"
    finally:
        monkeypatch.delenv(CITY_DIR_ENV)
        get_settings.cache_clear()
    result = CliRunner().invoke(app, ["--city", str(tmp_path / "none"), "metrics"])
    text = " ".join(result.output.replace("│", " ").split())  # the error box wraps lines
    assert result.exit_code == 2 and "holds no city.toml" in text
    url = f"sqlite:///{tmp_path / 'e.db'}"
    result = CliRunner().invoke(app, ["--city", str(tmp_path), "metrics", "--database-url", url])
    try:
        assert result.exit_code == 0, result.output
        assert get_settings().city.name == "Elsewhere"
    finally:
        monkeypatch.delenv(CITY_DIR_ENV, raising=False)  # --city set it for this process
        get_settings.cache_clear()


def test_generated_files_default_to_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GEO311_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GEO311_DATABASE_URL", raising=False)
    monkeypatch.delenv("GEO311_MEDIA_DIR", raising=False)
    monkeypatch.delenv("GEO311_CACHE_DIR", raising=False)
    settings = Settings()
    assert settings.media_dir == tmp_path / "home" / "media"
    assert settings.cache_dir == tmp_path / "home" / "cache"
    assert settings.database_url == f"sqlite:///{tmp_path / 'home' / 'geo311.db'}"
    Store(settings.database_url).close()  # creates the folder, not a file in the current one
    assert (tmp_path / "home" / "geo311.db").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]
