// geo311's base layers for every page's map: the city's own streets, drawn by geo311 from the
// OSM extract the router uses (works with no network), and OpenStreetMap's online tiles as an
// optional layer. Pages call geo311Base(map) instead of adding a tile layer themselves.
(function () {
  "use strict";
  window.geo311Base = function (map) {
    var streets = L.tileLayer("/tiles/streets/{z}/{x}/{y}.png", {
      minZoom: 10, maxZoom: 19,
      attribution: "Streets &copy; OpenStreetMap contributors, drawn by geo311"
    });
    var online = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
      maxZoom: 19, attribution: "&copy; OpenStreetMap contributors"
    });
    streets.addTo(map);
    L.control.layers(
      { "Streets (works offline)": streets, "OpenStreetMap (online)": online }, null,
      { position: "topright" }
    ).addTo(map);
    return streets;
  };
})();
