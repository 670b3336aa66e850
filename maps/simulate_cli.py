"""The ``geo311 simulate`` command: a planner's what-if replay of a season with K crews.

It lives in maps because it draws the plot (:mod:`maps.simulation_plot`); the replay itself is
:func:`routing.simulate.run.run_simulation`.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from geo311.errors import InputError
from routing.distributed import ClusterOption, WorkersOption


def parse_date(text: str, *, option: str) -> date:
    """Return a ``YYYY-MM-DD`` date, or raise an error naming the option.

    Parameters
    ----------
    text
        The date text.
    option
        The option name for the message (``--from``).

    Returns
    -------
    datetime.date
        The date.
    """
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{option} {text!r} is not a date; write it as YYYY-MM-DD (e.g. 2015-09-01)",
            field=option,
        ) from None


def parse_period(start: str, end: str) -> tuple[date, date]:
    """Return the replay's first and last day, or raise an error naming the wrong option.

    Parameters
    ----------
    start
        The ``--from`` text.
    end
        The ``--to`` text.

    Returns
    -------
    tuple of datetime.date
        The first and the last day.
    """
    first, last = parse_date(start, option="--from"), parse_date(end, option="--to")
    if first > last:
        raise InputError(
            f"--from {start} is after --to {end}; give --from on or before --to "
            f"(e.g. --from {end} --to {start})",
            field="--from",
        )
    return first, last


def parse_sweep(text: str) -> list[int]:
    """Return the crew counts of ``--crews-sweep``: ``1..6``, ``2-4`` or ``1,2,4``.

    Parameters
    ----------
    text
        The option value.

    Returns
    -------
    list of int
        Crew counts, each at least 1.
    """
    try:
        for sep in ("..", "-"):
            if sep in text:
                a, b = text.split(sep, 1)
                lo, hi = int(a), int(b)
                if lo < 1 or hi < lo or hi > 50:
                    raise ValueError
                return list(range(lo, hi + 1))
        out = [int(x) for x in text.split(",") if x.strip()]
        if not out or min(out) < 1:
            raise ValueError
        return out
    except ValueError:
        raise InputError(
            f"--crews-sweep {text!r} is not a crew range; write e.g. 1..6 (1 to 50) or 1,2,4",
            field="--crews-sweep",
        ) from None


CalibratedOption = Annotated[
    bool,
    typer.Option(
        "--calibrated",
        help="the calibrated what-if: the City's year replayed with its measured effort "
        "(Jan-Jun fit, Jul-Dec validation), then geo311's policy; writes calibrated.csv",
    ),
]


def register(app: typer.Typer) -> None:
    """Add ``geo311 simulate`` to the geo311 CLI.

    Parameters
    ----------
    app
        The geo311 application.
    """

    @app.command("simulate")
    def simulate_command(
        start: Annotated[str, typer.Option("--from", help="first day, YYYY-MM-DD")] = "2015-09-01",
        end: Annotated[str, typer.Option("--to", help="last day, YYYY-MM-DD")] = "2015-11-30",
        crews_file: Annotated[
            Path | None, typer.Option("--crews", help="crew file (default: the city's crews.toml)")
        ] = None,
        service: Annotated[
            str | None, typer.Option("--service", help="potholes or streetlights (default both)")
        ] = None,
        crews: Annotated[
            int | None, typer.Option("--crews-count", help="crews per group (default: the file's)")
        ] = None,
        sweep: Annotated[
            str | None, typer.Option("--crews-sweep", help="crew counts to try, e.g. 1..6")
        ] = None,
        target: Annotated[
            float | None,
            typer.Option("--target-median-days", help="target median days (0.6 / 7 default)"),
        ] = None,
        time_limit: Annotated[
            float, typer.Option("--time-limit", help="solver safety limit per day, seconds")
        ] = 10.0,
        seed: Annotated[int, typer.Option("--seed", help="solver seed")] = 0,
        out: Annotated[
            Path, typer.Option("--out", help="folder for simulation.json and simulate.png")
        ] = Path("out"),
        cluster: ClusterOption = None,
        workers: WorkersOption = None,
        calibrated: CalibratedOption = False,
    ) -> None:
        """Replay the city's sample reports with K crews; compare days to repair with the City's.

        The replays (one per service group and crew count) run as tasks on a Dask cluster:
        ``--cluster`` / ``GEO311_CLUSTER_ADDRESS``, else a local one on this machine's cores.
        """
        if calibrated:
            return _calibrated(out)
        from geo311.city.catalogue import load_catalogue
        from geo311.settings import get_settings
        from maps.simulation_plot import plot_simulation
        from routing.dispatch import default_graph
        from routing.distributed import TaskRunner, cluster_from_settings, simulate_sweep
        from routing.simulate.run import SimulationInputs, SimulationParams, Sweep

        first, last = parse_period(start, end)  # before any cluster starts
        settings = get_settings()  # the city in use (--city / GEO311_CITY_DIR)
        counts = parse_sweep(sweep) if sweep else None
        address = cluster_from_settings(cluster)
        if not address and (1 if service else 2) * len(counts or [None]) == 1:
            workers = 1  # one replay: no cluster to start
        with TaskRunner(cluster=address, workers=workers) as runner:
            typer.echo(f"replays on: {runner.describe()}", err=True)
            result = simulate_sweep(
                runner=runner,
                progress=lambda event: typer.echo(event.line(), err=True),
                start=first,
                end=last,
                sweep=Sweep(service, crews, counts, target),
                params=SimulationParams(time_limit_s=time_limit, seed=seed),
                inputs=SimulationInputs(
                    crews_file=crews_file or settings.crews_file,
                    catalogue=load_catalogue(settings.services_file),
                    data_file=settings.sample_requests_file,
                    graph=default_graph(settings),
                ),
            )
        out.mkdir(parents=True, exist_ok=True)
        doc = out / "simulation.json"
        doc.write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
        png = plot_simulation(result, out / "simulate.png")
        typer.echo(result.table())
        for note in result.notes:
            typer.echo(f"note: {note}")
        typer.echo(f"wrote {doc} and {png}")


def _calibrated(out: Path) -> None:
    """Run ``geo311 simulate --calibrated`` (routing.cli.calibrated_report)."""
    from routing.cli import calibrated_report

    calibrated_report(out=out)
