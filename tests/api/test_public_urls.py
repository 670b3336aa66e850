"""Stored and published URLs come from GEO311_PUBLIC_URL, never from the request's Host."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from geo311.db.store import Store
from geo311.requests import repo as request_repo
from geo311.settings import Settings
from tests.api.conftest import API_KEY, make_settings
from tests.api.test_media import jpeg_with_gps

P = "/open311/v2"
FORGED = {"Host": "evil.example"}
PUBLIC = "https://311.example.gov/"
FORM = {"api_key": API_KEY, "service_code": "pothole", "lat": "42.3505", "long": "-71.0810"}


def _client(store: Store, url: str, tmp_path: Path, **extra: object) -> TestClient:
    settings = make_settings(url, media_dir=tmp_path / "media", **extra)
    return TestClient(create_app(settings, store=store), raise_server_exceptions=False)


@pytest.mark.parametrize(("public", "base"), [(PUBLIC, "https://311.example.gov"), (None, "")])
def test_a_posted_photo_url_ignores_a_forged_host(
    api_store: Store, store_url: str, tmp_path: Path, public: str | None, base: str
) -> None:
    extra = {} if public is None else {"public_url": public}
    with _client(api_store, store_url, tmp_path, **extra) as client:
        photo = {"media": ("IMG.jpg", jpeg_with_gps(), "image/jpeg")}
        for path in (f"{P}/requests.json", "/report.json"):
            resp = client.post(path, data=FORM, files=photo, headers=FORGED)
            assert resp.status_code == 200, resp.text
            rid = resp.json()[0]["service_request_id"]
            stored = request_repo.get_request(api_store, rid).media_url
            [name] = [p.name for p in (tmp_path / "media").iterdir()]
            assert stored == f"{base}/media/{name}"
            assert "evil.example" not in client.get(f"{P}/requests/{rid}.json").text


@pytest.mark.parametrize(
    ("public", "url"), [(PUBLIC, PUBLIC + "open311/v2"), (None, "/open311/v2")]
)
def test_discovery_names_the_public_endpoint_whatever_the_host(
    api_store: Store, store_url: str, tmp_path: Path, public: str | None, url: str
) -> None:
    extra = {} if public is None else {"public_url": public}
    with _client(api_store, store_url, tmp_path, **extra) as client:
        doc = client.get(f"{P}/discovery.json", headers=FORGED).json()
        assert [e["url"] for e in doc["endpoints"]] == [url]
        xml = client.get(f"{P}/discovery.xml", headers=FORGED).text
        assert f"<url>{url}</url>" in xml and "evil.example" not in xml


def test_public_base_is_the_configured_url_or_relative() -> None:
    assert Settings(public_url="https://311.example.gov/").public_base == "https://311.example.gov"
    assert Settings().public_base == ""
