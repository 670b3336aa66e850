"""`geo311 serve`'s app loads the street graph at start-up, so the first plan does not wait."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from geo311.settings import Settings
from routing.dispatch.build import _cached_graph


def test_the_serving_app_loads_the_street_graph_at_start_up(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'serve.db'}")
    _cached_graph.cache_clear()
    with TestClient(create_app(settings)) as client:  # the plain app loads nothing ahead
        assert client.get("/open311/v2/discovery.json").status_code == 200
        assert _cached_graph.cache_info().currsize == 0
    with TestClient(create_app(settings, warm_up=True)):
        deadline = time.monotonic() + 120
        while not _cached_graph.cache_info().currsize and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _cached_graph.cache_info().currsize == 1
