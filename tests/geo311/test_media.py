"""Photos: checked by content, re-encoded without EXIF (no GPS), stored by their hash."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import ExifTags, Image, PngImagePlugin

from geo311.errors import InputError
from geo311.media import clean_image, media_path, store_image


def jpeg_with_gps(size: tuple[int, int] = (64, 48), orientation: int = 1) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCo"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (42.0, 21.0, 1.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (71.0, 4.0, 52.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


def test_jpeg_loses_every_exif_tag_and_is_turned_upright(tmp_path: Path) -> None:
    data = jpeg_with_gps(orientation=6)  # rotated 90 degrees: stored 64x48, shown 48x64
    clean, fmt = clean_image(data, max_bytes=1_000_000)
    image = Image.open(io.BytesIO(clean))
    assert fmt == "JPEG" and image.format == "JPEG"
    assert dict(image.getexif()) == {} and not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert b"PhoneCo" not in clean and image.size == (48, 64)
    stored = store_image(data, media_dir=tmp_path / "media", max_bytes=1_000_000)
    assert stored.name.endswith(".jpg") and stored.media_type == "image/jpeg"
    path = media_path(tmp_path / "media", stored.name)
    assert path is not None and path.read_bytes() == clean
    # The same photo again: the same name, one file.
    again = store_image(data, media_dir=tmp_path / "media", max_bytes=1_000_000)
    assert again.name == stored.name and len(list((tmp_path / "media").iterdir())) == 1


def test_png_and_webp_lose_their_metadata(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "taken at 145 Ipswich St")
    out = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 255, 128)).save(out, "PNG", pnginfo=info)
    clean, fmt = clean_image(out.getvalue(), max_bytes=100_000)
    assert fmt == "PNG" and b"Ipswich" not in clean
    assert Image.open(io.BytesIO(clean)).mode == "RGBA"
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCo"
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "WEBP", exif=exif)
    clean, fmt = clean_image(out.getvalue(), max_bytes=100_000)
    assert fmt == "WEBP" and b"PhoneCo" not in clean
    assert store_image(out.getvalue(), media_dir=tmp_path, max_bytes=100_000).name.endswith(".webp")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GIF89a" + b"\0" * 40, "not a JPEG, PNG or WebP"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not a JPEG, PNG or WebP"),
        (b"", "empty"),
    ],
)
def test_other_content_is_refused_whatever_its_name(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        clean_image(data, max_bytes=1_000)
    assert err.value.field == "media" and str(err.value).startswith("media:")


def test_gif_and_truncated_jpeg_and_size_limit_are_refused() -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "GIF")
    with pytest.raises(InputError, match="not a JPEG, PNG or WebP"):
        clean_image(out.getvalue(), max_bytes=100_000)
    data = jpeg_with_gps((256, 256))
    with pytest.raises(InputError, match="damaged|not a JPEG"):
        clean_image(data[: len(data) // 2], max_bytes=100_000)
    with pytest.raises(InputError, match="more than 100;"):
        clean_image(data, max_bytes=100)


def test_media_path_refuses_other_names(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("x")
    assert media_path(tmp_path, "../secret.txt") is None
    assert media_path(tmp_path, "secret.txt") is None
    assert media_path(tmp_path, "a" * 64 + ".jpg") is None
