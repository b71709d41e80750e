/* A rally's own page: its one marker, from the data the page carries. It re-reads the
 * rally now and then (with its ETag), and says so at once in the urgent banner when its
 * status turns urgent. When the rally's public revision moves (any public change, the
 * reveal of its place at its time too), the page's [data-live] parts are drawn again from
 * a fresh copy of the page, in the server's own words; when the rally is gone (404), the
 * page says it was removed from the map and stops re-checking. */

import { element } from "./dom.js";
import { watch } from "./feed.js";
import { iconFor } from "./markers.js";
import { drawPinMove } from "./pin.js";
import { Banner } from "./urgent.js";
import { translateControls } from "./view.js";

// The attributes of [data-live-attrs] elements a redraw brings up to date.
var LIVE_ATTRIBUTES = ["data-share-title", "data-share-text", "href"];

// The moderation page of a rally whose pin a moderator moved: the organizer's pin grey and
// dashed, a dashed line to the new one, the new one ringed, both in view.
function showMove(map, marker, latlng, data) {
  var was = [parseFloat(data.wasLat), parseFloat(data.wasLon)];
  if (!drawPinMove(map, was, latlng)) return;
  var node = marker.getElement();
  if (node) node.classList.add("pin-now");
}

export function initSingle(map, config) {
  var point = document.getElementById("rally-point");
  if (!point) return;
  var latlng = [parseFloat(point.dataset.lat), parseFloat(point.dataset.lon)];
  var shown = {
    id: point.dataset.id, title: point.dataset.title, status: point.dataset.status || "approved",
    featured: point.dataset.featured === "true"
  };
  var marker = L.marker(latlng, {
    title: shown.title, alt: shown.title, keyboard: false, interactive: false, icon: iconFor(shown)
  }).addTo(map);
  // A place not yet revealed: the point is the town's, so show the town, not its streets.
  map.setView(latlng, point.dataset.exact === "false" ? 12 : 15);
  if (point.dataset.wasLat) showMove(map, marker, latlng, point.dataset);
  translateControls(map, config.labels);
  if (!config.apiRallyUrl || !shown.id) return;
  var banner = Banner(config);
  // In the page's language, as the map's details (feed.js): the main rally's seed texts are
  // given per language, and the stored ones renamed the marker back to Belarusian.
  var url = config.apiRallyUrl + encodeURIComponent(String(Number(shown.id))) +
    (config.lang ? "?lang=" + encodeURIComponent(config.lang) : "");
  var watcher = null;
  var gone = false;

  function removed() {
    if (gone) return;
    gone = true;
    if (watcher) watcher.stop();
    document.querySelectorAll("[data-status-then]").forEach(function (node) { node.remove(); });
    var urgent = document.getElementById("urgent");
    if (urgent) {
      urgent.textContent = "";
      urgent.appendChild(element("p", "urgent-line urgent-removed", config.labels.removed));
    }
    map.removeLayer(marker);
  }

  function redraw(revision) {
    // This page again, as the server draws it now: its live parts replace the old ones.
    fetch(window.location.href, { credentials: "omit", cache: "no-store" })
      .then(function (response) {
        if (response.status === 404) return removed();
        if (!response.ok) return null;
        return response.text().then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html");
          fresh.querySelectorAll("[data-live]").forEach(function (node) {
            var old = document.querySelector('[data-live="' + node.dataset.live + '"]');
            if (old) old.replaceWith(document.importNode(node, true));
          });
          // What the page shares (the share sheet's title and text, the Telegram link) and
          // the tab's title: attributes only, so the buttons keep their handlers.
          fresh.querySelectorAll("[data-live-attrs]").forEach(function (node) {
            var old = document.querySelector('[data-live-attrs="' + node.dataset.liveAttrs + '"]');
            if (!old) return;
            LIVE_ATTRIBUTES.forEach(function (name) {
              if (node.hasAttribute(name)) old.setAttribute(name, node.getAttribute(name));
            });
          });
          if (fresh.title) document.title = fresh.title;
          point.dataset.revision = revision;
        });
      })
      .catch(function () { /* the next re-check tries again */ });
  }

  watcher = watch(url, config.refreshSeconds, "omit", function (rally) {
    if (gone) return;
    if (!rally) return removed();
    if (rally.status !== shown.status) {
      // The status the page was made with is no longer true: only the banner speaks now.
      document.querySelectorAll("[data-status-then]").forEach(function (node) { node.remove(); });
      banner.say(rally, false);
      shown.status = rally.status;
      point.dataset.status = rally.status;
      marker.setIcon(iconFor(rally));
    }
    if (rally.title && rally.title !== shown.title) {
      // The marker's name (its title and alt) is the rally's: a renamed rally's page said
      // the old name to a screen reader's user until reloaded.
      shown.title = point.dataset.title = rally.title;
      marker.options.title = rally.title;
      // Leaflet writes the title only into a new element, and a div icon keeps its own.
      var node = marker.getElement();
      if (node) node.title = rally.title;
    }
    if (isFinite(rally.lat) && isFinite(rally.lon) && !marker.getLatLng().equals([rally.lat, rally.lon])) {
      marker.setLatLng([rally.lat, rally.lon]);
      if (rally.exact) map.setView([rally.lat, rally.lon], 15);
    }
    if (String(rally.sequence) !== point.dataset.revision) redraw(String(rally.sequence));
  });
}
