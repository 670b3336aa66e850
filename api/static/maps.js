// geo311 staff maps: draws the page's data (#map-data) with the vendored Leaflet.
// The base map is geo311's own street tiles: without network the streets still draw.
// Plan maps number the stops in route order and link each marker to its table row (and back);
// the console's map redraws the crews' progress from a small JSON endpoint every few seconds.
(function () {
  "use strict";
  var el = document.getElementById("map");
  var dataEl = document.getElementById("map-data");
  if (!el || typeof L === "undefined") { return; }
  var data = dataEl ? JSON.parse(dataEl.textContent) : [];
  var many = Array.isArray(data) && data.length > 1500;  // canvas draws thousands fast
  var map = L.map(el, { scrollWheelZoom: false, preferCanvas: many });
  window.geo311Base(map);  // basemap.js: the city's streets (offline), OSM online optional
  var colors = { overdue: "#8b0000", due: "#6b4e00", ok: "#0a5d2a" };
  // route colours: none is an SLA colour (the server sends each route's; this is the fallback)
  var palette = ["#0b4fb3", "#9c2f8e", "#006d6d", "#6f2da8", "#4b5563", "#4f46c8", "#00658a"];
  var bounds = [];
  // Leaflet puts a tooltip's string in as HTML: labels hold citizens' text (addresses), so
  // they go in as text, escaped.
  var entities = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) { return entities[c]; });
  }
  // The console's words for the crews' progress, in the page's language (#maps-messages, a
  // JSON data block the page writes; English when the page has none).
  var wordsEl = document.getElementById("maps-messages");
  var words = wordsEl ? JSON.parse(wordsEl.textContent) : {};
  var english = {
    stop_tip: "{crew} stop {n}: {label} ({state})",
    crew_at: "Crew {crew}, {when}",
    last_position: "Last shared position of crew {crew} at {when}",
    within: " (within {m} m)",
    progress: "Crews' published stops on {day}: {done} done, {cant} can't do, {todo} to do (updated {clock} UTC)",
    no_plan: "No plan published for {day} yet."
  };
  function say(key, vars) {
    return String(words[key] || english[key] || key).replace(/\{(\w+)\}/g, function (m, name) {
      return vars && vars[name] != null ? String(vars[name]) : m;
    });
  }
  var stateWords = words.states || {};
  function point(lat, lon, color, label, radius) {
    bounds.push([lat, lon]);
    return L.circleMarker([lat, lon], {
      radius: radius, color: "#111", weight: 1, fillColor: color, fillOpacity: 0.9
    }).bindTooltip(esc(label)).addTo(map);
  }
  function numbered(s, color) {
    bounds.push([s.lat, s.lon]);
    var icon = L.divIcon({
      className: s.late ? "stop-icon late" : "stop-icon", iconSize: [24, 24], iconAnchor: [12, 12],
      html: '<span style="background:' + color + '">' + esc(s.order) + "</span>"
    });
    return L.marker([s.lat, s.lon], { icon: icon, title: s.order + ". " + s.label, keyboard: false })
      .bindTooltip(esc(s.order + ". " + s.label)).addTo(map);
  }
  function highlight(row) {
    var old = document.querySelectorAll(".stop-row.selected");
    for (var i = 0; i < old.length; i++) { old[i].classList.remove("selected"); }
    if (row) { row.classList.add("selected"); }
  }
  function link(marker, jobId) {
    // a marker selects its row (and scrolls to it); a row's number shows its marker
    var row = document.getElementById("stop-" + jobId);
    if (!row) { return; }
    marker.on("click", function () {
      highlight(row);
      row.scrollIntoView({ block: "center" });
    });
    row.addEventListener("mouseenter", function () { marker.openTooltip(); });
    row.addEventListener("mouseleave", function () { marker.closeTooltip(); });
    row.addEventListener("focusin", function () { marker.openTooltip(); highlight(row); });
    var num = row.querySelector(".num");
    if (num) {
      num.addEventListener("click", function () { map.panTo(marker.getLatLng()); marker.openTooltip(); highlight(row); });
    }
  }
  var kind = el.getAttribute("data-kind");
  if (kind === "work") {
    data.forEach(function (p) {
      var m = point(p[0], p[1], colors[p[4]] || "#333", "wo-" + p[2] + " " + p[3], 6);
      m.on("click", function () { window.location.href = "/dispatch/workorders/" + p[2]; });
    });
  } else if (kind === "plan" || kind === "crew") {
    (data.routes || []).forEach(function (r, i) {
      var color = r.colour || palette[i % palette.length];
      if (r.line && r.line.length > 1) { L.polyline(r.line, { color: color, weight: 4, opacity: 0.85 }).addTo(map); }
      r.stops.forEach(function (s, k) {
        if (s.order === undefined) { s.order = k + 1; }
        link(numbered(s, color), s.job_id);
      });
    });
    (data.depots || []).forEach(function (d) { point(d.lat, d.lon, "#fff", d.label, 9); });
  }
  el.setAttribute("data-drawn", String(bounds.length));
  var area = el.getAttribute("data-bounds");  // the console opens on the district it plans
  if (area) { map.fitBounds(JSON.parse(area), { padding: [10, 10] }); }
  else if (bounds.length) { map.fitBounds(bounds, { padding: [20, 20], maxZoom: 17 }); }
  else { map.setView([42.347, -71.08], 14); }
  window.geo311Map = map;

  // The crews' progress on the console map, polled (no reload).
  var progressUrl = el.getAttribute("data-progress");
  var status = document.getElementById("progress");
  if (!progressUrl) { return; }
  var layer = L.layerGroup().addTo(map);
  var fill = { done: "#1f6feb", cant_do: "#e8a200" };
  function clock(iso) {  // the browser's local time of an ISO moment, "08:42"
    var at = new Date(iso);
    return isNaN(at) ? String(iso) : at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
  }
  function draw(body) {
    layer.clearLayers();
    (body.stops || []).forEach(function (s) {
      var text = say("stop_tip", {crew: s.crew_id, n: s.order, label: s.label,
        state: stateWords[s.state] || s.state.replace("_", " ")});
      if (s.reason) { text += " — " + s.reason; }
      if (s.note) { text += ": " + s.note; }
      L.marker([s.lat, s.lon], {
        keyboard: false,
        icon: L.divIcon({ className: "progress-icon " + s.state, iconSize: [14, 14],
          html: '<span style="background:' + (fill[s.state] || "#fff") + '"></span>' })
      }).bindTooltip(esc(text)).addTo(layer);
    });
    (body.positions || []).forEach(function (p) {
      var when = p.clock || clock(p.at);
      var label = say("crew_at", {crew: p.crew_id, when: when});
      L.marker([p.lat, p.lon], {
        keyboard: false, zIndexOffset: 1000,
        icon: L.divIcon({ className: "crew-position-icon", iconSize: null,
          html: '<span class="crew-dot"></span><span class="crew-label">' + esc(label) + "</span>" })
      }).bindTooltip(esc(say("last_position", {crew: p.crew_id, when: when}) +
        (p.accuracy_m != null ? say("within", {m: Math.round(p.accuracy_m)}) : ""))).addTo(layer);
    });
    el.setAttribute("data-crew-positions", String((body.positions || []).length));
    var c = body.counts || {};
    el.setAttribute("data-progress-stops", String((body.stops || []).length));
    if (status) {
      status.textContent = (body.stops || []).length
        ? say("progress", {day: body.day, done: c.done || 0, cant: c.cant_do || 0,
            todo: (body.stops || []).length - (c.done || 0) - (c.cant_do || 0), clock: body.read_at.slice(11, 16)})
        : say("no_plan", {day: body.day});
    }
  }
  function poll() {
    fetch(progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { if (body) { draw(body); } })
      .catch(function () { /* offline: keep the last drawing */ });
  }
  poll();
  setInterval(poll, 10000);
})();
