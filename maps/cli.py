"""Commands and demo steps that the maps package adds to the geo311 CLI.

``geo311 map open|routes|hotspots [--out DIR] [--at TIME]`` and the ``30_maps`` demo step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from geo311.city.catalogue import Catalogue, load_catalogue
from geo311.cli.demo import DemoResults
from geo311.cli.options import DatabaseOption
from geo311.db.store import Store
from geo311.errors import InputError, NotFoundError
from geo311.plans import repo as plan_repo
from geo311.plans.document import PlanDocument
from geo311.settings import Settings
from maps.base import write_map
from maps.routes import CrewRoute, plan_locations, route_drawings_from_plan, write_route_maps
from maps.stored import hotspots_figure, open_work_figure
from maps.streetlayer import city_streets

OutOption = Annotated[Path, typer.Option("--out", help="folder the HTML maps are written to")]
AtOption = Annotated[
    str | None, typer.Option("--at", help="moment the map shows, local time (default: now)")
]


def write_open_work(
    store: Store, catalogue: Catalogue, settings: Settings, out_dir: Path, *, at: datetime
) -> Path:
    """Write ``open_work.html``: the work orders open at ``at``, as they stood then.

    Parameters
    ----------
    store : Store
        The store.
    catalogue : Catalogue
        The service catalogue.
    settings : Settings
        Settings (boundary file, time zone).
    out_dir : Path
        Output folder.
    at : datetime, keyword-only
        The moment the map shows.

    Returns
    -------
    Path
        The written file.
    """
    m = open_work_figure(store, catalogue, settings, at=at)
    return write_map(m, out_dir / "open_work.html")


def write_hotspots(store: Store, catalogue: Catalogue, settings: Settings, out_dir: Path) -> Path:
    """Write ``hotspots.html`` from every stored request with a real location.

    Parameters
    ----------
    store : Store
        The store.
    catalogue : Catalogue
        The service catalogue.
    settings : Settings
        Settings (time zone).
    out_dir : Path
        Output folder.

    Returns
    -------
    Path
        The written file.
    """
    m = hotspots_figure(store, catalogue, settings)
    return write_map(m, out_dir / "hotspots.html")


def newest_plan_id(store: Store) -> int:
    """Return the id of the newest stored plan.

    Parameters
    ----------
    store : Store
        The store.

    Returns
    -------
    int
        The id of the newest day plan or re-plan (simulations are not route plans).

    Raises
    ------
    NotFoundError
        If no plan is stored (run ``geo311 plan`` first).
    """
    # A crew-route plan: a day's plan or a re-plan, not a planner's simulation.
    found = [
        pid for kind in ("plan", "replan") if (pid := plan_repo.latest_plan_id(store, kind=kind))
    ]
    if not found:
        raise NotFoundError("no plan is stored; run `geo311 plan` first")
    return max(found)


def _crew_links(out_dir: Path) -> Callable[[str], tuple[str | None, str | None]]:
    # The itineraries sit beside the maps (geo311 plan --out DIR) or in DIR/itineraries
    # (geo311 demo); links are relative to the maps' folder.
    folders = [out_dir, out_dir / "itineraries"]

    def first(pattern: str) -> str | None:
        for folder in folders:
            for path in sorted(folder.glob(pattern)):
                return path.relative_to(out_dir).as_posix()
        return None

    def links(crew_id: str) -> tuple[str | None, str | None]:
        return first(f"itinerary*{crew_id}*.html"), first(f"*{crew_id}*.gpx")

    return links


def drawings_from_plan_document(plan: PlanDocument, out_dir: Path) -> list[CrewRoute]:
    """Convert a stored plan document into route drawings (links to files in ``out_dir``).

    Parameters
    ----------
    plan : PlanDocument
        A stored plan (:func:`geo311.plans.repo.load_plan_document`): its ``locations``
        (``[[lat, lon], ...]`` per matrix index) and, per route, an optional street ``geometry``.
    out_dir : Path
        Folder holding the crews' itineraries and GPX files.

    Returns
    -------
    list of CrewRoute
        One per crew with jobs.

    Raises
    ------
    InputError
        If the plan has neither ``locations`` nor VROOM-style step ``location`` points.
    """
    has_points = any(s.location is not None for r in plan.routes for s in r.steps)
    if not plan.locations and not has_points:
        raise InputError(
            "the plan has no 'locations' (lat, lon per matrix index); re-run `geo311 plan` "
            "with a routing version that stores them",
            field="locations",
        )
    return route_drawings_from_plan(
        plan,
        locations=plan_locations(plan),
        labels=plan.labels,
        links=_crew_links(out_dir),
    )


def _context(database_url: str | None) -> tuple[Settings, Catalogue]:
    from geo311.cli.options import settings_with

    settings = settings_with(database_url)
    return settings, load_catalogue(settings.services_file)


def _at(text: str | None, timezone: str) -> datetime:
    from geo311.cli.app import parse_local_time

    if text is None:
        return datetime.now(ZoneInfo(timezone))
    return parse_local_time(text, timezone)


def register(app: typer.Typer) -> None:
    """Add ``geo311 map open|routes|hotspots`` to the geo311 CLI.

    Parameters
    ----------
    app : typer.Typer
        The geo311 application.
    """
    map_app = typer.Typer(help="Write Folium maps as standalone HTML.", no_args_is_help=True)

    @map_app.command("open")
    def open_command(
        out: OutOption = Path("out"), at: AtOption = None, database_url: DatabaseOption = None
    ) -> None:
        """Dispatcher map of open work orders by service, with SLA badges."""
        settings, catalogue = _context(database_url)
        with Store(settings.database_url) as store:
            path = write_open_work(store, catalogue, settings, out, at=_at(at, settings.timezone))
        typer.echo(str(path))

    @map_app.command("routes")
    def routes_command(
        out: OutOption = Path("out"),
        plan_id: Annotated[
            int | None, typer.Option("--plan-id", help="plan to draw (default: newest)")
        ] = None,
        database_url: DatabaseOption = None,
    ) -> None:
        """Crew route maps (all crews, and one per crew) of a stored plan."""
        settings, _catalogue = _context(database_url)
        with Store(settings.database_url) as store:
            pid = plan_id if plan_id is not None else newest_plan_id(store)
            plan = plan_repo.load_plan_document(store, pid)
        drawings = drawings_from_plan_document(plan, out)
        if not drawings:
            raise InputError(f"plan {pid} has no crew with jobs; nothing to draw", field="plan")
        routes = write_route_maps(
            drawings,
            out,
            boundary=settings.boundary_file,
            timezone=settings.timezone,
            streets=city_streets(settings),
        )
        for path in routes:
            typer.echo(str(path))

    @map_app.command("hotspots")
    def hotspots_command(out: OutOption = Path("out"), database_url: DatabaseOption = None) -> None:
        """Planner map: heat map, H3 counts per quarter, Gi* hot spots, weekly slider."""
        settings, catalogue = _context(database_url)
        with Store(settings.database_url) as store:
            path = write_hotspots(store, catalogue, settings, out)
        typer.echo(str(path))

    app.add_typer(map_app, name="map")


def _drawings_from_results(results: DemoResults, out_dir: Path) -> Sequence[CrewRoute]:
    if results.plan is None:
        return []
    doc = results.plan
    return route_drawings_from_plan(
        doc,
        locations=plan_locations(doc),
        labels=doc.labels,
        links=_crew_links(out_dir),
    )


def demo_step(ctx: Any) -> None:
    """Write the open-work, hotspot and (when a plan is available) route maps; print paths.

    Reads ``ctx.results.plan`` (the routing step's plan document: its routes, street
    geometry, locations and labels); without a plan the routes map is skipped with a note.
    Leaves ``ctx.results.maps``, the list of written files.

    Parameters
    ----------
    ctx : geo311.cli.demo.DemoContext
        The demo context.
    """
    out = Path(ctx.out_dir)
    written = [
        write_open_work(ctx.store, ctx.catalogue, ctx.settings, out, at=ctx.at),
        write_hotspots(ctx.store, ctx.catalogue, ctx.settings, out),
    ]
    drawings = _drawings_from_results(ctx.results, out)
    if drawings:
        written += write_route_maps(
            drawings,
            out,
            boundary=ctx.settings.boundary_file,
            timezone=ctx.settings.timezone,
            streets=city_streets(ctx.settings),
        )
    else:
        typer.echo("routes map skipped: no plan in the demo results (ctx.results.plan)")
    for path in written:
        typer.echo(f"map: {path}")
    ctx.results.maps = written
