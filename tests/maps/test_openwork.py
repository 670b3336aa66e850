from __future__ import annotations

import os
import re
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from geo311.errors import InputError
from geo311.model import WorkOrder
from maps.base import write_map
from maps.openwork import open_work_map, overdue_text, popup_html
from tests.maps.synthetic import synthetic_work_orders

REPO = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("America/New_York")
AT = datetime(2015, 10, 6, 7, 0, tzinfo=TZ)
BOUNDARY = REPO / "data" / "osm" / "boston_backbay_boundary.geojson"
# Screenshots go to GEO311_SCREENSHOT_DIR (e.g. docs/img to refresh the README) or a temp dir.
IMG = Path(
    os.environ.get("GEO311_SCREENSHOT_DIR", Path(tempfile.gettempdir()) / "geo311-screenshots")
)
IMG.mkdir(parents=True, exist_ok=True)


def cdn_urls(html_text: str) -> list[str]:
    """Return every external script/stylesheet URL a generated map references."""
    return sorted(set(re.findall(r'(?:src|href)="(https?://[^"]+)"', html_text)))


JS_COUNT_MARKERS = """() => {
  let clusters = 0, markers = 0, plain = 0;
  for (const k of Object.keys(window)) {
    let v; try { v = window[k]; } catch (e) { continue; }
    if (v instanceof L.MarkerClusterGroup) { clusters += 1; markers += v.getLayers().length; }
  }
  return {clusters: clusters, markers: markers};
}"""

JS_MAP = """() => {
  for (const k of Object.keys(window)) {
    let v; try { v = window[k]; } catch (e) { continue; }
    if (v instanceof L.Map) return k;
  }
  return null;
}"""


def _wo(**kw: object) -> WorkOrder:
    base = dict(
        work_order_id=7,
        service_group="potholes",
        service_code="pothole",
        lat=42.35,
        lon=-71.08,
        opened=AT - timedelta(hours=50),
        sla_due=AT - timedelta(hours=2),
        report_count=3,
        status="open",
        address="145 Ipswich St",
    )
    base.update(kw)
    return WorkOrder(**base)  # type: ignore[arg-type]


def test_popup_shows_id_service_address_age_reports_sla_and_overdue_badge(catalogue) -> None:
    text = popup_html(_wo(), catalogue.service("pothole"), at=AT, tz=TZ)
    assert "Work order #7" in text
    assert "Pothole repair" in text and "145 Ipswich St" in text
    assert "2015-10-04 05:00" in text  # opened, local time
    assert "2 d 2 h" in text  # age
    assert "<td>3</td>" in text
    assert "2015-10-06 05:00" in text and "overdue 2 h" in text


def test_within_sla_has_no_overdue_text() -> None:
    assert overdue_text(_wo(sla_due=AT + timedelta(hours=1)), AT) == ""


def test_popup_escapes_addresses(catalogue) -> None:
    text = popup_html(_wo(address="<script>x</script>"), catalogue.service("pothole"), at=AT, tz=TZ)
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_naive_time_is_refused(catalogue) -> None:
    with pytest.raises(InputError, match="at must be timezone-aware"):
        open_work_map([_wo()], catalogue, at=datetime(2015, 10, 6, 7))


def test_html_has_layer_per_service_legend_outline_and_osm_attribution(catalogue, tmp_path) -> None:
    orders = synthetic_work_orders(40, catalogue, at=AT, seed=3, closed_share=0.25)
    shown = [w for w in orders if w.status == "open"]
    path = write_map(
        open_work_map(orders, catalogue, at=AT, boundary=BOUNDARY), tmp_path / "o.html"
    )
    text = path.read_text()
    assert "OpenStreetMap\\u003c/a\\u003e contributors" in text
    for code in {w.service_code for w in shown}:
        n = sum(1 for w in shown if w.service_code == code)
        assert f"{catalogue.service(code).name} ({n})" in text
    assert "L.control.layers" in text and "Back Bay" in text
    assert f"{len(shown)} work orders" in text
    assert "Leaflet.awesome-markers" not in text  # unused assets are not loaded


def test_fast_mode_keeps_every_work_order_as_a_row(catalogue, tmp_path) -> None:
    orders = synthetic_work_orders(300, catalogue, at=AT, seed=5)
    text = write_map(
        open_work_map(orders, catalogue, at=AT, fast_threshold=100), tmp_path / "f.html"
    ).read_text()
    assert "addLayers(markers)" in text
    assert len(re.findall(r"Boylston St \\u003c\\u0026\\u003e", text)) == 300


@pytest.mark.browser
@pytest.mark.parametrize("fast", [False, True], ids=["markers", "fast"])
def test_open_work_map_in_browser(catalogue, site_dir: Path, open_map, fast: bool) -> None:
    orders = synthetic_work_orders(60, catalogue, at=AT, seed=11, closed_share=0.2)
    shown = [w for w in orders if w.status == "open"]
    m = open_work_map(
        orders, catalogue, at=AT, boundary=BOUNDARY, fast_threshold=10 if fast else 10_000
    )
    path = write_map(m, site_dir / "open_work.html")
    text = path.read_text()
    assert not cdn_urls(text)  # every script and stylesheet is shipped with geo311
    assert '<script src="assets/leaflet-1.9.3/dist/leaflet.js">' in text
    mp = open_map(path)
    page = mp.page
    page.wait_for_function("() => window.L && document.querySelector('.leaflet-marker-icon')")
    counts = page.evaluate(JS_COUNT_MARKERS)
    assert counts["markers"] == len(shown)
    assert counts["clusters"] == len({w.service_code for w in shown})
    assert (
        page.locator(".leaflet-control-attribution").inner_text().find("OpenStreetMap contributors")
        >= 0
    )
    # click one real marker: zoom until it is out of its cluster, then click its icon
    target = shown[0].work_order_id
    page.evaluate(
        """(id) => new Promise((done) => {
          for (const k of Object.keys(window)) {
            const v = window[k];
            if (!(v instanceof L.MarkerClusterGroup)) continue;
            for (const mk of v.getLayers()) {
              const t = (mk.options.title || '') + ' ' + (mk.getTooltip() ? mk.getTooltip().getContent() : '');
              if (t.includes('#' + id + ' ') || mk.options.title === '#' + id) {
                v.zoomToShowLayer(mk, () => { mk._icon.id = 'g311-target'; done(); });
                return;
              }
            }
          }
        })""",
        target,
    )
    page.wait_for_timeout(400)
    page.click("#g311-target")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible", timeout=5000)
    assert f"Work order #{target}" in popup.inner_text()
    mp.assert_clean()
    if not fast:
        page.evaluate("() => document.querySelector('.leaflet-popup-close-button').click()")
        page.evaluate(f"() => {{ const m = window[{_map_name(page)!r}]; m.setZoom(15); }}")
        page.wait_for_timeout(600)
        IMG.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(IMG / "open_work.png"))


def _map_name(page) -> str:
    return page.evaluate(JS_MAP)


@pytest.mark.browser
@pytest.mark.slow
def test_100k_open_work_map_draws_every_marker(catalogue, site_dir: Path, open_map) -> None:
    # how fast it loads is bench/map_bench.py --browser (with a baseline), not a test
    orders = synthetic_work_orders(100_000, catalogue, at=AT, seed=1)
    path = write_map(open_work_map(orders, catalogue, at=AT), site_dir / "open_100k.html")
    mp = open_map(path, timeout_ms=120_000)
    mp.page.wait_for_function(
        "() => document.querySelector('.leaflet-marker-icon')", timeout=120_000
    )
    counts = mp.page.evaluate(JS_COUNT_MARKERS)
    assert counts["markers"] == 100_000
    mp.assert_clean()
