"""The calibrated what-if drawn for the planner: the City's year replayed, then geo311's.

The result is the stored document of :func:`routing.simulate.calibrated.calibrated_whatif`: per
area (inside the street extract, the rest of the city) the City's actual figures, the replay of
the City's own policy at its own effort ("as the City did it") and geo311's policy at the same
effort ("with geo311"), each with a 90 % bootstrap interval; the effort curve; the notes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from api.web.charts import Band, BandChart, ChartStyle, Series, band_chart, bar_chart
from api.web.planner_charts import CHART_WIDTH
from geo311.i18n import N_

# The heads are translated where the page shows them (`_(h)`).
VALIDATION_HEADS = (
    N_("figure"),
    N_("replay (as the City did it)"),
    N_("the City (actual)"),
    N_("error"),
)
SIDE_HEADS = (N_("figure"), N_("as the City did it"), N_("with geo311"))
FIGURES = (
    ("median_days", "median days to close"),
    ("p90_days", "p90 days to close"),
    ("within_sla", "closed within the SLA"),
)


def _fmt(key: str, iv: Mapping[str, float]) -> str:
    """Return a figure with its interval: ``3.0 d (2.5 to 3.5)`` or ``79 % (77 to 82)``."""
    v, lo, hi = iv["value"], iv["low"], iv["high"]
    if not all(math.isfinite(x) for x in (v, lo, hi)):
        return "never (over the share not closed)"
    if key == "within_sla":
        return f"{100 * v:.0f} % ({100 * lo:.0f} to {100 * hi:.0f})"
    return f"{v:.1f} d ({lo:.1f} to {hi:.1f})"


def _error(key: str, sim: Mapping[str, float], act: Mapping[str, float]) -> str:
    """Return the replay's error: relative for days, in points for the share."""
    if key == "within_sla":
        points = round(100 * (sim["value"] - act["value"]))
        unit = "point" if abs(points) == 1 else "points"
        return f"{points:+d} {unit}" if points else "0 points"
    if not act["value"] or not math.isfinite(sim["value"]):
        return "–"
    rel = round(100 * (sim["value"] - act["value"]) / act["value"])
    return f"{rel:+d} %" if rel else "0 %"


def _multiple(x: float | None, top: float) -> str:
    return f"not reached up to ×{top:.2f}" if x is None else f"×{x:.2f}"


def _needed(area: Mapping[str, Any], target: float) -> list[str]:
    """Return the effort sentences: every report, the crews' queue, unlimited crews."""
    top = max((c["effort"] for c in area["curve"]), default=1.0)
    n, c = area["needed"], area["crew_needed"]
    out = [
        f"Effort needed for a p90 of {target:g} days or less: {_multiple(n['value'], top)} the "
        f"City's (interval {_multiple(n['low'], top)} to {_multiple(n['high'], top)}).",
        f"For the reports the crews' queue serves (not deferred): {_multiple(c['value'], top)} "
        f"(interval {_multiple(c['low'], top)} to {_multiple(c['high'], top)}).",
    ]
    floor = area.get("unlimited")
    if floor is not None and floor["p90_days"]["low"] > target:
        share = area["policy"]["deferred_share"]
        out.append(
            f"With unlimited crews the p90 is still {floor['p90_days']['value']:.1f} days: the "
            f"{100 * share:.0f} % of reports the City deferred (parts, contractors, long "
            "repairs) wait for parts or contractors before any crew can take them, so no effort alone meets the target."
        )
    return out


def _in_sample(area: Mapping[str, Any]) -> str:
    """Return the fit on the calibration months, in words (empty for older documents)."""
    fit = area.get("calibration")
    if not fit:
        return ""
    s, a = fit["as_city"], fit["actual"]
    text = (
        "On the calibration months themselves (in sample): median "
        f"{_fmt('median_days', s['median_days'])} replayed against "
        f"{_fmt('median_days', a['median_days'])}, p90 {_fmt('p90_days', s['p90_days'])} "
        f"against {_fmt('p90_days', a['p90_days'])}, within the SLA "
        f"{_fmt('within_sla', s['within_sla'])} against {_fmt('within_sla', a['within_sla'])}."
    )
    ens = area.get("ensemble")
    if ens and ens["within"] > 1:
        text += (
            f" Those months cannot tell {ens['within']} of the {ens['candidates']} candidate "
            "policies apart (their fit is within the figures' own sampling noise), so the "
            f"replay runs {ens['members']} of them, spread evenly over that set, and every "
            "figure is the median over those replays."
        )
    elif ens:
        text += (
            f" Of the {ens['candidates']} candidate policies, one fits those months within the "
            "figures' own sampling noise; the replay runs it."
        )
    return text


def _side_chart(key: str, area: Mapping[str, Any]) -> Markup:
    stats = [area["actual"], area["as_city"], area["with_geo311"]]
    labels = ["the City (actual)", "as the City did it", "with geo311"]
    return bar_chart(
        chart_id=f"chart-side-{key}",
        title=f"{area['name'].capitalize()}: days to close, same days and same effort",
        caption="Median and 90th-percentile days from report to closure, July-December 2015: "
        "the City's own figures, the replay of the City's policy at its effort, and geo311's "
        "policy (work orders, SLA order, routed days) at the same effort.",
        labels=labels,
        series=[
            Series("median", [s["median_days"]["value"] for s in stats]),
            Series("p90", [s["p90_days"]["value"] for s in stats]),
        ],
        style=ChartStyle(unit=" d", width=CHART_WIDTH),
    )


def _curve_chart(key: str, area: Mapping[str, Any], target: float) -> Markup:
    every, crew = area["curve"], area["crew_curve"]

    def band(name: str, pts: list[Mapping[str, Any]]) -> Band:
        p90 = [p["p90_days"] for p in pts]
        return Band(
            name, [x["value"] for x in p90], [x["low"] for x in p90], [x["high"] for x in p90]
        )

    return band_chart(
        BandChart(
            chart_id=f"chart-curve-{key}",
            title=f"{area['name'].capitalize()}: effort against p90 days to close, with geo311",
            caption="p90 days from report to closure (July-December 2015, geo311's policy) by "
            "effort, as a multiple of the City's measured effort; shaded: the 90 % bootstrap "
            "interval; dotted: your target. Values above 60 days are drawn at 60.",
            xs=[p["effort"] for p in every],
            x_label=lambda x: f"×{x:.2f}",
            bands=[band("every report", every), band("crews' queue", crew)],
            unit=" d",
            target=target,
            y_max=60.0,
            width=CHART_WIDTH,
        )
    )


def calibrated_view(result: Mapping[str, Any], *, service_name: str) -> dict[str, Any]:
    """Return the calibrated what-if's blocks: per area the tables, charts and sentences.

    Parameters
    ----------
    result
        The stored document of :func:`routing.simulate.calibrated.calibrated_whatif`.
    service_name
        The service's name (for titles).
    """
    target = float(result["target_p90_days"])
    areas = []
    for key, area in result["areas"].items():
        val = [
            [name, _fmt(k, area["as_city"][k]), _fmt(k, area["actual"][k]),
             _error(k, area["as_city"][k], area["actual"][k])]
            for k, name in FIGURES
        ]  # fmt: skip
        side = [
            [name, _fmt(k, area["as_city"][k]), _fmt(k, area["with_geo311"][k])]
            for k, name in FIGURES
        ]
        areas.append(
            {
                "id": f"calibrated-{key}",
                "title": f"{service_name}, {area['name']}",
                "reports": area["actual"]["reports"],
                "validation": val,
                "in_sample": _in_sample(area),
                "side": side,
                "side_chart": _side_chart(key, area),
                "curve_chart": _curve_chart(key, area, target),
                "needed": _needed(area, target),
            }
        )
    return {
        "service": service_name,
        "target": target,
        "calibrate": " to ".join(result["calibrate"]),
        "validate": " to ".join(result["validate"]),
        "validation_heads": VALIDATION_HEADS,
        "side_heads": SIDE_HEADS,
        "areas": areas,
        "notes": result["notes"],
        "omitted": result["omitted"],
    }
