// geo311 crew view: "Share my position" sends the phone's position to the dispatchers, once per
// press (opt-in: nothing is asked or sent before the crew presses the button).
(function () {
  "use strict";
  var button = document.getElementById("share-position");
  var status = document.getElementById("share-status");
  if (!button || !status) { return; }
  if (!navigator.geolocation) {
    button.disabled = true;
    status.textContent = window.geo311Say("no_geolocation");
    return;
  }
  function send(pos) {
    var token = (window.geo311 && window.geo311.csrfToken) || "";
    var body = {
      lat: pos.coords.latitude, lon: pos.coords.longitude,
      accuracy: Math.max(0, Math.round(Number(pos.coords.accuracy) || 0))
    };
    fetch("/crew/position", {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": token, "Accept": "application/json", "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (answer) {
        button.disabled = false;
        if (r.ok && answer.ok) {
          var at = new Date(answer.at);
          status.textContent = window.geo311Say("shared_at", {clock: answer.clock ||
            at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false })});
          status.setAttribute("data-shared", answer.at);
        } else {
          status.textContent = window.geo311Say("not_shared", {why: answer.detail || answer.error || ("error " + r.status)});
        }
      });
    }).catch(function () {
      button.disabled = false;
      status.textContent = window.geo311Say("not_shared_offline");
    });
  }
  button.addEventListener("click", function () {
    button.disabled = true;
    status.textContent = window.geo311Say("finding");
    navigator.geolocation.getCurrentPosition(send, function (err) {
      button.disabled = false;
      status.textContent = err && err.code === 1
        ? window.geo311Say("not_shared_refused")
        : window.geo311Say("not_shared_none");
    }, { enableHighAccuracy: true, maximumAge: 15000, timeout: 30000 });
  });
})();
