// geo311 crew view: the photo of a finished stop, kept in the phone's action queue.
// A photo is shrunk on the phone (longest side <= 1600 px, JPEG) to a data URL of bounded
// size, so that a queued action keeps it through a dead spot and is sent once, later.
(function () {
  "use strict";
  var MAX_CHARS = 1500000;  // about 1.1 MB of photo per queued action
  var SIDES = [1600, 1200, 800];

  function readRaw(file) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(String(reader.result)); };
      reader.onerror = function () { reject(new Error(window.geo311Say("photo_unreadable"))); };
      reader.readAsDataURL(file);
    });
  }

  function encode(bitmap, side, quality) {
    var scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
    var canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL("image/jpeg", quality);
  }

  function tooLarge() {
    return new Error(window.geo311Say("photo_too_large"));
  }

  // Resolve to a data URL (or null without a file); reject with a message for the crew.
  function shrink(file) {
    if (!file) { return Promise.resolve(null); }
    if (!window.createImageBitmap) {
      return readRaw(file).then(function (url) { if (url.length > MAX_CHARS) { throw tooLarge(); } return url; });
    }
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
      for (var i = 0; i < SIDES.length; i += 1) {
        var url = encode(bitmap, SIDES[i], 0.85);
        if (url.length <= MAX_CHARS) { return url; }
      }
      throw tooLarge();
    }, function () {  // not decodable here: the server checks it and says what is wrong
      return readRaw(file).then(function (url) { if (url.length > MAX_CHARS) { throw tooLarge(); } return url; });
    });
  }

  function toBlob(dataUrl) {
    var comma = dataUrl.indexOf(",");
    var type = (dataUrl.slice(5, comma).split(";")[0]) || "application/octet-stream";
    var bytes = atob(dataUrl.slice(comma + 1));
    var out = new Uint8Array(bytes.length);
    for (var i = 0; i < bytes.length; i += 1) { out[i] = bytes.charCodeAt(i); }
    return new Blob([out], { type: type });
  }

  // The queued action as a multipart body (the photo as a file, as the plain form sends it).
  function body(item) {
    var form = new FormData();
    Object.keys(item).forEach(function (k) { if (k !== "photo") { form.append(k, item[k]); } });
    if (item.photo) {
      var blob = toBlob(item.photo);
      form.append("photo", blob, "photo." + (blob.type.split("/")[1] || "bin"));
    }
    return form;
  }

  window.geo311CrewPhotos = { shrink: shrink, body: body, MAX_CHARS: MAX_CHARS };
})();
