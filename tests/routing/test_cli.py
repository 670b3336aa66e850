from __future__ import annotations

import json
from pathlib import Path

import gpxpy
import pytest
from typer.testing import CliRunner

from geo311.cli.app import _register_plugins, app
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.plans import repo as plan_repo

from ._dispatch_data import fill


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    if not any(getattr(c, "name", None) == "plan" for c in app.registered_commands):
        _register_plugins()
    return CliRunner()


def test_plan_command_end_to_end(runner: CliRunner, tmp_path: Path, catalogue) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    with Store(url) as store:
        fill(store, catalogue, build=False)  # requests only: the command builds work orders
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "plan",
            "--at",
            "2015-10-06T07:00",
            "--time-limit",
            "1",
            "--out",
            str(out),
            "--database-url",
            url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "no work orders yet: built" in result.output
    assert "streetlight-1" in result.output and "unassigned" in result.output
    assert "outside_street_graph" in result.output
    doc = json.loads((out / "plan.json").read_text())
    assert doc["plan_id"] >= 1 and doc["plan_date"] == "2015-10-06"
    crews_with_stops = [r["crew_id"] for r in doc["routes"] if r["legs"]]
    assert crews_with_stops
    for crew in crews_with_stops:
        for suffix in (".html", ".gpx", ".txt"):
            assert (out / f"itinerary_{crew}{suffix}").exists()
        gpx = gpxpy.parse((out / f"itinerary_{crew}.gpx").read_text())
        assert gpx.waypoints
    with Store(url) as store:
        assert plan_repo.get_plan(store, doc["plan_id"])["routes"]

    # re-plan the stored plan at 09:00, keeping the first stop of one crew
    crew = crews_with_stops[0]
    result = runner.invoke(
        app,
        [
            "replan",
            str(doc["plan_id"]),
            "--at",
            "2015-10-06T09:00",
            "--lock",
            f"{crew}=1",
            "--time-limit",
            "1",
            "--out",
            str(tmp_path / "re"),
            "--database-url",
            url,
        ],
    )
    assert result.exit_code == 0, result.output
    redoc = json.loads((tmp_path / "re" / "plan.json").read_text())
    assert redoc["kind"] == "replan" and redoc["parent_plan_id"] == doc["plan_id"]
    first = next(
        s for r in doc["routes"] if r["crew_id"] == crew for s in r["steps"] if s["type"] == "job"
    )
    refirst = next(
        s for r in redoc["routes"] if r["crew_id"] == crew for s in r["steps"] if s["type"] == "job"
    )
    assert refirst["job_id"] == first["job_id"]


def test_plan_command_on_an_empty_store_says_import_first(
    runner: CliRunner, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = runner.invoke(
        app, ["plan", "--time-limit", "1", "--out", str(tmp_path), "--database-url", url]
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError)
    assert "geo311 import" in str(result.exception)
