// geo311 crew service worker: the crew's page and its assets stay on the phone, so the day's
// stops open in a dead spot. Pages: network first, the cached copy when offline. Assets:
// cache first. Posts are never cached (the page queues them while offline).
"use strict";
var CACHE = "geo311-crew-v3";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {  // an older version's copies go
    return Promise.all(names.filter(function (n) { return n.indexOf("geo311-crew-") === 0 && n !== CACHE; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "cache" && Array.isArray(data.urls)) {
    event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(data.urls); }));
  } else if (data.type === "clear") {
    event.waitUntil(caches.delete(CACHE));
  }
});

function keep(request, response) {
  if (response && response.ok && response.type === "basic" && !response.redirected) {
    var copy = response.clone();
    caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
  }
  return response;
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate") {
    event.respondWith(
      fetch(request).then(function (r) { return keep(request, r); }).catch(function () {
        return caches.match(request).then(function (hit) { return hit || Response.error(); });
      })
    );
  } else if (url.pathname.indexOf("/static/") === 0 || url.pathname.indexOf("/tiles/") === 0) {
    // assets and the street tiles seen once: the crew's map keeps its streets in a dead spot
    event.respondWith(caches.match(request).then(function (hit) {
      return hit || fetch(request).then(function (r) { return keep(request, r); });
    }));
  }
});
