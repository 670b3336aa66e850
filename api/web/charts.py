"""Bar and line charts drawn on the server as inline SVG (no script, no network, axe-readable).

A chart is a ``<figure>``: the SVG has ``role="img"`` with a ``<title>`` and a ``<desc>``
that reads every value out, and a ``<figcaption>`` says what is drawn. Bars are horizontal,
one row per label; several series are drawn side by side, or stacked (parts of a whole).
A line chart draws one line per series over ordered labels (weeks), dashed every other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Dark, distinct colours (white text is never drawn on them; labels are dark on white).
PALETTE = ("#0b3d91", "#b35900", "#0a5d2a", "#8b0000", "#6b2c91", "#005f73")
WIDTH = 640
LABEL_W = 165
VALUE_W = 70
BAR_H = 14
GAP = 10
TOP = 34  # legend and axis labels
TEXT = 'font-size="12" font-family="sans-serif" fill="#111"'
GRID = 'stroke="#bbb" stroke-width="1"'


@dataclass(frozen=True)
class Series:
    """One series of a chart: its name and one value per label (``None``: no value)."""

    name: str
    values: Sequence[float | None]


def _nice_max(value: float) -> float:
    """Round a value up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _fmt(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "no value"
    return f"{value:.1f}{unit}" if value % 1 else f"{value:.0f}{unit}"


def _y_grid(
    values: list[float], y_of: Callable[[float], float], span: tuple[float, float], unit: str
) -> list[str]:
    """Return the horizontal grid lines at ``values`` with their labels left of ``span``."""
    left, right = span
    out = []
    for v in values:
        y = y_of(v)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" {GRID}/>')
        out.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" {TEXT}>'
            f"{escape(_fmt(v, unit))}</text>"
        )
    return out


def _legend(series: Sequence[Series]) -> list[str]:
    out, x = [], 8
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 16}" y="16" {TEXT}>{escape(s.name)}</text>')
        x += 24 + 7 * len(s.name)
    return out


def _ticks(biggest: float, axis_max: float | None) -> tuple[float, int]:
    """Return a nice tick step and the number of steps that reach past ``biggest``."""
    if axis_max is not None:
        return axis_max / 4, 4
    step = _nice_max(biggest / 4) if biggest > 0 else 0.25
    return step, max(1, math.ceil(biggest / step - 1e-9))


def _axis(top: int, bottom: int, scale: float, ticks: tuple[float, int], unit: str) -> list[str]:
    out = []
    step, count = ticks
    for k in range(count + 1):
        value = step * k
        x = LABEL_W + value * scale
        out.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" {GRID}/>')
        out.append(
            f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle" {TEXT}>'
            f"{escape(_fmt(value, unit))}</text>"
        )
    return out


LABEL_CHARS = 25
"""A bar's label longer than this is cut with "…" (the ``<desc>`` reads it whole)."""


def _fit(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1].rstrip() + "…"


def _describe(labels: Sequence[str], series: Sequence[Series], unit: str) -> str:
    parts = []
    for i, label in enumerate(labels):
        values = ", ".join(f"{s.name} {_fmt(s.values[i], unit)}" for s in series)
        parts.append(f"{label}: {values}")
    return "; ".join(parts) + "."


@dataclass(frozen=True, kw_only=True)
class ChartStyle:
    """How a bar chart draws its values.

    Parameters
    ----------
    unit : str
        Written after every value (e.g. ``" d"``, ``" %"``).
    stacked : bool
        Stack the series (parts of a whole) instead of drawing them side by side.
    axis_max : float, optional
        The axis' end (default: the largest bar, rounded up).
    width : int
        The drawing's width in its own units (narrower: larger text on a small screen).
    """

    unit: str = ""
    stacked: bool = False
    axis_max: float | None = None
    width: int = WIDTH


def bar_chart(
    *,
    chart_id: str,
    title: str,
    caption: str,
    labels: Sequence[str],
    series: Sequence[Series],
    style: ChartStyle | None = None,
) -> Markup:
    """Return a horizontal bar chart as an inline-SVG ``<figure>``.

    Parameters
    ----------
    chart_id
        Unique id on the page (prefix of the title and description ids).
    title
        The chart's title (the SVG's accessible name).
    caption
        The figure's caption (what the bars are, where the numbers come from).
    labels
        One row per label.
    series
        The values; one bar per series and label, or one stacked bar per label.
    style
        Unit, stacking, axis end and width (:class:`ChartStyle`; its defaults when omitted).
    """
    look = style or ChartStyle()
    unit, stacked, axis_max, width = look.unit, look.stacked, look.axis_max, look.width
    rows = [
        [v if v is not None and not math.isnan(v) else 0.0 for v in col]
        for col in zip(*(s.values for s in series), strict=True)
    ]
    biggest = max((sum(r) if stacked else max(r, default=0.0)) for r in rows) if rows else 0.0
    ticks = _ticks(biggest, axis_max)
    scale = (width - LABEL_W - VALUE_W) / (ticks[0] * ticks[1])
    row_h = BAR_H if stacked else BAR_H * len(series)
    height = TOP + len(labels) * (row_h + GAP) + 24
    body: list[str] = [*_legend(series)]
    for i, label in enumerate(labels):
        y = TOP + i * (row_h + GAP)
        body.append(
            f'<text x="{LABEL_W - 6}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end" '
            f"{TEXT}>{escape(_fit(label))}</text>"
        )
        x = float(LABEL_W)
        for k, value in enumerate(rows[i]):
            w, colour = value * scale, PALETTE[k % len(PALETTE)]
            by = y if stacked else y + k * BAR_H
            body.append(
                f'<rect x="{x:.1f}" y="{by}" width="{w:.1f}" height="{BAR_H - 2}" fill="{colour}"/>'
            )
            if stacked:
                x += w
            else:
                body.append(
                    f'<text x="{x + w + 4:.1f}" y="{by + BAR_H - 3}" {TEXT}>'
                    f"{escape(_fmt(series[k].values[i], unit))}</text>"
                )
        if stacked:
            body.append(
                f'<text x="{x + 4:.1f}" y="{y + BAR_H - 3}" {TEXT}>'
                f"{escape(_fmt(sum(rows[i]), unit))}</text>"
            )
    body += _axis(TOP, height - 24, scale, ticks, unit)
    svg = (
        f'<svg role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'viewBox="0 0 {width} {height}" width="100%" class="chart" id="{chart_id}">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(_describe(labels, series, unit))}</desc>'
        + "".join(body)
        + "</svg>"
    )
    return Markup(f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>")


LINE_H = 220  # plot height of a line chart (drawing units)


def _line_path(
    values: Sequence[float | None], xs: Sequence[float], y_of: Callable[[float], float]
) -> str:
    """Return the SVG path of one series (a gap where a value is missing)."""
    parts, pen = [], "M"
    for x, v in zip(xs, values, strict=True):
        if v is None or math.isnan(v):
            pen = "M"
            continue
        parts.append(f"{pen}{x:.1f},{y_of(v):.1f}")
        pen = "L"
    return " ".join(parts)


def line_chart(
    *,
    chart_id: str,
    title: str,
    caption: str,
    labels: Sequence[str],
    series: Sequence[Series],
    unit: str = "",
    width: int = WIDTH,
) -> Markup:
    """Return a line chart (one line per series over ordered labels, e.g. weeks) as a ``<figure>``.

    Parameters
    ----------
    chart_id, title, caption, series, unit, width
        As for :func:`bar_chart`.
    labels
        The points along the horizontal axis, in order; the first, the middle and the last
        are written under it (every value is read out by the description).
    """
    finite = [v for s in series for v in s.values if v is not None and not math.isnan(v)]
    step, count = _ticks(max(finite, default=0.0), None)
    top, left, right = TOP, 48, 16
    scale = LINE_H / (step * count)
    xs = [left + (width - left - right) * (i / max(1, len(labels) - 1)) for i in range(len(labels))]

    def y_of(v: float) -> float:
        return top + LINE_H - v * scale

    body = [*_legend(series)]
    body += _y_grid([step * k for k in range(count + 1)], y_of, (left, width - right), unit)
    for i, colour in enumerate(PALETTE[: len(series)]):
        path = _line_path(series[i].values, xs, y_of)
        dash = ' stroke-dasharray="6 3"' if i % 2 else ""
        body.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2.5"{dash}/>')
    shown = sorted({0, len(labels) // 2, len(labels) - 1}) if labels else []
    for i in shown:
        anchor = "start" if i == 0 else "end" if i == len(labels) - 1 else "middle"
        body.append(
            f'<text x="{xs[i]:.1f}" y="{top + LINE_H + 16}" text-anchor="{anchor}" {TEXT}>'
            f"{escape(labels[i])}</text>"
        )
    height = top + LINE_H + 26
    svg = (
        f'<svg role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'viewBox="0 0 {width} {height}" width="100%" class="chart" id="{chart_id}">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(_describe(labels, series, unit))}</desc>'
        + "".join(body)
        + "</svg>"
    )
    return Markup(f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>")


@dataclass(frozen=True)
class Band:
    """One line of a band chart with its interval: a value, low and high per point."""

    name: str
    values: Sequence[float | None]
    low: Sequence[float | None]
    high: Sequence[float | None]


@dataclass(frozen=True)
class BandChart:
    """A line chart over numeric x values with shaded intervals and a target line.

    Attributes
    ----------
    chart_id, title, caption, unit, width
        As for :func:`bar_chart` (``unit`` of the values).
    xs
        The points along the horizontal axis (ordered numbers, e.g. effort multiples).
    x_label
        Formats an x value for the axis and the description (e.g. ``"x1.50"``).
    bands
        The lines; each drawn with its interval shaded.
    target
        A horizontal target line (None: none), named in the description.
    y_max
        Values above it are drawn at it (clipped; the description reads the real values).
    """

    chart_id: str
    title: str
    caption: str
    xs: Sequence[float]
    x_label: Callable[[float], str]
    bands: Sequence[Band]
    unit: str = ""
    target: float | None = None
    y_max: float | None = None
    width: int = WIDTH


def _band_describe(c: BandChart) -> str:
    parts = []
    for i, x in enumerate(c.xs):
        values = ", ".join(
            f"{b.name} {_fmt(b.values[i], c.unit)} ({_fmt(b.low[i], c.unit)} to "
            f"{_fmt(b.high[i], c.unit)})"
            for b in c.bands
        )
        parts.append(f"{c.x_label(x)}: {values}")
    target = "" if c.target is None else f"Target {_fmt(c.target, c.unit)}. "
    return target + "; ".join(parts) + "."


def band_chart(c: BandChart) -> Markup:
    """Return a line chart with interval bands and a target line as an inline-SVG ``<figure>``.

    The lines are drawn solid, then dashed, over a lighter band from each point's low to its
    high; the target is a dark dotted horizontal line labelled on the right.
    """
    finite = [
        v for b in c.bands for v in (*b.values, *b.high) if v is not None and math.isfinite(v)
    ]
    cap = c.y_max if c.y_max is not None else max(finite, default=1.0)
    step, count = _ticks(max(min(max(finite, default=1.0), cap), c.target or 0.0), None)
    top, left, right, bottom = TOP, 48, 60, 30
    scale = LINE_H / (step * count)
    lo_x, hi_x = min(c.xs, default=0.0), max(c.xs, default=1.0)

    def x_of(x: float) -> float:
        return left + (c.width - left - right) * ((x - lo_x) / ((hi_x - lo_x) or 1.0))

    def y_of(v: float) -> float:
        return top + LINE_H - min(v, step * count) * scale

    legend = [Series(b.name, b.values) for b in c.bands]
    body = [*_legend(legend)]
    body += _y_grid([step * k for k in range(count + 1)], y_of, (left, c.width - right), c.unit)
    for i, b in enumerate(c.bands):
        colour = PALETTE[i % len(PALETTE)]
        pts = [
            (x_of(x), lo, hi)
            for x, lo, hi in zip(c.xs, b.low, b.high, strict=True)
            if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi)
        ]
        if pts:
            upper = " ".join(f"{x:.1f},{y_of(hi):.1f}" for x, _, hi in pts)
            lower = " ".join(f"{x:.1f},{y_of(lo):.1f}" for x, lo, _ in reversed(pts))
            body.append(f'<polygon points="{upper} {lower}" fill="{colour}" fill-opacity="0.15"/>')
        finite_vals = [v if v is not None and math.isfinite(v) else None for v in b.values]
        path = _line_path(finite_vals, [x_of(x) for x in c.xs], y_of)
        dash = ' stroke-dasharray="6 3"' if i % 2 else ""
        body.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2.5"{dash}/>')
    if c.target is not None:
        y = y_of(c.target)
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{c.width - right}" y2="{y:.1f}" stroke="#111" '
            'stroke-width="1.5" stroke-dasharray="2 3" class="chart-target"/>'
        )
        body.append(
            f'<text x="{c.width - right + 4}" y="{y + 4:.1f}" {TEXT}>'
            f"target {escape(_fmt(c.target, c.unit))}</text>"
        )
    for x in sorted({lo_x, c.xs[len(c.xs) // 2] if c.xs else lo_x, hi_x}):
        anchor = "start" if x == lo_x else "end" if x == hi_x else "middle"
        body.append(
            f'<text x="{x_of(x):.1f}" y="{top + LINE_H + 16}" text-anchor="{anchor}" {TEXT}>'
            f"{escape(c.x_label(x))}</text>"
        )
    height = top + LINE_H + bottom
    cid = c.chart_id
    svg = (
        f'<svg role="img" aria-labelledby="{cid}-title {cid}-desc" '
        f'viewBox="0 0 {c.width} {height}" width="100%" class="chart" id="{cid}">'
        f'<title id="{cid}-title">{escape(c.title)}</title>'
        f'<desc id="{cid}-desc">{escape(_band_describe(c))}</desc>' + "".join(body) + "</svg>"
    )
    return Markup(f"<figure>{svg}<figcaption>{escape(c.caption)}</figcaption></figure>")
