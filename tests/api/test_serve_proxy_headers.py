"""`geo311 serve` leaves X-Forwarded-For to the app (GEO311_TRUSTED_PROXIES), not to uvicorn."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from api import cli


def test_serve_turns_uvicorn_proxy_headers_off(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options, app=app))
    monkeypatch.setattr(cli, "_start_sender", lambda: None)
    app = typer.Typer()
    cli.register(app)

    @app.command("other")
    def other() -> None:  # a second command, so that `serve` is a subcommand
        """Nothing."""

    result = CliRunner().invoke(app, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    # uvicorn would trust X-Forwarded-For from 127.0.0.1 by default: anyone on the machine
    # (or a proxy not named in the settings) could choose the address the login limit counts
    assert seen["proxy_headers"] is False and seen["port"] == 8123
