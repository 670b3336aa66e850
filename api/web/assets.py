"""Static files of the staff pages: their own CSS/JS and the crew view's service worker.

The vendored assets (htmx, Leaflet, ...) are served by the app's ``/static`` mount.
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import FileResponse

from api.web.templating import STATIC_DIR

router = APIRouter(include_in_schema=False)
_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}


def _file(root: FsPath, relative: str) -> FileResponse:
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file() or path.suffix not in _TYPES:
        raise HTTPException(404, f"no static file {relative!r}")
    return FileResponse(
        path,
        media_type=_TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/static/staff/{name}")
def staff_asset(name: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]+$")]) -> FileResponse:
    """Serve ``api/static/<name>``."""
    return _file(STATIC_DIR, name)


@router.get("/crew-sw.js")
def crew_service_worker() -> FileResponse:
    """Serve the crew view's service worker (scope ``/crew``), never from the HTTP cache."""
    response = _file(STATIC_DIR, "crew-sw.js")
    response.headers["Cache-Control"] = "no-cache"
    return response
