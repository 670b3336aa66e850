"""The citizen's public side outside Open311: the photos posted with reports (``/media``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse

from api.deps import SettingsDep
from geo311.errors import NotFoundError
from geo311.media import media_path, media_type_of

router = APIRouter(tags=["public"])


@router.get(
    "/media/{name}",
    summary="A photo posted with a report",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
)
def get_media(name: Annotated[str, Path(max_length=80)], settings: SettingsDep) -> FileResponse:
    """Return a stored photo; its name is the SHA-256 of its bytes, so it never changes."""
    path = media_path(settings.media_dir, name)
    if path is None:
        raise NotFoundError(
            f"media {name!r} does not exist; use the media_url of a service request"
        )
    return FileResponse(
        path,
        media_type=media_type_of(name),
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
