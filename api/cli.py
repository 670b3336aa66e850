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
        """Serve the Open311 GeoReport v2 and staff API with uvicorn (settings from GEO311_*).

        Planning runs and simulations are rows of the jobs table (``geo311/plans/jobs.py``): every
        process claims them with a lease and answers their progress, so ``--workers N`` serves
        and plans with N processes, and a killed process's run is taken over by another. On
        SQLite only one process is allowed: the database takes one writer at a time.

        Unless ``GEO311_NOTIFY_SENDER_IN_SERVE=false``, the notification sender (``geo311
        notify run``) runs beside it in its own process, stopped with the server.
        """
        import uvicorn

        _check_workers(workers)
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
