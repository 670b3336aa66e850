"""The API's shared response models: Open311 and staff errors, the error tables of the routes.

Each feature's own models live beside its router (`api/<feature>/schemas.py`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

# -- Open311 GeoReport v2 ------------------------------------------------------------------


class Open311Error(BaseModel):
    """One GeoReport v2 error: the HTTP code and a description naming the field and the fix."""

    code: int
    description: str


# -- staff endpoints -----------------------------------------------------------------------


class Problem(BaseModel):
    """An error of a staff endpoint: what is wrong and how to fix it."""

    detail: str
    field: str | None = None
    state: str | None = Field(
        default=None, description="a refused stop change: the stop's current state"
    )


# -- planner's what-if simulations -----------------------------------------------------------


STAFF_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text}
    for code, text in {
        400: "invalid value (the body names the field and the fix)",
        401: "missing or unknown bearer token",
        403: "the token's role may not do this",
        404: "no such object",
        409: "not allowed in the object's current state",
        413: "request body too large",
        422: "request does not validate",
        500: "internal error (no details are disclosed)",
        503: "a part of the service is not installed",
    }.items()
}

# For routes whose success is HTML/GPX: errors are still JSON ``Problem`` bodies.
NON_JSON_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {
        "description": entry["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for code, entry in STAFF_RESPONSES.items()
}
