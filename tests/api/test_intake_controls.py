"""Control characters at intake: refused (400 naming the field), and never in an XML answer."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import install_error_handlers
from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.model import ServiceRequest
from geo311.requests import repo as request_repo
from geo311.requests.intake import check_text
from tests.api.test_open311 import P, _key, errors_of
from tests.api.web.conftest import csrf_of

CONTROLS = {"VT": "\x0b", "NUL": "\x00"}
# every text field of POST requests, with a value that is otherwise valid
POST_FIELDS = {
    "service_code": "pothole",
    "description": "Deep hole",
    "address_string": "145 Ipswich St",
    "address_id": "a1",
    "email": "someone@example.org",
    "device_id": "d1",
    "account_id": "acc1",
    "first_name": "Ann",
    "last_name": "Lee",
    "phone": "555 0100",
    "media_url": "https://example.org/p.jpg",
    "jurisdiction_id": "",
    "api_key": None,  # the test app's key
    "attribute[size]": "large",
}


def _form(client: TestClient, **changes: str) -> dict[str, str]:
    data = {"api_key": _key(client), "service_code": "pothole", "lat": "42.3505"}
    data["long"] = "-71.0810"
    data.update(changes)
    return data


@pytest.mark.parametrize("control", CONTROLS.values(), ids=CONTROLS.keys())
@pytest.mark.parametrize("field", POST_FIELDS)
def test_a_control_character_in_any_post_field_is_a_400_naming_it(
    client: TestClient, api_store: Store, field: str, control: str
) -> None:
    value = POST_FIELDS[field] or _key(client)
    for fmt in ("json", "xml"):
        bad = value[:1] + control + value[1:]
        resp = client.post(f"{P}/requests.{fmt}", data=_form(client, **{field: bad}))
        assert resp.status_code == 400, resp.text
        [(code, description)] = errors_of(resp, fmt)
        assert code == 400 and description.startswith(f"{field}: contains the control character")
        assert f"U+{ord(control):04X}" in description and "remove it" in description
    assert request_repo.count_requests(api_store) == 0


@pytest.mark.parametrize("control", CONTROLS.values(), ids=CONTROLS.keys())
def test_the_report_page_form_refuses_control_characters(
    client: TestClient, api_store: Store, control: str
) -> None:
    data = {"service_code": "pothole", "lat": "42.3505", "long": "-71.0810"}
    resp = client.post(
        "/report.json",
        data={**data, "description": f"hole{control}"},
        files={"media": ("", b"", "application/octet-stream")},  # the page sends multipart
    )
    assert resp.status_code == 400
    [(_, description)] = errors_of(resp, "json")
    assert description.startswith("description: contains the control character")
    assert request_repo.count_requests(api_store) == 0


def test_a_control_character_in_an_update_is_a_400(client: TestClient, seed) -> None:
    seed("101")
    form = {
        "api_key": _key(client),
        "service_request_id": "101",
        "updated_datetime": datetime.now(UTC).isoformat(),
        "status": "OPEN",
        "description": "still\x00there",
    }
    resp = client.post(f"{P}/servicerequestupdates.xml", data=form)
    assert resp.status_code == 400
    [(_, description)] = errors_of(resp, "xml")
    assert description.startswith("description: contains the control character U+0000")


@pytest.mark.parametrize("control", ["%00", "%0B", "%1F"])
def test_query_and_path_controls_are_a_400_in_the_open311_shape(
    client: TestClient, control: str
) -> None:
    resp = client.get(f"{P}/requests.json?service_code=pot{control}hole")
    assert resp.status_code == 400
    [(_, description)] = errors_of(resp, "json")
    assert description.startswith("service_code: contains the control character")
    resp = client.get(f"{P}/requests.xml?status=open&start_date=2015{control}")
    assert resp.status_code == 400
    [(_, description)] = errors_of(resp, "xml")  # well-formed XML
    assert description.startswith("start_date: contains the control character")
    resp = client.get(f"{P}/requests/G1{control}.xml")
    assert resp.status_code == 400
    [(_, description)] = errors_of(resp, "xml")
    assert description.startswith("path: contains the control character")
    resp = client.get(f"/report/geocode.json?q=145{control}")
    assert resp.status_code == 400
    assert errors_of(resp, "json")[0][1].startswith("q: contains the control character")


def test_path_and_query_controls_elsewhere_are_a_400_naming_them(client: TestClient) -> None:
    resp = client.get("/requests/G1%00")
    assert resp.status_code == 400
    assert resp.json()["field"] == "path" and "U+0000" in resp.json()["detail"]
    resp = client.get("/login?next=/x%00")
    assert resp.status_code == 400 and resp.json()["field"] == "next"


def test_requests_xml_stays_well_formed_with_a_stored_control_character(
    client: TestClient, api_store: Store, catalogue: Catalogue
) -> None:
    # stored before the intake check existed (or by an import): the writer leaves it out
    now = datetime.now(UTC)
    bad = ServiceRequest(
        service_request_id="B1",
        service_code="pothole",
        service_name=catalogue.service("pothole").name,
        status="open",
        requested_datetime=now,
        updated_datetime=now,
        source="boston",
        source_id="B1",
        description="deep\x0bhole\x1f by the \ufffekerb",
        address="145 Ipswich\x0c St",
        lat=42.3505,
        long=-71.0810,
    )
    request_repo.add_request(api_store, bad)
    for path in (f"{P}/requests.xml", f"{P}/requests/B1.xml"):
        resp = client.get(path)
        assert resp.status_code == 200
        [item] = ET.fromstring(resp.content)
        assert item.findtext("description") == "deephole by the kerb"
        assert item.findtext("address") == "145 Ipswich St"
    assert client.get(f"{P}/requests.json").json()[0]["description"].startswith("deep\x0bhole")


def test_database_data_errors_are_a_400(postgres_url: str) -> None:
    store = Store(postgres_url)
    app = FastAPI()
    install_error_handlers(app)

    def refused() -> None:
        with store.engine.connect() as conn:
            conn.execute(sa.text("SELECT CAST(:v AS text)"), {"v": "a\x00b"})

    app.add_api_route("/open311/v2/x.xml", refused)
    app.add_api_route("/staff/x", refused)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            resp = client.get("/open311/v2/x.xml")
            assert resp.status_code == 400
            [(_, description)] = errors_of(resp, "xml")
            assert "NUL" in description and "remove control characters" in description
            resp = client.get("/staff/x")
            assert resp.status_code == 400 and "NUL" in resp.json()["detail"]
    finally:
        store.close()


def test_a_nul_in_the_sign_in_username_is_a_400_page(client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)
    form = {"username": "ad\x00a", "password": "whatever it is", "csrf_token": token}
    resp = client.post("/login", data=form)
    assert resp.status_code == 400 and "control character" in resp.text


@pytest.mark.parametrize("allowed", ["tab\there", "two\nlines\r\n", "unicode ✓ é"])
def test_tab_and_line_breaks_are_allowed(allowed: str) -> None:
    assert check_text("description", allowed) == allowed


def test_check_text_names_the_field_and_position() -> None:
    with pytest.raises(InputError, match=r"^phone: .* U\+0007 at position 3;") as caught:
        check_text("phone", "55\x0755")
    assert caught.value.field == "phone"
