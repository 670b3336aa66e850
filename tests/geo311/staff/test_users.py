"""Staff users: argon2 passwords, roles, disable, API tokens, schema step 4, the users CLI."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from geo311.cli.app import app
from geo311.db.store import Store
from geo311.errors import ConflictError, InputError, NotFoundError
from geo311.plans import repo as plan_repo
from geo311.staff import store as auth_store
from geo311.staff import users

PASSWORD = "correct horse battery"


def test_create_verify_and_disable(store: Store) -> None:
    user = users.create_user(
        store, "Dana", role="dispatcher", password=PASSWORD, display_name="Dana D"
    )
    assert (user.username, user.role, user.crew_id, user.active) == (
        "dana",
        "dispatcher",
        None,
        True,
    )
    row = auth_store.user_by_username(store, "dana")
    assert row is not None and row["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in row["password_hash"]
    assert users.verify_password(store, "DANA", PASSWORD) == user
    assert users.verify_password(store, "dana", PASSWORD + "x") is None
    assert users.verify_password(store, "nobody", PASSWORD) is None

    crew = users.create_user(store, "c1", role="crew:pothole-1", password=PASSWORD)
    assert crew.role_label == "crew:pothole-1" and crew.display_name == "c1"
    assert [u.username for u in users.list_users(store)] == ["c1", "dana"]

    before, after = users.set_active(store, "dana", active=False)
    assert before.active and not after.active
    assert users.verify_password(store, "dana", PASSWORD) is None


def test_errors_name_the_field(store: Store) -> None:
    with pytest.raises(InputError, match="role") as exc:
        users.create_user(store, "x1", role="boss", password=PASSWORD)
    assert exc.value.field == "role"
    with pytest.raises(InputError, match="password"):
        users.create_user(store, "x1", role="planner", password="short")
    with pytest.raises(InputError, match="username"):
        users.create_user(store, "no spaces", role="planner", password=PASSWORD)
    with pytest.raises(InputError, match="crew"):
        users.parse_role("crew:")
    users.create_user(store, "x1", role="planner", password=PASSWORD)
    with pytest.raises(ConflictError, match="taken"):
        users.create_user(store, "X1", role="admin", password=PASSWORD)
    with pytest.raises(NotFoundError, match="users list"):
        users.set_active(store, "ghost", active=False)


def test_api_tokens_are_hashed_and_die_with_the_user(store: Store) -> None:
    users.create_user(store, "plan", role="planner", password=PASSWORD)
    token = users.issue_token(store, "plan")
    assert token.startswith("g311_") and len(token) > 40
    with store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT token_hash, last_used_at FROM api_tokens")).one()
    assert stored[0] == users.token_hash(token) and token not in stored[0] and stored[1] is None
    found = users.user_for_token(store, token)
    assert found is not None and found.username == "plan"
    assert auth_store.tokens_of(store, found.user_id)[0]["last_used_at"] is not None
    assert users.user_for_token(store, token + "x") is None
    assert users.user_for_token(store, "not-a-token") is None
    users.set_active(store, "plan", active=False)
    assert users.user_for_token(store, token) is None
    with pytest.raises(ConflictError, match="disabled"):
        users.issue_token(store, "plan")


def test_schema_step_4_creates_the_staff_tables(store: Store) -> None:
    assert store.schema_version() >= 4
    with store.engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
    assert {"users", "api_tokens", "sessions", "login_attempts", "audit_log", "crew_days"} <= names
    assert {"plan_publications", "crew_actions"} <= names
    store.drop_all()
    with store.engine.connect() as conn:
        assert "users" not in sa.inspect(conn).get_table_names()


def test_users_cli_add_list_disable_token(store_url: str) -> None:
    runner = CliRunner()
    db = ["--database-url", store_url]
    result = runner.invoke(
        app,
        ["users", "add", "Rita", "--role", "crew:pothole-1", "--name", "Rita R", *db],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "added rita (Rita R), role crew:pothole-1" in result.output
    assert PASSWORD not in result.output

    result = runner.invoke(app, ["users", "add", "sam", "--role", "boss", *db], input="x" * 12)
    assert isinstance(result.exception, InputError) and "role" in str(result.exception)

    result = runner.invoke(app, ["users", "token", "rita", *db])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[0]
    with Store(store_url) as s:
        user = users.user_for_token(s, token)
        assert user is not None and user.username == "rita"
        assert users.verify_password(s, "rita", PASSWORD) is not None

    result = runner.invoke(app, ["users", "list", *db])
    assert result.exit_code == 0
    assert "rita" in result.output and "crew:pothole-1" in result.output
    assert "active" in result.output

    result = runner.invoke(app, ["users", "disable", "rita", *db])
    assert result.exit_code == 0 and "disabled rita" in result.output
    result = runner.invoke(app, ["users", "list", *db])
    assert "disabled" in result.output
    with Store(store_url) as s:
        assert users.verify_password(s, "rita", PASSWORD) is None


def test_demo_step_creates_demo_users_and_publishes_the_plan(
    store: Store, catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from geo311.cli.demo import DemoContext, DemoResults
    from geo311.cli.users import demo_step
    from geo311.settings import REPO_DATA_DIR, Settings

    plan = {
        "plan_date": "2015-10-06",
        "routes": [
            {"crew_id": "pothole-1", "steps": [{"type": "job"}]},
            {"crew_id": "streetlight-1", "steps": [{"type": "job"}, {"type": "job"}]},
        ],
    }
    plan_id = plan_repo.save_plan(store, plan, plan_date="2015-10-06")
    ctx = DemoContext(
        settings=Settings(database_url="sqlite:///demo.db", data_dir=REPO_DATA_DIR),
        store=store,
        catalogue=catalogue,
        out_dir=REPO_DATA_DIR,
        at=datetime(2015, 10, 6, 7, tzinfo=ZoneInfo("America/New_York")),
        results=DemoResults(plan_id=plan_id),
    )
    demo_step(ctx)
    out = capsys.readouterr().out
    assert "DEMO ONLY" in out and "geo311 serve" in out
    roles = {u.username: u.role_label for u in users.list_users(store)}
    assert roles == {
        "admin": "admin",
        "crew": "crew:streetlight-1",  # the crew with the most stops
        "dispatcher": "dispatcher",
        "planner": "planner",
    }
    for line in out.splitlines():
        if line.strip().startswith("dispatcher "):
            password = line.rsplit(" ", 1)[1]
    assert users.verify_password(store, "dispatcher", password) is not None
    assert auth_store.publication(store, plan_id)["published_by"] == "demo"
