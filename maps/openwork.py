"""The dispatcher's open-work map: open work orders by service, clustered, with popups."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import folium
from folium.plugins import MarkerCluster

from geo311.city.catalogue import Catalogue, Service
from geo311.city.profile import default_city
from geo311.errors import InputError
from geo311.model import WorkOrder
from maps.base import BulkMarkerCluster, Legend, add_boundary, base_map, fa_class, tooltip

FAST_THRESHOLD = 2000
"""Above this many work orders the map switches to JavaScript-built markers (FastMarkerCluster)."""

_TIME_FORMAT = "%Y-%m-%d %H:%M"

# Builds a marker from a compact row [lat, lon, service index, id, address, opened,
# age, reports, sla due, overdue text]; the popup HTML is built only when opened.
_FAST_CALLBACK = """(function () {
  var S = %s;
  function esc(t) { return String(t).replace(/[&<>"]/g, function (c) {
    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]; }); }
  var icons = S.map(function (s) { return L.divIcon({className: "",
    html: '<div class="g311-pin" style="background:' + s.color + '"><i class="' + s.fa +
          '"></i></div>', iconSize: [26, 26], iconAnchor: [13, 13], popupAnchor: [0, -12]}); });
  return function (row) {
    var s = S[row[2]];
    var marker = L.marker([row[0], row[1]], {icon: icons[row[2]], title: "#" + row[3]});
    marker.bindPopup(function () {
      var badge = row[9] ? '<span class="g311-badge" style="background:#c92a2a">' +
        esc(row[9]) + '</span>' : '<span class="g311-badge" style="background:#2b8a3e">' +
        'within SLA</span>';
      return '<div class="g311-popup"><b>Work order #' + row[3] + '</b> ' + badge +
        '<table><tr><td>Service</td><td>' + esc(s.name) + '</td></tr>' +
        '<tr><td>Address</td><td>' + esc(row[4]) + '</td></tr>' +
        '<tr><td>Opened</td><td>' + esc(row[5]) + '</td></tr>' +
        '<tr><td>Age</td><td>' + esc(row[6]) + '</td></tr>' +
        '<tr><td>Reports</td><td>' + row[7] + '</td></tr>' +
        '<tr><td>SLA due</td><td>' + esc(row[8]) + '</td></tr></table></div>';
    });
    return marker;
  };
})()"""


def format_duration(hours: float) -> str:
    """Return a duration in hours as ``3 h`` or ``4 d 5 h``.

    Parameters
    ----------
    hours : float
        Duration in hours (negative values are shown as 0 h).

    Returns
    -------
    str
        Human-readable duration.
    """
    total = max(0, int(hours))
    days, rest = divmod(total, 24)
    return f"{days} d {rest} h" if days else f"{rest} h"


def overdue_text(work_order: WorkOrder, at: datetime) -> str:
    """Return ``overdue 2 d 3 h`` when the SLA due time has passed at ``at``, else ``""``.

    Parameters
    ----------
    work_order : WorkOrder
        The work order.
    at : datetime
        The moment the map shows (timezone-aware).

    Returns
    -------
    str
        The badge text, empty when within SLA.
    """
    if work_order.sla_due >= at:
        return ""
    return "overdue " + format_duration((at - work_order.sla_due).total_seconds() / 3600)


def popup_html(work_order: WorkOrder, service: Service, *, at: datetime, tz: ZoneInfo) -> str:
    """Return the popup of one work order: id, service, address, opened, age, reports, SLA.

    Parameters
    ----------
    work_order : WorkOrder
        The work order.
    service : Service
        Its catalogue entry.
    at : datetime, keyword-only
        The moment the map shows; age and the overdue badge are relative to it.
    tz : ZoneInfo, keyword-only
        Time zone the times are shown in.

    Returns
    -------
    str
        Escaped HTML.
    """
    late = overdue_text(work_order, at)
    badge = (
        f'<span class="g311-badge" style="background:#c92a2a">{html.escape(late)}</span>'
        if late
        else '<span class="g311-badge" style="background:#2b8a3e">within SLA</span>'
    )
    age = format_duration((at - work_order.opened).total_seconds() / 3600)
    rows = [
        ("Service", service.name),
        ("Address", work_order.address or f"{work_order.lat:.5f}, {work_order.lon:.5f}"),
        ("Opened", work_order.opened.astimezone(tz).strftime(_TIME_FORMAT)),
        ("Age", age),
        ("Reports", str(work_order.report_count)),
        ("SLA due", work_order.sla_due.astimezone(tz).strftime(_TIME_FORMAT)),
    ]
    cells = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return (
        f'<div class="g311-popup"><b>Work order #{work_order.work_order_id}</b> {badge}'
        f"<table>{cells}</table></div>"
    )


def _pin_html(service: Service) -> str:
    return (
        f'<div class="g311-pin" style="background:{html.escape(service.color)}">'
        f'<i class="{fa_class(service.icon)}"></i></div>'
    )


def _grouped(shown: Sequence[WorkOrder], catalogue: Catalogue) -> list[tuple[str, list[WorkOrder]]]:
    # One group per service, in catalogue order (unknown codes last).
    by_service: dict[str, list[WorkOrder]] = {}
    for w in shown:
        by_service.setdefault(w.service_code, []).append(w)
    order = list(catalogue.services)

    def rank(code: str) -> int:
        return order.index(code) if code in order else len(order)

    return [(code, by_service[code]) for code in sorted(by_service, key=rank)]


def _fast_layer(
    m: folium.Map,
    service: Service,
    items: Sequence[WorkOrder],
    name: str,
    *,
    at: datetime,
    tz: ZoneInfo,
) -> int:
    # Markers built in the browser from compact rows; returns how many are overdue.
    spec = json.dumps(
        [{"name": service.name, "color": service.color, "fa": fa_class(service.icon)}]
    )
    rows = []
    overdue = 0
    for w in items:
        late = overdue_text(w, at)
        overdue += bool(late)
        rows.append(
            [
                round(w.lat, 6),
                round(w.lon, 6),
                0,
                w.work_order_id,
                w.address or f"{w.lat:.5f}, {w.lon:.5f}",
                w.opened.astimezone(tz).strftime(_TIME_FORMAT),
                format_duration((at - w.opened).total_seconds() / 3600),
                w.report_count,
                w.sla_due.astimezone(tz).strftime(_TIME_FORMAT),
                late,
            ]
        )
    BulkMarkerCluster(rows, _FAST_CALLBACK % spec, name).add_to(m)
    return overdue


def _marker_layer(
    m: folium.Map,
    service: Service,
    items: Sequence[WorkOrder],
    name: str,
    *,
    at: datetime,
    tz: ZoneInfo,
) -> int:
    # One folium Marker with its popup per work order; returns how many are overdue.
    cluster = MarkerCluster(name=name)
    icon_html = _pin_html(service)
    overdue = 0
    for w in items:
        overdue += bool(overdue_text(w, at))
        folium.Marker(
            [w.lat, w.lon],
            icon=folium.DivIcon(
                html=icon_html, icon_size=(26, 26), icon_anchor=(13, 13), class_name=""
            ),
            popup=folium.Popup(popup_html(w, service, at=at, tz=tz), max_width=320),
            tooltip=tooltip(f"#{w.work_order_id} {service.name}"),
        ).add_to(cluster)
    cluster.add_to(m)
    return overdue


def _empty_or_centred_map(shown: Sequence[WorkOrder]) -> folium.Map:
    if not shown:
        return base_map()
    lat = sum(w.lat for w in shown) / len(shown)
    lon = sum(w.lon for w in shown) / len(shown)
    return base_map(location=(lat, lon), zoom_start=15)


def open_work_map(
    work_orders: Sequence[WorkOrder],
    catalogue: Catalogue,
    *,
    at: datetime,
    boundary: str | Path | None = None,
    timezone: str | None = None,
    fast_threshold: int = FAST_THRESHOLD,
    open_only: bool = True,
) -> folium.Map:
    """Draw open work orders for a dispatcher: one clustered layer per service.

    Parameters
    ----------
    work_orders : sequence of WorkOrder
        The work orders to draw.
    catalogue : Catalogue
        Service names, colours and icons.
    at : datetime, keyword-only
        The moment the map shows (timezone-aware); ages and overdue badges use it.
    boundary : str or Path, keyword-only, optional
        District outline GeoJSON to draw.
    timezone : str, keyword-only, optional
        Time zone of the times in popups (default: the city's, ``data/city.toml``).
    fast_threshold : int, keyword-only
        With more work orders than this, markers are built in the browser from compact
        rows (FastMarkerCluster style) instead of one folium Marker each.
    open_only : bool, keyword-only
        Skip work orders whose state is not in the catalogue's open group.

    Returns
    -------
    folium.Map
        The map: a LayerControl, a legend and "© OpenStreetMap contributors".

    Raises
    ------
    InputError
        If ``at`` is naive.
    """
    if at.tzinfo is None:
        raise InputError("at must be timezone-aware, e.g. 2015-10-06T07:00-04:00", field="at")
    tz = ZoneInfo(timezone or default_city().timezone)
    open_codes = set(catalogue.open_state_codes())
    shown = [w for w in work_orders if not open_only or w.status in open_codes]
    m = _empty_or_centred_map(shown)
    add_boundary(m, boundary)
    layer = _fast_layer if len(shown) > fast_threshold else _marker_layer
    legend_rows = []
    overdue = 0
    for code, items in _grouped(shown, catalogue):
        service = catalogue.service(code)
        name = f"{service.name} ({len(items)})"
        legend_rows.append((service.color, name))
        overdue += layer(m, service, items, name, at=at, tz=tz)
    folium.LayerControl(collapsed=False).add_to(m)
    when = at.astimezone(tz).strftime(_TIME_FORMAT)
    Legend(
        f"Open work, {when}",
        legend_rows,
        extra_html=(
            f"<div>{len(shown)} work orders, "
            f'<span class="g311-badge" style="background:#c92a2a">{overdue} overdue</span></div>'
        ),
    ).add_to(m)
    if shown:
        m.fit_bounds(
            [
                [min(w.lat for w in shown), min(w.lon for w in shown)],
                [max(w.lat for w in shown), max(w.lon for w in shown)],
            ],
            padding=(20, 20),
        )
    return m
