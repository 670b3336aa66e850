// geo311 report page (/report): place the problem on the map or by address, see nearby open
// reports, send the form to the Open311 POST; the server's errors appear next to their field.
// A file of its own: the page's Content-Security-Policy runs scripts from this site only.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var form = $("report");
  var key = (self.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random();
  var map = L.map("map").fitBounds(JSON.parse($("map").getAttribute("data-bounds")));
  window.geo311Base(map);  // basemap.js: the city's streets (offline), OSM online optional
  var marker = null;

  function place(lat, lon, how) {
    $("lat").value = lat.toFixed(6);
    $("long").value = lon.toFixed(6);
    if (marker) { marker.setLatLng([lat, lon]); } else { marker = L.marker([lat, lon], {alt: "The problem"}).addTo(map); }
    map.setView([lat, lon], Math.max(map.getZoom(), 17));
    $("placed").textContent = "Placed " + how + ".";
    showError("location", "");
    nearby();
  }
  map.on("click", function (e) { place(e.latlng.lat, e.latlng.lng, "on the map"); });

  function fieldOf(description) {
    var name = description.split(":")[0];
    if (/^(lat|long|lat\/long|address_string)/.test(name)) { return "location"; }
    if (["service_code", "description", "media"].indexOf(name) >= 0) { return name; }
    return "form";
  }
  function showError(field, text) {
    var box = $(field + "-error");
    box.textContent = text;
    box.hidden = !text;
    var input = {location: "address_string"}[field] || field;
    if ($(input) && field !== "form") { $(input).setAttribute("aria-invalid", text ? "true" : "false"); }
  }
  function clearErrors() { ["form", "service_code", "location", "description", "media"].forEach(function (f) { showError(f, ""); }); }

  $("find").addEventListener("click", function () {
    var q = $("address_string").value.trim();
    if (!q) { showError("location", "Type an address first, or tap the map."); return; }
    fetch("/report/geocode.json?q=" + encodeURIComponent(q)).then(function (r) {
      return r.json().then(function (body) { return {ok: r.ok, body: body}; });
    }).then(function (res) {
      if (res.ok) { place(res.body.lat, res.body.long, "at " + q); }
      else { showError("location", res.body.map(function (e) { return e.description; }).join(" ")); }
    });
  });

  function nearby() {
    var code = $("service_code").value, lat = $("lat").value, lon = $("long").value;
    if (!code || !lat) { $("nearby").hidden = true; return; }
    fetch("/report/nearby.json?service_code=" + encodeURIComponent(code) + "&lat=" + lat + "&long=" + lon)
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (items) {
        var list = $("nearby-list");
        list.textContent = "";
        items.forEach(function (item) {
          var li = document.createElement("li");
          var a = document.createElement("a");
          a.href = item.url;
          a.textContent = (item.address || "Report " + item.service_request_id) + ", " + item.distance_m + " m away";
          li.appendChild(a);
          var b = document.createElement("button");
          b.type = "button";
          b.className = "secondary";
          b.textContent = "Add myself to this report";
          b.addEventListener("click", function () {
            $("lat").value = item.lat.toFixed(6);
            $("long").value = item.long.toFixed(6);
            if (marker) { marker.setLatLng([item.lat, item.long]); }
            $("placed").textContent = "Your report will join report " + item.service_request_id + ". Send it below.";
          });
          li.appendChild(document.createTextNode(" "));
          li.appendChild(b);
          list.appendChild(li);
        });
        $("nearby").hidden = items.length === 0;
      });
  }
  $("service_code").addEventListener("change", nearby);

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    clearErrors();
    var data = new FormData(form);
    ["lat", "long", "address_string", "description"].forEach(function (k) { if (!data.get(k)) { data.delete(k); } });
    var file = $("media").files[0];
    if (!file) { data.delete("media"); }
    $("submit").disabled = true;
    fetch("/report.json", {method: "POST", body: data, headers: {"Idempotency-Key": key}})
      .then(function (r) { return r.json().then(function (body) { return {ok: r.ok, body: body}; }); })
      .then(function (res) {
        $("submit").disabled = false;
        if (res.ok) { window.location.assign("/requests/" + encodeURIComponent(res.body[0].service_request_id)); return; }
        var first = null;
        res.body.forEach(function (e) {
          var f = fieldOf(e.description);
          var box = $(f + "-error");
          showError(f, (box.hidden ? "" : box.textContent + " ") + e.description);
          first = first || f;
        });
        // A form-wide error (e.g. too many reports) sits above the form: bring it into view.
        var focus = {location: "address_string", form: "form-error"}[first] || first;
        if (focus && $(focus)) { $(focus).focus(); }
      })
      .catch(function () {
        $("submit").disabled = false;
        showError("form", "The report could not be sent; check your connection and send it again.");
      });
  });
})();
