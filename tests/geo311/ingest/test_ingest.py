"""Import of Boston exports (both schemas) and Open311 JSON into the store."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from geo311.city.catalogue import Catalogue
from geo311.city.profile import default_city
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.ingest import runs
from geo311.ingest.importer import ImportOptions, import_file, open311_record_to_row
from geo311.requests import repo as request_repo
from geo311.settings import REPO_DATA_DIR as DATA_DIR

HEADER_2015 = (
    "CASE_ENQUIRY_ID,OPEN_DT,TARGET_DT,CLOSED_DT,OnTime_Status,CASE_STATUS,CLOSURE_REASON,"
    "CASE_TITLE,SUBJECT,REASON,TYPE,QUEUE,Department,SubmittedPhoto,ClosedPhoto,Location,"
    "fire_district,pwd_district,city_council_district,police_district,neighborhood,"
    "neighborhood_services_district,ward,precinct,land_usage,LOCATION_STREET_NAME,"
    "LOCATION_ZIPCODE,Property_Type,Property_ID,LATITUDE,LONGITUDE,Source,Geocoded_Location"
)
N_COLS = len(HEADER_2015.split(","))


def boston_row(
    case_id: str,
    *,
    opened: str = "10/05/2015 08:15:00 AM",
    target: str = "10/20/2015 08:30:00 AM",
    closed: str = "",
    status: str = "Open",
    closure: str = "",
    type_: str = "Street Light Outages",
    location: str = "145-151 Ipswich St  Boston  MA  02215",
    lat: str = "42.3474",
    lon: str = "-71.0944",
) -> str:
    values = dict.fromkeys(HEADER_2015.split(","), "")
    values.update(
        CASE_ENQUIRY_ID=case_id,
        OPEN_DT=opened,
        TARGET_DT=target,
        CLOSED_DT=closed,
        CASE_STATUS=status,
        CLOSURE_REASON=closure,
        CASE_TITLE="PRINTED",
        TYPE=type_,
        Location=location,
        neighborhood="Back Bay",
        LOCATION_ZIPCODE="2215.0",
        LATITUDE=lat,
        LONGITUDE=lon,
        Source="Citizens Connect App",
    )
    out = []
    for v in values.values():
        out.append(f'"{v}"' if "," in v else v)
    return ",".join(out)


@pytest.fixture()
def broken_file(tmp_path: Path) -> Path:
    lines = [
        HEADER_2015,
        boston_row("101"),  # line 2: good
        boston_row("102", opened="13/45/2015 99:00:00 XM"),  # line 3: bad date
        boston_row("103", type_="Graffiti Removal"),  # line 4: unknown type: kept as other
        boston_row("104", lat="200"),  # line 5: latitude out of range
        boston_row("101"),  # line 6: duplicate id in the same file
        "",  # line 7: empty line
        "105,10/05/2015 08:15:00 AM,Open",  # line 8: too few columns
        boston_row(
            "106",
            status="Closed",
            closed="10/01/2015 08:00:00 AM",
            closure="Case Resolved",
        ),  # line 9: closed before open
        boston_row("107", type_=""),  # line 10: missing type
        boston_row("108", lat="42.3594", lon="-71.0587"),  # line 11: placeholder point
        boston_row(
            "109", status="Closed", closed="10/06/2015 09:00:00 AM", closure="Case Resolved"
        ),
    ]
    path = tmp_path / "broken.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_broken_rows_are_rejected_with_row_field_and_reason(
    store: Store, catalogue: Catalogue, broken_file: Path, tmp_path: Path
) -> None:
    rejects_path = tmp_path / "rejects.csv"
    summary = import_file(store, broken_file, catalogue, ImportOptions(rejects_path=rejects_path))

    with rejects_path.open(newline="") as fh:
        rejects = {int(r["row_number"]): r for r in csv.DictReader(fh)}
    assert sorted(rejects) == [3, 5, 6, 7, 8, 9, 10]
    assert rejects[3]["field"] == "OPEN_DT" and "unparseable date" in rejects[3]["reason"]
    assert "MM/DD/YYYY" in rejects[3]["reason"]
    assert rejects[5]["field"] == "LATITUDE" and "200" in rejects[5]["reason"]
    assert rejects[6]["field"] == "CASE_ENQUIRY_ID" and "same id as row 2" in rejects[6]["reason"]
    assert "empty line" in rejects[7]["reason"]
    assert f"header has {N_COLS}" in rejects[8]["reason"]
    assert rejects[9]["field"] == "CLOSED_DT" and "closed before" in rejects[9]["reason"]
    assert rejects[10]["field"] == "TYPE"

    assert summary.rejected == 7
    assert summary.new == 4  # 101, 103 (as other), 108 (placeholder), 109
    assert summary.unknown_types == {"Graffiti Removal": 1}
    assert summary.needs_geocoding == 1
    # The summary counts each failed check by field, without the rows' values.
    assert summary.rejected_by_reason == {
        "OPEN_DT: unparseable date": 1,
        "LATITUDE: is outside -90..90": 1,
        "CASE_ENQUIRY_ID: duplicate id": 1,
        "row: empty line": 1,
        "row: column count differs from the header": 1,
        "CLOSED_DT: closed before it was opened": 1,
        "TYPE: missing TYPE": 1,
    }
    stored = {r.service_request_id: r for r in request_repo.query_requests(store)}
    assert sorted(stored) == ["101", "103", "108", "109"]
    assert stored["103"].service_code == "other"
    assert stored["108"].needs_geocoding and stored["108"].lat is None
    assert stored["109"].status == "fixed" and stored["109"].closed_datetime is not None
    # The rejects are kept in the store too, with the same row numbers.
    assert summary.import_run_id is not None
    kept = runs.rejects_of(store, summary.import_run_id)
    assert [r["row_number"] for r in kept] == [3, 5, 6, 7, 8, 9, 10]


def test_reimport_adds_nothing_and_changed_row_updates(
    store: Store, catalogue: Catalogue, tmp_path: Path
) -> None:
    path = tmp_path / "a.csv"
    path.write_text("\n".join([HEADER_2015, boston_row("1"), boston_row("2")]) + "\n")
    first = import_file(store, path, catalogue)
    assert (first.new, first.updated, first.unchanged) == (2, 0, 0)
    again = import_file(store, path, catalogue)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 2)

    path.write_text(
        "\n".join(
            [
                HEADER_2015,
                boston_row("1"),
                boston_row(
                    "2", status="Closed", closed="10/07/2015 10:00:00 AM", closure="Case Resolved"
                ),
                boston_row("3"),
            ]
        )
        + "\n"
    )
    third = import_file(store, path, catalogue)
    assert (third.new, third.updated, third.unchanged) == (1, 1, 1)
    assert request_repo.count_requests(store) == 3
    two = request_repo.get_request(store, "2")
    assert two.status == "fixed"
    assert two.status_notes.startswith("Case Resolved on 2015-10-07")


def test_times_are_boston_local_and_timezone_aware(
    store: Store, catalogue: Catalogue, tmp_path: Path
) -> None:
    path = tmp_path / "t.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(HEADER_2015 + "\n" + boston_row("9", opened="07/04/2015 12:30:00 PM") + "\n")
    import_file(store, path, catalogue)
    req = request_repo.get_request(store, "9")
    assert req.requested_datetime.utcoffset() is not None
    # 12:30 EDT is 16:30 UTC.
    assert (req.requested_datetime.hour, req.requested_datetime.minute) == (16, 30)
    assert req.expected_datetime is not None and req.expected_datetime.day == 20
    assert req.sla_target_datetime == req.expected_datetime  # the City's TARGET_DT


def test_current_lower_case_schema(store: Store, catalogue: Catalogue, tmp_path: Path) -> None:
    header = (
        "case_enquiry_id,open_dt,target_dt,closed_dt,ontime,case_status,closure_reason,case_title,"
        "subject,reason,type,queue,department,submittedphoto,closedphoto,location,fire_district,"
        "pwd_district,city_council_district,police_district,neighborhood,"
        "neighborhood_services_district,ward,precinct,location_street_name,location_zipcode,"
        "latitude,longitude,source"
    )
    n = len(header.split(","))

    def row(values: dict[str, str]) -> str:
        cols = header.split(",")
        return ",".join(values.get(c, "") for c in cols)

    good = row(
        {
            "case_enquiry_id": "101004113298",
            "open_dt": "2022-01-21 13:47:00",
            "case_status": "Open",
            "type": "Request for Pothole Repair",
            "location": "INTERSECTION of Boylston St & Dartmouth St  Boston  MA",
            "latitude": "42.3501",
            "longitude": "-71.0775",
            "source": "Citizens Connect App",
        }
    )
    bad = row(
        {
            "case_enquiry_id": "101004113299",
            "open_dt": "21/01/2022",
            "case_status": "Open",
            "type": "Request for Pothole Repair",
        }
    )
    path = tmp_path / "new.csv"
    path.write_text(f"{header}\n{good}\n{bad}\n")
    assert len(good.split(",")) == n
    summary = import_file(store, path, catalogue, ImportOptions(rejects_path=tmp_path / "r.csv"))
    assert summary.new == 1 and summary.rejected == 1
    req = request_repo.get_request(store, "101004113298")
    assert req.service_code == "pothole"
    assert req.expected_datetime is not None
    # No target time in the file: SLA from the catalogue (48 h for potholes).
    assert (req.expected_datetime - req.requested_datetime).total_seconds() == 48 * 3600
    assert req.sla_target_datetime == req.expected_datetime


def test_open311_json_import(store: Store, catalogue: Catalogue, tmp_path: Path) -> None:
    records = [
        {
            "service_request_id": "A1",
            "service_code": "pothole",
            "status": "open",
            "requested_datetime": "2015-10-06T07:30:00-04:00",
            "lat": 42.35,
            "long": -71.08,
            "description": "deep hole",
        },
        {
            "service_request_id": "A2",
            "service_code": "graffiti",
            "requested_datetime": "2015-10-06T07:30:00-04:00",
            "lat": 42.35,
            "long": -71.08,
        },
        {
            "service_request_id": "A3",
            "service_code": "pothole",
            "requested_datetime": "yesterday",
            "lat": 42.35,
            "long": -71.08,
        },
    ]
    path = tmp_path / "requests.json"
    path.write_text(json.dumps(records))
    summary = import_file(store, path, catalogue, ImportOptions(rejects_path=tmp_path / "r.csv"))
    assert summary.format == "open311_json"
    assert (summary.new, summary.rejected) == (1, 2)
    assert summary.import_run_id is not None
    by_row = {r["row_number"]: r for r in runs.rejects_of(store, summary.import_run_id)}
    assert by_row[2]["field"] == "service_code" and "graffiti" in by_row[2]["reason"]
    assert by_row[3]["field"] == "requested_datetime"
    a1 = request_repo.get_request(store, "A1")
    assert a1.description == "deep hole"
    # No expected_datetime in the record: the catalogue's SLA is its target.
    target = a1.requested_datetime + catalogue.service("pothole").sla
    assert a1.sla_target_datetime == a1.expected_datetime == target


def test_missing_file_and_wrong_header_are_clear_errors(
    store: Store, catalogue: Catalogue, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="does not exist"):
        import_file(store, tmp_path / "nope.csv", catalogue)
    path = tmp_path / "other.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(InputError, match="CASE_ENQUIRY_ID"):
        import_file(store, path, catalogue)


@pytest.mark.slow
def test_embedded_boston_file_imports_whole_and_reimports_nothing(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'boston.db'}")
    path = DATA_DIR / "boston311" / "boston311_2015_streetlights_potholes.csv.gz"
    first = import_file(store, path, catalogue, ImportOptions(rejects_path=tmp_path / "r.csv"))
    assert (first.new, first.rejected) == (15_409, 0)
    assert first.needs_geocoding == 1_362  # the City Hall placeholder rows
    second = import_file(store, path, catalogue, ImportOptions(rejects_path=tmp_path / "r.csv"))
    assert (second.new, second.updated, second.unchanged) == (0, 0, 15_409)
    assert request_repo.count_requests(store) == 15_409


def test_line_numbers_count_quoted_newlines_and_skipped_rows(
    store: Store, catalogue: Catalogue, tmp_path: Path
) -> None:
    two_line_title = boston_row("201").replace("PRINTED", '"PRINTED\nby crew"')
    lines = [
        HEADER_2015,
        two_line_title,  # lines 2-3
        "1,2,3",  # line 4: too few columns
        boston_row("202", opened="yesterday"),  # line 5: bad date
    ]
    path = tmp_path / "q.csv"
    path.write_text("\n".join(lines) + "\n")
    summary = import_file(store, path, catalogue, ImportOptions(rejects_path=tmp_path / "r.csv"))
    assert summary.new == 1
    assert summary.import_run_id is not None
    by_row = {r["row_number"]: r["field"] for r in runs.rejects_of(store, summary.import_run_id)}
    assert by_row == {4: "row", 5: "OPEN_DT"}
    assert request_repo.get_request(store, "201").description == "PRINTED\nby crew"


def test_change_in_an_ignored_column_leaves_the_row_unchanged(
    store: Store, catalogue: Catalogue, tmp_path: Path
) -> None:
    path = tmp_path / "w.csv"
    path.write_text(f"{HEADER_2015}\n{boston_row('1')}\n")
    import_file(store, path, catalogue)
    ward_moved = boston_row("1").split(",")
    ward_moved[HEADER_2015.split(",").index("ward")] = "Ward 5"
    path.write_text(f"{HEADER_2015}\n{','.join(ward_moved)}\n")
    again = import_file(store, path, catalogue)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 1)


def test_parsing_in_a_subprocess_gives_the_same_result(
    store: Store, catalogue: Catalogue, broken_file: Path, tmp_path: Path
) -> None:
    summary = import_file(
        store,
        broken_file,
        catalogue,
        ImportOptions(rejects_path=tmp_path / "r.csv", parse_in_subprocess=True),
    )
    assert (summary.new, summary.rejected, summary.rows_read) == (4, 7, 11)
    assert summary.unknown_types == {"Graffiti Removal": 1}
    assert summary.import_run_id is not None
    assert [r["row_number"] for r in runs.rejects_of(store, summary.import_run_id)] == [
        3,
        5,
        6,
        7,
        8,
        9,
        10,
    ]
    with pytest.raises(InputError, match="CASE_ENQUIRY_ID"):
        bad = tmp_path / "bad.csv"
        bad.write_text("a,b\n1,2\n")
        import_file(store, bad, catalogue, ImportOptions(parse_in_subprocess=True))


def test_open311_record_channel_and_city_hall_placeholder(catalogue: Catalogue) -> None:
    city = default_city()
    hall = city.placeholders[0]
    base = {
        "service_request_id": "B1",
        "service_code": "pothole",
        "requested_datetime": "2015-10-06T07:30:00-04:00",
        "lat": 42.35,
        "long": -71.08,
    }
    row = open311_record_to_row(base, catalogue, city.timezone)
    # The channel is how the report came in (Open311), whoever the record says is responsible.
    assert row["channel"] == "open311" and row["needs_geocoding"] is False
    with_agency = dict(base, agency_responsible="Somerville DPW")
    assert open311_record_to_row(with_agency, catalogue, city.timezone)["channel"] == "open311"
    at_hall = dict(base, lat=hall.lat + 2e-5, long=hall.lon - 2e-5, address="1 City Hall Sq")
    row = open311_record_to_row(at_hall, catalogue, city.timezone)
    assert row["needs_geocoding"] is True and row["lat"] is None and row["lon"] is None
    mask = city.placeholder_mask([hall.lat, 42.35, float("nan")], [hall.lon, -71.08, hall.lon])
    assert mask.tolist() == [True, False, False]
