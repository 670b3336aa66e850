// geo311 crew view: "you are here" on the route map when the browser gives a position.
// watchPosition keeps the marker and its accuracy circle current; a refused or missing
// position leaves the map as it is (no error, no prompt loop).
(function () {
  "use strict";
  var map = window.geo311Map;
  var el = document.getElementById("map");
  if (!map || !el || typeof L === "undefined" || !navigator.geolocation) { return; }
  var marker = null;
  var circle = null;
  var first = true;
  function place(pos) {
    var at = [pos.coords.latitude, pos.coords.longitude];
    var accuracy = Math.max(0, Number(pos.coords.accuracy) || 0);
    if (!marker) {
      circle = L.circle(at, {
        radius: accuracy, color: "#1a56db", weight: 1, fillColor: "#1a56db", fillOpacity: 0.12,
        interactive: false, className: "here-accuracy"
      }).addTo(map);
      marker = L.circleMarker(at, {
        radius: 9, color: "#fff", weight: 3, fillColor: "#1a56db", fillOpacity: 1,
        className: "here-marker"
      }).bindTooltip(window.geo311Say("here")).addTo(map);
    } else {
      marker.setLatLng(at);
      circle.setLatLng(at).setRadius(accuracy);
    }
    el.setAttribute("data-here", at[0].toFixed(6) + "," + at[1].toFixed(6) + "," + Math.round(accuracy));
    if (first) {  // the first fix joins the route in view
      first = false;
      var bounds = circle.getBounds();
      map.eachLayer(function (layer) {
        if (layer.getLatLng && layer !== marker) { bounds.extend(layer.getLatLng()); }
      });
      map.fitBounds(bounds, { padding: [20, 20], maxZoom: 17 });
    }
  }
  navigator.geolocation.watchPosition(place, function () { /* refused or unknown: no marker */ }, {
    enableHighAccuracy: true, maximumAge: 15000, timeout: 30000
  });
})();
