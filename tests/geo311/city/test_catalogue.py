"""The service catalogue loads from data/services.toml and fails loudly on bad entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from geo311.city.catalogue import Catalogue, load_catalogue
from geo311.errors import ConfigurationError
from geo311.settings import REPO_DATA_DIR


def test_default_catalogue_maps_boston_types(catalogue: Catalogue) -> None:
    assert catalogue.service_for_boston_type("Pothole Repair (Internal)").code == "pothole"  # type: ignore[union-attr]
    assert catalogue.service_for_boston_type(" street light outages ").code == "streetlight_outage"  # type: ignore[union-attr]
    assert catalogue.service_for_boston_type("Graffiti Removal") is None
    for code in ("pothole", "streetlight_outage", "general_lighting", "streetlight_knockdown"):
        s = catalogue.service(code)
        assert s.sla_hours > 0 and s.skill and s.color.startswith("#") and s.boston_types
    assert catalogue.service("pothole").group == "potholes"
    assert catalogue.service("streetlight_knockdown").skill == "electrical"
    assert catalogue.service("pothole").on_site_minutes_for(3) == 20 + 2 * 2


def test_states_are_data_grouped(catalogue: Catalogue) -> None:
    assert (
        catalogue.state("fixed").group == "fixed" and catalogue.state("fixed").open311 == "closed"
    )
    assert set(catalogue.open_state_codes()) == {"open", "scheduled", "in_progress"}
    with pytest.raises(ConfigurationError, match="status 'done'"):
        catalogue.state("done")
    with pytest.raises(ConfigurationError, match="service_code 'graffiti'"):
        catalogue.service("graffiti")


def test_bad_catalogue_names_the_entry(tmp_path: Path) -> None:
    text = (REPO_DATA_DIR / "services.toml").read_text()
    bad = tmp_path / "services.toml"
    bad.write_text(text.replace("sla_hours = 48", "sla_hours = -1"))
    with pytest.raises(ConfigurationError, match=r"services.pothole.*sla_hours"):
        load_catalogue(bad)
    bad.write_text(text.replace('"BWSC Pothole", ', '"BWSC Pothole", "Street Light Outages", '))
    with pytest.raises(ConfigurationError, match="already mapped"):
        load_catalogue(bad)
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_catalogue(tmp_path / "missing.toml")
