"""Intake checks that apply to every request: no control characters in the path or the query.

Form fields are checked where forms are read (``api.open311.router.require_form``); both
use :func:`geo311.requests.intake.check_text`, so the rule and the message are the same everywhere.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_body, is_open311_path
from geo311.errors import InputError
from geo311.requests.intake import check_text, check_texts


def url_problem(scope: Scope) -> InputError | None:
    """Return the error of a request whose path or query holds a control character, or None."""
    try:
        check_text("path", str(scope.get("path", "")))
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        if query:
            check_texts(parse_qsl(query, keep_blank_values=True))
    except InputError as exc:
        return exc
    return None


class ControlCharacterGuard:
    """ASGI middleware: a path or query parameter with a control character gets a 400.

    Open311 paths answer the GeoReport v2 error list (XML for ``.xml``); other paths the
    staff shape ``{"detail": ..., "field": ...}``. Either names the parameter and the fix.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the URL, then pass the request on (or answer the 400)."""
        problem = url_problem(scope) if scope["type"] == "http" else None
        if problem is None:
            await self.app(scope, receive, send)
            return
        # the path itself may hold the character: never echo it into a header
        path = str(scope.get("path", ""))
        if is_open311_path(path):
            body, media_type = error_body(path, 400, [str(problem)])
        else:
            body = json.dumps({"detail": str(problem), "field": problem.field}).encode()
            media_type = "application/json"
        headers = [
            (b"content-type", media_type.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body})
