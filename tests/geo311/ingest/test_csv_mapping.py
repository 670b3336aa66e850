"""A city's own CSV export imported through a mapping file: columns, values, times, rejects."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from geo311.cli.app import app
from geo311.db.store import Store
from geo311.errors import ConfigurationError
from geo311.ingest import runs
from geo311.ingest.csv_mapping import import_mapped_csv, load_mapping
from geo311.requests import repo as request_repo

MAPPING = """
source = "lyon"
timezone = "Europe/Paris"
time_format = "%d/%m/%Y %H:%M"

[columns]
id = "Ref"
type = "Categorie"
opened = "Ouvert"
closed = "Ferme"
status = "Etat"
address = "Adresse"
lat = "Lat"
lon = "Lon"
description = "Details"
neighbourhood = "Quartier"

[types]
"Nid de poule" = "pothole"
"Lampadaire eteint" = "streetlight_outage"

[statuses]
"Ouvert" = "open"
"Resolu" = "closed"
"""

CSV = """Ref;Categorie;Ouvert;Ferme;Etat;Adresse;Lat;Lon;Details;Quartier
A1;Nid de poule;06/10/2015 08:15;;Ouvert;1 rue X;45.7600;4.8350;trou;Presqu'ile
A2;Lampadaire eteint;05/10/2015 21:00;06/10/2015 10:00;Resolu;2 rue Y;45.7610;4.8360;;Croix-Rousse
A3;Graffiti;06/10/2015 09:00;;Ouvert;3 rue Z;45.7620;4.8370;;Presqu'ile
A4;Nid de poule;2015-10-06;;Ouvert;4 rue W;45.7630;4.8380;;Presqu'ile
A5;Nid de poule;06/10/2015 09:00;;En attente;5 rue V;45.7640;4.8390;;Presqu'ile
A1;Nid de poule;06/10/2015 08:15;;Ouvert;1 rue X;45.7600;4.8350;trou;Presqu'ile
"""


def _files(tmp_path: Path) -> tuple[Path, Path]:
    mapping = tmp_path / "lyon.toml"
    mapping.write_text(MAPPING.replace('source = "lyon"', 'source = "lyon"\ndelimiter = ";"'))
    data = tmp_path / "lyon.csv"
    data.write_text(CSV)
    return mapping, data


def test_a_mapped_csv_imports_with_values_times_and_rejects(
    store: Store, catalogue, tmp_path: Path
) -> None:
    mapping, data = _files(tmp_path)
    spec = load_mapping(mapping, catalogue=catalogue)
    summary = import_mapped_csv(store, data, spec, catalogue, rejects_path=tmp_path / "r.csv")
    assert (summary.new, summary.rejected) == (3, 3)
    assert summary.unknown_types == {"Graffiti": 1}
    fields = {r["row_number"]: r["field"] for r in runs.rejects_of(store, summary.import_run_id)}
    assert fields == {4: "opened", 5: "status", 6: "id"}
    assert (tmp_path / "r.csv").read_text().count("\n") == 4
    (a1,) = request_repo.query_requests(store, request_repo.RequestFilters(ids=["lyon-A1"]))
    assert a1.service_code == "pothole" and a1.status == "open" and a1.neighborhood == "Presqu'ile"
    assert a1.requested_datetime == datetime(2015, 10, 6, 6, 15, tzinfo=UTC)  # Paris, UTC+2
    assert (a1.lat, a1.long, a1.description, a1.source) == (45.76, 4.835, "trou", "lyon")
    target = a1.requested_datetime + catalogue.service("pothole").sla  # the file has none
    assert a1.sla_target_datetime == a1.expected_datetime == target
    (a2,) = request_repo.query_requests(store, request_repo.RequestFilters(ids=["lyon-A2"]))
    assert a2.status == "closed" and a2.closed_datetime == datetime(2015, 10, 6, 8, 0, tzinfo=UTC)
    (a3,) = request_repo.query_requests(store, request_repo.RequestFilters(ids=["lyon-A3"]))
    assert a3.service_code == "other" and a3.source_type == "Graffiti"
    again = import_mapped_csv(store, data, spec, catalogue, rejects_path=tmp_path / "r.csv")
    assert (again.new, again.unchanged) == (0, 3)


def test_a_bad_mapping_names_the_key_and_the_fix(catalogue, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[columns]\nid = "Ref"\n')
    with pytest.raises(ConfigurationError, match=r"\[columns\] lacks \['type', 'opened'\]"):
        load_mapping(bad)
    bad.write_text(MAPPING.replace('"pothole"', '"potholes!"'))
    with pytest.raises(ConfigurationError, match=r"\[types\] maps to unknown services"):
        load_mapping(bad, catalogue=catalogue)
    bad.write_text(MAPPING.replace("Europe/Paris", "Europe/Lyon"))
    with pytest.raises(ConfigurationError, match="timezone 'Europe/Lyon'"):
        load_mapping(bad)


def test_import_command_takes_a_mapping(tmp_path: Path) -> None:
    mapping, data = _files(tmp_path)
    url = f"sqlite:///{tmp_path / 'm.db'}"
    result = CliRunner().invoke(
        app,
        ["import", str(data), "--mapping", str(mapping), "--database-url", url, "--no-geocode",
         "--rejects", str(tmp_path / "rejects.csv")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "new 3" in result.output and "rejected 3" in result.output
    assert "unknown type kept as 'other': 1 x 'Graffiti'" in result.output
