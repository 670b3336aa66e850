from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import typer
from typer.testing import CliRunner

from geo311.db.store import Store
from geo311.errors import NotFoundError
from geo311.model import ServiceRequest
from geo311.plans import repo as plan_repo
from geo311.requests import repo as request_repo
from maps.cli import newest_plan_id, register

TZ = ZoneInfo("America/New_York")


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """geo311 test app."""

    register(app)
    return app


def test_map_hotspots_and_open_write_html(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    rng = random.Random(0)
    with Store(url) as store:
        for i in range(300):
            request_repo.add_request(
                store,
                ServiceRequest(
                    f"s{i}",
                    rng.choice(["pothole", "streetlight_outage"]),
                    "open",
                    datetime(2015, 1, 1, tzinfo=TZ) + timedelta(days=rng.uniform(0, 300)),
                    "boston",
                    f"b{i}",
                    lat=rng.uniform(42.33, 42.37),
                    long=rng.uniform(-71.1, -71.05),
                ),
            )
    runner = CliRunner()
    out = tmp_path / "out"
    res = runner.invoke(_app(), ["map", "hotspots", "--out", str(out), "--database-url", url])
    assert res.exit_code == 0, res.output
    assert (out / "hotspots.html").exists() and "hotspots.html" in res.output
    res = runner.invoke(
        _app(),
        ["map", "open", "--out", str(out), "--database-url", url, "--at", "2015-10-06T07:00"],
    )
    assert res.exit_code == 0, res.output
    assert "0 work orders" in (out / "open_work.html").read_text()


def test_routes_without_a_plan_says_to_run_geo311_plan(store: Store) -> None:
    try:
        newest_plan_id(store)
    except NotFoundError as exc:
        assert "geo311 plan" in str(exc)
    else:
        raise AssertionError("expected NotFoundError")
    first = plan_repo.save_plan(store, {"routes": []}, plan_date="2015-10-06")
    second = plan_repo.save_plan(store, {"routes": []}, plan_date="2015-10-06")
    assert newest_plan_id(store) == second > first
