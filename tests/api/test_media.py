"""Open311 POST with a photo: multipart ``media`` stored without EXIF, served at ``media_url``."""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import ExifTags, Image

from api.app import create_app
from geo311.db.store import Store
from geo311.requests import repo as request_repo

from .conftest import API_KEY, make_settings

P = "/open311/v2"


def jpeg_with_gps(size: tuple[int, int] = (64, 48)) -> bytes:
    """A phone photo: EXIF with the maker and a GPS position."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCo"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitude] = (42.0, 21.0, 1.5)
    gps[ExifTags.GPS.GPSLongitude] = (71.0, 4.0, 52.0)
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG", exif=exif)
    assert Image.open(io.BytesIO(out.getvalue())).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return out.getvalue()


FORM = {"api_key": API_KEY, "service_code": "pothole", "lat": "42.3505", "long": "-71.0810"}


@pytest.fixture()
def media_client(api_store: Store, store_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(store_url, media_dir=tmp_path / "media", max_media_bytes=200_000)
    with TestClient(create_app(settings, store=api_store), raise_server_exceptions=False) as c:
        yield c


def test_photo_upload_is_stripped_stored_and_served(
    media_client: TestClient, api_store: Store, tmp_path: Path
) -> None:
    photo = jpeg_with_gps((640, 480))
    files = {"media": ("IMG_0001.jpg", photo, "image/jpeg")}
    resp = media_client.post(f"{P}/requests.json", data=FORM, files=files)
    assert resp.status_code == 200, resp.text
    rid = resp.json()[0]["service_request_id"]
    [item] = media_client.get(f"{P}/requests/{rid}.json").json()
    url = item["media_url"]
    # no GEO311_PUBLIC_URL in the test settings: site-relative (see test_public_urls.py)
    assert url.startswith("/media/") and url.endswith(".jpg")
    served = media_client.get(url)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert "immutable" in served.headers["cache-control"]
    assert url.rsplit("/", 1)[1] == hashlib.sha256(served.content).hexdigest() + ".jpg"
    image = Image.open(io.BytesIO(served.content))
    assert image.size == (640, 480) and not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert dict(image.getexif()) == {} and b"PhoneCo" not in served.content
    assert request_repo.get_request(api_store, rid).media_url == url
    assert [p.name for p in (tmp_path / "media").iterdir()] == [url.rsplit("/", 1)[1]]


def test_bad_photos_get_the_spec_errors(media_client: TestClient, api_store: Store) -> None:
    fake = {"media": ("photo.jpg", b"#!/bin/sh\necho hi\n", "image/jpeg")}
    resp = media_client.post(f"{P}/requests.xml", data=FORM, files=fake)
    assert resp.status_code == 400 and b"<code>400</code>" in resp.content
    assert b"media: the file is not a JPEG, PNG or WebP image" in resp.content
    both = {"media": ("a.jpg", jpeg_with_gps(), "image/jpeg")}
    resp = media_client.post(
        f"{P}/requests.json", data={**FORM, "media_url": "http://x/1.jpg"}, files=both
    )
    assert resp.status_code == 400 and "not both" in resp.json()[0]["description"]
    noise = Image.frombytes("RGB", (300, 240), random.Random(0).randbytes(300 * 240 * 3))
    out = io.BytesIO()
    noise.save(out, "PNG")
    assert 200_000 < len(out.getvalue()) < 264_000  # over the photo limit, under body + photo
    big = {"media": ("big.png", out.getvalue(), "image/png")}
    resp = media_client.post(f"{P}/requests.json", data=FORM, files=big)
    assert resp.status_code == 413 and resp.json()[0]["code"] == 413
    assert "media: the photo has" in resp.json()[0]["description"]
    assert request_repo.count_requests(api_store) == 0
    assert media_client.get("/media/" + "0" * 64 + ".jpg").status_code == 404
    assert media_client.get("/media/..%2Fgeo311.db").status_code == 404
