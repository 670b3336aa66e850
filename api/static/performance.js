// The public performance page's map: open and recently fixed work (points only, no text of
// residents). Drawn with the vendored Leaflet on geo311's own street tiles (offline).
(function () {
  "use strict";
  var el = document.getElementById("map");
  var dataEl = document.getElementById("performance-points");
  if (!el || !dataEl || typeof L === "undefined") { return; }
  var points = JSON.parse(dataEl.textContent);
  var map = L.map(el, { scrollWheelZoom: false, preferCanvas: points.length > 1500 });
  window.geo311Base(map);  // basemap.js: the city's streets (offline), OSM online optional
  var colours = { open: "#b35900", fixed: "#0a5d2a" };
  var bounds = [];
  points.forEach(function (p) {
    var label = document.createElement("span");  // text, never HTML
    label.textContent = p[3] + " " + (el.getAttribute(p[2] === "fixed" ? "data-fixed" : "data-open") || "");
    bounds.push([p[0], p[1]]);
    L.circleMarker([p[0], p[1]], {
      radius: 5, color: "#111", weight: 1, fillColor: colours[p[2]] || "#333", fillOpacity: 0.85
    }).bindTooltip(label).addTo(map);
  });
  el.setAttribute("data-drawn", String(bounds.length));
  if (bounds.length) { map.fitBounds(bounds, { padding: [20, 20], maxZoom: 16 }); }
  else { map.setView([0, 0], 2); }
})();
