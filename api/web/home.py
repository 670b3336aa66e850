"""``/``: where the server's address leads (the sign-in page, or the user's own page)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

router = APIRouter(include_in_schema=False)


@router.get("/", summary="Start page")
def home() -> RedirectResponse:
    """Send the browser to ``/login``, which sends a signed-in user on to the role's page."""
    return RedirectResponse("/login", status_code=302)
