"""The public service record and the planner's dashboard give the same figures for a period."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.ingest.importer import ImportOptions, import_file
from geo311.settings import get_settings

PERIOD = "from=2015-01-01&to=2015-12-31"


def _row(text: str, key: str, value: str) -> dict[str, str]:
    rows = [r for r in csv.DictReader(io.StringIO(text)) if r[key] == value]
    assert len(rows) == 1, f"{value!r} not once in {text[:300]!r}"
    return rows[0]


def test_street_light_outages_match_the_planners_table_on_the_demo_data(
    browser: Callable[[str | None], TestClient],
    web_store: Store,
    catalogue: Catalogue,
    tmp_path: Path,
) -> None:
    sample = get_settings().city.file("sample_requests")
    assert sample is not None
    import_file(web_store, sample, catalogue, ImportOptions(rejects_path=tmp_path / "rejects.csv"))
    public = browser(None).get(f"/performance.csv?{PERIOD}")
    assert public.status_code == 200, public.text
    planner = browser("pete").get(f"/planner/metrics.csv?by=service&{PERIOD}")
    assert planner.status_code == 200, planner.text
    ours = _row(public.text, "group", "streetlight_outage")
    theirs = _row(planner.text, "service", "streetlight_outage")
    for column in ("median_days_to_close", "p90_days_to_close"):
        assert round(float(ours[column]), 3) == round(float(theirs[column]), 3), column
    assert int(ours["requests"]) == int(theirs["requests"]) > 1000
    page = browser("pete").get(f"/planner?{PERIOD}")
    assert page.status_code == 200 and "received 2015-01-01 to 2015-12-31" in page.text
    # a shorter period gives other figures on both
    half = browser(None).get("/performance.csv?from=2015-01-01&to=2015-06-30").text
    assert int(_row(half, "group", "streetlight_outage")["requests"]) < int(ours["requests"])
