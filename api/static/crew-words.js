// geo311 crew view: the page's words for its scripts, in the page's language (crew.html's
// JSON block "crew-messages"). window.geo311Say("key", {n: 3}) fills {n}; a missing key says
// the key itself, so a script never breaks on a word.
(function () {
  "use strict";
  var el = document.getElementById("crew-messages");
  var words = {};
  try { words = el ? JSON.parse(el.textContent) : {}; } catch (e) { words = {}; }
  window.geo311Say = function (key, values) {
    var text = Object.prototype.hasOwnProperty.call(words, key) ? words[key] : key;
    return text.replace(/\{(\w+)\}/g, function (all, name) {
      return values && Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : all;
    });
  };
})();
