"""The citizens' pages and their photos send the security headers the staff pages send."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from geo311.db.store import Store
from tests.api.conftest import API_KEY, make_settings
from tests.api.test_media import jpeg_with_gps

SECURITY = ("content-security-policy", "x-content-type-options", "referrer-policy")


@pytest.fixture()
def site(api_store: Store, store_url: str, tmp_path: Path):
    settings = make_settings(store_url, media_dir=tmp_path / "media")
    with TestClient(create_app(settings, store=api_store), raise_server_exceptions=False) as c:
        yield c


def test_public_pages_and_media_send_the_staff_security_headers(site: TestClient) -> None:
    staff = site.get("/login")
    assert "script-src 'self'" in staff.headers["content-security-policy"]
    expected = {name: staff.headers[name] for name in SECURITY}
    form = {"api_key": API_KEY, "service_code": "pothole", "lat": "42.3505", "long": "-71.0810"}
    photo = {"media": ("IMG.jpg", jpeg_with_gps(), "image/jpeg")}
    posted = site.post("/open311/v2/requests.json", data=form, files=photo).json()[0]
    rid = posted["service_request_id"]
    media = site.get(f"/open311/v2/requests/{rid}.json").json()[0]["media_url"]
    pages = {"/report": 200, f"/requests/{rid}": 200, "/requests/nope": 404, media: 200}
    for path, status in pages.items():
        resp = site.get(path)
        assert resp.status_code == status, path
        assert {name: resp.headers.get(name) for name in SECURITY} == expected, path
    for path in ("/report", f"/requests/{rid}", "/requests/nope"):
        assert site.get(path).headers["cache-control"] == "no-store"  # as the staff pages
    assert "immutable" in site.get(media).headers["cache-control"]  # a photo never changes


def test_the_report_page_runs_no_inline_script(site: TestClient) -> None:
    html = site.get("/report").text
    # every <script> has a src on this site (CSP script-src 'self' would block an inline one);
    # a JSON data block (the page's words in its language) is not run
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert re.search(r'src="/static/', tag) or 'type="application/json"' in tag, tag
    assert site.get("/static/staff/report.js").status_code == 200
