// geo311 report page (/report): place the problem on the map or by address, see nearby open
// reports, send the form to the Open311 POST; the server's errors appear next to their field.
// A file of its own: the page's Content-Security-Policy runs scripts from this site only.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var form = $("report");
  // The page's words in its language (report.html's JSON block); {name} marks a value.
  var M = JSON.parse($("report-messages").textContent);
  function say(key, values) {
    return M[key].replace(/\{(\w+)\}/g, function (all, name) { return values && name in values ? values[name] : all; });
  }
  var key = (self.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random();
  var area = JSON.parse($("map").getAttribute("data-bounds"));
  var map = L.map("map").fitBounds(area);
  window.geo311Base(map);  // basemap.js: the city's streets (offline), OSM online optional
  var marker = null, touched = false;
  ["pointerdown", "wheel", "keydown"].forEach(function (kind) {
    map.getContainer().addEventListener(kind, function () { touched = true; }, {passive: true});
  });

  // Open on the densest part of the city's streets (not the whole service area), unless the
  // citizen already moved the map; the whole city and their own position are one click away.
  function openOn(bounds) {
    if (!touched && !marker) { map.fitBounds(bounds); }
  }
  fetch("/tiles/streets/view.json").then(function (r) { return r.ok ? r.json() : null; })
    .then(function (v) { if (v && v.view) { openOn(v.view); } }).catch(function () {});
  function button(text, title, onClick) {
    var Control = L.Control.extend({
      options: {position: "topleft"},
      onAdd: function () {
        var b = L.DomUtil.create("button", "g311-map-button");
        b.type = "button";
        b.textContent = text;
        b.title = title;
        b.style.cssText = "display:block;padding:4px 8px;font:13px sans-serif;" +
          "background:#fff;color:#212529;border:2px solid rgba(0,0,0,.3);border-radius:4px;cursor:pointer";
        L.DomEvent.disableClickPropagation(b);
        L.DomEvent.on(b, "click", function (e) { L.DomEvent.preventDefault(e); onClick(); });
        return b;
      }
    });
    new Control().addTo(map);
  }
  button("Whole city", "Show the whole city", function () { touched = true; map.fitBounds(area); });
  if (navigator.geolocation) {
    button("My location", "Show the map around where you are", function () {
      touched = true;
      map.locate({setView: true, maxZoom: 17});
    });
    map.on("locationfound", function (e) {
      if (!L.latLngBounds(area).contains(e.latlng)) {
        map.fitBounds(area);
        $("placed").textContent = "You seem to be outside the city: tap the map or type the address.";
      }
    });
    map.on("locationerror", function () {
      $("placed").textContent = "Your position is not available: tap the map or type the address.";
    });
  }

  function place(lat, lon, how) {
    $("lat").value = lat.toFixed(6);
    $("long").value = lon.toFixed(6);
    if (marker) { marker.setLatLng([lat, lon]); } else { marker = L.marker([lat, lon], {alt: M.the_problem}).addTo(map); }
    map.setView([lat, lon], Math.max(map.getZoom(), 17));
    $("placed").textContent = how;
    showError("location", "");
    nearby();
  }
  map.on("click", function (e) { place(e.latlng.lat, e.latlng.lng, M.placed_map); });

  // The server's errors name the API field ("service_code: ..."): each goes next to its own
  // field, said in plain words; an error disappears as soon as its field is changed.
  var FIELDS = ["form", "service_code", "location", "description", "media", "email", "phone"];
  function fieldOf(description) {
    var attr = /^attribute\[([^\]]+)\]/.exec(description);
    if (attr) {
      var input = form.querySelector("fieldset.questions:not([hidden]) [data-attr='" + attr[1] + "']");
      return input ? input.id : "form";
    }
    var name = description.split(/[:\s]/)[0];
    if (/^(lat|long|lat\/long|address_string)/.test(name)) { return "location"; }
    if (FIELDS.indexOf(name) >= 0) { return name; }
    return "form";
  }
  function questionOf(id) {
    var label = form.querySelector("label[for='" + id + "']");
    return label ? label.textContent.replace(" " + M.required, "") : M.this_question;
  }
  // Plain words for the server's messages (which are written for programmers).
  function plain(field, text) {
    var rest = text.replace(/^[^:]*:\s*/, "");
    if (field === "service_code") { return M.service_code; }
    if (field === "location") {
      if (/could not be located|not in the embedded|not found/i.test(text)) {
        return M.location_unknown;
      }
      if (/outside the service area/.test(text)) { return M.location_outside; }
      return M.location;
    }
    if (field === "email") { return M.email; }
    if (field === "phone") { return M.phone; }
    if (field === "description") { return M.description; }
    if (field === "media") {
      if (/too large|bytes|MB/i.test(text)) { return M.media_large; }
      return M.media;
    }
    if (/^attr-/.test(field)) {
      if (/required/.test(text)) { return say("answer", {question: questionOf(field)}); }
      return say("choose_answer", {question: questionOf(field)});
    }
    return rest ? rest.charAt(0).toUpperCase() + rest.slice(1) : text;
  }
  function inputOf(field) { return $({location: "address_string"}[field] || field); }
  function showError(field, text) {
    var box = $(field + "-error");
    if (!box) { return; }
    box.textContent = text;
    box.hidden = !text;
    var input = inputOf(field);
    if (input && field !== "form") { input.setAttribute("aria-invalid", text ? "true" : "false"); }
  }
  function clearErrors() {
    FIELDS.forEach(function (f) { showError(f, ""); });
    form.querySelectorAll("[data-attr]").forEach(function (el) { showError(el.id, ""); });
  }
  // A fixed field loses its error at once (and the form-wide one goes with the last).
  function clearOnChange(el, field) {
    ["input", "change"].forEach(function (kind) {
      el.addEventListener(kind, function () { showError(field, ""); });
    });
  }
  ["service_code", "description", "media", "email", "phone"].forEach(function (f) { clearOnChange($(f), f); });
  clearOnChange($("address_string"), "location");
  form.querySelectorAll("[data-attr]").forEach(function (el) { clearOnChange(el, el.id); });

  // The chosen service's own questions (its Open311 attributes); the others are not sent.
  function showQuestions() {
    var code = $("service_code").value;
    form.querySelectorAll("fieldset.questions").forEach(function (set) {
      var mine = (" " + set.getAttribute("data-services") + " ").indexOf(" " + code + " ") >= 0;
      set.hidden = !mine;
      set.disabled = !mine;
    });
  }
  $("service_code").addEventListener("change", showQuestions);
  showQuestions();

  // What can be checked here is checked before sending (the server checks it all again).
  function missing() {
    var found = [];
    if (!$("service_code").value) { found.push(["service_code", M.service_code]); }
    if (!$("lat").value && !$("address_string").value.trim()) {
      found.push(["location", M.location]);
    }
    form.querySelectorAll("fieldset.questions:not([hidden]) [required]").forEach(function (el) {
      if (!el.value) { found.push([el.id, say("answer", {question: questionOf(el.id)})]); }
    });
    var email = $("email").value.trim();
    if (email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
      found.push(["email", plain("email", "")]);
    }
    return found;
  }
  function focusFirst(field) {
    var focus = {location: "address_string", form: "form-error"}[field] || field;
    if (focus && $(focus)) { $(focus).focus(); }
  }

  $("find").addEventListener("click", function () {
    var q = $("address_string").value.trim();
    if (!q) { showError("location", M.location_first); return; }
    fetch("/report/geocode.json?q=" + encodeURIComponent(q)).then(function (r) {
      return r.json().then(function (body) { return {ok: r.ok, body: body}; });
    }).then(function (res) {
      if (res.ok) { place(res.body.lat, res.body.long, say("placed_at", {address: q})); }
      else { showError("location", plain("location", res.body.map(function (e) { return e.description; }).join(" "))); }
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
          a.textContent = say("nearby_item", {place: item.address || say("report_n", {id: item.service_request_id}), metres: item.distance_m});
          li.appendChild(a);
          var b = document.createElement("button");
          b.type = "button";
          b.className = "secondary";
          b.textContent = M.join;
          b.addEventListener("click", function () {
            $("lat").value = item.lat.toFixed(6);
            $("long").value = item.long.toFixed(6);
            if (marker) { marker.setLatLng([item.lat, item.long]); }
            $("placed").textContent = say("joins", {id: item.service_request_id});
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
    var problems = missing();
    if (problems.length) {
      problems.forEach(function (p) { showError(p[0], p[1]); });
      focusFirst(problems[0][0]);
      return;
    }
    var data = new FormData(form);
    ["lat", "long", "address_string", "description", "email", "phone"].forEach(function (k) { if (!data.get(k)) { data.delete(k); } });
    form.querySelectorAll("[data-attr]").forEach(function (el) { if (!el.value) { data.delete(el.name); } });
    var file = $("media").files[0];
    if (!file) { data.delete("media"); }
    $("submit").disabled = true;
    fetch("/report.json", {method: "POST", body: data, headers: {"Idempotency-Key": key}})
      .then(function (r) { return r.json().then(function (body) { return {ok: r.ok, status: r.status, body: body}; }); })
      .then(function (res) {
        $("submit").disabled = false;
        if (res.ok) { window.location.assign("/requests/" + encodeURIComponent(res.body[0].service_request_id)); return; }
        var first = null;
        var shown = {};
        // The server words its limits in English: another language says it in its own words.
        if (res.status === 429 && document.documentElement.lang !== "en") {
          res.body = [{description: "form: " + M.too_many}];
        }
        (Array.isArray(res.body) ? res.body : [{description: String(res.body.detail || "")}]).forEach(function (e) {
          var f = fieldOf(e.description || "");
          var text = plain(f, e.description || "");
          if (shown[f] && shown[f].indexOf(text) >= 0) { return; }
          shown[f] = (shown[f] ? shown[f] + " " : "") + text;
          showError(f, shown[f]);
          first = first || f;
        });
        focusFirst(first);
      })
      .catch(function () {
        $("submit").disabled = false;
        showError("form", M.not_sent);
      });
  });
})();
