// geo311 staff pages: the CSRF header on htmx and fetch requests, sortable tables.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var token = meta ? meta.getAttribute("content") : "";
  function addHeader(evt) {
    var d = evt.detail || {};
    if (d.headers) { d.headers["X-CSRF-Token"] = token; }
    if (d.ctx && d.ctx.request && d.ctx.request.headers) { d.ctx.request.headers["X-CSRF-Token"] = token; }
  }
  // htmx 2 and htmx 4 name the event differently.
  document.addEventListener("htmx:configRequest", addHeader);
  document.addEventListener("htmx:config:request", addHeader);
  window.geo311 = { csrfToken: token };
  // Signing out removes what the crew view keeps on the device.
  document.addEventListener("submit", function (evt) {
    if (!evt.target.classList || !evt.target.classList.contains("logout")) { return; }
    try { localStorage.removeItem("geo311.crew.itinerary"); } catch (e) { /* none */ }
    if (window.caches) {  // every version of the crew view's copy (geo311-crew-v1, -v2, ...)
      caches.keys().then(function (names) {
        names.forEach(function (n) { if (n.indexOf("geo311-crew-") === 0) { caches.delete(n); } });
      });
    }
  });

  function cellValue(row, index) {
    var cell = row.cells[index];
    if (!cell) { return ""; }
    var key = cell.getAttribute("data-sort");
    return key !== null ? key : cell.textContent.trim();
  }
  function sortTable(table, index, button) {
    var th = button.closest("th");
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th[aria-sort]").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index), y = cellValue(b, index);
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return ascending ? c : -c;
    });
    var frag = document.createDocumentFragment();
    rows.forEach(function (r) { frag.appendChild(r); });
    body.appendChild(frag);
  }
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest ? evt.target.closest("button.sort") : null;
    if (!button) { return; }
    var th = button.closest("th");
    sortTable(th.closest("table"), th.cellIndex, button);
  });
})();

// Progress of a long task (planning): poll its status, go to the result when done.
(function () {
  "use strict";
  var box = document.querySelector("[data-poll-url]");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-poll-url");
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.state === "done") { window.location.assign(s.plan_url); return; }
        if (s.state === "failed") { window.location.reload(); return; }
        // a worker (of any server process) took the queued run: show it running
        if (box.hasAttribute("data-queued") && !s.queued) { window.location.reload(); return; }
        var bar = document.getElementById("solver-progress");
        var text = document.getElementById("progress-text");
        if (bar) { bar.value = Math.min(s.elapsed_s, s.time_limit_s); }
        if (text) {
          text.textContent = s.queued ? "Waiting for a free planning worker." : s.elapsed_s + " s elapsed.";
        }
        // once the solver's time is nearly up, look often: the plan is a moment away
        window.setTimeout(poll, s.elapsed_s >= s.time_limit_s - 1 ? 200 : 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
