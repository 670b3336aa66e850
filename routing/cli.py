"""Commands and demo steps that the routing package adds to the geo311 CLI.

``geo311 graph`` prints a street graph's summary; ``geo311 plan`` plans the day from the open
work orders in the store and writes ``plan.json`` and one itinerary per crew (HTML, GPX, text);
``geo311 replan`` re-plans a stored plan mid-day. :func:`demo_step` is the ``20_routing`` step of
``geo311 demo``. The itinerary files are written by the ``geo311.plan_writers`` entry points
(:func:`plan_writers`; maps declares :func:`maps.itinerary.write_itineraries`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from geo311.city.catalogue import Catalogue, load_catalogue
from geo311.cli.options import DatabaseOption
from geo311.cli.plugins import load_group
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.plans.document import PlanDocument
from geo311.requests import repo as request_repo
from geo311.workorders import repo as work_order_repo

if TYPE_CHECKING:  # the distributed layer loads on use
    from routing.dispatch import DayOptions
    from routing.distributed import TaskEvent, TaskOptions

DEMO_TIME_LIMIT_S = 12.0

OutOption = Annotated[
    Path, typer.Option("--out", help="folder for plan.json and the crews' itineraries")
]
TimeLimitOption = Annotated[
    float | None,
    typer.Option("--time-limit", help="solver time limit in seconds (default: settings)"),
]


def ensure_work_orders(store: Store, catalogue: Catalogue, *, echo: Any = typer.echo) -> bool:
    """Build the work orders from the stored requests when the store has none yet.

    Parameters
    ----------
    store : Store
        The store.
    catalogue : Catalogue
        The service catalogue.
    echo : callable, keyword-only
        Where to say what was done.

    Returns
    -------
    bool
        True when work orders were built now.

    Raises
    ------
    InputError
        When the store has no service requests either (import some first).
    """
    from geo311.workorders.grouping import rebuild_work_orders

    if work_order_repo.query_work_orders(store, limit=1):
        return False
    if request_repo.count_requests(store) == 0:
        raise InputError(
            "the store has no service requests; import some first, e.g. "
            "`geo311 import FILE.csv` (a 311 export) or an Open311 JSON file",
            field="database_url",
        )
    t0 = time.perf_counter()
    built = rebuild_work_orders(store, catalogue)
    echo(
        f"the store had no work orders yet: built {built.work_orders} from "
        f"{built.requests_grouped} located reports ({built.reports_merged} merged) in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    return True


PlanWriter = Callable[[PlanDocument, Path], list[Path]]
"""Writes files of a plan into a folder (e.g. ``maps.itinerary.write_itineraries``)."""


def plan_writers() -> list[PlanWriter]:
    """Return the writers of plan files the installed packages declare, by name.

    They are the ``geo311.plan_writers`` entry points (the maps package declares the crews'
    itineraries), so ``geo311 plan`` writes them while ``routing`` imports nothing of ``maps``.
    """
    return [writer for _name, writer in load_group("geo311.plan_writers")]


def write_plan_outputs(
    doc: PlanDocument, out_dir: Path, *, files_dir: Path | None = None
) -> list[Path]:
    """Write ``plan.json`` into ``out_dir`` and the registered plan files (itineraries).

    Parameters
    ----------
    doc : PlanDocument
        The stored plan document (with ``plan_id``).
    out_dir : Path
        Folder of ``plan.json`` (created if missing).
    files_dir : Path, keyword-only, optional
        Folder of the registered writers' files; default ``out_dir``.

    Returns
    -------
    list of Path
        ``plan.json`` first, then the writers' files (three per crew with stops).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    plan_json = out_dir / "plan.json"
    plan_json.write_text(doc.to_json(indent=1), encoding="utf-8")
    paths = [plan_json]
    for writer in plan_writers():
        paths += writer(doc, files_dir or out_dir)
    return paths


def _echo_lines(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line)


def _parse_locks(values: list[str] | None) -> dict[str, int | list[str]] | None:
    if not values:
        return None
    out: dict[str, int | list[str]] = {}
    for v in values:
        crew, sep, what = v.partition("=")
        if not sep or not crew:
            raise typer.BadParameter(
                f"--lock {v!r}: write CREW=N (first N stops) or CREW=wo-1,wo-2 (stops done)"
            )
        out[crew] = int(what) if what.strip().isdigit() else [x for x in what.split(",") if x]
    return out


def graph_command(
    source: Annotated[
        str | None,
        typer.Argument(help="OSM XML (.osm/.osm.bz2), .osm.pbf or .graphml (default: embedded)"),
    ] = None,
    place: Annotated[
        str | None, typer.Option(help="osmnx place query instead of a file (needs a network)")
    ] = None,
    cache_dir: Annotated[str | None, typer.Option(help="folder for the GraphML cache")] = None,
    hour: Annotated[
        int | None, typer.Option(help="congestion hour 0..23 (default free flow)")
    ] = None,
) -> None:
    """Load a street graph and print its summary (nodes, edges, one-ways, dropped nodes)."""
    from routing.engine.graph import load_street_graph

    if place:
        graph = load_street_graph(place, kind="place", cache_dir=cache_dir, congestion_hour=hour)
    else:
        graph = load_street_graph(source, cache_dir=cache_dir, congestion_hour=hour)
    _echo_lines(graph.summary.lines())


def _report_written(head: str, paths: list[Path]) -> None:
    typer.echo(head)
    for p in paths:
        typer.echo(f"  {p}")


def plan_command(
    at: Annotated[
        str, typer.Option(help="the morning to plan, local time (ISO)")
    ] = "2015-10-06T07:00",
    crews: Annotated[
        Path | None, typer.Option(help="crew file (default: the city's crews.toml)")
    ] = None,
    district: Annotated[
        str | None, typer.Option(help="plan this district of the city only (its yards, crews)")
    ] = None,
    all_districts: Annotated[
        bool, typer.Option("--all-districts", help="one plan per district, stored together")
    ] = False,
    time_limit: TimeLimitOption = None,
    seed: Annotated[int | None, typer.Option(help="solver seed (default: settings)")] = None,
    out: OutOption = Path("out"),
    database_url: DatabaseOption = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            help="with --all-districts: plan the districts as tasks on this Dask scheduler "
            "(tcp://host:8786; 'local' for a local cluster; default GEO311_CLUSTER_ADDRESS)",
        ),
    ] = None,
) -> None:
    """Plan the day's crew routes from the open work orders; write plan.json + itineraries."""
    from geo311.cli.app import parse_local_time
    from geo311.cli.options import settings_with
    from routing.dispatch import DayOptions, format_summary, plan_day, save_day_plan

    settings = settings_with(database_url)
    catalogue = load_catalogue(settings.services_file)
    moment = parse_local_time(at, settings.timezone)
    options = DayOptions(
        crews_file=crews,
        settings=settings,
        time_limit_s=time_limit or settings.solver_time_limit_s,
        seed=settings.solver_seed if seed is None else seed,
    )
    if district is not None or all_districts:
        names = None if all_districts else [district]
        _plan_districts(catalogue, moment, names=names, options=options, out=out, cluster=cluster)
        return
    with Store(settings.database_url) as store:
        ensure_work_orders(store, catalogue)
        day_plan = plan_day(store, catalogue, at=moment, options=options)
        doc = save_day_plan(store, day_plan)
    _echo_lines(format_summary(day_plan))
    paths = write_plan_outputs(doc, out)
    _report_written(f"\nplan {doc.plan_id} stored; wrote {len(paths)} files to {out}:", paths)


def _plan_districts(
    catalogue: Catalogue,
    moment: Any,
    *,
    names: list[str | None] | None,
    options: DayOptions,
    out: Path,
    cluster: str | None = None,
) -> None:
    """``geo311 plan --district NAME`` / ``--all-districts``: a plan per district."""
    from dataclasses import replace

    from routing.dispatch import format_summary, plan_districts, save_district_plans
    from routing.engine.crews import load_crews

    settings = options.settings
    assert settings is not None  # the plan command's settings
    if options.crews_file is not None:
        skills = {s.skill for s in catalogue.services.values()}
        config = load_crews(options.crews_file, known_skills=skills)
        options = replace(options, crews=config, crews_file=None)
    with Store(settings.database_url) as store:
        ensure_work_orders(store, catalogue)
        day = plan_districts(
            store,
            catalogue,
            at=moment,
            names=[str(n) for n in names] if names is not None else None,
            tasks=_cluster_options(cluster or settings.cluster_address),
            options=options,
        )
        docs = save_district_plans(store, day)
    for (name, day_plan), doc in zip(day.plans.items(), docs, strict=True):
        typer.echo(f"\n== district {name}: plan {doc.plan_id} (day {doc.day})")
        _echo_lines(format_summary(day_plan))
        folder = out if len(docs) == 1 else out / _slug(name)
        paths = write_plan_outputs(doc, folder)
        _report_written(f"wrote {len(paths)} files to {folder}:", paths)
    for name, why in day.failed.items():
        typer.echo(f"\n== district {name}: NOT PLANNED ({why}); the other districts are stored")
    typer.echo("")
    _echo_lines(day.outside_lines())


def _cluster_options(address: str | None) -> TaskOptions | None:
    """Where plan_districts runs its tasks for ``--cluster`` (an address, or ``local``)."""
    if not address:
        return None
    from routing.distributed import TaskOptions, cluster_from_settings

    def progress(event: TaskEvent) -> None:
        typer.echo(event.line(), err=True)

    if address == "local":
        return TaskOptions(workers=os.cpu_count() or 1, progress=progress)
    return TaskOptions(cluster=cluster_from_settings(address), progress=progress)


def _slug(name: str) -> str:
    """Return a folder name for a district (letters, digits and dashes)."""
    text = "".join(ch.lower() if ch.isalnum() else "-" for ch in name)
    return "-".join(part for part in text.split("-") if part) or "district"


def replan_command(
    plan_id: Annotated[int, typer.Argument(help="the stored plan to re-plan")],
    at: Annotated[str, typer.Option(help="now, local time (ISO), e.g. 2015-10-06T11:00")],
    lock: Annotated[
        list[str] | None,
        typer.Option(help="CREW=N keeps its first N stops, CREW=wo-1,wo-2 up to those stops"),
    ] = None,
    add: Annotated[
        list[int] | None, typer.Option(help="id of an urgent work order to add (repeat)")
    ] = None,
    crews: Annotated[Path | None, typer.Option(help="crew file the plan was made with")] = None,
    time_limit: TimeLimitOption = None,
    out: OutOption = Path("out"),
    database_url: DatabaseOption = None,
) -> None:
    """Re-plan a stored plan mid-day: keep locked stops, add urgent work orders."""
    from geo311.cli.app import parse_local_time
    from geo311.cli.options import settings_with
    from routing.dispatch import (
        DayOptions,
        ReplanChanges,
        format_summary,
        replan_day,
        save_day_plan,
    )

    settings = settings_with(database_url)
    catalogue = load_catalogue(settings.services_file)
    moment = parse_local_time(at, settings.timezone)
    with Store(settings.database_url) as store:
        day_plan = replan_day(
            store,
            catalogue,
            plan_id,
            at=moment,
            changes=ReplanChanges(locked_stops=_parse_locks(lock), new_work_order_ids=add or []),
            options=DayOptions(
                crews_file=crews,
                settings=settings,
                time_limit_s=time_limit or min(settings.solver_time_limit_s, 5.0),
                seed=settings.solver_seed,
            ),
        )
        doc = save_day_plan(store, day_plan, kind="replan", parent_plan_id=plan_id)
    _echo_lines(format_summary(day_plan))
    locked = doc.dispatch.locked if doc.dispatch is not None else {}
    typer.echo("locked stops: " + ", ".join(f"{c} {len(v)}" for c, v in locked.items()))
    paths = write_plan_outputs(doc, out)
    _report_written(
        f"\nplan {doc.plan_id} (re-plan of {plan_id}) stored; wrote {len(paths)} files", paths
    )


def city_init_command(
    folder: Annotated[Path, typer.Argument(help="the city profile folder to write")],
    name: Annotated[str, typer.Option(help="the city's name")],
    osm: Annotated[Path, typer.Option(help="streets: .osm, .osm.bz2 or .osm.pbf")],
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. America/Los_Angeles")],
    addresses: Annotated[
        list[Path] | None,
        typer.Option(
            help="address points (repeatable): OSM, OpenAddresses CSV/GeoJSON lines, "
            "TIGER/Line ADDRFEAT (.shp/.zip/.gpkg) or a CSV named by --address-columns"
        ),
    ] = None,
    address_columns: Annotated[
        str | None,
        typer.Option(help="a city CSV's columns: number=..,street=..,lat=..,lon=.."),
    ] = None,
    districts: Annotated[
        Path | None, typer.Option(help="GeoJSON district polygons with a 'name'")
    ] = None,
    jurisdiction: Annotated[
        str | None, typer.Option(help="Open311 jurisdiction_id (default <name>.example)")
    ] = None,
    units: Annotated[
        str | None,
        typer.Option(help="imperial or metric (default: imperial in the US, else metric)"),
    ] = None,
    located_reports: Annotated[
        Path | None,
        typer.Option(help="the city's CSV of located reports (address, lat, lon columns)"),
    ] = None,
    locale: Annotated[
        str | None,
        typer.Option(help="dates and numbers, e.g. fi_FI (default: the time zone's country's)"),
    ] = None,
) -> None:
    """Write a city profile from an OSM file: graph, geocoder, assumed yard, crews, districts."""
    from routing.city_init import InitOptions, init_city

    done = init_city(
        folder,
        name=name,
        osm=osm,
        timezone=timezone,
        options=InitOptions(
            addresses=addresses,
            districts=districts,
            jurisdiction=jurisdiction,
            units=units,
            located_reports=located_reports,
            address_columns=address_columns,
            locale=locale,
        ),
    )
    _echo_lines(done.graph.summary.lines())
    for district, (node, lat, lon) in done.yards.items():
        typer.echo(
            f"district {district!r}: assumed yard at street node {node} ({lat:.6f}, {lon:.6f})"
        )
    _report_written(f"city profile {name!r} written to {folder}:", done.files)
    typer.echo("\nedit next:")
    for step in done.next_steps:
        typer.echo(f"  - {step}")


def register(app: typer.Typer) -> None:
    """Add ``geo311 graph``, ``plan``, ``replan`` and ``city init`` to the geo311 CLI.

    Parameters
    ----------
    app : typer.Typer
        The geo311 application.
    """
    app.command("graph")(graph_command)
    app.command("plan")(plan_command)
    app.command("replan")(replan_command)
    city = typer.Typer(help="City profiles: `geo311 city init DIR ...` onboards a city.")
    city.command("init")(city_init_command)
    app.add_typer(city, name="city")


def _matrix_report(ctx: Any, graph: Any) -> list[str]:
    """Time the travel-time matrix between the yard and the open work orders on the graph."""
    from geo311.workorders.open_view import open_work_orders_at
    from routing.dispatch import servable_groups, snap_work_orders, snap_yards
    from routing.engine.crews import load_crews
    from routing.engine.matrix import travel_time_matrix

    catalogue = ctx.catalogue
    config = load_crews(
        ctx.settings.crews_file, known_skills={s.skill for s in catalogue.services.values()}
    )
    orders = open_work_orders_at(
        ctx.store, ctx.at, groups=servable_groups(config, catalogue), catalogue=catalogue
    )
    snaps, far = snap_work_orders(graph, orders)
    points = snap_yards(graph, config) + [s for s in snaps if s is not None]
    t0 = time.perf_counter()
    m = travel_time_matrix(graph, points)
    secs = time.perf_counter() - t0
    off = ~np.eye(len(points), dtype=bool)
    d = m.durations_s[off]
    km = m.distances_m[off] / 1000.0
    lines = [
        f"{len(orders)} open work orders the crews can serve; {len(far)} lie farther than "
        f"{graph.max_snap_distance_m:g} m from the graph's streets (outside the extract)",
        f"travel-time matrix yard + {len(points) - len(config.yards)} work orders: "
        f"{m.shape[0]}x{m.shape[1]} in {secs:.3f} s",
    ]
    if d.size:
        lines.append(
            f"  travel min: median {np.median(d) / 60:.1f}, p95 {np.percentile(d, 95) / 60:.1f}, "
            f"max {d.max() / 60:.1f}; km: median {np.median(km):.2f}, max {km.max():.2f}; "
            f"asymmetric pairs (one-ways): "
            f"{int(np.sum(np.abs(m.durations_s - m.durations_s.T) > 1.0) // 2)}"
        )
    return lines


def demo_step(ctx: Any) -> None:
    """Run the routing part of ``geo311 demo``: graph, matrix, the district's plan, itineraries.

    Prints the street graph summary, the travel-time matrix between the yard and the open
    work orders, plans the city's first district at ``ctx.at`` with a modest solver time
    limit (the other open work is counted once, per neighbourhood, as outside the planned
    district), stores the plan, writes
    ``plan.json`` into ``ctx.out_dir`` and the registered plan files (the crews'
    itineraries, when the maps CLI is installed) into ``ctx.out_dir / "itineraries"``, and
    leaves in ``ctx.results`` the ``plan`` (the stored
    :class:`~geo311.plans.document.PlanDocument`, with ``plan_id``, ``locations``, ``labels``
    and per-route street ``geometry``, as ``maps`` reads it), ``plan_id`` and ``itineraries``.

    Parameters
    ----------
    ctx : geo311.cli.demo.DemoContext
        The demo context.
    """
    from geo311.city.districts import load_districts
    from routing.dispatch import (
        DayOptions,
        default_graph,
        format_summary,
        plan_districts,
        save_district_plans,
    )

    if not ctx.results.work_orders_built:
        ensure_work_orders(ctx.store, ctx.catalogue)
        ctx.results.work_orders_built = True
    graph = default_graph(ctx.settings)
    _echo_lines(graph.summary.lines())
    _echo_lines(_matrix_report(ctx, graph))
    districts = load_districts(ctx.settings.districts_file)
    name = districts.names[0]
    typer.echo(f"planning the district {name!r} with OR-Tools ({DEMO_TIME_LIMIT_S:g} s limit) ...")
    day = plan_districts(
        ctx.store,
        ctx.catalogue,
        at=ctx.at,
        names=[name],
        districts=districts,
        options=DayOptions(
            settings=ctx.settings,
            graph=graph,
            time_limit_s=DEMO_TIME_LIMIT_S,
            seed=ctx.settings.solver_seed,
        ),
    )
    (doc,) = save_district_plans(ctx.store, day)
    day_plan = day.plans[name]
    _echo_lines(format_summary(day_plan, max_listed=5))
    _echo_lines(day.outside_lines())
    out = Path(ctx.out_dir)
    paths = write_plan_outputs(doc, out, files_dir=out / "itineraries")
    typer.echo(
        f"plan {doc.plan_id} stored; {paths[0]} and {len(paths) - 1} itinerary files in "
        f"{out / 'itineraries'}"
    )
    ctx.results.plan, ctx.results.plan_id, ctx.results.itineraries = doc, doc.plan_id, paths[1:]


def calibrated_report(
    *, service: str = "streetlight_outage", out: Path = Path("out"), echo: Any = typer.echo
) -> Path:
    """Run the calibrated what-if (``geo311 simulate --calibrated``); write ``calibrated.csv``.

    Calibrates on January-June of the city's sample year, validates on July-December, then
    replays geo311's policy at the City's effort, per area (inside the street extract, the rest
    of the city); prints the validation lines and returns the CSV's path. The fitted City
    policies are kept in the settings' ``cache_dir`` for the next run on the same data.
    """
    import csv

    from geo311.settings import get_settings
    from routing.simulate.calibrate import validation_line
    from routing.simulate.calibrated import calibrated_whatif, whatif_rows

    doc, results = calibrated_whatif(
        service,
        progress=lambda line, done: echo(f"{done:4.0%}  {line}"),
        cache_dir=get_settings().cache_dir,
    )
    for note in doc["notes"]:
        echo(f"note: {note}")
    for (area, block), res in zip(doc["areas"].items(), results, strict=True):
        echo(validation_line(res, service, "" if area == "extract" else " (rest of the city)"))
        g = res.with_geo311
        echo(
            f"geo311 at the City's effort ({area}): median {g.median_days.value:.1f} d, "
            f"p90 {g.p90_days.value:.1f} d, within SLA {g.within_sla.value:.0%}; effort for "
            f"p90 <= 7 d: {block['needed']['value'] or 'not reached'}"
        )
    rows = whatif_rows(doc)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "calibrated.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    echo(f"wrote {path}")
    return path
