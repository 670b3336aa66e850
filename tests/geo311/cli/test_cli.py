"""The geo311 command line: import, metrics and work orders on a temporary store."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from geo311.cli.app import app

HEADER = (
    "CASE_ENQUIRY_ID,OPEN_DT,TARGET_DT,CLOSED_DT,CASE_STATUS,CLOSURE_REASON,CASE_TITLE,TYPE,"
    "Location,neighborhood,LOCATION_ZIPCODE,LATITUDE,LONGITUDE,Source"
)


def row(case_id: str, lat: str, lon: str, opened: str = "10/05/2015 08:15:00 AM") -> str:
    return (
        f"{case_id},{opened},10/20/2015 08:30:00 AM,,Open,,PRINTED,Street Light Outages,"
        f"1 Boylston St  Boston  MA  02116,Back Bay,2116.0,{lat},{lon},Citizens Connect App"
    )


def test_import_metrics_and_work_orders(tmp_path: Path) -> None:
    data = tmp_path / "lights.csv"
    data.write_text(
        "\n".join(
            [
                HEADER,
                row("1", "42.35200", "-71.07000"),
                row("2", "42.35205", "-71.07003", opened="10/05/2015 09:00:00 AM"),  # ~6 m away
                row("3", "42.35500", "-71.08000"),
                "4,not a date,,,Open,,x,Street Light Outages,,,,42.35,-71.07,App",
            ]
        )
        + "\n"
    )
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "import",
            str(data),
            "--database-url",
            db,
            "--rejects",
            str(tmp_path / "r.csv"),
            "--no-geocode",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "new 3" in result.output and "rejected 1" in result.output
    assert "OPEN_DT" in (tmp_path / "r.csv").read_text()

    result = runner.invoke(app, ["metrics", "--database-url", db])
    assert result.exit_code == 0, result.output
    assert "streetlight_outage" in result.output

    result = runner.invoke(app, ["workorders", "--database-url", db, "--at", "2015-10-06T07:00"])
    assert result.exit_code == 0, result.output
    assert "2 work orders, 1 reports merged" in result.output
