"""The public service record: no personal data anywhere, figures cached per data change."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from geo311.city.catalogue import Catalogue
from geo311.cli.app import app as cli_app
from geo311.db.store import Store
from geo311.ingest.importer import ImportOptions, import_file
from geo311.workorders.grouping import rebuild_work_orders

from .conftest import make_settings, seed_request

CONTACTS = ("ada@example.org", "Adalind", "Lovelace", "617-555-0100", "bob@example.net")
TEXT = "the gate code is 4411"


def _import_with_contacts(store: Store, catalogue: Catalogue, tmp_path: Path) -> None:
    records = [
        {"service_request_id": "C1", "service_code": "pothole",
         "requested_datetime": "2015-06-01T09:00:00-04:00", "lat": 42.3505, "long": -71.0810,
         "description": TEXT, "email": "ada@example.org", "first_name": "Adalind",
         "last_name": "Lovelace", "phone": "617-555-0100",
         "media_url": "http://example.org/media/private.jpg"},
        {"service_request_id": "C2", "service_code": "streetlight_outage",
         "requested_datetime": "2015-06-02T10:00:00-04:00", "lat": 42.3466, "long": -71.0851,
         "description": "dark corner", "email": "bob@example.net"},
    ]  # fmt: skip
    path = tmp_path / "requests.json"
    path.write_text(json.dumps(records))
    assert (
        import_file(store, path, catalogue, ImportOptions(rejects_path=tmp_path / "r.csv")).new == 2
    )
    rebuild_work_orders(store, catalogue)


def test_no_public_output_carries_contacts_staff_or_free_text(
    api_store: Store, catalogue: Catalogue, store_url: str, tmp_path: Path
) -> None:
    _import_with_contacts(api_store, catalogue, tmp_path)
    app = create_app(make_settings(store_url, media_dir=tmp_path / "media"), store=api_store)
    client = TestClient(app)
    period = "?from=2015-05-01&to=2015-06-30"
    outputs = {}
    for url in ("/performance", "/performance.csv", "/performance.json", "/open-data/requests.csv"):
        answer = client.get(url + (period if url.startswith("/performance") else ""))
        assert answer.status_code == 200, (url, answer.text[:500])
        outputs[url] = answer.text
    out_file = tmp_path / "export.csv"
    done = CliRunner().invoke(
        cli_app,
        [
            "export",
            "open-data",
            "--out",
            str(out_file),
            "--database-url",
            str(api_store.engine.url),
        ],
    )
    assert done.exit_code == 0, done.output
    outputs["export"] = out_file.read_text()
    assert "C1" in outputs["export"] and "C1" in outputs["/open-data/requests.csv"]
    assert "Pothole" in outputs["/performance"]  # the figures are there
    for name, text in outputs.items():
        assert not [w for w in (*CONTACTS, TEXT, "dark corner") if w in text], name
    header = outputs["export"].splitlines()[0].split(",")
    assert "description" not in header and "status_notes" not in header  # the city's default


def test_descriptions_go_to_open_data_only_where_the_city_allows(
    api_store: Store, catalogue: Catalogue, store_url: str, tmp_path: Path
) -> None:
    _import_with_contacts(api_store, catalogue, tmp_path)
    app = create_app(make_settings(store_url, media_dir=tmp_path / "media"), store=api_store)
    app.state.city = app.state.city.__class__(
        **{
            **{f: getattr(app.state.city, f) for f in app.state.city.__dataclass_fields__},
            "open_data": {"descriptions": True, "photos": False},
        }
    )
    with TestClient(app) as c:
        text = c.get("/open-data/requests.csv").text
    assert TEXT in text and "private.jpg" not in text
    assert not [w for w in CONTACTS if w in text]


def test_figures_are_computed_once_per_data_change(
    api_store: Store, catalogue: Catalogue, store_url: str
) -> None:
    seed_request(api_store, catalogue, "S1", code="pothole", days_ago=2)
    app = create_app(make_settings(store_url), store=api_store)
    with TestClient(app) as c:
        first = c.get("/performance.json").json()
        cache = app.state.performance_cache
        cache.check_every_s = 0.0
        once = cache.builds  # the figures, then their JSON
        for _ in range(5):
            assert c.get("/performance.json").json() == first
        assert cache.builds == once == 2
        seed_request(api_store, catalogue, "S2", code="pothole", days_ago=1)
        second = c.get("/performance.json").json()  # the older figures, rebuilt meanwhile
        deadline = time.monotonic() + 30
        while second == first and time.monotonic() < deadline:
            time.sleep(0.1)
            second = c.get("/performance.json").json()
    assert cache.builds == 4  # computed again once, rendered again once
    received = {r["service_code"]: r["requests"] for r in first["by_service"]}
    assert received["pothole"] == 1
    assert {r["service_code"]: r["requests"] for r in second["by_service"]}["pothole"] == 2
    assert set(first["columns"]) >= {"median_days_to_close", "share_within_target"}
    assert "target" in first["definitions"]


def test_a_bad_period_names_the_field(client: TestClient) -> None:
    page = client.get("/performance?from=2015-02-30")
    assert page.status_code == 400 and "from:" in page.text and "YYYY-MM-DD" in page.text
    answer = client.get("/performance.csv?from=2015-06-01&to=2015-05-01")
    assert answer.status_code == 400 and answer.json()["field"] == "from"
