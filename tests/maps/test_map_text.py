"""Text shown in the folium maps' popups and tooltips is escaped: it never becomes HTML or JS."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import folium

from maps.base import tooltip
from maps.routes import CrewRoute, RouteStop, routes_map

TZ = ZoneInfo("America/New_York")
T0 = datetime(2015, 10, 6, 7, 0, tzinfo=TZ)
LINK = '<a href="https://evil.example/">free parking</a>'
IMAGE = "<img src=x onerror=alert(1)>"


def test_tooltip_text_cannot_end_folium_s_template_literal_or_make_html() -> None:
    tip = tooltip("crew `${alert(1)}` \\ <b>A</b> & co")
    assert tip.text == "crew &#96;&#36;{alert(1)}&#96; &#92; &lt;b&gt;A&lt;/b&gt; &amp; co"
    m = folium.Map()
    folium.Marker([42.35, -71.08], tooltip=tip).add_to(m)
    page = m.get_root().render()
    assert "`${alert(1)}`" not in page and "<b>A</b>" not in page


def test_a_stop_label_with_markup_is_escaped_in_the_routes_map() -> None:
    stops = (
        RouteStop(1, 42.348, -71.085, T0 + timedelta(minutes=25), f"Pothole, {LINK}", "j1"),
        RouteStop(2, 42.351, -71.081, T0 + timedelta(minutes=50), f"Light, 1 {IMAGE} St", "j2"),
    )
    route = CrewRoute(
        "A", "#1c7ed6", ((42.3445, -71.0755), (42.348, -71.085)), stops, (42.3445, -71.0755)
    )
    page = routes_map([route]).get_root().render()
    for raw in (LINK, IMAGE):
        assert raw not in page
    assert "&lt;a href=&quot;https://evil.example/&quot;&gt;free parking&lt;/a&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
