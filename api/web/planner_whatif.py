"""A finished what-if drawn for the planner: a chart of days to repair and its table.

The result is the stored :meth:`routing.simulate.run.SimulationResult.to_dict` document: per
service group, the City's actual figures and one replay per crew count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from api.web.charts import ChartStyle, Series, bar_chart
from api.web.planner_charts import CHART_WIDTH
from geo311.i18n import N_

HEADS = (
    N_("crews"),
    N_("reports"),
    N_("repaired"),
    N_("median days to repair"),
    N_("p90 days to repair"),
    N_("repaired within SLA"),
    N_("crew time busy"),
    N_("meets the target"),
)


def _days(value: float | None, *, never: str) -> str:
    return f"never ({never} not repaired)" if value is None else f"{value:.1f}"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def _row(label: str, stats: Mapping[str, Any], utilisation: str, meets: str) -> list[str]:
    return [
        label,
        str(stats["reports"]),
        str(stats["repaired"]),
        _days(stats["median_days"], never="over half"),
        _days(stats["p90_days"], never="over a tenth"),
        _share(stats["within_sla"]),
        utilisation,
        meets,
    ]


def _verdict(group: Mapping[str, Any]) -> str:
    target = f"Target: median of {group['target_median_days']:g} days to repair or less. "
    if group["actual"]["reports"] == 0:
        return target + "No report of this service in the season to replay."
    if group["smallest_crews"] is None:
        return target + "No crew count tried meets it."
    return target + f"The smallest crew count that meets it: {group['smallest_crews']}."


def _crews(count: int) -> str:
    return "1 crew" if count == 1 else f"{count} crews"


def _chart(key: str, name: str, group: Mapping[str, Any]) -> Markup:
    runs = group["runs"]
    labels = ["City (actual)", *(_crews(r["crews"]) for r in runs)]
    stats = [group["actual"], *(r["simulated"] for r in runs)]
    return bar_chart(
        chart_id=f"chart-whatif-{key}",
        title=f"{name}: days from report to repair by number of crews",
        caption=f"{name}: median and 90th-percentile days from report to repair, as the City "
        "did and as replayed with each number of crews (no bar: over half, or over a tenth, "
        "never repaired in the season).",
        labels=labels,
        series=[
            Series("median", [s["median_days"] for s in stats]),
            Series("p90", [s["p90_days"] for s in stats]),
        ],
        style=ChartStyle(unit=" d", width=CHART_WIDTH),
    )


def result_view(
    result: Mapping[str, Any], *, group_names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Return one block per service group of a finished what-if: title, chart, table, verdict.

    Parameters
    ----------
    result
        The simulation's stored ``result``.
    group_names
        Service groups' names by key (``potholes`` -> "Potholes").
    """
    blocks = []
    for key, group in result["groups"].items():
        name = group_names.get(key, key)
        best = group["smallest_crews"]
        rows = [_row("City (actual)", group["actual"], "–", "–")]
        for run in group["runs"]:
            median = run["simulated"]["median_days"]
            meets = "yes" if median is not None and median <= group["target_median_days"] else "no"
            meets = "yes (the smallest)" if run["crews"] == best else meets
            rows.append(
                _row(str(run["crews"]), run["simulated"], _share(run["utilisation"]), meets)
            )
        blocks.append(
            {
                "id": f"whatif-{key}",
                "title": name,
                "chart": _chart(key, name, group),
                "heads": HEADS,
                "rows": rows,
                "verdict": _verdict(group),
            }
        )
    return blocks
