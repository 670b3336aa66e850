"""Photos posted with reports: checked by content, stripped of EXIF, stored by their hash.

Only JPEG, PNG and WebP are taken, whatever the file name or declared type says. Every image is
decoded and written again without any metadata (EXIF, so no GPS position of the reporter's
phone; text chunks; ICC profiles are kept), after turning it upright by its EXIF orientation.
The file is named by the SHA-256 of the stored bytes: ``<sha256>.<ext>``; the same photo
posted twice is stored once.

Decoding is bounded: the pixel count is read from the file's header and checked against
:data:`MAX_PIXELS` before any pixel is decoded, and at most :data:`DECODE_SLOTS` images are
decoded at once in the process (the others wait their turn), so a burst of large photos costs
at most ``DECODE_SLOTS`` decoded images of memory.

A photo that goes with a change stored in the database (a report, a crew's done) is *staged*
(:func:`stage_image`: checked and written under a temporary name that is never served) and
moved into place by :meth:`StagedImage.commit` once the change has committed, or removed by
:meth:`StagedImage.discard` when it is refused: a refused change leaves no file behind.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import threading
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
#: Largest photo taken, in pixels: 4096 x 4096 (16.8 MP). A phone's camera saves 12 MP
#: (4032 x 3024) by default, 16 MP on some models; its 48-200 MP modes give files beyond the
#: byte limit anyway, and the crew view shrinks photos to 1600 px before sending. One decoded
#: image of this size takes at most 67 MB (RGBA).
MAX_PIXELS = 4096 * 4096
#: Images decoded at the same time in one process (the rest wait for a slot).
DECODE_SLOTS = 2
_DECODES = threading.BoundedSemaphore(DECODE_SLOTS)
NAME = re.compile(r"^[0-9a-f]{64}\.(jpg|png|webp)$")


@dataclass(frozen=True)
class StoredImage:
    """A stored photo: its file name, media type, size in bytes, and whether this call wrote it."""

    name: str
    media_type: str
    size: int
    created: bool = False


def _too_large(field: str, size: str) -> InputError:
    return InputError(
        f"{field}: the photo is too large ({size} px, at most {MAX_PIXELS:,} px, e.g. "
        "4096×4096); send it at a lower resolution (a phone's usual 12 MP photo fits)",
        field=field,
    )


def _open(data: bytes, field: str) -> Image.Image:
    """Open an image and check its pixel count from the header (nothing decoded yet)."""
    try:
        image = Image.open(io.BytesIO(data), formats=list(FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow refuses beyond twice its own limit before we see the size.
        raise _too_large(field, f"more than {2 * (Image.MAX_IMAGE_PIXELS or 0):,}") from None
    except UnidentifiedImageError:
        raise InputError(
            f"{field}: the file is not a JPEG, PNG or WebP image; send a photo in one of these",
            field=field,
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(
            f"{field}: the image is damaged ({exc}); send the photo again", field=field
        ) from None
    if image.width * image.height > MAX_PIXELS:
        raise _too_large(field, f"{image.width}×{image.height}")
    return image


def _reencode(image: Image.Image, field: str) -> tuple[bytes, str]:
    """Decode, turn upright and write the image again without metadata (one decode slot)."""
    fmt = str(image.format)
    icc = image.info.get("icc_profile")
    with _DECODES:
        try:
            image.load()
        except (OSError, SyntaxError, ValueError) as exc:
            raise InputError(
                f"{field}: the image is damaged ({exc}); send the photo again", field=field
            ) from None
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


def clean_image(data: bytes, *, max_bytes: int, field: str = "media") -> tuple[bytes, str]:
    """Check an uploaded image by its content and re-encode it without metadata.

    The pixel count is checked from the header before decoding; at most :data:`DECODE_SLOTS`
    images are decoded at once in the process.

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
        If the file is too large (bytes or pixels), not a JPEG/PNG/WebP image, or damaged.
    """
    if len(data) > max_bytes:
        raise InputError(
            f"{field}: the photo has {len(data):,} bytes, more than {max_bytes:,}; "
            "send a smaller photo",
            field=field,
        )
    if not data:
        raise InputError(f"{field}: the file is empty; attach the photo", field=field)
    return _reencode(_open(data, field), field)


@dataclass
class StagedImage:
    """A checked photo written under a temporary name, waiting for its change to commit.

    Attributes
    ----------
    name, media_type, size
        What :class:`StoredImage` will say (the name is known before the file is in place).
    media_dir
        The folder of the photos.
    part
        The temporary file (never served); None once committed or discarded.
    """

    name: str
    media_type: str
    size: int
    media_dir: Path
    part: Path | None

    def commit(self) -> StoredImage:
        """Move the photo into place (after the change that refers to it has committed)."""
        target = self.media_dir / self.name
        created = not target.exists()
        if self.part is not None:
            if created:
                os.replace(self.part, target)  # a reader never sees half a photo
            else:
                self.part.unlink(missing_ok=True)  # the same photo is there already
            self.part = None
        return StoredImage(self.name, self.media_type, self.size, created)

    def discard(self) -> None:
        """Remove the temporary file (the change was refused); no-op once committed."""
        if self.part is not None:
            self.part.unlink(missing_ok=True)
            self.part = None


def stage_image(
    data: bytes, *, media_dir: Path, max_bytes: int, field: str = "media"
) -> StagedImage:
    """Clean an uploaded image (:func:`clean_image`) and write it under a temporary name.

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
    StagedImage
        Call :meth:`~StagedImage.commit` once the change that refers to the photo has
        committed, :meth:`~StagedImage.discard` if it failed.

    Raises
    ------
    InputError
        As :func:`clean_image` (nothing is written then).
    """
    clean, fmt = clean_image(data, max_bytes=max_bytes, field=field)
    ext, media_type = FORMATS[fmt]
    name = f"{hashlib.sha256(clean).hexdigest()}.{ext}"
    media_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=media_dir, prefix=".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(clean)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return StagedImage(name, media_type, len(clean), media_dir, Path(tmp))


def store_image(
    data: bytes, *, media_dir: Path, max_bytes: int, field: str = "media"
) -> StoredImage:
    """Clean an uploaded image (:func:`clean_image`) and store it as ``<sha256>.<ext>`` now.

    For a photo that goes with a database change, prefer :func:`stage_image` and commit it
    after the change.

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
    return stage_image(data, media_dir=media_dir, max_bytes=max_bytes, field=field).commit()


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
