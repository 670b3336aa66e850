"""The FastAPI application: ``create_app`` wires settings, store, catalogue, routers, errors.

``geo311 serve`` runs ``uvicorn.run("api.app:serving_app", factory=True)``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api import web
from api.deps import check_static_tokens
from api.errors import error_body, install_error_handlers
from api.open311 import router as open311
from api.open311.intake import ControlCharacterGuard
from api.planner import router as planner
from api.planner import simulations
from api.planner.simulation_runs import SimulationRunner
from api.plans import crews
from api.plans import router as plans
from api.plans.jobs import start_job_workers, stop_job_workers
from api.public import basemap, notify, performance
from api.public import router as public
from api.workorders import router as workorders
from geo311.city.catalogue import Catalogue, load_catalogue
from geo311.db.store import Store
from geo311.settings import Settings, get_settings
from maps.assets import STATIC_DIR, STATIC_URL


class BodySizeLimit:
    """ASGI middleware: answer 413 to a body larger than ``max_bytes`` (declared or streamed).

    Parameters
    ----------
    app
        The wrapped application.
    max_bytes
        Largest accepted request body.
    media_bytes
        Allowed on top for a ``multipart/form-data`` body (a report with its photo).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, media_bytes: int = 0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.media_bytes = media_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count streamed bytes while the app reads them."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-type" and value.lower().startswith(b"multipart/form-data"):
                limit += self.media_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await self._reject(scope, send, limit)
                    return
        # Read the body up to the limit first, then replay it to the app.
        chunks: list[bytes] = []
        total = 0
        more = scope["method"] not in ("GET", "HEAD", "DELETE", "OPTIONS")
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                await self._reject(scope, send, limit)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, send: Send, limit: int) -> None:
        message = f"request body is larger than {limit} bytes; send a smaller body"
        body, media_type = error_body(scope.get("path", ""), 413, [message])
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", media_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _default_geocoder(settings: Settings) -> Any:
    from geo311.geocoding.geocoder import Geocoder

    return Geocoder.from_data_dir(settings.data_dir)


def serving_app() -> FastAPI:
    """Return the app ``geo311 serve`` runs.

    :func:`create_app` that loads the street graph in the background at start-up, so the
    dispatcher's first "Plan the day" does not wait for it.
    """
    return create_app(warm_up=True)


def _warm_up(settings: Settings) -> None:
    from routing.dispatch.build import default_graph

    try:
        default_graph(settings)
    except Exception as exc:  # the first plan reports the same error to the dispatcher
        logging.getLogger(__name__).warning("street graph not loaded at start-up: %s", exc)


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    catalogue: Catalogue | None = None,
    geocoder_factory: Callable[[Settings], Any] | None = None,
    warm_up: bool = False,
    job_workers: int | None = None,
) -> FastAPI:
    """Build the geo311 API.

    Parameters
    ----------
    settings
        Defaults to the process settings (``GEO311_*`` environment variables).
    store
        An open store to use (default: opened from ``settings.database_url`` at start-up
        and closed at shutdown).
    catalogue
        Defaults to ``settings.services_file``.
    geocoder_factory
        ``settings -> geocoder`` for ``address_string`` (default: the offline
        :class:`geo311.geocoding.geocoder.Geocoder`), built on first use.
    warm_up
        Load the street graph in a background thread at start-up (``geo311 serve``).
    job_workers
        Planning threads this app runs from the jobs table while it is up (default
        ``settings.job_workers``; 0: queued jobs wait for another process's workers).

    Returns
    -------
    FastAPI
        The application.
    """
    settings = settings or get_settings()
    check_static_tokens(settings)  # a mistyped GEO311_STAFF_TOKENS value fails here, not per call
    catalogue = catalogue or load_catalogue(settings.services_file)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = store is None
        # A small pool: requests beyond it wait in turn (first come, first served) instead of
        # fighting over the interpreter's lock, which costs CPU and stretches the slowest ones.
        to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        app.state.store = store if store is not None else Store(settings.database_url)
        if warm_up:
            threading.Thread(target=_warm_up, args=(settings,), daemon=True).start()
        threads = settings.job_workers if job_workers is None else job_workers
        workers = start_job_workers(app.state, threads=threads)
        try:
            yield
        finally:
            stop_job_workers(app.state, workers)
            if own:
                app.state.store.close()

    app = FastAPI(
        title="geo311",
        version="0.1.0",
        summary="Open311 GeoReport v2 for citizens; work orders, plans, crews and maps for staff.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.catalogue = catalogue
    app.state.city = settings.city
    app.state.geocoder = None
    app.state.geocoder_factory = geocoder_factory or _default_geocoder
    app.state.simulations = SimulationRunner()
    if store is not None:
        app.state.store = store
    install_error_handlers(app)
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_request_bytes, media_bytes=settings.max_media_bytes
    )
    app.add_middleware(ControlCharacterGuard)  # path and query: 400 naming the parameter
    if settings.trusted_proxies:
        # X-Forwarded-For/-Proto from the proxies named in the settings only (rightmost hop
        # not trusted = the client); `geo311 serve` turns uvicorn's own handling off.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    routers = (
        open311, public, performance, basemap, workorders, plans, crews, planner, simulations,
        notify,
    )  # fmt: skip
    for module in routers:
        app.include_router(module.router)
    app.include_router(web.router)  # the staff pages (api/web): sessions, CSRF, roles, audit
    # Scripts, styles and fonts of the maps and pages (maps/static/vendor): no CDN at run time.
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")
    return app
