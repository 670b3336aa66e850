"""GET requests builds its answer straight from row tuples; it must match the reference path.

The reference is the per-request formatting (:func:`api.open311.service.request_out` of a full
:class:`ServiceRequest`) serialised the way Starlette's ``JSONResponse`` does, and the
ElementTree XML of the same dicts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from api.open311 import service as o
from api.open311 import xml as _xml
from api.planner.staff import iso
from geo311.city.catalogue import Catalogue, load_catalogue
from geo311.db.store import Store
from geo311.model import ServiceRequest
from geo311.requests import repo as request_repo
from geo311.settings import REPO_DATA_DIR

P = "/open311/v2"


def _seed(store: Store, catalogue: Catalogue) -> None:
    # Microseconds that exercise the time format, one second back: replace() alone could put the
    # newest request up to a second in the future, inside one request's default window and
    # outside the next one's (a flaky edge).
    now = datetime.now(UTC).replace(microsecond=987654) - timedelta(seconds=1)
    variants: list[ServiceRequest] = []
    states = [*catalogue.states, "no_such_state"]
    for i in range(40):
        t = now - timedelta(days=i * 2, seconds=i * 37)
        code = list(catalogue.services)[i % len(catalogue.services)]
        variants.append(
            ServiceRequest(
                service_request_id=f"F{i:04d}",
                service_code=code,
                # Blank name: the catalogue's name is shown instead.
                service_name="" if i % 3 == 0 else f"name {i}",
                status=states[i % len(states)],
                status_notes="" if i % 2 else 'Repaired — "crew" <7> & co\n',
                requested_datetime=t,
                updated_datetime=None if i % 4 == 0 else t + timedelta(hours=1),
                expected_datetime=None if i % 5 == 0 else t + timedelta(days=2),
                source="boston",
                source_id=f"f{i}",
                description="" if i % 6 == 0 else f"Schlagloch café ☕ {i}\t\\ end",
                address="" if i % 7 == 0 else f"{i} Boylston St",
                zipcode="" if i % 2 else "02116",
                lat=None if i == 5 else 42.34 + i * 1e-4,
                long=None if i == 5 else -71.1 + i / 3e4,
                media_url="" if i % 2 else "http://example.org/p.jpg?a=1&b=2",
            )
        )
    for req in variants:
        request_repo.add_request(store, req)


def _reference(store: Store, catalogue: Catalogue, **filters: object) -> list[dict[str, object]]:
    tz = o.ZoneInfo("America/New_York")
    found = request_repo.query_requests(
        store,
        request_repo.RequestFilters(newest_first=True, **filters),  # type: ignore[arg-type]
    )
    return [o.request_out(r, catalogue, tz) for r in found]


def test_requests_json_and_xml_match_the_reference_bytes(
    client: TestClient, api_store: Store
) -> None:
    catalogue = load_catalogue(REPO_DATA_DIR / "services.toml")
    _seed(api_store, catalogue)
    now = datetime.now(UTC)
    window = {"start": now - o.DEFAULT_WINDOW - timedelta(minutes=5), "end": now}

    got = client.get(f"{P}/requests.json")
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/json"
    ref = [r for r in _reference(api_store, catalogue, **window)]
    # The default window is computed at request time; drop what lies at its very edge.
    ids = {r["service_request_id"] for r in got.json()}
    ref = [r for r in ref if r["service_request_id"] in ids]
    assert len(ref) == len(ids) >= 40 * 88 // 90 // 2
    expected = json.dumps(ref, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    assert got.content == expected.encode()

    xml = client.get(f"{P}/requests.xml")
    assert xml.status_code == 200
    assert xml.content == _xml.render_list("service_requests", ref)


def test_paging_and_filters_match_the_reference(client: TestClient, api_store: Store) -> None:
    catalogue = load_catalogue(REPO_DATA_DIR / "services.toml")
    _seed(api_store, catalogue)
    start = (datetime.now(UTC) - timedelta(days=60)).isoformat()
    end = datetime.now(UTC).isoformat()
    params = {"start_date": start, "end_date": end, "page_size": "7", "page": "2"}
    got = client.get(f"{P}/requests.json", params=params)
    assert got.status_code == 200
    ref = _reference(
        api_store,
        catalogue,
        start=datetime.fromisoformat(start),
        end=datetime.fromisoformat(end),
        limit=7,
        offset=7,
    )
    assert len(ref) == 7
    expected = json.dumps(ref, ensure_ascii=False, separators=(",", ":")).encode()
    assert got.content == expected

    one = client.get(f"{P}/requests.json", params={"service_request_id": "F0005,F0003"})
    assert [r["service_request_id"] for r in one.json()] == ["F0003", "F0005"]
    assert one.json()[1]["lat"] is None and one.json()[1]["long"] is None


def test_dumps_json_writes_times_like_iso() -> None:
    tz = o.ZoneInfo("America/New_York")
    for t in (
        datetime(2015, 3, 8, 6, 59, 59, 999999, tzinfo=UTC),  # EST, just before the switch
        datetime(2015, 3, 8, 7, 0, 0, tzinfo=UTC),  # EDT
        datetime(2015, 11, 1, 5, 30, 0, 1, tzinfo=UTC),  # the repeated hour
    ):
        assert o.dumps_json([t.astimezone(tz)]) == json.dumps([iso(t, tz)]).encode()
    utc = o.ZoneInfo("UTC")
    t = datetime(2020, 1, 1, 12, 0, 0, 5, tzinfo=UTC)
    assert o.dumps_json(t.astimezone(utc)) == json.dumps(iso(t, utc)).encode()
