// geo311 crew view: actions queue on the phone and sync when the network is back, each once.
(function () {
  "use strict";
  var say = window.geo311Say;  // crew-words.js: the page's words in its language
  var QUEUE = "geo311.crew.queue";
  var banner = document.getElementById("queue");
  var photos = window.geo311CrewPhotos;
  var data = document.getElementById("crew-data");
  if (data) {  // keep the day's itinerary on the phone
    try { localStorage.setItem("geo311.crew.itinerary", data.textContent); } catch (e) { /* full */ }
  }
  function load() {
    try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; }
  }
  function save(queue) {
    try { localStorage.setItem(QUEUE, JSON.stringify(queue)); } catch (e) { show(load(), "no room left on the phone"); return false; }
    show(queue);
    return true;
  }
  function show(queue, extra) {
    if (!banner) { return; }
    var n = queue.length;
    if (!n && !extra) { banner.hidden = true; banner.textContent = ""; return; }
    banner.hidden = false;
    banner.textContent = (n ? say(n === 1 ? "waiting_one" : "waiting_many", {n: n}) : "") +
      (extra ? (n ? ". " : "") + extra : "");
  }
  var LABELS = { planned: say("state_planned"), arrived: say("state_arrived"), done: say("state_done"), cant_do: say("state_cant_do") };
  var FINISHED = { done: true, cant_do: true };
  var HOLD_MS = 10000;  // a done / can't do waits this long on the phone: "Undo" takes it back
  var UNDO_MS = 120000;  // the server takes back a can't do this long (stop_states.WINDOWS)
  // Show a stop's state; a finished stop (done, can't do) keeps no buttons, an arrived one
  // keeps done / can't do but not "Arrived".
  function mark(jobId, text, state) {
    var li = document.getElementById("stop-" + jobId);
    if (!li) { return; }
    var line = li.querySelector(".state");
    if (line) { line.textContent = text; }
    if (state) { li.setAttribute("data-state", state); li.classList.toggle("done", !!FINISHED[state]); }
    var actions = li.querySelector(".actions");
    if (actions) { actions.hidden = !state || !!FINISHED[state]; }
    var arrive = li.querySelector("form.arrive");
    if (arrive && state) { arrive.hidden = state !== "planned"; }
    if (window.geo311CrewRefresh) { window.geo311CrewRefresh(); }
  }
  function part(jobId, selector) {
    var li = document.getElementById("stop-" + jobId);
    return li ? li.querySelector(selector) : null;
  }
  // "Undo" of an action still held on the phone: it never reaches the server.
  function offerUndo(item) {
    var box = part(item.job_id, "p.undo");
    if (!box) { return; }
    box.hidden = false;
    box.querySelector("button").onclick = function () {
      var queue = load();
      box.hidden = true;
      if (!queue.some(function (q) { return q.key === item.key; })) { return; }
      save(queue.filter(function (q) { return q.key !== item.key; }));
      mark(item.job_id, say("undone"), item.before || "planned");
      var li = document.getElementById("stop-" + item.job_id);
      li.querySelectorAll(".actions details[open]").forEach(function (d) { d.open = false; });
    };
    window.setTimeout(function () { box.hidden = true; flush(); }, Math.max(item.hold - Date.now(), 0) + 50);
  }
  // After a can't do reached the server, its own undo (a new action) for a while.
  function offerServerUndo(jobId) {
    var form = part(jobId, "form.undo-cant");
    if (!form) { return; }
    form.hidden = false;
    window.setTimeout(function () { form.hidden = true; }, UNDO_MS);
  }
  var AFTER = { done: "done", cant: "cant_do", arrive: "arrived", undo: "arrived" };
  var SYNCED = { done: say("synced_done"), cant: say("synced_cant"), arrive: say("synced_arrive"), undo: say("synced_undo") };
  var WAITING = { done: say("waiting_done"), cant: say("waiting_cant"), arrive: say("waiting_arrive"), undo: say("waiting_undo") };
  var HELD = { done: say("held_done"), cant: say("held_cant") };
  var busy = false;
  function due(item) { return !(item.hold > Date.now()); }
  function flush() {
    var queue = load();
    var item = queue.filter(due)[0];
    if (busy || !item) { show(queue); return; }
    busy = true;
    var sent = {};
    Object.keys(item).forEach(function (k) { if (k !== "hold" && k !== "before") { sent[k] = item[k]; } });
    var token = (window.geo311 && window.geo311.csrfToken) || "";
    fetch("/crew/actions", {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": token, "Accept": "application/json" },
      body: photos.body(sent)
    }).then(function (r) {
      var json = (r.headers.get("content-type") || "").indexOf("json") >= 0;
      if (!json) { busy = false; show(load(), say("sign_in_again")); return; }
      r.json().catch(function () { return {}; }).then(function (body) {
        body = body || {};
        if (r.ok) {
          save(load().filter(function (q) { return q.key !== item.key; }));
          mark(item.job_id, SYNCED[item.action] || say("synced"), body.state || AFTER[item.action]);
          var box = part(item.job_id, "p.undo");
          if (box) { box.hidden = true; }
          var undo = part(item.job_id, "form.undo-cant");
          if (item.action === "cant" && !body.duplicate) { offerServerUndo(item.job_id); }
          else if (undo) { undo.hidden = true; }
          busy = false; flush(); return;
        }
        // a 403 without the action's answer: the session (or its CSRF token) is gone
        if ((r.status === 401 || r.status === 403) && body.ok !== false) {
          busy = false; show(load(), say("sign_in_again")); return;
        }
        // refused for good (400, 403 not your stop, 404, 409): drop it and say why; a
        // refused change (409) shows the stop's state on the server
        save(load().filter(function (q) { return q.key !== item.key; }));
        if (body.state) {
          mark(item.job_id, say("on_server", {state: LABELS[body.state] || body.state, status: r.status}), body.state);
        } else {
          mark(item.job_id, say("not_accepted", {status: r.status, why: body.error ? ": " + body.error : ""}));
        }
        busy = false; flush();
      });
    }).catch(function () { busy = false; show(load()); });
  }
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (!form.hasAttribute || !form.hasAttribute("data-offline") || !window.fetch) { return; }
    evt.preventDefault();
    var item = {};
    var file = null;
    new FormData(form).forEach(function (v, k) {
      if (k === "photo") { file = v instanceof Blob && v.size ? v : null; }
      else if (k !== "csrf_token") { item[k] = String(v); }
    });
    var state = form.querySelector(".photo-state");
    photos.shrink(file).then(function (dataUrl) {
      if (dataUrl) { item.photo = dataUrl; }
      var queue = load();
      var li = document.getElementById("stop-" + item.job_id);
      if (HELD[item.action]) {
        item.hold = Date.now() + HOLD_MS;
        item.before = (li && li.getAttribute("data-state")) || "planned";
      }
      if (!queue.some(function (q) { return q.key === item.key; })) { queue.push(item); }
      if (!save(queue)) {
        if (state) { state.textContent = say("no_room"); }
        return;
      }
      mark(item.job_id, HELD[item.action] || WAITING[item.action] || say("waiting"), AFTER[item.action]);
      if (item.hold) { offerUndo(item); }
      if (item.action === "undo") { form.hidden = true; }
      flush();
    }, function (err) {
      if (state) { state.textContent = String(err && err.message || err); }
    });
  });
  // The service worker keeps this page and its assets for a reload in a dead spot.
  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register("/crew-sw.js", { scope: "/crew" }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (reg) {
      var urls = [location.pathname];
      document.querySelectorAll("script[src], link[rel=stylesheet]").forEach(function (el) {
        urls.push(el.getAttribute("src") || el.getAttribute("href"));
      });
      reg.active.postMessage({ type: "cache", urls: urls });
      document.documentElement.setAttribute("data-offline-ready", "yes");
    }).catch(function () { /* no offline copy: the page still works online */ });
  }
  window.addEventListener("online", flush);
  window.setInterval(flush, 5000);
  flush();
})();
