"""Planning by district: the Boston default's Back Bay district, work outside reported once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from geo311.city.districts import load_districts
from geo311.cli.app import _register_plugins, app
from geo311.db.store import Store
from geo311.errors import ConfigurationError, InputError
from geo311.plans.document import PlanDocument
from geo311.settings import REPO_DATA_DIR
from geo311.workorders.open_view import open_work_orders_at
from routing.dispatch import DistrictInputs, default_graph, plan_district, split_by_district
from routing.engine.crews import load_crews
from routing.engine.solve import SolveParams

from ._dispatch_data import AT, fill

DISTRICT = "Back Bay / South End"


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    if not any(getattr(c, "name", None) == "plan" for c in app.registered_commands):
        _register_plugins()
    return CliRunner()


def test_the_default_city_has_the_back_bay_district_with_its_yard() -> None:
    districts = load_districts(REPO_DATA_DIR / "districts.geojson")
    assert districts.names == [DISTRICT]
    config = load_crews(REPO_DATA_DIR / "crews.toml").for_district(DISTRICT, only=True)
    assert [y.id for y in config.yards] == ["yard"] and len(config.crews) == 4
    with pytest.raises(ConfigurationError, match="district 'Dorchester' has no yard"):
        load_crews(REPO_DATA_DIR / "crews.toml").for_district("Dorchester", only=True)


def test_plan_district_is_a_pure_function_of_its_inputs(store: Store, catalogue) -> None:
    fill(store, catalogue)
    orders = open_work_orders_at(store, AT, catalogue=catalogue)
    by_name, outside = split_by_district(
        orders, load_districts(REPO_DATA_DIR / "districts.geojson")
    )
    assert len(by_name[DISTRICT]) == 4 and len(outside) == 3  # Columbus, Tremont, Dorchester
    crews = load_crews(REPO_DATA_DIR / "crews.toml").for_district(DISTRICT)
    doc = plan_district(
        by_name[DISTRICT],
        DistrictInputs(
            district=DISTRICT, crews=crews, graph=default_graph(), catalogue=catalogue, at=AT
        ),
        SolveParams(time_limit_s=1),
    )
    assert isinstance(doc, PlanDocument) and doc.district == DISTRICT and doc.plan_id is None
    assert doc.summary.jobs_served == 4 and not doc.unassigned
    again = PlanDocument.from_dict(doc.to_dict())
    assert again.district == DISTRICT


def test_plan_command_by_district_reports_the_rest_once(
    runner: CliRunner, tmp_path: Path, catalogue
) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    with Store(url) as store:
        fill(store, catalogue)
    out = tmp_path / "out"
    args = ["plan", "--district", DISTRICT, "--at", "2015-10-06T07:00", "--time-limit", "1"]
    result = runner.invoke(app, [*args, "--out", str(out), "--database-url", url])
    assert result.exit_code == 0, result.output
    assert f"== district {DISTRICT}" in result.output
    assert "3 open work orders lie outside the planned district" in result.output
    assert "outside_street_graph" not in result.output
    doc = json.loads((out / "plan.json").read_text())
    assert doc["district"] == DISTRICT and doc["day"].startswith("2015-10-06/")
    assert doc["outside_districts"] == {"unknown neighbourhood": 3}
    assert doc["summary"]["jobs_unassigned"] == 0

    result = runner.invoke(app, ["plan", "--district", "Atlantis", "--database-url", url])
    assert isinstance(result.exception, InputError)
    assert "district 'Atlantis' is not one of the city's districts" in str(result.exception)

    all_out = tmp_path / "all"
    result = runner.invoke(
        app,
        [
            "plan",
            "--all-districts",
            "--time-limit",
            "1",
            "--out",
            str(all_out),
            "--database-url",
            url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "3 open work orders lie outside the city's districts" in result.output
