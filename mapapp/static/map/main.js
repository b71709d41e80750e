/* Draws the rallies on the folium map: the entry of the map's ES modules.
 *
 * folium's own script makes the Leaflet map and calls RallyMap.init(map, config) (see
 * mapapp/places/mapshell.py). The parts, one idea each:
 *   feed.js      the data from the server and its re-checks (ETag, visibility)
 *   markers.js   markers and clusters (supercluster)
 *   popups.js    a rally's popup and its details
 *   star.js      the main rally's star and what it hides
 *   list.js      the list beside the map
 *   keyboard.js  keyboard and focus
 *   urgent.js    the urgent banner
 *   view.js      the view and Leaflet's controls
 *   single.js    a rally page's map; pin.js the submit form's pin
 *   rally.js, dom.js  a rally's words and small helpers
 * They import each other's functions (markers open popups, popups redraw markers): no
 * module calls another while it loads, only once init runs, so the cycles are harmless.
 * Pages load them joined into one script (map.js, mapapp/web/assets.py BUNDLE), and so does the
 * saved page (mapapp/publishing/export.py classic_script, in the order a browser runs them):
 * keep every import on one line, and every top-level name unique.
 *
 * Public maps load the map's compact feed and each rally's details when they are shown;
 * the moderators' map and the saved page carry every property in their GeoJSON.
 * User text is put into the page only through textContent and setAttribute: never through
 * HTML strings or folium's popup templates.
 */

import { afterPaint, mark } from "./dom.js";
import { dataUrl, DetailStore, watch } from "./feed.js";
import { keyboard } from "./keyboard.js";
import { List } from "./list.js";
import { addRecord, dropClusters, prepareLevelSoon, rebuildIndex, removeRecord, render, renderIfUncovered, updateMarker } from "./markers.js";
import { initPin } from "./pin.js";
import { popupContent, reload, showing } from "./popups.js";
import { isUrgent, recordsOf, signature } from "./rally.js";
import { initSingle } from "./single.js";
import { Banner, yieldToPopups } from "./urgent.js";
import { firstView, fitToFilter, initialView, keepTileLevelWhileZooming, keepViewInAddress, nearMeControl, translateControls, wheelScrollsShortPage } from "./view.js";

// folium makes the map without a view (mapapp/places/mapshell.py): each kind of map sets
// its own first (initialView, initPin, initSingle), so the tile layer lays out one level only.
// A map that set none (a rally page without its point) shows Belarus, as folium's view did.
function init(map, config) {
  startMap(map, config);
  if (!map._loaded) firstView(map, config);
}

function startMap(map, config) {
  keepTileLevelWhileZooming();
  if (window.RallyBasemap) window.RallyBasemap.add(map, config);  // basemap.js
  if (config.mode === "pin") return initPin(map, config);
  if (config.mode === "single") return initSingle(map, config);
  var status = document.getElementById("map-status");
  var details = DetailStore(config);
  var banner = Banner(config, details);
  initialView(map, config);
  translateControls(map, config.labels);
  if (config.mode === "browse") {
    nearMeControl(map, config.labels, function (lat, lon) { return nearestRally(state, lat, lon); });
    keepViewInAddress(map, config);
    wheelScrollsShortPage(map);
  }
  // A page saved with export-static carries its rallies and marker images itself.
  if (config.icons) {
    L.Icon.Default.imagePath = "";
    L.Icon.Default.mergeOptions(config.icons);
  }

  // What every part of the map shares.
  var state = {
    map: map,
    config: config,
    details: details,           // DetailStore: the rallies' texts
    records: new Map(),         // rally id -> record (recordsOf)
    order: [],                  // the records, main rally first, as the list shows them
    markers: new Map(),         // rally id -> its marker, made when first drawn
    stars: new Map(),           // the main rally's (never clustered) markers, by id
    star: null,                 // the main rally's marker, whose popup lists what it hides
    index: null,                // supercluster over the other rallies
    drawn: new Map(),           // what is on the map now: "r<id>" or "c<cluster id>" -> marker
    drawnZoom: null,
    drawnBounds: null,          // the area drawn (the view and DRAW_PAD around it)
    drawnAt: null,              // the map's zoom then
    current: null,              // the open popup: {popup, record}
    opening: null,              // the rally whose popup waits for its details
    detailsFailed: new Set()    // rallies whose details could not be loaded
  };

  map.on("moveend", function () { render(state); });
  // A zoom's new level is made while Leaflet animates it (markers.js prepareLevel), in a task
  // of its own: the zoomanim event's task starts the animation's 250 ms timer only after it.
  map.on("zoomanim", function () { prepareLevelSoon(state); });
  map.on("move", function () { renderIfUncovered(state); });
  yieldToPopups(map);
  map.on("popupclose", function (event) {
    // Another popup is opening in its place (popups.js set it as current already).
    if (state.current && state.current.popup !== event.popup) return;
    var frame = map.getContainer().closest(".map-frame, .embed-map");
    if (frame) frame.classList.remove("popup-open");
    if (state.viewBounds) map.setMaxBounds(state.viewBounds);  // lifted by popups.js
  });
  keyboard(state);
  var list = List(state, document.getElementById("rally-list"));

  function draw(data) {
    var order = state.order = recordsOf(data);
    // The main rally first, then by time (ISO strings in one offset sort as text); the
    // compact feed comes in the list's order already (a stable sort keeps it).
    order.sort(function (a, b) {
      return (b.featured - a.featured) ||
        (a.starts_at && b.starts_at ? (a.starts_at < b.starts_at ? -1 : a.starts_at > b.starts_at ? 1 : 0) : 0);
    });
    order.forEach(function (r) { addRecord(state, r); });
    // The banner names the urgent rallies at load too: a warning first, then a new place,
    // then a cancel (an old copy of the place, a screenshot, sends people to the wrong one).
    ["danger", "moved", "cancelled"].forEach(function (status) {
      order.forEach(function (r) { if (r.status === status) banner.say(r, true); });
    });
    rebuildIndex(state);
    mark("rallies-built");
    fitToFilter(map, order);
    render(state);
    if (status) {
      status.textContent = order.length
        ? config.labels.loaded.replace("{count}", String(order.length)) : config.labels.none;
    }
    mark("rallies-loaded");
    map.fire("rallies:loaded", { count: order.length });
    // The list once the markers are on screen: its first page (elements, and the details its
    // lines ask for) no longer holds the first frame of the map back.
    afterPaint(function () { list.showMore(false); });
  }

  // A newer document: changed rallies are redrawn where they are; the view, the open
  // popup and the list's focus stay. A rally that turns urgent is said in the banner.
  function update(data) {
    var fresh = recordsOf(data);
    var order = state.order;
    var now = new Set();
    var reindex = false;
    fresh.forEach(function (r) {
      now.add(r.id);
      var before = state.records.get(r.id);
      if (!before) {
        addRecord(state, r);
        order.push(r);
        reindex = true;
        if (isUrgent(r.status)) banner.say(r, true);
        return;
      }
      before.sig = before.sig || signature(before);
      r.sig = signature(r);
      if (before.sig === r.sig) return;
      details.forget(r.id);
      if (before.featured !== r.featured) {
        removeRecord(state, before);
        addRecord(state, r);
        reindex = true;
      } else {
        state.records.set(r.id, r);
        // A new place, or a danger warning set or lifted (clusters count them): new clusters.
        if (before.lat !== r.lat || before.lon !== r.lon) reindex = true;
        if ((before.status === "danger") !== (r.status === "danger")) reindex = true;
        updateMarker(state, r);
      }
      order[order.indexOf(before)] = r;
      list.replace(r);
      if (showing(state, r)) reload(state, r);  // the new status at once, its details again
      if (before.status !== r.status) banner.say(r, true);
    });
    state.records.forEach(function (r) {
      if (now.has(r.id)) return;
      removeRecord(state, r);
      order.splice(order.indexOf(r), 1);
      list.remove(r);
      reindex = true;
    });
    if (reindex) {
      rebuildIndex(state);
      dropClusters(state);
    }
    render(state);
  }

  var loaded = false;
  function received(data) {
    if (!loaded) {
      loaded = true;
      mark("rallies-data");
      draw(data || {});
    } else {
      update(data || {});
    }
  }
  function failed() {
    if (!loaded && status) status.textContent = config.labels.failed;
  }

  if (config.data) {
    received(config.data);
  } else {
    // Moderators' map: its data needs their session cookie; public maps send none, and
    // their pages have asked for it already (window.rallyFeed), with this page's filter.
    var early = config.credentials === "same-origin" ? null : window.rallyFeed;
    window.rallyFeed = null;
    var url = early ? early.url : dataUrl(config);
    watch(url, config.refreshSeconds, config.credentials || "omit", received, failed,
      early && early.promise);
  }
}

// The rally nearest to a point (kept in memory by "Near me" only), cancelled ones last.
function nearestRally(state, lat, lon) {
  var best = null;
  var here = L.latLng(lat, lon);
  (state.order || []).forEach(function (r) {
    var km = here.distanceTo([r.lat, r.lon]) / 1000 + (r.status === "cancelled" ? 100000 : 0);
    if (!best || km < best.km) best = { record: r, km: km };
  });
  if (best && best.km >= 100000) best.km -= 100000;
  return best;
}

window.RallyMap = { init: init, popupContent: popupContent, recordsOf: recordsOf };
