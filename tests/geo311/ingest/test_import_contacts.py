"""Reporters' contacts from imports: Open311 JSON keys, mapped CSV columns, Boston exports.

Stored privately (the contacts table), one row per request however often a file is imported,
an unsubscribe kept; a malformed e-mail rejects the row with its number, field and fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from geo311.city.catalogue import Catalogue
from geo311.cli.app import app
from geo311.db.notify_schema import contacts
from geo311.db.store import Store
from geo311.ingest import runs
from geo311.ingest.csv_mapping import import_mapped_csv, load_mapping
from geo311.ingest.importer import ImportOptions, import_file
from geo311.notify import unsubscribe, unsubscribe_token
from geo311.requests import repo as request_repo

from .test_ingest import HEADER_2015, boston_row

SECRET = "test-secret-0123456789abcdef"


def _contacts(store: Store) -> dict[str, dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(contacts).order_by(contacts.c.service_request_id))
        return {r.service_request_id: dict(r._mapping) for r in rows}


def _open311(rid: str, **extra: Any) -> dict[str, Any]:
    return {
        "service_request_id": rid,
        "service_code": "pothole",
        "requested_datetime": "2015-10-06T07:30:00-04:00",
        "lat": 42.35,
        "long": -71.08,
        **extra,
    }


def test_open311_json_contacts_are_stored_privately_once(
    store: Store, catalogue: Catalogue, tmp_path: Path
) -> None:
    records = [
        _open311("J1", email=" ada@example.org ", first_name="Ada", last_name="L", phone="617"),
        _open311("J2", phone="617-555-0100"),
        _open311("J3"),
        _open311("J4", email="not an address", first_name="Bob"),
    ]
    path = tmp_path / "requests.json"
    path.write_text(json.dumps(records))
    summary = import_file(store, path, catalogue, ImportOptions(rejects_path=tmp_path / "r.csv"))
    assert (summary.new, summary.rejected) == (3, 1)
    assert summary.import_run_id is not None
    [reject] = runs.rejects_of(store, summary.import_run_id)
    assert (reject["row_number"], reject["field"]) == (4, "email")
    assert "'not an address' is not an e-mail address" in reject["reason"]
    found = _contacts(store)
    assert set(found) == {"J1", "J2"}
    assert (found["J1"]["email"], found["J1"]["first_name"], found["J1"]["last_name"]) == (
        "ada@example.org",
        "Ada",
        "L",
    )
    assert (found["J2"]["email"], found["J2"]["phone"]) == ("", "617-555-0100")
    public = request_repo.get_request(store, "J1")
    assert "ada@example.org" not in repr(public) and "Ada" not in repr(public)

    # Re-importing adds no contact, keeps an unsubscribe, and takes a changed e-mail.
    with store.begin() as conn:
        assert unsubscribe(conn, unsubscribe_token("J1", secret=SECRET), secret=SECRET) == 1
    again = import_file(store, path, catalogue, ImportOptions(rejects_path=tmp_path / "r.csv"))
    assert (again.new, again.unchanged) == (0, 3)
    assert _contacts(store).keys() == found.keys() and _contacts(store)["J1"]["unsubscribed"]
    records[1]["email"] = "cy@example.org"
    path.write_text(json.dumps(records))
    import_file(store, path, catalogue, ImportOptions(rejects_path=tmp_path / "r.csv"))
    assert _contacts(store)["J2"]["email"] == "cy@example.org"
    assert len(_contacts(store)) == 2


MAPPING = """
source = "town"
timezone = "America/New_York"

[columns]
id = "Ref"
type = "Kind"
opened = "Opened"
lat = "Lat"
lon = "Lon"
email = "Email"
first_name = "First"
phone = "Tel"

[types]
"Hole" = "pothole"
"""

CSV = """Ref,Kind,Opened,Lat,Lon,Email,First,Tel
T1,Hole,2015-10-06 08:15,42.35,-71.08,ada@example.org,Ada,
T2,Hole,2015-10-06 08:20,42.35,-71.08,,,617-555-0100
T3,Hole,2015-10-06 08:25,42.35,-71.08,,,
T4,Hole,2015-10-06 08:30,42.35,-71.08,ada@,Ann,
"""


def test_a_mapped_csv_takes_contact_columns(
    store: Store, catalogue: Catalogue, tmp_path: Path
) -> None:
    mapping = tmp_path / "town.toml"
    mapping.write_text(MAPPING)
    data = tmp_path / "town.csv"
    data.write_text(CSV)
    spec = load_mapping(mapping, catalogue=catalogue)
    summary = import_mapped_csv(store, data, spec, catalogue, rejects_path=tmp_path / "r.csv")
    assert (summary.new, summary.rejected) == (3, 1)
    assert summary.import_run_id is not None
    [reject] = runs.rejects_of(store, summary.import_run_id)
    assert (reject["row_number"], reject["field"]) == (4, "email")
    found = _contacts(store)
    assert set(found) == {"town-T1", "town-T2"}
    assert (found["town-T1"]["email"], found["town-T1"]["first_name"]) == ("ada@example.org", "Ada")
    assert found["town-T2"]["phone"] == "617-555-0100"
    again = import_mapped_csv(store, data, spec, catalogue, rejects_path=tmp_path / "r.csv")
    assert (again.new, again.unchanged) == (0, 3) and _contacts(store) == found

    # Through the command, as a city runs it.
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = CliRunner().invoke(
        app,
        ["import", str(data), "--mapping", str(mapping), "--database-url", url, "--no-geocode",
         "--rejects", str(tmp_path / "rejects.csv")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "new 3" in result.output and "rejected 1" in result.output
    with Store(url) as other:
        assert set(_contacts(other)) == {"town-T1", "town-T2"}


def test_a_mapping_naming_a_missing_contact_column_is_a_clear_error(
    store: Store, catalogue: Catalogue, tmp_path: Path
) -> None:
    mapping = tmp_path / "town.toml"
    mapping.write_text(MAPPING.replace('phone = "Tel"', 'phone = "Telephone"'))
    data = tmp_path / "town.csv"
    data.write_text(CSV)
    spec = load_mapping(mapping, catalogue=catalogue)
    with pytest.raises(Exception, match=r"no column\(s\) \['Telephone'\] named in the mapping"):
        import_mapped_csv(store, data, spec, catalogue, rejects_path=tmp_path / "r.csv")


@pytest.mark.parametrize("parse_in_subprocess", [False, True])
def test_boston_exports_take_contact_columns_when_present(
    store: Store, catalogue: Catalogue, tmp_path: Path, parse_in_subprocess: bool
) -> None:
    # The 2015 schema plus upper-case contact columns (neither Boston schema has them).
    header = HEADER_2015 + ",EMAIL,FIRST_NAME,LAST_NAME,PHONE"
    rows = [
        boston_row("101001") + ",ada@example.org,Ada,Lovelace,",
        boston_row("101002") + ",,,,617-555-0100",
        boston_row("101003") + ",,,,",
        boston_row("101004") + ",nobody,Bob,,",
    ]
    path = tmp_path / "boston.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    summary = import_file(
        store,
        path,
        catalogue,
        ImportOptions(rejects_path=tmp_path / "r.csv", parse_in_subprocess=parse_in_subprocess),
    )
    assert (summary.new, summary.rejected) == (3, 1)
    assert summary.import_run_id is not None
    [reject] = runs.rejects_of(store, summary.import_run_id)
    assert (reject["row_number"], reject["field"]) == (5, "EMAIL")
    assert "'nobody' is not an e-mail address" in reject["reason"]
    found = _contacts(store)
    assert set(found) == {"101001", "101002"}
    assert (found["101001"]["email"], found["101001"]["last_name"]) == (
        "ada@example.org",
        "Lovelace",
    )
    assert found["101002"]["phone"] == "617-555-0100"
    again = import_file(store, path, catalogue, ImportOptions(rejects_path=tmp_path / "r.csv"))
    assert (again.new, again.unchanged) == (0, 3) and _contacts(store) == found


def test_the_current_boston_schema_with_an_email_column(
    store: Store, catalogue: Catalogue, tmp_path: Path
) -> None:
    header = "case_enquiry_id,open_dt,case_status,type,latitude,longitude,email"
    path = tmp_path / "new.csv"
    path.write_text(
        f"{header}\n"
        "101004113298,2022-01-21 13:47:00,Open,Request for Pothole Repair,42.3501,-71.0775,"
        "ada@example.org\n"
        "101004113299,2022-01-21 13:48:00,Open,Request for Pothole Repair,42.3501,-71.0775,\n"
    )
    summary = import_file(store, path, catalogue, ImportOptions(rejects_path=tmp_path / "r.csv"))
    assert (summary.new, summary.rejected) == (2, 0)
    assert {k: v["email"] for k, v in _contacts(store).items()} == {
        "101004113298": "ada@example.org"
    }


def test_the_embedded_boston_export_has_no_contacts(
    store: Store, catalogue: Catalogue, tmp_path: Path
) -> None:
    header = HEADER_2015
    path = tmp_path / "boston.csv"
    path.write_text(f"{header}\n{boston_row('101001')}\n")
    assert (
        import_file(store, path, catalogue, ImportOptions(rejects_path=tmp_path / "r.csv")).new == 1
    )
    assert _contacts(store) == {}
