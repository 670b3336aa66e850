"""Property tests from the app's own OpenAPI schema: no 5xx, responses match the schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from geo311.settings import Settings

# The app is built at import (schemathesis reads its schema then); the database it opens at
# start-up is set per module by the fixture below, in pytest's temporary folder. Until then
# (schemathesis starts the app once to read the schema) it is an in-memory database.
_UNTIL_THE_FIXTURE = "sqlite://"
api_settings = Settings(
    database_url=_UNTIL_THE_FIXTURE,
    api_keys=["test-key-1"],
    staff_tokens={"disp-token": "dispatcher"},
    max_request_bytes=64_000,
)
app = create_app(api_settings)
# POST /simulations starts a season replay (seconds to minutes of CPU each) in a worker thread
# that outlives the case; its validation and errors are covered by tests/api/test_simulations.py.
schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(
    method="POST", path="/simulations"
)


@pytest.fixture(scope="module", autouse=True)
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh SQLite file for the app (opened and closed by the app's start-up/shutdown)."""
    path = tmp_path_factory.mktemp("schemathesis") / "api.db"
    api_settings.database_url = f"sqlite:///{path}"
    try:
        yield path
    finally:
        api_settings.database_url = _UNTIL_THE_FIXTURE
        for leftover in path.parent.iterdir():
            leftover.unlink()


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    # Every case carries a dispatcher token so the staff routes are exercised past auth.
    headers = {"Authorization": "Bearer disp-token"}
    case.call_and_validate(
        headers=headers,
        checks=[
            not_a_server_error,
            response_schema_conformance,
            status_code_conformance,
            content_type_conformance,
        ],
    )
