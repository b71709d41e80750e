/* The map's view and controls: its first view, its size, the view kept in the address,
 * the wheel on short pages, "Near me", and Leaflet's controls in the page's language. */

// The zoom for a centre asked for without one: a town's streets.
export var PLACE_ZOOM = 13;

// Leaflet 1.9's tile layers, at a zoom animation's start (zoomanim, before the map moves to the
// new zoom), check the level they go to against the map's zoom of before, and take a jump of
// more than one level for a reset: from the first view's fractional zoom (Belarus at 6.75) the
// "+" goes to 8, and the layer dropped the level 8 it had just made, with its tiles' requests,
// to make it again when the animation ended (its tiles asked for 250 ms late, and a forced
// style recalculation of the whole map then; Leaflet issue 8300). Here the layer checks against
// the zoom the animation goes to, as the map has it a moment later.
var tileZoomKept = false;
export function keepTileLevelWhileZooming() {
  if (tileZoomKept || !L.GridLayer) return;
  tileZoomKept = true;
  var update = L.GridLayer.prototype._update;
  L.GridLayer.prototype._update = function (center) {
    var map = this._map;
    if (!map || !map._animatingZoom || map._zoom === map._animateToZoom) return update.call(this, center);
    var zoom = map._zoom;
    map._zoom = map._animateToZoom;
    try {
      return update.call(this, center);
    } finally {
      map._zoom = zoom;
    }
  };
}

export function translateControls(map, labels) {
  // folium leaves out the zoom control so that it is made here with titles in our language.
  L.control.zoom({ zoomInTitle: labels.zoomIn, zoomOutTitle: labels.zoomOut }).addTo(map);
  // Belarus measures in metres and kilometres: no miles or feet; the units in the page's
  // language («км», «м»): Leaflet writes " m" / " km" itself in _updateMetric.
  var scale = L.control.scale({ metric: true, imperial: false });
  if (labels.metres && labels.kilometres) {
    scale._updateMetric = function (maxMeters) {
      var meters = this._getRoundNum(maxMeters);
      var label = meters < 1000 ? labels.metres.replace("{num}", meters)
        : labels.kilometres.replace("{num}", meters / 1000);
      this._updateScale(this._mScale, label, meters / maxMeters);
    };
  }
  scale.addTo(map);
  var attribution = map.attributionControl;
  if (!attribution || !attribution.options.prefix) return;
  // Leaflet's own prefix (a link, with its flag), parsed as an inert document, with our title.
  var parsed = new DOMParser().parseFromString(attribution.options.prefix, "text/html");
  var link = parsed.querySelector("a");
  if (!link) return;
  link.title = labels.leaflet;
  attribution.setPrefix(link.outerHTML);
}

// Leaflet learns of a new size only from the window; a map inside a partner's tab or
// a grid changes size on its own. With `bounds`, the map was never shown at a real size
// (hidden at load: a 0 x 0 box fits Belarus at the lowest zoom): fit them once it is,
// unless the visitor has moved it meanwhile.
function followSize(map, bounds) {
  // Only a map that had no size at load (hidden in a tab) waits to fit Belarus; and only the
  // visitor's own moves cancel that: Leaflet also zooms by itself (max bounds, min zoom).
  var box = map.getContainer().getBoundingClientRect();
  var pending = Boolean(bounds) && !(box.width && box.height);
  function moved() { pending = false; }
  map.on("dragstart", moved);
  ["pointerdown", "wheel", "keydown", "touchstart"].forEach(function (type) {
    map.getContainer().addEventListener(type, moved, { passive: true });
  });
  if (!window.ResizeObserver) return;
  new ResizeObserver(function () {
    var size = map.getContainer().getBoundingClientRect();
    if (!size.width || !size.height) return;
    map.invalidateSize();  // keeps the centre
    if (pending) {
      pending = false;
      fitBelarus(map, bounds);
    }
  }).observe(map.getContainer());
}

// Belarus as large as the map allows: Leaflet's whole zoom steps would draw it at half a
// phone's width, so the first view may take a fractional zoom (quarters); the zoom buttons
// then step by whole levels from there.
function fitBelarus(map, bounds) {
  var snap = map.options.zoomSnap;
  map.options.zoomSnap = 0.25;
  map.fitBounds(bounds, { padding: [4, 4], animate: false });
  map.options.zoomSnap = snap;
}

// On a phone the map fills the first screen from where it starts to the window's foot, so
// that its foot (where the urgent banner sits) is seen without scrolling: where it starts
// depends on the top bar and the intro in the page's language, which CSS cannot know
// (app.css: .map-frame, --map-top). A wide page lays the map out in its grid instead.
// Measured only where the CSS uses it: a page as wide as WIDE_PAGE (app.css) lays the map out in
// its grid, and there the measure forced a layout of the whole page before the map's first
// draw, and another after --map-top changed.
var WIDE_PAGE = "(min-width: 48rem)";

function fitFrameToScreen(map) {
  var frame = map.getContainer().closest(".page-map .map-frame");
  if (!frame) return;
  var wide = window.matchMedia ? window.matchMedia(WIDE_PAGE) : null;
  function measure() {
    if (wide && wide.matches) return;
    var top = Math.ceil(frame.getBoundingClientRect().top + window.scrollY);
    if (frame.style.getPropertyValue("--map-top") !== top + "px") {
      frame.style.setProperty("--map-top", top + "px");
      map.invalidateSize({ pan: false });
    }
  }
  measure();
  window.addEventListener("resize", measure);
}

// The view of a map that has no other yet: Belarus's centre at zoom 6 (folium's view, before
// folium was left to make the map without one: see main.js init).
export function firstView(map, config) {
  map.setView(config.centre || L.latLngBounds(config.bounds).getCenter(), 6, { animate: false });
}

// A link may ask for a centre and zoom (?lat=&lon=&zoom=, checked by the server); a page
// filtered to a town or a region shows it (filterFocus); otherwise the map shows the whole
// of Belarus. The map opens at that view at once: folium made it without a view, so this is
// its first, and the tile layer lays out that view's tiles only.
// Never animated from there: an animation would load and draw a second zoom level.
export function initialView(map, config) {
  fitFrameToScreen(map);
  var page = new URLSearchParams(window.location.search);
  var lat = parseFloat(page.get("lat"));
  var lon = parseFloat(page.get("lon"));
  // Fractional too (the server took it, and brought it into the map's range): 6.75 is the
  // view a phone's first fit of Belarus writes into the address.
  var zoom = parseFloat(page.get("zoom"));
  var centred = isFinite(lat) && isFinite(lon);
  if (!centred && !isFinite(zoom)) {
    var size = map.getSize();
    var focus = filterFocus(map);
    if (size.x && size.y) {
      if (focus) fitFocus(map, focus); else fitBelarus(map, config.bounds);
      followSize(map, null);
    } else {
      firstView(map, config);  // hidden: Belarus is fitted once the map has a size
      followSize(map, config.bounds);
    }
  } else {
    // Not snapped to a whole level (Leaflet's zoomSnap would round 6.5 to 7): the view the
    // link asked for, as the page that wrote it showed it.
    var snap = map.options.zoomSnap;
    map.options.zoomSnap = 0;
    map.setView(centred ? [lat, lon] : config.centre || map.getCenter(), isFinite(zoom) ? zoom : PLACE_ZOOM, { animate: false });
    map.options.zoomSnap = snap;
    followSize(map, null);
  }
  // Leaflet snaps the zoom of every view it sets (a pan into the bounds too): a link's
  // fractional zoom stays as it is.
  var snapBefore = map.options.zoomSnap;
  map.options.zoomSnap = 0;
  if (config.viewBounds) {
    // The view never leaves what the server accepts back (filters.VIEW_LAT/VIEW_LON). Set
    // once the view is final: set over folium's first view, Leaflet began an animated pan
    // into them that went on after the link's view was set and moved it by 30 px (each
    // reload, the view being kept in the address, moved it again).
    map.setMaxBounds(config.viewBounds);
    map.options.maxBoundsViscosity = 1;
  }
  map.options.zoomSnap = snapBefore;
}

// The box a map filtered to a town or a region looks at (the page's data-map-focus, from the
// server's mapshells.filter_focus), or null; none when a link asked for a view (?lat=&zoom=).
function filterFocus(map) {
  var frame = map.getContainer().closest("[data-map-focus]");
  if (!frame) return null;
  var page = new URLSearchParams(window.location.search);
  if (page.has("lat") || page.has("zoom")) return null;
  try {
    return L.latLngBounds(JSON.parse(frame.dataset.mapFocus));
  } catch (e) {
    return null;
  }
}

function fitFocus(map, bounds) {
  map.fitBounds(bounds, { padding: [40, 40], maxZoom: PLACE_ZOOM, animate: false });
}

// A map filtered to a town or a region opened at the town or the region (initialView). Once
// its rallies are loaded: a town's view stays if they all lie in it (its rallies are in the
// town: no second zoom level); a region's fits its rallies (or the region, with none). Not
// when a link asked for a view (?lat=&zoom=).
export function fitToFilter(map, records) {
  var frame = map.getContainer().closest("[data-map-focus]");
  var focus = filterFocus(map);
  if (!focus || frame.dataset.mapFocusDone) return;
  frame.dataset.mapFocusDone = "1";
  var points = records.map(function (r) { return [r.lat, r.lon]; });
  var bounds = points.length ? L.latLngBounds(points) : focus;
  var town = frame.hasAttribute("data-map-focus-town");
  if (town && map.getSize().x && map.getBounds().contains(bounds)) return;
  fitFocus(map, bounds);
}

function clamp(value, range) {
  return Math.min(Math.max(value, range[0]), range[1]);
}

// Keeps centre and zoom in the address, so the view the visitor sees is a link to share;
// only a view the server takes back (the map's bounds already keep it so). Once "Near me"
// has centred the map on the visitor, the view is theirs: it stays out of the address.
var viewIsPrivate = false;

// Written once the map is idle (replaceState took 2-40 ms at 4x CPU at a zoom's end, before
// its new level was painted); a move before then waits for the next idle time.
export function keepViewInAddress(map, config) {
  var bounds = config.viewBounds || [[-90, -180], [90, 180]];
  var queued = false;
  function write() {
    queued = false;
    if (viewIsPrivate) return;
    var centre = map.getCenter();
    var query = new URLSearchParams(window.location.search);
    var zoom = map.getZoom();
    // As precise as a pixel at this zoom (4 decimals are 37 px at zoom 19).
    var digits = Math.min(7, Math.max(4, Math.ceil(Math.log10(256 * Math.pow(2, zoom) / 360) + 0.3)));
    query.set("lat", clamp(centre.lat, [bounds[0][0], bounds[1][0]]).toFixed(digits));
    query.set("lon", clamp(centre.lng, [bounds[0][1], bounds[1][1]]).toFixed(digits));
    // The zoom the map shows, fractional as the first fit of Belarus makes it (6.75): a
    // rounded 7 showed a different view after a reload.
    query.set("zoom", String(Math.round(zoom * 1000) / 1000));
    window.history.replaceState(null, "", "?" + query.toString() + window.location.hash);
  }
  map.on("moveend", function () {
    if (viewIsPrivate || queued) return;
    queued = true;
    if (window.requestIdleCallback) window.requestIdleCallback(write, { timeout: 1000 });
    else window.setTimeout(write, 200);
  });
}

// From now on the view is not written into the address, and the one there is taken out
// (replaceState: no history entry ever held the position).
function keepViewPrivate() {
  viewIsPrivate = true;
  var query = new URLSearchParams(window.location.search);
  ["lat", "lon", "zoom"].forEach(function (name) { query.delete(name); });
  var rest = query.toString();
  window.history.replaceState(null, "", (rest ? "?" + rest : window.location.pathname) + window.location.hash);
}

// In a short window (400 % zoom makes it 256 px high) the wheel scrolls the page past
// the map, which would otherwise take every turn for zooming; its buttons, keys,
// double-click and pinch still zoom it.
export function wheelScrollsShortPage(map) {
  if (!window.matchMedia) return;
  var short = window.matchMedia("(max-height: 30rem)");
  function apply() {
    if (short.matches) map.scrollWheelZoom.disable(); else map.scrollWheelZoom.enable();
  }
  apply();
  if (short.addEventListener) short.addEventListener("change", apply);
}

// "Near me" shows a region, never a street: tiles are asked for the view it makes, and at zoom
// 9 a tile is about 48 km across at Belarus's latitude (40,075 km x cos 52° / 2^9), a phone's
// view about 75 km (zoom 10 would be 24 km tiles). The nearest rally is 55 km away or less
// for most of the country, so the view is the same one a fitted pair would have asked for.
export var NEAR_ME_ZOOM = 9;

// What a fitted view must stay clear of (pixels from the map's edges): the controls in the
// map's corners ("Near me" and its message, the zoom buttons, the scale and attribution) and
// the urgent banner over its foot, measured where they are drawn now.
export function clearArea(map) {
  var box = map.getContainer().getBoundingClientRect();
  var top = 12, bottom = 12;
  map.getContainer().querySelectorAll(".leaflet-top .leaflet-control").forEach(function (control) {
    var rect = control.getBoundingClientRect();
    if (rect.height) top = Math.max(top, rect.bottom - box.top + 8);
  });
  var covers = [].slice.call(map.getContainer().querySelectorAll(".leaflet-bottom .leaflet-control"));
  var frame = map.getContainer().closest(".map-frame, .embed-map");
  var banner = frame && frame.querySelector(".urgent-over-map");
  if (banner) covers.push(banner);
  covers.forEach(function (cover) {
    var rect = cover.getBoundingClientRect();
    if (rect.height) bottom = Math.max(bottom, box.bottom - rect.top + 8);
  });
  return { top: top, bottom: bottom };
}

// The tiles of a view made from the visitor's position go on being asked for (a map needs
// them), the same URLs as anyone's, but none is kept: the page tells the service worker
// (sw.js), which then stores none of this page's tiles; `then` runs once it has noted it
// (or at once with no worker, or after a second if it does not answer).
// The page also says so to offline-status.js (data-private-since: what it loaded from then
// on is not handed to the worker), and to a worker that takes control of it later (a first
// visit). Tiles from another host (MAPAPP_TILE_PROXY=0) are not asked for at all: that host
// would learn the visitor's region, with their address; the app's own basemap stays.
function tilesPrivate(map, then) {
  var root = document.documentElement;
  if (!root.hasAttribute("data-private-since")) {
    root.setAttribute("data-private-since", String(Math.floor(performance.now())));
    if (navigator.serviceWorker) {
      navigator.serviceWorker.addEventListener("controllerchange", function () {
        var later = navigator.serviceWorker.controller;
        if (later) later.postMessage({ type: "rallymap:private-view" });
      });
    }
  }
  map.eachLayer(function (layer) {
    var url = layer instanceof L.TileLayer ? layer._url || "" : "";
    if (/^(https?:)?\/\//.test(url) && url.indexOf(window.location.origin + "/") !== 0) map.removeLayer(layer);
  });
  var worker = navigator.serviceWorker && navigator.serviceWorker.controller;
  if (!worker || !window.MessageChannel) return then();
  var done = false;
  function once() { if (!done) { done = true; then(); } }
  var channel = new MessageChannel();
  channel.port1.onmessage = once;
  worker.postMessage({ type: "rallymap:private-view" }, [channel.port2]);
  window.setTimeout(once, 1000);
}

// "Near me": the browser's position stays in this page's memory. It is never written into
// the address, the history or a log: the map shows a "you are here" mark, fits it with the
// nearest rally and names that rally; a refusal is said beside the button, which keeps its
// label and can be tried again. The view it makes is coarse (NEAR_ME_ZOOM) and its tiles are
// not kept (tilesPrivate). `nearest(lat, lon)` gives {record, km} or null.
export function nearMeControl(map, labels, nearest) {
  if (!navigator.geolocation) return;
  var here = null;
  var NearMe = L.Control.extend({
    options: { position: "topleft" },
    onAdd: function () {
      var box = L.DomUtil.create("div", "leaflet-bar near-me");
      var button = L.DomUtil.create("button", "near-me-button", box);
      button.type = "button";
      button.textContent = labels.nearMe;
      var said = L.DomUtil.create("p", "near-me-message", box);
      said.setAttribute("role", "status");
      said.hidden = true;
      function say(text) {
        said.textContent = text;
        said.hidden = !text;
      }
      L.DomEvent.disableClickPropagation(box);
      // Said over the map's corner, it would cover the markers there for good: it goes once
      // the visitor taps or drags the map (the view's own moves leave it).
      map.on("click dragstart", function () { say(""); });
      button.addEventListener("click", function () {
        button.setAttribute("aria-busy", "true");
        say("");
        navigator.geolocation.getCurrentPosition(
          function (position) {
            button.removeAttribute("aria-busy");
            var you = L.latLng(position.coords.latitude, position.coords.longitude);
            keepViewPrivate();
            tilesPrivate(map, function () { showNearest(you); });
          },
          function (error) {
            button.removeAttribute("aria-busy");
            say(error && error.code === 1 ? labels.nearMeDenied : labels.nearMeFailed);
          },
          { maximumAge: 600000, timeout: 15000 }
        );
      });
      // "You are here", the nearest rally named, and the view fitted to both.
      function showNearest(you) {
        if (here) here.setLatLng(you);
        else {
          here = L.circleMarker(you, {
            radius: 9, weight: 3, color: "#fff", fillColor: "#1a56db", fillOpacity: 1,
            interactive: false, className: "you-are-here"
          }).addTo(map);
          here.bindTooltip(labels.youAreHere, { permanent: true, direction: "right", className: "you-are-here-label" });
        }
        var found = nearest ? nearest(you.lat, you.lng) : null;
        // The message is said first: the view then keeps clear of it as drawn.
        say(found ? labels.nearest
          .replace("{town}", found.record.town || "")
          .replace("{day}", found.record.dayName || "")
          .replace("{km}", String(Math.max(1, Math.round(found.km)))) : labels.noneNear);
        var clear = clearArea(map);
        // Room for a marker (22 px from its point) and, on the right, "you are here".
        var label = here.getTooltip() && here.getTooltip().getElement();
        var right = Math.max(48, (label ? label.offsetWidth : 0) + 24);
        var points = found ? [you, [found.record.lat, found.record.lon]] : [you];
        map.fitBounds(L.latLngBounds(points), {
          paddingTopLeft: [32, clear.top + 22], paddingBottomRight: [right, clear.bottom + 22],
          maxZoom: NEAR_ME_ZOOM, animate: false
        });
      }
      return box;
    }
  });
  new NearMe().addTo(map);
}
