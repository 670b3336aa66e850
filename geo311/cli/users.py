"""``geo311 users``: add, list and disable staff users; issue API tokens."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from geo311.cli.options import DatabaseOption
from geo311.db.store import Store
from geo311.plans import repo as plan_repo
from geo311.settings import get_settings
from geo311.staff import users

app = typer.Typer(help="Staff users of the web application (argon2 passwords, roles, tokens).")


def _store(database_url: str | None) -> Store:
    return Store(database_url or get_settings().database_url)


def _read_password() -> str:
    """Prompt twice on a terminal; otherwise read the first line of standard input."""
    if sys.stdin.isatty():
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline()
    if not line:
        raise typer.BadParameter("no password on standard input; pipe one line, e.g. from a file")
    return line.rstrip("\r\n")


@app.command("add")
def add_command(
    username: Annotated[str, typer.Argument(help="login name (a-z, 0-9, '.', '_', '-')")],
    role: Annotated[
        str, typer.Option(help="dispatcher, planner, admin or crew:<crew id> (e.g. crew:pothole-1)")
    ],
    name: Annotated[str | None, typer.Option("--name", help="display name")] = None,
    district: Annotated[
        str | None,
        typer.Option(
            "--district", help="the district a dispatcher works in (default: all districts)"
        ),
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Add a user; the password is read from standard input (prompted twice on a terminal)."""
    if district is not None:
        district = _city_district(district)
    password = _read_password()
    with _store(database_url) as store:
        user = users.create_user(
            store, username, role=role, password=password, display_name=name, district=district
        )
    where = f", district {user.district}" if user.district else ""
    typer.echo(f"added {user.username} ({user.display_name}), role {user.role_label}{where}")


def _city_district(name: str) -> str:
    """Return ``name`` when it is one of the city's districts.

    Raises
    ------
    typer.BadParameter
        Naming ``--district`` and the city's districts.
    """
    from geo311.city.districts import load_districts
    from geo311.errors import InputError

    try:
        return load_districts(get_settings().districts_file).get(name.strip()).name
    except InputError as exc:
        raise typer.BadParameter(str(exc), param_hint="--district") from None


@app.command("list")
def list_command(database_url: DatabaseOption = None) -> None:
    """List the users: username, role, active or disabled, display name."""
    with _store(database_url) as store:
        found = users.list_users(store)
    if not found:
        typer.echo("no users; add one with: geo311 users add USERNAME --role dispatcher")
    for user in found:
        state = "active" if user.active else "disabled"
        where = f" [{user.district}]" if user.district else ""
        typer.echo(
            f"{user.username:<24} {user.role_label:<24} {state:<9} {user.display_name}{where}"
        )


@app.command("disable")
def disable_command(
    username: Annotated[str, typer.Argument(help="the user to disable")],
    database_url: DatabaseOption = None,
) -> None:
    """Disable a user: no more logins or tokens; open sessions end at once."""
    with _store(database_url) as store:
        _, after = users.set_active(store, username, active=False)
    typer.echo(f"disabled {after.username}")


@app.command("token")
def token_command(
    username: Annotated[str, typer.Argument(help="the user the token acts as")],
    database_url: DatabaseOption = None,
) -> None:
    """Issue an API token (send it as 'Authorization: Bearer <token>'); shown only once."""
    with _store(database_url) as store:
        token = users.issue_token(store, username)
    typer.echo(token)
    typer.echo("store it now: geo311 keeps only its hash and cannot show it again", err=True)


DEMO_ROLES = (("dispatcher", "dispatcher"), ("planner", "planner"), ("admin", "admin"))


def _busiest_crew(plan: dict[str, Any] | None) -> str:
    routes = (plan or {}).get("routes") or []
    stops = {
        str(r.get("crew_id")): sum(1 for s in r.get("steps") or [] if s.get("type") == "job")
        for r in routes
    }
    return max(stops, key=lambda c: stops[c]) if stops else "pothole-1"


def _publish_demo_plan(ctx: Any, plan_id: int, crew: str) -> None:
    """Publish the demo's plan as a dispatcher would (crews, ETAs, e-mails: one transaction)."""
    from zoneinfo import ZoneInfo

    from geo311.plans.publishing import publish

    done = publish(ctx.store, plan_id, by="demo", tz=ZoneInfo(ctx.settings.timezone))
    typer.echo(
        f"plan {plan_id} published: crew {crew} sees its stops; {done.scheduled} reports got "
        f"their ETA (Open311 expected_datetime); {done.notified} notifications queued"
    )
    if done.notified == 0 and done.scheduled:
        typer.echo(
            "  no e-mail queued: the demo's reports come from the city's sample export, which "
            "has no reporters' contacts; a report posted through Open311 with an email, or "
            "imported with contact columns, is told its ETA window"
        )


def demo_step(ctx: Any) -> None:
    """Create demo users (random passwords, printed once) and publish the demo's plan.

    Parameters
    ----------
    ctx : geo311.cli.demo.DemoContext
        The demo context; ``ctx.results.plan_id`` comes from the routing step.
    """
    # the routing step's plan, read back from the store as a document dict (geo311 does not
    # import routing's types)
    plan_id = ctx.results.plan_id
    plan = plan_repo.get_plan(ctx.store, plan_id) if plan_id else None
    crew = _busiest_crew(plan)
    typer.echo(
        "DEMO ONLY: these accounts exist in the demo database only; their passwords are "
        "printed here once. Never create users like this on a real database."
    )
    for username, role in (*DEMO_ROLES, ("crew", f"crew:{crew}")):
        password = "demo-" + secrets.token_urlsafe(9)
        users.create_user(ctx.store, username, role=role, password=password)
        typer.echo(f"  {username:<11} {role:<22} password {password}")
    if plan_id and plan:
        _publish_demo_plan(ctx, plan_id, crew)
    # the venv's own geo311: the command works without activating the venv
    exe = Path(sys.executable).with_name("geo311")
    command = str(exe) if exe.exists() else "geo311"
    typer.echo(
        f"staff pages: GEO311_DATABASE_URL={ctx.settings.database_url} {command} serve "
        f"(or: make serve), then open http://127.0.0.1:8000/ "
        f"(console of the demo's morning: /dispatch?at={ctx.at:%Y-%m-%dT%H:%M})"
    )
