"""The serving stack's ceiling: an ASGI app that answers every GET with one body from memory.

``api_bench.py`` serves the current ``requests.json`` page with it, under the same uvicorn
and load, so the numbers show how far the API is from answering with no work at all.
The body and its content type come from ``BENCH_BODY_FILE`` and ``BENCH_BODY_TYPE``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BODY = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()
HEADERS = [
    (b"content-type", os.environ.get("BENCH_BODY_TYPE", "application/json").encode()),
    (b"content-length", str(len(BODY)).encode()),
]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer an HTTP request with the body; accept the lifespan protocol."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
