"""Photos posted with reports: checked by content, stripped of EXIF, stored by their hash.

Only JPEG, PNG and WebP are taken, whatever the file name or declared type says. Every image is
decoded and written again without any metadata (EXIF, so no GPS position of the reporter's
phone; text chunks; ICC profiles are kept), after turning it upright by its EXIF orientation.
The file is named by the SHA-256 of the stored bytes: ``<sha256>.<ext>``; the same photo
posted twice is stored once.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from geo311.errors import InputError

# Pillow format -> (file extension, media type) of the formats taken.
FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
}
MAX_PIXELS = 40_000_000
NAME = re.compile(r"^[0-9a-f]{64}\.(jpg|png|webp)$")


@dataclass(frozen=True)
class StoredImage:
    """A stored photo: its file name, media type, size in bytes, and whether this call wrote it."""

    name: str
    media_type: str
    size: int
    created: bool = False


def _decode(data: bytes, field: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(FORMATS))
            if image.width * image.height > MAX_PIXELS:
                raise InputError(
                    f"{field}: the image has {image.width}x{image.height} pixels, more than "
                    f"{MAX_PIXELS:,}; send a smaller photo",
                    field=field,
                )
            image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(
            f"{field}: the file is not a JPEG, PNG or WebP image; send a photo in one of these",
            field=field,
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(
            f"{field}: the image is damaged ({exc}); send the photo again", field=field
        ) from None
    return image


def clean_image(data: bytes, *, max_bytes: int, field: str = "media") -> tuple[bytes, str]:
    """Check an uploaded image by its content and re-encode it without metadata.

    Parameters
    ----------
    data
        The uploaded file.
    max_bytes
        Largest accepted upload.
    field
        The form field named in errors.

    Returns
    -------
    tuple
        ``(bytes, Pillow format)`` of the cleaned image.

    Raises
    ------
    InputError
        If the file is too large, not a JPEG/PNG/WebP image, or damaged.
    """
    if len(data) > max_bytes:
        raise InputError(
            f"{field}: the photo has {len(data):,} bytes, more than {max_bytes:,}; "
            "send a smaller photo",
            field=field,
        )
    if not data:
        raise InputError(f"{field}: the file is empty; attach the photo", field=field)
    image = _decode(data, field)
    fmt = str(image.format)
    icc = image.info.get("icc_profile")
    upright = ImageOps.exif_transpose(image) or image
    if fmt == "JPEG" and upright.mode not in ("RGB", "L", "CMYK"):
        upright = upright.convert("RGB")
    out = io.BytesIO()
    options: dict[str, object] = {"icc_profile": icc} if icc else {}
    if fmt == "JPEG":
        options.update(quality=90, optimize=True)
    elif fmt == "WEBP":
        options.update(quality=90)
    upright.save(out, format=fmt, **options)
    return out.getvalue(), fmt


def store_image(
    data: bytes, *, media_dir: Path, max_bytes: int, field: str = "media"
) -> StoredImage:
    """Clean an uploaded image (:func:`clean_image`) and store it as ``<sha256>.<ext>``.

    Parameters
    ----------
    data
        The uploaded file.
    media_dir
        The folder of the photos (created when missing).
    max_bytes
        Largest accepted upload.
    field
        The form field named in errors.

    Returns
    -------
    StoredImage
        The stored file's name (served at ``/media/<name>``), media type and size.

    Raises
    ------
    InputError
        As :func:`clean_image`.
    """
    clean, fmt = clean_image(data, max_bytes=max_bytes, field=field)
    ext, media_type = FORMATS[fmt]
    name = f"{hashlib.sha256(clean).hexdigest()}.{ext}"
    media_dir.mkdir(parents=True, exist_ok=True)
    target = media_dir / name
    created = not target.exists()
    if created:
        # Write aside, then rename: a reader never sees half a photo.
        fd, tmp = tempfile.mkstemp(dir=media_dir, suffix=".part")
        with os.fdopen(fd, "wb") as fh:
            fh.write(clean)
        os.replace(tmp, target)
    return StoredImage(name=name, media_type=media_type, size=len(clean), created=created)


def media_path(media_dir: Path, name: str) -> Path | None:
    """Return the stored file of a ``<sha256>.<ext>`` name, or None (bad name or missing)."""
    if not NAME.match(name):
        return None
    path = media_dir / name
    return path if path.is_file() else None


def media_type_of(name: str) -> str:
    """Return the media type of a stored file name (by its extension)."""
    ext = name.rsplit(".", 1)[-1]
    return next(t for e, t in FORMATS.values() if e == ext)
