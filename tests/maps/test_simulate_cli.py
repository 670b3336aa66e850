"""``geo311 simulate`` refuses swapped dates at once, before any cluster starts."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

import routing.distributed
from geo311.errors import InputError
from maps.simulate_cli import parse_period, register


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """geo311 test app."""

    register(app)
    return app


def test_swapped_dates_fail_naming_the_option_before_any_cluster(monkeypatch, tmp_path) -> None:
    started = []

    def no_cluster(*args, **kwargs):
        started.append(kwargs)
        raise AssertionError("a cluster was started before the dates were checked")

    monkeypatch.setattr(routing.distributed, "TaskRunner", no_cluster)
    monkeypatch.setattr(routing.distributed, "cluster_from_settings", no_cluster)
    result = CliRunner().invoke(
        _app(),
        ["simulate", "--from", "2015-11-30", "--to", "2015-09-01", "--out", str(tmp_path)],
    )
    assert isinstance(result.exception, InputError), result.output
    message = str(result.exception)
    assert "--from 2015-11-30 is after --to 2015-09-01" in message
    assert result.exception.field == "--from" and not started
    assert not (tmp_path / "simulation.json").exists()


def test_period_keeps_ordered_dates_and_names_a_bad_one() -> None:
    first, last = parse_period("2015-10-05", "2015-10-05")  # one day is a period
    assert first == last and first.isoformat() == "2015-10-05"
    with pytest.raises(InputError, match="--to '2015-13-01' is not a date"):
        parse_period("2015-10-05", "2015-13-01")


def test_effort_curve_plot_draws_both_areas(tmp_path) -> None:
    from maps.simulation_plot import plot_effort_curve
    from tests.routing._calibrated_data import synthetic_whatif

    doc, _ = synthetic_whatif(target_p90_days=7.0)
    png = plot_effort_curve(doc, tmp_path / "img" / "curve.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_calibrated_report_prints_the_validation_and_writes_the_csv(tmp_path, monkeypatch) -> None:
    import csv

    import routing.simulate.calibrated as calibrated
    from routing.cli import calibrated_report
    from tests.routing._calibrated_data import synthetic_whatif

    monkeypatch.setattr(calibrated, "calibrated_whatif", synthetic_whatif)
    lines: list[str] = []
    path = calibrated_report(out=tmp_path, echo=lines.append)
    assert any(x.startswith("validation streetlight_outage: median sim ") for x in lines)
    assert any(x.startswith("validation streetlight_outage (rest of the city):") for x in lines)
    assert any(x.startswith("geo311 at the City's effort (rest):") for x in lines)
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["row"] for r in rows} >= {"actual", "as_city", "with_geo311", "curve", "unlimited"}
