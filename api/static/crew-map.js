// geo311 crew view: the day's stops as numbered markers in route order (finished ones grey,
// the next one highlighted) and the "next stop" card, both kept current as the crew acts.
// window.geo311CrewRefresh() re-reads the stops' states from the page (crew.js calls it).
(function () {
  "use strict";
  var dataEl = document.getElementById("crew-data");
  if (!dataEl) { return; }
  var day = JSON.parse(dataEl.textContent);
  var map = window.geo311Map;
  var el = document.getElementById("map");
  var FINISHED = { done: true, cant_do: true };
  var markers = {};

  function stateOf(stop) {
    var li = document.getElementById("stop-" + stop.job_id);
    return (li && li.getAttribute("data-state")) || stop.state || "planned";
  }
  function icon(stop, kind) {
    return L.divIcon({
      className: "stop-pin" + (kind ? " " + kind : ""),
      html: String(stop.order), iconSize: [30, 30], iconAnchor: [15, 15]
    });
  }
  function title(stop, kind) {
    var what = window.geo311Say(kind === "finished" ? "finished" : (kind === "next" ? "next_stop" : "to_do"));
    return window.geo311Say("stop_title", {n: stop.order, what: what, where: stop.address || stop.service || ""});
  }
  function drawMap() {
    if (!map || typeof L === "undefined" || !el) { return; }
    var shape = document.getElementById("map-data");
    var route = shape ? (JSON.parse(shape.textContent).routes || [])[0] : null;
    if (route && route.line && route.line.length > 1) {
      L.polyline(route.line, { color: "#0b3d91", weight: 4, opacity: 0.7, interactive: false }).addTo(map);
    }
    var bounds = [];
    day.stops.forEach(function (stop) {
      if (stop.lat === null || stop.lat === undefined) { return; }
      var m = L.marker([stop.lat, stop.lon], { icon: icon(stop, ""), title: title(stop, ""), keyboard: true });
      m.on("click", function () {  // the marker leads to its stop's card
        var li = document.getElementById("stop-" + stop.job_id);
        if (li) { li.scrollIntoView({ block: "start" }); li.focus({ preventScroll: true }); }
      });
      m.addTo(map);
      markers[stop.job_id] = m;
      bounds.push([stop.lat, stop.lon]);
    });
    el.setAttribute("data-drawn", String(bounds.length));
    if (bounds.length) { map.fitBounds(bounds, { padding: [30, 30], maxZoom: 17 }); }
  }
  function link(text, href, primary) {
    var a = document.createElement("a");
    a.className = primary ? "button primary" : "button";
    a.href = href;
    a.textContent = text;
    return a;
  }
  function card(next) {
    var box = document.getElementById("next");
    if (!box) { return; }
    box.textContent = "";
    var h = document.createElement("h2");
    h.id = "next-title";
    var where = document.createElement("p");
    where.className = "next-where";
    box.appendChild(h);
    box.appendChild(where);
    if (!next) {
      h.textContent = window.geo311Say("all_finished");
      where.textContent = window.geo311Say("drive_back");
      return;
    }
    h.textContent = window.geo311Say("next_title") + " " + next.order + ". " + next.eta + " · " + next.service;
    where.textContent = next.address || window.geo311Say("no_address");
    var said = (next.reports || []).filter(function (r) { return r.description; })[0];
    if (said) {
      var q = document.createElement("p");
      q.className = "next-said";
      var text = said.description.length > 160 ? said.description.slice(0, 157) + "..." : said.description;
      q.textContent = "\u201c" + text + "\u201d";
      box.appendChild(q);
    }
    var go = document.createElement("p");
    go.className = "next-go";
    if (next.lat !== null && next.lat !== undefined) {
      var nav = link(window.geo311Say("navigate"), "geo:" + next.lat + "," + next.lon + "?q=" + next.lat + "," + next.lon, true);
      var hint = document.createElement("span");
      hint.className = "sr-only";
      hint.textContent = " " + window.geo311Say("to_stop", {n: next.order});
      nav.appendChild(hint);
      go.appendChild(nav);
      go.appendChild(document.createTextNode(" "));
    }
    go.appendChild(link(window.geo311Say("go_to_stop", {n: next.order}), "#stop-" + next.job_id, false));
    box.appendChild(go);
  }
  function refresh() {
    var next = null;
    var finished = 0;
    day.stops.forEach(function (stop) {
      var done = !!FINISHED[stateOf(stop)];
      if (done) { finished += 1; } else if (!next) { next = stop; }
    });
    day.stops.forEach(function (stop) {
      var m = markers[stop.job_id];
      if (!m) { return; }
      var kind = FINISHED[stateOf(stop)] ? "finished" : (stop === next ? "next" : "");
      m.setIcon(icon(stop, kind));
      var node = m.getElement();
      if (node) { node.setAttribute("title", title(stop, kind)); node.setAttribute("data-job", stop.job_id); }
    });
    card(next);
    var progress = document.getElementById("progress");
    if (progress) { progress.textContent = window.geo311Say("progress", {done: finished, total: day.stops.length}); }
  }
  drawMap();
  refresh();
  window.geo311CrewRefresh = refresh;
})();
