"""A posted report (Open311 POST, the report page) is limited per client address and e-mail
address, and its photo is kept only if the report is.

Through the real app and store (SQLite and PostgreSQL).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from geo311.db.store import Store
from geo311.requests import repo as request_repo

from .conftest import API_KEY, make_settings
from .test_media import jpeg_with_gps

P = "/open311/v2"
FORM = {"api_key": API_KEY, "service_code": "pothole", "lat": "42.3505", "long": "-71.0810"}


def _app(api_store: Store, store_url: str, tmp_path: Path, **extra: object) -> TestClient:
    settings = make_settings(store_url, media_dir=tmp_path / "media", **extra)
    return TestClient(create_app(settings, store=api_store), raise_server_exceptions=False)


def test_over_the_per_address_limit_reports_get_a_429_in_the_open311_shape(
    api_store: Store, store_url: str, tmp_path: Path
) -> None:
    with _app(api_store, store_url, tmp_path, report_limit_per_ip=2) as client:
        assert client.post(f"{P}/requests.json", data=FORM).status_code == 200
        assert client.post("/report.json", data=FORM).status_code == 200  # the same address
        over = client.post(f"{P}/requests.json", data=FORM)
        assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0
        [error] = over.json()
        assert error["code"] == 429
        assert error["description"].startswith("Too many reports were sent from your connection")
        assert (
            "at most 2 an hour" in error["description"] and "try again in" in error["description"]
        )
        xml = client.post(f"{P}/requests.xml", data=FORM)
        assert xml.status_code == 429 and b"<code>429</code>" in xml.content
        page = client.post("/report.json", data=FORM)  # the report page shows the description
        assert page.status_code == 429 and page.json()[0]["description"] == error["description"]
    assert request_repo.count_requests(api_store) == 2
    with (
        _app(api_store, store_url, tmp_path, report_limit_per_ip=2) as elsewhere,
        TestClient(elsewhere.app, client=("198.51.100.9", 4000)) as other,
    ):
        assert other.post(f"{P}/requests.json", data=FORM).status_code == 200
    # A relay of many citizens (its api_key listed) is not limited by its address.
    exempt = {"report_limit_per_ip": 2, "report_limit_ip_exempt_keys": [API_KEY]}
    with _app(api_store, store_url, tmp_path, **exempt) as relay:
        assert relay.post(f"{P}/requests.json", data=FORM).status_code == 200
        assert relay.post("/report.json", data=FORM).status_code == 429  # no key: limited


def test_over_the_per_email_limit_reports_with_that_address_get_a_429(
    api_store: Store, store_url: str, tmp_path: Path
) -> None:
    limits = {"report_limit_per_ip": 0, "report_limit_per_email": 2}
    with _app(api_store, store_url, tmp_path, **limits) as client:
        for address in ("Ada@Example.org", "ada@example.org"):
            sent = client.post(f"{P}/requests.json", data={**FORM, "email": address})
            assert sent.status_code == 200, sent.text
        over = client.post("/report.json", data={**FORM, "email": "ADA@example.org "})
        assert over.status_code == 429
        assert over.json()[0]["description"].startswith(
            "email: too many reports were sent with this e-mail address (at most 2 an hour)"
        )
        assert client.post(f"{P}/requests.json", data=FORM).status_code == 200  # no e-mail
        other = client.post(f"{P}/requests.json", data={**FORM, "email": "bob@example.org"})
        assert other.status_code == 200
    assert request_repo.count_requests(api_store) == 4


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"email": "not an address"}, 400),  # refused for another field
        ({"lat": "", "long": "", "address_string": "99999 Nowhere Road"}, 400),  # not located
    ],
)
def test_a_refused_report_leaves_no_photo_behind(
    api_store: Store, store_url: str, tmp_path: Path, change: dict[str, str], status: int
) -> None:
    form = {k: v for k, v in {**FORM, **change}.items() if v}
    files = {"media": ("IMG_1.jpg", jpeg_with_gps((320, 240)), "image/jpeg")}
    with _app(api_store, store_url, tmp_path) as client:
        refused = client.post(f"{P}/requests.json", data=form, files=files)
        assert refused.status_code == status, refused.text
        media = tmp_path / "media"
        assert not media.exists() or list(media.iterdir()) == []
        assert request_repo.count_requests(api_store) == 0
        taken = client.post(f"{P}/requests.json", data=FORM, files=files)
        assert taken.status_code == 200
        name = client.get(f"{P}/requests/{taken.json()[0]['service_request_id']}.json").json()
        assert [p.name for p in media.iterdir()] == [name[0]["media_url"].rsplit("/", 1)[1]]


def test_a_retried_report_keeps_no_second_photo(
    api_store: Store, store_url: str, tmp_path: Path
) -> None:
    key = {"Idempotency-Key": "retry-0001"}
    with _app(api_store, store_url, tmp_path) as client:
        first = client.post(f"{P}/requests.json", data=FORM, headers=key)
        files = {"media": ("IMG_2.jpg", jpeg_with_gps((100, 80)), "image/jpeg")}
        again = client.post(f"{P}/requests.json", data=FORM, files=files, headers=key)
    assert again.status_code == 200
    assert again.json()[0]["service_request_id"] == first.json()[0]["service_request_id"]
    assert not (tmp_path / "media").exists() or list((tmp_path / "media").iterdir()) == []


def test_a_photo_with_too_many_pixels_is_refused_by_its_size(
    api_store: Store, store_url: str, tmp_path: Path
) -> None:
    from tests.geo311.requests.test_media import png_header_only

    files = {"media": ("big.png", png_header_only(6300, 6300), "image/png")}
    with _app(api_store, store_url, tmp_path) as client:
        resp = client.post("/report.json", data=FORM, files=files)
    assert resp.status_code == 400
    assert resp.json()[0]["description"].startswith(
        "media: the photo is too large (6300×6300 px, at most 16,777,216 px"
    )
    assert not (tmp_path / "media").exists() or list((tmp_path / "media").iterdir()) == []
