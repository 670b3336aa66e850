"""Photos: checked by content, re-encoded without EXIF (no GPS), stored by their hash."""

from __future__ import annotations

import io
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageFile, PngImagePlugin

from geo311.errors import InputError
from geo311.requests import media
from geo311.requests.media import clean_image, media_path, stage_image, store_image


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


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header says ``width`` x ``height`` (the pixel data is a stub)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_a_photo_with_too_many_pixels_is_refused_by_its_size_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded: list[object] = []
    original = ImageFile.ImageFile.load

    def load(self: ImageFile.ImageFile) -> object:
        decoded.append(self.size)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    with pytest.raises(InputError) as err:
        clean_image(png_header_only(6300, 6300), max_bytes=1_000_000)
    message = str(err.value)
    assert message.startswith("media: the photo is too large (6300×6300 px, at most 16,777,216 px")
    assert "damaged" not in message and err.value.field == "media"
    assert decoded == []  # refused from the header: not one pixel decoded
    # Beyond Pillow's own bomb limit the answer is the same kind, not "not an image".
    with pytest.raises(InputError, match="too large \\(more than"):
        clean_image(png_header_only(20_000, 20_000), max_bytes=1_000_000, field="photo")
    # A phone's usual 12 MP photo is within the limit (the header check lets it through).
    assert media.MAX_PIXELS >= 4032 * 3024


def test_at_most_two_images_are_decoded_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    lock = threading.Lock()
    active, peak = [0], [0]
    original = ImageFile.ImageFile.load

    def slow_load(self: ImageFile.ImageFile) -> object:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            time.sleep(0.05)
            return original(self)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(ImageFile.ImageFile, "load", slow_load)
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 120, 10)).save(out, "PNG")
    data = out.getvalue()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: clean_image(data, max_bytes=100_000), range(8)))
    assert all(fmt == "PNG" for _clean, fmt in results)
    assert peak[0] == media.DECODE_SLOTS == 2


def test_a_staged_photo_is_in_place_only_once_committed(tmp_path: Path) -> None:
    folder = tmp_path / "media"
    staged = stage_image(jpeg_with_gps(), media_dir=folder, max_bytes=100_000)
    assert media_path(folder, staged.name) is None  # not served while its change is open
    stored = staged.commit()
    assert stored.created and media_path(folder, stored.name) is not None
    assert [p.name for p in folder.iterdir()] == [stored.name]
    refused = stage_image(jpeg_with_gps((20, 20)), media_dir=folder, max_bytes=100_000)
    refused.discard()
    assert [p.name for p in folder.iterdir()] == [stored.name]
