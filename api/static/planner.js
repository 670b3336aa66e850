// The planner's pages: the dashboard's two maps (drawn with the vendored Leaflet on geo311's
// own street tiles, works offline) and the what-if page, which polls its progress and shows
// the result in place when the replay is done (no reload).
(function () {
  "use strict";

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function newMap(el) {
    var map = L.map(el, { scrollWheelZoom: false });
    window.geo311Base(map);  // basemap.js: the city's streets (offline), OSM online optional
    return map;
  }

  function fit(map, el, bounds, drawn) {
    el.setAttribute("data-drawn", String(drawn));
    if (bounds && bounds.length) { map.fitBounds(bounds, { padding: [20, 20], maxZoom: 16 }); }
    else { map.setView([0, 0], 2); }
  }

  function workMap() {
    var el = document.getElementById("planner-work-map");
    var points = data("planner-work-data");
    if (!el || !points) { return; }
    var map = newMap(el);
    var bounds = [];
    points.forEach(function (p) {
      var label = document.createElement("span");  // text, never HTML
      label.textContent = "wo-" + p[5] + " · " + p[2] + " · open " + p[3] + " days" +
        (p[4] ? " · overdue" : "");
      bounds.push([p[0], p[1]]);
      L.circleMarker([p[0], p[1]], {
        radius: 6, color: "#111", weight: 1, fillOpacity: 0.9,
        fillColor: p[4] ? "#8b0000" : "#0a5d2a"
      }).bindTooltip(label).addTo(map);
    });
    fit(map, el, bounds.length ? bounds : data("planner-extent"), bounds.length);
  }

  function hotspotMap() {
    var el = document.getElementById("planner-hotspot-map");
    var cells = data("planner-hotspot-data");
    if (!el || !cells) { return; }
    var map = newMap(el);
    var layer = L.geoJSON(cells, {
      style: function (f) {
        return { color: "#333", weight: 1, fillColor: f.properties.colour, fillOpacity: 0.6 };
      },
      onEachFeature: function (f, l) {
        var label = document.createElement("span");
        label.textContent = f.properties.label + " · " + f.properties.count + " requests";
        l.bindTooltip(label);
      }
    }).addTo(map);
    // where most requests are (the cells are among them); else the cells themselves
    var bounds = data("planner-extent") || (cells.features.length ?
      [layer.getBounds().getSouthWest(), layer.getBounds().getNorthEast()] : null);
    fit(map, el, bounds, cells.features.length);
  }

  function whatIf() {
    var box = document.querySelector("[data-whatif-url]");
    if (!box || !window.fetch) { return; }
    var url = box.getAttribute("data-whatif-url");
    var state = document.getElementById("whatif-state");
    function show(text, status) {
      state.textContent = "State: ";
      var strong = document.createElement("strong");
      strong.textContent = status;
      state.appendChild(strong);
      state.appendChild(document.createTextNode(text));
    }
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          var hint = document.getElementById("whatif-hint");
          if (s.status === "done") {
            show(s.wall_time_s ? " (" + s.wall_time_s.toFixed(1) + " s)" : "", "done");
            if (hint) { hint.remove(); }
            document.getElementById("whatif-result").innerHTML = s.result_html;  // server-rendered
            return;
          }
          if (s.status === "failed") {
            show("", "failed");
            if (hint) { hint.remove(); }
            var p = document.createElement("p");
            p.className = "error";
            p.setAttribute("role", "alert");
            p.textContent = s.error;
            document.getElementById("whatif-error").appendChild(p);
            return;
          }
          var done = (s.progress !== null && s.progress !== undefined) ?
            " · " + Math.round(100 * s.progress) + " % done" : "";
          show(s.queued ? " · waiting for a free worker" :
               (s.elapsed_s !== null ? " · " + Math.round(s.elapsed_s) + " s elapsed" + done : ""),
               "running");
          window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    window.setTimeout(poll, 500);
  }

  if (typeof L !== "undefined" && window.geo311Base) { workMap(); hotspotMap(); }
  whatIf();
})();
