"""Matplotlib (Agg) figure of a season replay: ECDF of days to repair and the backlog.

One row per service group: on the left the share of reports repaired within x days (the City's
actual against each simulated crew count), on the right the open reports each morning.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from routing.simulate.run import GroupResult, SimulationResult

__all__ = ["plot_effort_curve", "plot_simulation"]

_ONE_RUN_COLOR = "#d9480f"


def plot_simulation(result: SimulationResult, path: str | Path) -> Path:
    """Draw the ECDF of days to repair (simulated per crew count vs the City) and the backlog.

    Parameters
    ----------
    result
        The simulation (:func:`routing.simulate.run.run_simulation`).
    path
        The PNG file to write (folders are created).

    Returns
    -------
    Path
        The file written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    groups = list(result.groups.values())
    fig, axes = plt.subplots(len(groups), 2, figsize=(12, 4.2 * max(1, len(groups))), squeeze=False)
    cmap = plt.get_cmap("viridis")
    for row, gr in enumerate(groups):
        ax_e, ax_b = axes[row]
        if gr.actual.reports == 0:
            for ax in (ax_e, ax_b):
                ax.text(0.5, 0.5, f"{gr.group}: no reports to replay", ha="center", va="center")
                ax.set_axis_off()
            continue
        colors = [_run_color(cmap, k, len(gr.runs)) for k in range(len(gr.runs))]
        _plot_ecdf(ax_e, gr, colors)
        _plot_backlog(ax_b, gr, colors)
    fig.suptitle(
        f"geo311 simulate {result.start} .. {result.end} (seed {result.settings.get('seed')})"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _run_color(cmap: Any, k: int, n_runs: int) -> Any:
    """Return the color of run ``k`` of ``n_runs`` (one run: a single orange)."""
    return cmap(k / max(1, n_runs - 1)) if n_runs > 1 else _ONE_RUN_COLOR


def _ecdf(days: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Return the finite days, sorted, and the share of all reports repaired by each."""
    arr = np.sort(np.asarray(days, dtype=float))
    n = arr.size
    finite = arr[np.isfinite(arr)]
    y = np.arange(1, finite.size + 1) / max(n, 1)
    return finite, y


def _plot_ecdf(ax: Any, gr: GroupResult, colors: list[Any]) -> None:
    """Draw the share of reports repaired within x days: the City's and every run's."""
    x, y = _ecdf(gr.actual.days)
    ax.step(x, y, where="post", color="black", lw=2, label=f"City actual (n={gr.actual.reports})")
    for run, color in zip(gr.runs, colors, strict=True):
        x, y = _ecdf(run.simulated.days)
        ax.step(x, y, where="post", color=color, label=f"simulated, {run.crews} crew(s)")
    ax.axvline(gr.target_median_days, color="grey", ls="--", lw=1)
    ax.axhline(0.5, color="grey", ls=":", lw=1)
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("days from report to repair")
    ax.set_ylabel("share of reports repaired")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.set_title(f"{gr.group}: days to repair (target median {gr.target_median_days:g} d)")
    ax.legend(fontsize=8, loc="lower right")


def _plot_backlog(ax: Any, gr: GroupResult, colors: list[Any]) -> None:
    """Draw the open reports each morning: the City's actual backlog and every run's."""
    if gr.actual_backlog:
        ax.plot(
            [d for d, _ in gr.actual_backlog],
            [n for _, n in gr.actual_backlog],
            color="black",
            lw=2,
            label="City actual (open reports)",
        )
    for run, color in zip(gr.runs, colors, strict=True):
        ax.plot(
            [d.day for d in run.days],
            [d.open_reports for d in run.days],
            color=color,
            label=f"simulated, {run.crews} crew(s)",
        )
    ax.set_title(f"{gr.group}: open reports each morning")
    ax.set_ylabel("open reports")
    ax.legend(fontsize=8, loc="upper left")
    ax.tick_params(axis="x", labelrotation=30)


def plot_effort_curve(doc: dict[str, Any], path: str | Path) -> Path:
    """Draw the calibrated what-if's effort curve: effort against p90 days, per area.

    Parameters
    ----------
    doc
        The document of :func:`routing.simulate.calibrated.calibrated_whatif`.
    path
        The PNG file to write (folders are created).

    Returns
    -------
    Path
        The file written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    areas = list(doc["areas"].values())
    fig, axes = plt.subplots(1, len(areas), figsize=(5.2 * len(areas), 3.8), squeeze=False)
    target = float(doc["target_p90_days"])
    for ax, area in zip(axes[0], areas, strict=True):
        for key, label, colour in (
            ("curve", "every report", "#0b3d91"),
            ("crew_curve", "crews' queue (not deferred)", "#b35900"),
        ):
            pts = area[key]
            x = [p["effort"] for p in pts]
            ax.fill_between(
                x,
                [p["p90_days"]["low"] for p in pts],
                [p["p90_days"]["high"] for p in pts],
                color=colour,
                alpha=0.18,
                linewidth=0,
            )
            ax.plot(x, [p["p90_days"]["value"] for p in pts], color=colour, label=label)
        ax.axhline(target, color="#111", linestyle=":", label=f"target p90 {target:g} d")
        ax.set_ylim(0, 60)
        ax.set_xlabel("effort, multiple of the City's measured effort")
        ax.set_ylabel("p90 days to close (Jul-Dec 2015)")
        ax.set_title(f"geo311's policy, {area['name']}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
