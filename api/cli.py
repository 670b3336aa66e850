"""Commands and demo steps that the api package adds to the geo311 CLI."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``geo311 serve`` to the geo311 CLI."""

    @app.command("serve")
    def serve(
        host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
        workers: Annotated[int, typer.Option(min=1, max=64, help="worker processes")] = 1,
    ) -> None:
        """Serve the Open311 GeoReport v2 and staff API with uvicorn (settings from GEO311_*)."""
        import uvicorn

        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
        )
