"""GeoReport v2 conformance: every endpoint and error, in JSON and XML, on SQLite and PostgreSQL."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.model import ServiceRequest
from geo311.requests import repo as request_repo
from geo311.settings import Settings

P = "/open311/v2"
FORMATS = ["json", "xml"]


def errors_of(resp, fmt: str) -> list[tuple[int, str]]:
    """Return (code, description) of a GeoReport v2 error body, checking its exact shape."""
    if fmt == "json":
        body = resp.json()
        assert isinstance(body, list) and body
        for e in body:
            assert set(e) == {"code", "description"}
        return [(e["code"], e["description"]) for e in body]
    assert resp.headers["content-type"].startswith("text/xml")
    assert resp.content.startswith(b"<?xml")
    root = ET.fromstring(resp.content)
    assert root.tag == "errors"
    out = []
    for e in root:
        assert e.tag == "error"
        out.append((int(e.findtext("code")), e.findtext("description")))
    return out


def items_of(resp, fmt: str, root: str = "service_requests", item: str = "request") -> list[dict]:
    assert resp.status_code == 200, resp.text
    if fmt == "json":
        assert resp.headers["content-type"].startswith("application/json")
        return resp.json()
    assert resp.headers["content-type"].startswith("text/xml")
    tree = ET.fromstring(resp.content)
    assert tree.tag == root
    assert all(child.tag == item for child in tree)
    return [{c.tag: (c.text or "") for c in child} for child in tree]


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery(client: TestClient, fmt: str) -> None:
    resp = client.get(f"{P}/discovery.{fmt}")
    assert resp.status_code == 200
    if fmt == "json":
        doc = resp.json()
        assert doc["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert doc["endpoints"][0]["url"].endswith("/open311/v2")
        assert "text/xml" in doc["endpoints"][0]["formats"]
    else:
        root = ET.fromstring(resp.content)
        assert root.tag == "discovery"
        ep = root.find("endpoints/endpoint")
        assert ep is not None and ep.findtext("type") == "production"
        assert [f.text for f in ep.findall("formats/format")] == ["application/json", "text/xml"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_services_list_every_catalogue_service(
    client: TestClient, catalogue: Catalogue, fmt: str
) -> None:
    items = items_of(client.get(f"{P}/services.{fmt}"), fmt, "services", "service")
    assert {i["service_code"] for i in items} == set(catalogue.services)
    pothole = next(i for i in items if i["service_code"] == "pothole")
    assert pothole["type"] == "realtime"
    assert str(pothole["metadata"]).lower() == "true"
    assert pothole["service_name"] == "Pothole repair"
    assert "asphalt" in pothole["keywords"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition(client: TestClient, fmt: str) -> None:
    resp = client.get(f"{P}/services/pothole.{fmt}")
    assert resp.status_code == 200
    if fmt == "json":
        doc = resp.json()
        assert doc["service_code"] == "pothole"
        size = next(a for a in doc["attributes"] if a["code"] == "size")
        assert size["datatype"] == "singlevaluelist"
        assert [v["key"] for v in size["values"]] == ["small", "medium", "large"]
    else:
        root = ET.fromstring(resp.content)
        assert root.tag == "service_definition"
        attr = root.find("attributes/attribute")
        assert attr is not None and attr.findtext("code") == "size"
        assert [v.findtext("key") for v in attr.findall("values/value")] == [
            "small",
            "medium",
            "large",
        ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_service_definition_is_404_naming_the_field(client: TestClient, fmt: str) -> None:
    resp = client.get(f"{P}/services/graffiti.{fmt}")
    assert resp.status_code == 404
    [(code, desc)] = errors_of(resp, fmt)
    assert code == 404 and "service_code" in desc and "pothole" in desc


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_requests_default_window_status_and_times(
    client: TestClient, api_store: Store, seed: Callable[..., ServiceRequest], fmt: str
) -> None:
    seed("R1", days_ago=1)
    seed("R2", days_ago=2, status="fixed", notes="Repaired today")
    seed("OLD", days_ago=120)
    items = items_of(client.get(f"{P}/requests.{fmt}"), fmt)
    ids = [i["service_request_id"] for i in items]
    assert ids == ["R1", "R2"]  # newest first; 120 days ago is outside the 90-day default
    by_id = {i["service_request_id"]: i for i in items}
    assert by_id["R1"]["status"] == "open"
    assert by_id["R2"]["status"] == "closed"  # 'fixed' is closed for citizens
    assert by_id["R2"]["status_notes"] == "Repaired today"
    t = datetime.fromisoformat(by_id["R1"]["requested_datetime"])
    assert t.utcoffset() is not None
    assert by_id["R1"]["requested_datetime"][-6:] in ("-04:00", "-05:00")
    assert float(by_id["R1"]["lat"]) == pytest.approx(42.3505)
    assert float(by_id["R1"]["long"]) == pytest.approx(-71.0810)


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_requests_filters(
    client: TestClient, api_store: Store, seed: Callable[..., ServiceRequest], fmt: str
) -> None:
    seed("P1", days_ago=1)
    seed("L1", code="streetlight_outage", days_ago=1.5)
    seed("P2", days_ago=3, status="duplicate")
    seed("OLD", days_ago=120)

    def ids(**params) -> list[str]:
        r = client.get(f"{P}/requests.{fmt}", params=params)
        return [i["service_request_id"] for i in items_of(r, fmt)]

    assert ids(service_code="streetlight_outage") == ["L1"]
    assert ids(service_code="pothole,streetlight_outage") == ["P1", "L1", "P2"]
    assert ids(status="open") == ["P1", "L1"]
    assert ids(status="closed") == ["P2"]
    # service_request_id overrides every other filter (even the date window)
    assert sorted(ids(service_request_id="OLD,P2", status="open")) == ["OLD", "P2"]
    now = datetime.now().astimezone()
    start = (now.replace(microsecond=0) - __import__("datetime").timedelta(days=2)).isoformat()
    assert ids(start_date=start) == ["P1", "L1"]
    assert ids(page_size=2) == ["P1", "L1"]
    assert ids(page_size=2, page=2) == ["P2"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("params", "field"),
    [
        (
            {"start_date": "2015-01-01T00:00:00-05:00", "end_date": "2015-06-01T00:00:00-04:00"},
            "end_date",
        ),
        ({"start_date": "yesterday"}, "start_date"),
        ({"status": "pending"}, "status"),
        ({"service_code": "graffiti"}, "service_code"),
        ({"page_size": "5000"}, "page_size"),
        ({"page": "zero"}, "page"),
    ],
)
def test_get_requests_bad_parameters_are_400_naming_the_field(
    client: TestClient, fmt: str, params: dict, field: str
) -> None:
    resp = client.get(f"{P}/requests.{fmt}", params=params)
    assert resp.status_code == 400
    [(code, desc)] = errors_of(resp, fmt)
    assert code == 400 and desc.startswith(field)


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_one_request_and_404(
    client: TestClient, api_store: Store, seed: Callable[..., ServiceRequest], fmt: str
) -> None:
    seed("R9", days_ago=200)
    [item] = items_of(client.get(f"{P}/requests/R9.{fmt}"), fmt)
    assert item["service_request_id"] == "R9" and item["service_code"] == "pothole"
    resp = client.get(f"{P}/requests/NOPE.{fmt}")
    assert resp.status_code == 404
    [(code, desc)] = errors_of(resp, fmt)
    assert code == 404 and "service_request_id" in desc and "NOPE" in desc


@pytest.mark.parametrize("fmt", FORMATS)
def test_jurisdiction_unknown_is_404(client: TestClient, fmt: str) -> None:
    resp = client.get(f"{P}/services.{fmt}", params={"jurisdiction_id": "nyc.gov"})
    assert resp.status_code == 404
    [(code, desc)] = errors_of(resp, fmt)
    assert "jurisdiction_id" in desc


def test_unknown_format_and_path_use_the_open311_error_format(client: TestClient) -> None:
    resp = client.get(f"{P}/services.html")
    assert resp.status_code == 400
    [(code, desc)] = errors_of(resp, "json")
    assert desc.startswith("response_format") and ".xml" in desc
    resp = client.get(f"{P}/requests")
    assert resp.status_code == 404
    [(code, desc)] = errors_of(resp, "json")
    assert "requests.json" in desc


def _key(client: TestClient) -> str:
    """The first api_key the client's app accepts."""
    return str(client.app.state.settings.api_keys[0])  # type: ignore[attr-defined]


def _post_fields(client: TestClient) -> dict[str, str]:
    return {
        "api_key": _key(client),
        "service_code": "pothole",
        "lat": "42.3505",
        "long": "-71.0810",
    }


def _post(client: TestClient, fmt: str = "json", **fields):
    data = _post_fields(client)
    data.update({k: v for k, v in fields.items() if v is not None})
    for k in [k for k, v in fields.items() if v is None]:
        data.pop(k, None)
    return client.post(f"{P}/requests.{fmt}", data=data)


def test_post_answer_carries_the_id_or_else_the_token_never_both() -> None:
    from api.open311 import service as _open311
    from api.open311 import xml as _xml

    with_id = _open311.post_answer("G1", "tok-1", "received")
    assert with_id == {"service_request_id": "G1", "service_notice": "received", "account_id": None}
    without = _open311.post_answer(None, "tok-1", "queued")
    assert without == {"token": "tok-1", "service_notice": "queued", "account_id": None}
    [item] = ET.fromstring(_xml.render_list("service_requests", [without]))
    assert [c.tag for c in item] == ["token", "service_notice", "account_id"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_creates_request_readable_by_id_and_token(
    client: TestClient, api_store: Store, catalogue: Catalogue, fmt: str
) -> None:
    data = {"description": "Deep hole", "attribute[size]": "large"}
    resp = client.post(
        f"{P}/requests.{fmt}",
        data={**_post_fields(client), **data},
        headers={"Idempotency-Key": f"key-{fmt}"},
    )
    [item] = items_of(resp, fmt)
    rid = item["service_request_id"]
    # GeoReport v2: service_request_id when the id exists, the token only when it does not
    assert rid and "token" not in item
    assert list(item) == ["service_request_id", "service_notice", "account_id"]
    stored = request_repo.get_request(api_store, rid)
    assert stored.service_code == "pothole" and stored.status == "open"
    assert stored.lat == pytest.approx(42.3505) and stored.source == "open311"
    assert "size: large" in stored.description
    assert stored.expected_datetime is not None and stored.requested_datetime.tzinfo is not None
    # The catalogue's SLA is the new report's target (the expected time until a plan's ETA).
    target = stored.requested_datetime + catalogue.service("pothole").sla
    assert stored.sla_target_datetime == stored.expected_datetime == target
    [got] = items_of(client.get(f"{P}/requests/{rid}.{fmt}"), fmt)
    assert got["status"] == "open" and got["description"].startswith("Deep hole")
    [tok] = items_of(client.get(f"{P}/tokens/key-{fmt}.{fmt}"), fmt)
    assert tok["service_request_id"] == rid
    resp = client.get(f"{P}/tokens/unknown-token.{fmt}")
    assert resp.status_code == 404 and "token" in errors_of(resp, fmt)[0][1]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"api_key": None}, 403, "api_key"),
        ({"api_key": "wrong"}, 403, "api_key"),
        ({"service_code": "graffiti"}, 400, "service_code"),
        ({"service_code": None}, 400, "service_code"),
        ({"description": "x" * 4001}, 400, "description"),
        ({"long": None}, 400, "long"),
        ({"lat": None, "long": None}, 400, "lat/long or address_string"),
        ({"lat": "north"}, 400, "lat"),
        ({"lat": "40.7", "long": "-74.0"}, 400, "lat/long"),
        ({"attribute[size]": "huge"}, 400, "attribute[size]"),
        ({"attribute[colour]": "red"}, 400, "attribute[colour]"),
        ({"jurisdiction_id": "nyc.gov"}, 404, "jurisdiction_id"),
    ],
)
def test_post_errors_name_the_field(
    client: TestClient, api_store: Store, fmt: str, fields: dict, status: int, field: str
) -> None:
    resp = _post(client, fmt, **fields)
    assert resp.status_code == status, resp.text
    [(code, desc)] = errors_of(resp, fmt)
    assert code == status and desc.startswith(field), desc
    assert request_repo.count_requests(api_store) == 0


def test_description_of_4000_characters_is_accepted(client: TestClient) -> None:
    assert _post(client, description="x" * 4000).status_code == 200


def test_post_near_open_work_order_joins_it(client: TestClient, api_store: Store) -> None:
    first = _post(client).json()[0]
    second = _post(client, lat="42.35052", long="-71.08102").json()[0]
    a = request_repo.get_request(api_store, first["service_request_id"])
    b = request_repo.get_request(api_store, second["service_request_id"])
    assert a.work_order_id is not None and a.work_order_id == b.work_order_id
    assert "work order" in second["service_notice"].lower()
    far = _post(client, lat="42.3450", long="-71.0700").json()[0]
    assert (
        request_repo.get_request(api_store, far["service_request_id"]).work_order_id
        != a.work_order_id
    )
    # a streetlight at the same spot is another service group: its own work order
    light = _post(client, service_code="streetlight_outage").json()[0]
    assert (
        request_repo.get_request(api_store, light["service_request_id"]).work_order_id
        != a.work_order_id
    )


def test_idempotency_key_returns_the_first_request(client: TestClient, api_store: Store) -> None:
    data = {"api_key": _key(client), "service_code": "pothole", "lat": "42.35", "long": "-71.08"}
    h = {"Idempotency-Key": "retry-123"}
    one = client.post(f"{P}/requests.json", data=data, headers=h).json()[0]
    two = client.post(f"{P}/requests.json", data=data, headers=h).json()[0]
    assert one["service_request_id"] == two["service_request_id"]
    assert request_repo.count_requests(api_store) == 1


def test_body_over_the_limit_is_413(client: TestClient, api_store: Store) -> None:
    resp = _post(client, media_url="http://x/" + "a" * 70_000)
    assert resp.status_code == 413
    # The spec's error list on Open311 paths (issue 13; this was a FastAPI detail object).
    [error] = resp.json()
    assert error["code"] == 413 and "larger than" in error["description"]
    assert request_repo.count_requests(api_store) == 0


def test_crash_gives_generic_500_without_trace(
    api_settings: Settings, api_store: Store, api_key: str
) -> None:
    def broken(_settings):
        raise RuntimeError("secret internal detail")

    app = create_app(api_settings, store=api_store, geocoder_factory=broken)
    with TestClient(app, raise_server_exceptions=False) as c:
        resp = c.post(
            f"{P}/requests.xml",
            data={"api_key": api_key, "service_code": "pothole", "address_string": "1 Main St"},
        )
    assert resp.status_code == 500
    assert b"secret" not in resp.content and b"Traceback" not in resp.content
    assert errors_of(resp, "xml")[0][0] == 500


def test_a_post_stores_its_request_and_work_order_together_or_not_at_all(
    api_settings: Settings,
    api_store: Store,
    api_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from geo311.requests import reports

    real = reports.assign_request

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("grouping failed")

    monkeypatch.setattr(reports, "assign_request", broken)
    data = {"api_key": api_key, "service_code": "pothole", "lat": "42.35", "long": "-71.08"}
    h = {"Idempotency-Key": "atomic-1"}
    with TestClient(create_app(api_settings, store=api_store), raise_server_exceptions=False) as c:
        assert c.post(f"{P}/requests.json", data=data, headers=h).status_code == 500
        assert request_repo.count_requests(api_store) == 0  # no request left without its work order
        monkeypatch.setattr(reports, "assign_request", real)
        again = c.post(f"{P}/requests.json", data=data, headers=h)  # the retry stores it
        assert again.status_code == 200, again.text
        [item] = again.json()
        assert "already received" not in (item["service_notice"] or "")
    stored = request_repo.get_request(api_store, item["service_request_id"])
    assert stored.work_order_id is not None and request_repo.count_requests(api_store) == 1
