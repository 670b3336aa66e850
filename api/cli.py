"""Commands and demo steps that the api package adds to the geo311 CLI."""

from __future__ import annotations

import subprocess
import sys
from typing import Annotated

import typer

from geo311.settings import get_settings


def register(app: typer.Typer) -> None:
    """Add ``geo311 serve`` to the geo311 CLI."""

    @app.command("serve")
    def serve(
        host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
        workers: Annotated[
            int,
            typer.Option(
                min=1,
                max=64,
                help="server processes (more than 1 needs PostgreSQL); each also solves queued "
                "planning runs and simulations (GEO311_JOB_WORKERS threads)",
            ),
        ] = 1,
    ) -> None:
        """Serve the staff pages, the Open311 GeoReport v2 API and the staff API.

        Settings come from GEO311_* environment variables (GEO311_DATABASE_URL: the
        database). Open the printed address in a browser and sign in. Planning runs and
        simulations are solved by the server processes themselves; with PostgreSQL, --workers
        N serves and plans with N processes. The notification sender runs beside the server
        unless GEO311_NOTIFY_SENDER_IN_SERVE=false.
        """
        import uvicorn

        _check_workers(workers)
        typer.echo(serve_banner(host, port))
        sender = _start_sender()
        try:
            uvicorn.run(
                "api.app:serving_app",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level="warning",
                # the client address is the connection's unless GEO311_TRUSTED_PROXIES names
                # the proxy (api.app); uvicorn would trust X-Forwarded-For from 127.0.0.1
                proxy_headers=False,
                # a worker still importing the app on a busy small machine is not hung: give it
                # time before the supervisor kills and restarts it (uvicorn's default is 5 s)
                timeout_worker_healthcheck=60,
            )
        finally:
            if sender is not None:
                sender.terminate()
                sender.wait(timeout=30)


def serve_banner(host: str, port: int) -> str:
    """Return what ``serve`` prints first: the address to open and the database served."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    url = get_settings().database_url
    where = url.split("@")[-1] if "@" in url else url  # never print a password
    return (
        f"geo311 is serving {where}\n"
        f"open http://{shown}:{port}/ in a browser and sign in (stop with Ctrl+C)"
    )


def _check_workers(workers: int) -> None:
    """Refuse several server processes over SQLite (exit status 2, with the fix)."""
    url = get_settings().database_url
    if workers > 1 and url.startswith("sqlite"):
        typer.echo(
            f"--workers {workers} needs PostgreSQL: GEO311_DATABASE_URL is SQLite ({url}), "
            "which takes one writer at a time, so several server processes would wait on its "
            "lock; use --workers 1, or set GEO311_DATABASE_URL=postgresql+psycopg://...",
            err=True,
        )
        raise typer.Exit(2)


def _start_sender() -> subprocess.Popen[bytes] | None:
    """Start ``geo311 notify run`` in its own process when the settings ask for it."""
    settings = get_settings()
    if not settings.notify_sender_in_serve:
        return None
    if len(settings.notify_secret) < 16:
        typer.echo(
            "notifications are queued in the outbox but not sent: set GEO311_NOTIFY_SECRET (a "
            "long random string) and the GEO311_SMTP_* settings, or run `geo311 notify run`",
            err=True,
        )
        return None
    typer.echo("notification sender started (geo311 notify run)", err=True)
    return subprocess.Popen([sys.executable, "-m", "geo311.notify", "run"])
