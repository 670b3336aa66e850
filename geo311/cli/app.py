"""The ``geo311`` command line.

geo311's own commands live here; ``routing``, ``maps`` and ``api`` add theirs through the
``geo311.commands`` entry points (so geo311 imports none of them).
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer

from geo311.city.catalogue import load_catalogue
from geo311.city.profile import CITY_DIR_ENV
from geo311.cli import notify, users
from geo311.cli.options import DatabaseOption, settings_with
from geo311.cli.plugins import load_group
from geo311.cli.users import app as users_app
from geo311.db.store import Store
from geo311.errors import Geo311Error
from geo311.settings import Settings, get_settings
from geo311.workorders import repo as work_order_repo

if TYPE_CHECKING:  # the work-order module loads numpy etc.; commands import it when run
    from geo311.workorders.grouping import RebuildSummary

app = typer.Typer(
    help="geo311: 311 intake, duplicate clustering, crew routes and maps for public works.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.add_typer(users_app, name="users")


def select_city(city_dir: Path) -> None:
    """Make ``city_dir`` the city profile of this process (as ``GEO311_CITY_DIR`` would).

    Parameters
    ----------
    city_dir
        A folder holding ``city.toml`` (see ``geo311 city init``).

    Raises
    ------
    typer.BadParameter
        When the folder holds no ``city.toml``.
    """
    if not (city_dir / "city.toml").is_file():
        raise typer.BadParameter(
            f"{city_dir} holds no city.toml; create it with "
            "`geo311 city init DIR --name NAME --osm FILE --timezone TZ`",
            param_hint="--city",
        )
    os.environ[CITY_DIR_ENV] = str(city_dir.resolve())
    get_settings.cache_clear()


@app.callback()
def _global_options(
    city: Annotated[
        Path | None,
        typer.Option(
            "--city",
            help="the city profile folder (default: GEO311_CITY_DIR, else the embedded city)",
        ),
    ] = None,
) -> None:
    """geo311: 311 intake, duplicate clustering, crew routes and maps for public works."""
    if city is not None:
        select_city(city)


def parse_local_time(text: str, timezone: str) -> datetime:
    """Parse ``2015-10-06T07:00`` (local time unless an offset is given) into an aware datetime.

    Parameters
    ----------
    text
        ISO 8601 date-time.
    timezone
        The city's time zone for times without an offset.

    Returns
    -------
    datetime
        Timezone-aware datetime.
    """
    from zoneinfo import ZoneInfo

    from geo311.timeutil import local_datetime

    try:
        return local_datetime(text, ZoneInfo(timezone))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO time such as 2015-10-06T07:00") from None


@app.command("import")
def import_command(
    files: Annotated[
        list[Path],
        typer.Argument(help="311 CSV export(s) (.csv/.csv.gz) or Open311 JSON"),
    ],
    mapping: Annotated[
        Path | None,
        typer.Option(help="TOML mapping of the city's own CSV columns and values (see docs)"),
    ] = None,
    database_url: DatabaseOption = None,
    rejects: Annotated[
        Path | None, typer.Option(help="rejects CSV path (default FILE.rejects.csv)")
    ] = None,
    geocode: Annotated[
        bool, typer.Option(help="geocode rows that need it after the import")
    ] = True,
) -> None:
    """Import 311 service requests; bad rows go to a rejects CSV with row, field and reason."""
    from geo311.ingest.csv_mapping import import_mapped_csv, load_mapping
    from geo311.ingest.importer import ImportOptions, import_file

    settings = settings_with(database_url)
    catalogue = load_catalogue(settings.services_file)
    spec = load_mapping(mapping, catalogue=catalogue) if mapping is not None else None
    with Store(settings.database_url) as store:
        for path in files:
            if spec is not None:
                summary = import_mapped_csv(
                    store, path, spec, catalogue, rejects_path=rejects, progress=True
                )
            else:
                summary = import_file(
                    store,
                    path,
                    catalogue,
                    ImportOptions(timezone=settings.timezone, rejects_path=rejects, progress=True),
                )
            for line in summary.lines():
                typer.echo(line)
        if geocode:
            _geocode_pending(store, settings)


# A street-only match puts a report at the street's middle: not a location a crew can drive
# to, so the import keeps such rows flagged for a person to place (score 0.35 < 0.5).
IMPORT_MIN_GEOCODE_SCORE = 0.5


def _geocode_pending(store: Store, settings: Settings) -> None:
    from geo311.geocoding.batch import geocode_pending_requests

    typer.echo(
        geocode_pending_requests(store, settings=settings, min_score=IMPORT_MIN_GEOCODE_SCORE)
    )


@app.command("metrics")
def metrics_command(
    database_url: DatabaseOption = None,
    by: Annotated[
        str, typer.Option(help="group by 'service' or 'neighborhood' or 'service,neighborhood'")
    ] = "service",
) -> None:
    """Print the service metrics: requests, open, closed, days to close, share within SLA."""
    from geo311.requests.metrics import format_metrics_table, service_metrics

    settings = settings_with(database_url)
    with Store(settings.database_url) as store:
        table = service_metrics(store, by=[b.strip() for b in by.split(",") if b.strip()])
    typer.echo(format_metrics_table(table))


export_app = typer.Typer(help="Public exports: the open-data file of every request.")
app.add_typer(export_app, name="export")


@export_app.command("open-data")
def export_open_data_command(
    out: Annotated[Path, typer.Option("--out", help="the CSV file to write (replaced atomically)")],
    database_url: DatabaseOption = None,
) -> None:
    """Write every request's Open311 public fields as CSV (no contacts, no staff names).

    Descriptions and status notes are included only when the city profile sets
    ``[open_data] descriptions = true``; photo links unless it sets ``photos = false``.
    """
    from geo311.requests.open_data import export_columns, write_open_data

    settings = settings_with(database_url)
    with Store(settings.database_url) as store:
        n = write_open_data(store, load_catalogue(settings.services_file), settings.city, out)
    typer.echo(
        f"{n} requests written to {out} (columns: {', '.join(export_columns(settings.city))})"
    )


@app.command("geocode")
def geocode_command(
    in_csv: Annotated[Path, typer.Argument(help="input CSV with a header row")],
    address_column: Annotated[
        str, typer.Option("--address-column", help="column holding the address text")
    ],
    out: Annotated[Path, typer.Option("-o", "--out", help="output CSV path")],
    data_dir: Annotated[
        Path | None, typer.Option(help="data folder with osm/ (default: settings)")
    ] = None,
) -> None:
    """Geocode a CSV offline: add lat, lon, match_type, score, matched_address columns."""
    from geo311.geocoding.batch import geocode_csv, summarise
    from geo311.geocoding.geocoder import Geocoder

    geocoder = Geocoder.from_data_dir(data_dir or get_settings().data_dir)
    counts = geocode_csv(in_csv, out, address_column=address_column, geocoder=geocoder)
    typer.echo(f"{summarise(counts.elements())}; wrote {out}")


def _echo_rebuild(built: RebuildSummary) -> None:
    typer.echo(
        f"{built.work_orders} work orders from {built.requests_grouped} located reports "
        f"({built.reports_merged} reports merged into earlier ones, "
        f"{built.failed_repairs} possible failed repairs, "
        f"{built.skipped_no_location} reports without a location skipped)"
    )


@app.command("workorders")
def workorders_command(
    at: Annotated[
        str | None, typer.Option(help="show what was open at this local time (default: now)")
    ] = None,
    rebuild: Annotated[
        bool, typer.Option(help="regroup every stored request into work orders first")
    ] = False,
    limit: Annotated[int, typer.Option(help="work orders to list (oldest first)")] = 20,
    database_url: DatabaseOption = None,
) -> None:
    """Merge duplicate reports into work orders and list those open at a moment."""
    from geo311.workorders.grouping import rebuild_work_orders
    from geo311.workorders.open_view import merged_report_count, open_work_orders_at

    settings = settings_with(database_url)
    catalogue = load_catalogue(settings.services_file)
    moment = (
        parse_local_time(at, settings.timezone) if at else datetime.now(ZoneInfo(settings.timezone))
    )
    with Store(settings.database_url) as store:
        if rebuild or not work_order_repo.query_work_orders(store, limit=1):
            _echo_rebuild(rebuild_work_orders(store, catalogue))
        open_now = open_work_orders_at(store, moment, catalogue=catalogue)
    typer.echo(
        f"open at {moment:%Y-%m-%d %H:%M %Z}: {len(open_now)} work orders, "
        f"{merged_report_count(open_now)} reports merged into them"
    )
    for wo in open_now[:limit]:
        due = wo.sla_due.astimezone(moment.tzinfo)
        overdue = " OVERDUE" if wo.sla_due < moment else ""
        typer.echo(
            f"  wo-{wo.work_order_id:<6} {wo.service_code:<22} reports {wo.report_count:<3} "
            f"due {due:%Y-%m-%d %H:%M}{overdue}  {wo.address}"
        )
    if len(open_now) > limit:
        typer.echo(f"  ... and {len(open_now) - limit} more (--limit)")


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option(help="folder for the demo's outputs")] = Path("out"),
    at: Annotated[str, typer.Option(help="the morning to plan, local time")] = "2015-10-06T07:00",
    database_url: DatabaseOption = None,
) -> None:
    """Run the main job on the city's sample data: import, metrics, work orders, plan, maps."""
    from geo311.cli.demo import DemoContext
    from geo311.ingest.importer import ImportOptions, import_file
    from geo311.requests.metrics import format_metrics_table, service_metrics
    from geo311.workorders.grouping import rebuild_work_orders
    from geo311.workorders.open_view import merged_report_count, open_work_orders_at

    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    settings = settings_with(database_url or f"sqlite:///{(out / 'demo.db').resolve()}")
    if settings.database_url.startswith("sqlite:///"):
        db_file = Path(settings.database_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(db_file) + suffix).unlink(missing_ok=True)
    catalogue = load_catalogue(settings.services_file)
    with Store(settings.database_url) as store:
        if not settings.database_url.startswith("sqlite"):
            store.drop_all()
            store.migrate()
        typer.echo(f"== store: {settings.database_url}")
        summary = import_file(
            store,
            settings.sample_requests_file,
            catalogue,
            ImportOptions(
                timezone=settings.timezone, rejects_path=out / "rejects.csv", progress=True
            ),
        )
        for line in summary.lines():
            typer.echo(line)
        typer.echo(f"\n== service metrics ({settings.city.name} 311 sample)")
        typer.echo(format_metrics_table(service_metrics(store, by=["service"])))
        typer.echo("\n== offline geocoding of the rows without a location")
        _geocode_pending(store, settings)
        moment = parse_local_time(at, settings.timezone)
        typer.echo("\n== work orders from duplicate reports")
        _echo_rebuild(rebuild_work_orders(store, catalogue))
        open_now = open_work_orders_at(store, moment, catalogue=catalogue)
        by_group: dict[str, int] = {}
        for wo in open_now:
            by_group[wo.service_group] = by_group.get(wo.service_group, 0) + 1
        groups_text = ", ".join(f"{g} {n}" for g, n in sorted(by_group.items()))
        typer.echo(
            f"open at {moment:%Y-%m-%d %H:%M %Z}: {len(open_now)} work orders ({groups_text}), "
            f"{merged_report_count(open_now)} reports merged into them"
        )
        ctx = DemoContext(
            settings=settings,
            store=store,
            catalogue=catalogue,
            out_dir=out,
            at=moment,
        )
        ctx.results.work_orders_built = True
        ctx.results.open_work_orders = list(open_now)
        steps = [*load_group("geo311.demo_steps"), ("40_users", users.demo_step)]
        for name, step in sorted(steps, key=lambda s: s[0]):
            typer.echo(f"\n== {name.split('_', 1)[-1]}")
            step(ctx)
    typer.echo(f"\ndemo finished in {time.perf_counter() - t0:.1f} s; outputs in {out.resolve()}")


def _register_plugins() -> None:
    notify.register(app)  # geo311's own command groups; the upper packages' by entry point
    for _name, register in load_group("geo311.commands"):
        register(app)


def main() -> None:
    """Entry point of the ``geo311`` console script: errors become one clear line, exit 2."""
    _register_plugins()
    try:
        app()
    except Geo311Error as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None


__all__ = ["app", "main", "parse_local_time", "select_city"]
