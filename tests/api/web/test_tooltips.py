"""Citizens' text in the staff maps' tooltips is shown as text: no link or image is made of it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from api.web.templating import SECURITY_HEADERS, STATIC_DIR, vendor
from maps.assets import vendor_file
from tests._browser import BLANK_TILE, Watch, block_network, record_errors

ORIGIN = "http://127.0.0.1:9"  # never reached: every request is answered by the test
LINK = '<a href="https://evil.example/">free parking</a>'
IMAGE = "<img src=x onerror=\"document.body.dataset.pwned='yes'\">"
PLAN = {
    "routes": [
        {
            "crew_id": "A",
            "line": [[42.35, -71.08], [42.351, -71.081]],
            "stops": [
                {"lat": 42.35, "lon": -71.08, "label": f"Pothole repair, {LINK}"},
                {"lat": 42.351, "lon": -71.081, "label": f"Streetlight, 1 {IMAGE} St"},
            ],
        }
    ],
    "depots": [{"lat": 42.349, "lon": -71.079, "label": "Yard & <b>depot</b>"}],
}
WORK = [[42.35, -71.08, 7, f"Graffiti {LINK}", "overdue"]]


def _tojson(data: Any) -> str:
    # as Jinja's tojson writes the pages' data blocks
    out = json.dumps(data)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        out = out.replace(char, code)
    return out


def _page(kind: str, data: Any) -> str:
    return (
        "<!doctype html><html lang='en'><head><title>map</title>"
        f"<link rel='stylesheet' href='{vendor('leaflet', 'dist/leaflet.css')}'></head><body>"
        f"<div id='map' data-kind='{kind}' style='height:400px'></div>"
        f"<script type='application/json' id='map-data'>{_tojson(data)}</script>"
        f"<script src='{vendor('leaflet', 'dist/leaflet.js')}'></script>"
        "<script src='/static/staff/basemap.js'></script>"
        "<script src='/static/staff/maps.js'></script></body></html>"
    )


def _serve(page: Any, body: str) -> None:
    files = {
        vendor("leaflet", "dist/leaflet.js"): vendor_file("leaflet", "dist/leaflet.js"),
        vendor("leaflet", "dist/leaflet.css"): vendor_file("leaflet", "dist/leaflet.css"),
        "/static/staff/maps.js": STATIC_DIR / "maps.js",
        "/static/staff/basemap.js": STATIC_DIR / "basemap.js",
        vendor("leaflet", "dist/images/layers.png"): vendor_file(
            "leaflet", "dist/images/layers.png"
        ),
    }

    def answer(route: Any) -> None:
        path = route.request.url[len(ORIGIN) :]
        if path == "/":
            # the staff pages' headers: the CSP too
            route.fulfill(body=body, content_type="text/html", headers=SECURITY_HEADERS)
        elif path in files:
            route.fulfill(path=str(files[path]))
        elif path.startswith("/tiles/streets/"):  # the base map (drawn by the app; here blank)
            route.fulfill(body=BLANK_TILE, content_type="image/png")
        else:
            route.fallback()

    page.route(f"{ORIGIN}/**", answer)


@pytest.mark.browser
@pytest.mark.parametrize(("kind", "data"), [("plan", PLAN), ("work", WORK)])
def test_tooltips_show_citizens_text_as_text(chromium: Any, kind: str, data: Any) -> None:
    context = chromium.new_context(viewport={"width": 1366, "height": 800})
    watch = Watch()
    block_network(context, watch, allow=lambda url: False)
    page = context.new_page()
    record_errors(page, watch)
    _serve(page, _page(kind, data))
    try:
        page.goto(f"{ORIGIN}/", wait_until="load")
        page.wait_for_selector("#map[data-drawn]")
        texts = page.evaluate(
            """() => {
                 geo311Map.eachLayer(l => { if (l.getTooltip && l.getTooltip()) l.openTooltip(); });
                 return [...document.querySelectorAll('.leaflet-tooltip')].map(t => t.textContent);
               }"""
        )
        labels = (
            [s["label"] for r in data["routes"] for s in r["stops"]]
            + [d["label"] for d in data["depots"]]
            if kind == "plan"
            else [f"wo-{p[2]} {p[3]}" for p in data]
        )
        assert sorted(texts) == sorted(
            (f"{i + 1}. {label}" if kind == "plan" and i < 2 else label)
            for i, label in enumerate(labels)
        )
        made = "document.querySelectorAll('.leaflet-tooltip a, .leaflet-tooltip img, .leaflet-tooltip b').length"
        assert page.evaluate(made) == 0
        assert page.evaluate("document.body.dataset.pwned") is None
        watch.assert_clean()
    finally:
        context.close()
