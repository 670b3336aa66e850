// geo311 staff maps: draws the page's data (#map-data) with the vendored Leaflet.
// The base map is geo311's own street tiles: without network the streets still draw.
(function () {
  "use strict";
  var el = document.getElementById("map");
  var dataEl = document.getElementById("map-data");
  if (!el || !dataEl || typeof L === "undefined") { return; }
  var data = JSON.parse(dataEl.textContent);
  var many = Array.isArray(data) && data.length > 1500;  // canvas draws thousands fast
  var map = L.map(el, { scrollWheelZoom: false, preferCanvas: many });
  window.geo311Base(map);  // basemap.js: the city's streets (offline), OSM online optional
  var colors = { overdue: "#8b0000", due: "#6b4e00", ok: "#0a5d2a" };
  var palette = ["#0b3d91", "#8b0000", "#0a5d2a", "#6b2c91", "#b35900", "#005f73"];
  var bounds = [];
  // Leaflet puts a tooltip's string in as HTML: labels hold citizens' text (addresses), so
  // they go in as text, escaped.
  var entities = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) { return entities[c]; });
  }
  function point(lat, lon, color, label, radius) {
    bounds.push([lat, lon]);
    return L.circleMarker([lat, lon], {
      radius: radius, color: "#111", weight: 1, fillColor: color, fillOpacity: 0.9
    }).bindTooltip(esc(label)).addTo(map);
  }
  if (el.getAttribute("data-kind") === "work") {
    data.forEach(function (p) { point(p[0], p[1], colors[p[4]] || "#333", "wo-" + p[2] + " " + p[3], 6); });
  } else if (el.getAttribute("data-kind") === "plan" || el.getAttribute("data-kind") === "crew") {
    (data.routes || []).forEach(function (r, i) {
      var color = palette[i % palette.length];
      if (r.line && r.line.length > 1) { L.polyline(r.line, { color: color, weight: 4 }).addTo(map); }
      r.stops.forEach(function (s, k) { point(s.lat, s.lon, color, (k + 1) + ". " + s.label, 8); });
    });
    (data.depots || []).forEach(function (d) { point(d.lat, d.lon, "#fff", d.label, 9); });
  }
  el.setAttribute("data-drawn", String(bounds.length));
  if (bounds.length) { map.fitBounds(bounds, { padding: [20, 20], maxZoom: 17 }); }
  else { map.setView([42.347, -71.08], 14); }
  window.geo311Map = map;
})();
