"""Matplotlib (Agg) figure of a SimulationResult: ECDF of days to repair and backlog."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from routing.simulate import SimulationResult


def _ecdf(days: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    arr = np.sort(np.asarray(days, dtype=float))
    n = arr.size
    finite = arr[np.isfinite(arr)]
    y = np.arange(1, finite.size + 1) / max(n, 1)
    return finite, y


def plot_result(result: SimulationResult, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
        x, y = _ecdf(gr.actual.days)
        ax_e.step(
            x, y, where="post", color="black", lw=2, label=f"City actual (n={gr.actual.reports})"
        )
        for k, run in enumerate(gr.runs):
            color = cmap(k / max(1, len(gr.runs) - 1)) if len(gr.runs) > 1 else "#d9480f"
            x, y = _ecdf(run.simulated.days)
            ax_e.step(x, y, where="post", color=color, label=f"simulated, {run.crews} crew(s)")
        ax_e.axvline(gr.target_median_days, color="grey", ls="--", lw=1)
        ax_e.axhline(0.5, color="grey", ls=":", lw=1)
        ax_e.set_xscale("symlog", linthresh=1.0)
        ax_e.set_xlabel("days from report to repair")
        ax_e.set_ylabel("share of reports repaired")
        ax_e.set_ylim(0, 1.02)
        ax_e.set_xlim(left=0)
        ax_e.set_title(f"{gr.group}: days to repair (target median {gr.target_median_days:g} d)")
        ax_e.legend(fontsize=8, loc="lower right")
        if gr.actual_backlog:
            ax_b.plot(
                [d for d, _ in gr.actual_backlog],
                [n for _, n in gr.actual_backlog],
                color="black",
                lw=2,
                label="City actual (open reports)",
            )
        for k, run in enumerate(gr.runs):
            color = cmap(k / max(1, len(gr.runs) - 1)) if len(gr.runs) > 1 else "#d9480f"
            ax_b.plot(
                [d.day for d in run.days],
                [d.open_reports for d in run.days],
                color=color,
                label=f"simulated, {run.crews} crew(s)",
            )
        ax_b.set_title(f"{gr.group}: open reports each morning")
        ax_b.set_ylabel("open reports")
        ax_b.legend(fontsize=8, loc="upper left")
        ax_b.tick_params(axis="x", labelrotation=30)
    fig.suptitle(
        f"geo311 simulate {result.start} .. {result.end} (seed {result.settings.get('seed')})"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
