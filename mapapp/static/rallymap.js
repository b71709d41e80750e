/* Draws the rallies on the folium map.
 *
 * User text arrives as GeoJSON and is put into the page only through textContent
 * and setAttribute: never through HTML strings or folium's popup templates.
 */
(function () {
  "use strict";

  var FILTER_PARAMS = ["when", "region", "city", "from", "to", "featured"];
  var LIST_LIMIT = 200;
  // The zoom for a centre asked for without one: a town's streets.
  var PLACE_ZOOM = 13;
  // Statuses that warn people away: each has its own marker and a fixed sentence.
  var URGENT = ["danger", "cancelled", "moved"];
  // Markers or clusters drawn this close (pixels) to the main rally's star are under it:
  // its popup lists them, so that they can be reached.
  var STAR_RADIUS = 34;
  // How many rallies the urgent banner names at most (the map and the list show the rest).
  var BANNER_LIMIT = 5;

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function startsText(p, lang) {
    // The server formats the time when asked with ?lang (browsers lack some languages).
    return p.starts_text || localTime(p.starts_at, lang);
  }

  function localTime(iso, lang) {
    try {
      return new Intl.DateTimeFormat(lang, {
        timeZone: "Europe/Minsk", dateStyle: "full", timeStyle: "short"
      }).format(new Date(iso));
    } catch (e) {
      return iso;
    }
  }

  function rallyUrl(config, id) {
    // The id is a number from our own API; anything else is refused.
    return config.rallyUrl + encodeURIComponent(String(Number(id))) +
      (config.lang ? "?lang=" + encodeURIComponent(config.lang) : "");
  }

  // A link to a rally's page. Inside another site's page (embed) it opens in a new tab:
  // our pages refuse to be framed, and the partner's page stays where it was.
  function rallyLink(config, p, className, text) {
    if (!config.rallyUrl) return element("span", className, text);  // a page saved to disk
    var link = element("a", className, text);
    link.href = rallyUrl(config, p.id);
    if (config.mode === "embed") {
      link.target = "_blank";
      link.rel = "noopener";
      link.appendChild(element("span", "visually-hidden", " " + config.labels.newTab));
    }
    return link;
  }

  // User text isolated from what follows it, so a direction control inside cannot reverse
  // it: in the page as <bdi> elements, in labels (plain text) between first-strong isolate
  // and pop directional isolate, the plain-text <bdi>.
  function isolate(text) {
    return "\u2068" + text + "\u2069";
  }

  function placeLine(p) {
    return [p.place, p.town].filter(Boolean).map(isolate).join(", ");
  }

  function appendPlace(node, p) {
    [p.place, p.town].filter(Boolean).forEach(function (text, i) {
      if (i) node.appendChild(document.createTextNode(", "));
      node.appendChild(element("bdi", null, text));
    });
    return node;
  }

  function isUrgent(status) {
    return URGENT.indexOf(status) >= 0;
  }

  // The fixed sentence of an urgent status ("" for the others).
  function statusSentence(status, labels) {
    if (status === "danger") return labels.danger;
    if (status === "moved") return labels.moved;
    if (status === "cancelled") return labels.cancelledNotice;
    return "";
  }

  // The badge shown with a rally in a popup or the list.
  function statusBadge(tag, p, labels) {
    if (p.status === "cancelled") return element(tag, "badge badge-cancelled", labels.cancelled);
    if (isUrgent(p.status)) return element(tag, "badge badge-" + p.status, statusSentence(p.status, labels));
    return null;
  }

  // Direction controls, which only isolation keeps from reordering what follows.
  var BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

  function markerLabel(p, labels) {
    var status = p.status === "cancelled" ? labels.cancelled : statusSentence(p.status, labels);
    var title = BIDI.test(p.title) ? isolate(p.title) : p.title;
    return (status ? status + " " : "") + title + " — " + placeLine(p);
  }

  function popupContent(p, config, extra) {
    var box = element("div", "rally-popup");
    var badge = statusBadge("p", p, config.labels);
    if (badge) box.appendChild(badge);
    if (p.featured) box.appendChild(element("p", "badge badge-featured", config.labels.featured));
    box.appendChild(element("h2", "rally-popup-title", p.title));
    box.appendChild(appendPlace(element("p", "rally-popup-place"), p));
    var when = element("p", "rally-popup-time");
    var time = element("time", null, startsText(p, config.lang));
    time.setAttribute("datetime", p.starts_at);
    when.appendChild(time);
    box.appendChild(when);
    if (config.rallyUrl) box.appendChild(rallyLink(config, p, "rally-popup-link", config.labels.details));
    if (extra) box.appendChild(extra);
    return box;
  }

  // This page's filters and language, as a query string ("" when there are none).
  function filterQuery(lang) {
    var page = new URLSearchParams(window.location.search);
    var query = new URLSearchParams();
    FILTER_PARAMS.forEach(function (name) {
      if (page.get(name)) query.set(name, page.get(name));
    });
    if (lang) query.set("lang", lang);
    var text = query.toString();
    return text ? "?" + text : "";
  }

  function dataUrl(config) {
    // Towns and times in the page's language (the document is cached per language).
    return config.dataUrl + filterQuery(config.lang);
  }

  // Fetches `url` now and then every `seconds`, with the ETag of the last answer, so an
  // unchanged document costs a 304 with no body. It waits while the tab is hidden and
  // looks at once when the tab is shown again. `onData(json)` gets every new document;
  // `onData(null)` a 404 (the thing is gone).
  function watch(url, seconds, credentials, onData, onError) {
    var etag = null;
    var timer = null;
    var busy = false;
    var stopped = false;

    function schedule() {
      window.clearTimeout(timer);
      if (stopped || !(seconds > 0) || document.visibilityState === "hidden") return;
      timer = window.setTimeout(check, seconds * 1000);
    }

    function check() {
      if (busy) return;
      busy = true;
      var headers = etag ? { "If-None-Match": etag } : {};
      // no-store: this code, not the HTTP cache, keeps the last answer and its ETag.
      fetch(url, { credentials: credentials, cache: "no-store", headers: headers })
        .then(function (response) {
          if (response.status === 304) return null;
          if (response.status === 404) return onData(null);
          if (!response.ok) throw new Error(String(response.status));
          var next = response.headers.get("ETag");
          return response.json().then(function (data) {
            etag = next;
            return onData(data);
          });
        })
        .catch(function (error) { if (onError) onError(error); })
        .then(function () {
          busy = false;
          schedule();
        });
    }

    document.addEventListener("visibilitychange", function () {
      window.clearTimeout(timer);
      if (document.visibilityState === "visible" && !stopped) check();
    });
    check();
    return { stop: function () { stopped = true; window.clearTimeout(timer); } };
  }

  // The banner over the map or at the top of a rally page: role=alert, so a screen
  // reader says it at once. Each rally has one line, replaced when its status changes.
  function Banner(config) {
    var node = document.getElementById("urgent");
    var lines = {};
    return {
      say: function (p, withTitle) {
        if (!node) return;
        var id = String(p.id);
        if (lines[id]) lines[id].remove();
        delete lines[id];
        if (!isUrgent(p.status)) return;
        if (Object.keys(lines).length >= BANNER_LIMIT) return;
        var line = element("p", "urgent-line urgent-" + p.status);
        if (withTitle) {
          line.appendChild(rallyLink(config, p, "urgent-title", p.title));
          line.appendChild(document.createTextNode(": "));
        }
        line.appendChild(element("strong", null, statusSentence(p.status, config.labels)));
        lines[id] = line;
        node.appendChild(line);
      }
    };
  }

  // A div icon that carries a label: markercluster's clusters are otherwise just a number.
  // The node keeps its cluster, for the keyboard (see init).
  var LabelledIcon = L.DivIcon.extend({
    createIcon: function (oldIcon) {
      var node = L.DivIcon.prototype.createIcon.call(this, oldIcon);
      node.title = this.options.label;
      node.setAttribute("aria-label", this.options.label);
      node.rallyCluster = this.options.cluster;
      return node;
    }
  });

  function clusterIcon(cluster, config) {
    // The same look as markercluster's own icon; the count is inserted as text.
    var count = cluster.getChildCount();
    var size = count < 10 ? "small" : count < 100 ? "medium" : "large";
    var inner = element("div");
    inner.appendChild(element("span", null, count));
    return new LabelledIcon({
      html: inner,
      className: "marker-cluster marker-cluster-" + size,
      iconSize: L.point(40, 40),
      label: config.labels.cluster.replace("{count}", String(count)),
      cluster: cluster
    });
  }

  function translateControls(map, labels) {
    // folium leaves out the zoom control so that it is made here with titles in our language.
    L.control.zoom({ zoomInTitle: labels.zoomIn, zoomOutTitle: labels.zoomOut }).addTo(map);
    var attribution = map.attributionControl;
    if (!attribution || !attribution.options.prefix) return;
    // Leaflet's own prefix (a link, with its flag), parsed as an inert document, with our title.
    var parsed = new DOMParser().parseFromString(attribution.options.prefix, "text/html");
    var link = parsed.querySelector("a");
    if (!link) return;
    link.title = labels.leaflet;
    attribution.setPrefix(link.outerHTML);
  }

  // Markers drawn with CSS, not Leaflet's pictures: sharp on every screen, and an urgent
  // status shows on the map (a cross, "!", an arrow) as well as in words.
  var icons = {};
  function iconFor(p) {
    var key = (p.featured ? "featured" : "plain") + "-" + (isUrgent(p.status) ? p.status : "");
    if (!icons[key]) {
      var className = p.featured ? "rally-marker-featured" : "rally-marker";
      if (isUrgent(p.status)) className += " " + className + "-" + p.status;
      icons[key] = p.featured
        ? L.divIcon({ className: className, iconSize: [40, 40], iconAnchor: [20, 20], popupAnchor: [0, -18] })
        : L.divIcon({ className: className, iconSize: [28, 28], iconAnchor: [14, 14], popupAnchor: [0, -12] });
    }
    return icons[key];
  }
  var pinIcon = L.divIcon({
    className: "rally-marker-pin", html: "<span></span>", iconSize: [32, 32], iconAnchor: [16, 32]
  });

  // A marker whose element says what it is and knows its marker (for the keyboard).
  // Leaflet calls _initIcon whenever the element is made, also after setIcon.
  var RallyMarker = L.Marker.extend({
    _initIcon: function () {
      L.Marker.prototype._initIcon.call(this);
      if (!this._icon) return;
      this._icon.setAttribute("aria-label", this.options.label);
      this._icon.title = this.options.label;
      this._icon.rallyMarker = this;
    }
  });

  function markerFor(feature, config) {
    var p = feature.properties;
    var c = feature.geometry.coordinates;
    var marker = new RallyMarker([c[1], c[0]], {
      label: markerLabel(p, config.labels), keyboard: true, riseOnHover: true,
      icon: iconFor(p), zIndexOffset: p.featured ? 1000 : 0
    });
    marker.feature = feature;
    return marker;
  }

  function listItem(feature, marker, show, config) {
    var p = feature.properties;
    var item = element("li", "rally-item" + (p.featured ? " rally-featured" : "") +
      (isUrgent(p.status) ? " rally-" + p.status : ""));
    item.dataset.id = String(p.id);
    var badge = statusBadge("strong", p, config.labels);
    if (badge) item.appendChild(badge);
    if (p.featured) item.appendChild(element("strong", "badge badge-featured", config.labels.featured));
    item.appendChild(rallyLink(config, p, "rally-title", p.title));
    var meta = appendPlace(element("p", "rally-meta", startsText(p, config.lang) + " · "), p);
    var button = element("button", "show-on-map", config.labels.show);
    button.type = "button";
    button.addEventListener("click", function () { show(marker, button); });
    meta.appendChild(button);
    item.appendChild(meta);
    return item;
  }

  // The submit form's map: one pin the organizer drags (or moves with the arrow keys)
  // to the place; the form's hidden lat/lon follow it.
  function initPin(map, config) {
    var latInput = document.querySelector("input[name=lat]");
    var lonInput = document.querySelector("input[name=lon]");
    var status = document.getElementById("pin-status");
    translateControls(map, config.labels);
    if (!latInput || !lonInput) return;
    var start = L.latLng(parseFloat(latInput.value), parseFloat(lonInput.value));
    var marker = L.marker(start, {
      draggable: true, keyboard: true, title: config.labels.pin, alt: config.labels.pin, icon: pinIcon
    });

    function moved() {
      var point = marker.getLatLng();
      latInput.value = point.lat.toFixed(6);
      lonInput.value = point.lng.toFixed(6);
      var query = "?lat=" + encodeURIComponent(latInput.value) + "&lon=" +
        encodeURIComponent(lonInput.value) + "&lang=" + encodeURIComponent(config.lang);
      fetch(config.reverseUrl + query, { credentials: "omit" })
        .then(function (response) { return response.json().then(function (data) { return [response.ok, data]; }); })
        .then(function (result) {
          if (!status) return;
          status.textContent = result[0]
            ? config.labels.underPin.replace("{town}", result[1].town)
            : config.labels.outside;
        })
        .catch(function () {});
    }
    marker.on("dragend", moved);
    map.on("click", function (event) { marker.setLatLng(event.latlng); moved(); });
    marker.on("add", function () {
      var node = marker.getElement();
      if (!node) return;
      node.setAttribute("aria-label", config.labels.pin);
      node.addEventListener("keydown", function (key) {
        var step = 0.0005;
        var moves = { ArrowUp: [step, 0], ArrowDown: [-step, 0], ArrowLeft: [0, -step], ArrowRight: [0, step] };
        if (!moves[key.key]) return;
        key.preventDefault();
        var point = marker.getLatLng();
        marker.setLatLng([point.lat + moves[key.key][0], point.lng + moves[key.key][1]]);
        moved();
      });
    });
    marker.addTo(map);
    map.setView(start, 15);
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
        map.fitBounds(bounds);
      }
    }).observe(map.getContainer());
  }

  // A link may ask for a centre and zoom (?lat=&lon=&zoom=, checked by the server);
  // otherwise the map shows the whole of Belarus.
  function initialView(map, config) {
    var page = new URLSearchParams(window.location.search);
    var lat = parseFloat(page.get("lat"));
    var lon = parseFloat(page.get("lon"));
    var zoom = parseInt(page.get("zoom"), 10);
    var centred = isFinite(lat) && isFinite(lon);
    if (config.viewBounds) {
      // The view never leaves what the server accepts back (filters.VIEW_LAT/VIEW_LON).
      map.setMaxBounds(config.viewBounds);
      map.options.maxBoundsViscosity = 1;
    }
    if (!centred && !isFinite(zoom)) {
      var size = map.getSize();
      if (size.x && size.y) {
        map.fitBounds(config.bounds);
        followSize(map, null);
      } else {
        followSize(map, config.bounds);
      }
      return;
    }
    map.setView(centred ? [lat, lon] : map.getCenter(), isFinite(zoom) ? zoom : PLACE_ZOOM);
    followSize(map, null);
  }

  function clamp(value, range) {
    return Math.min(Math.max(value, range[0]), range[1]);
  }

  // Keeps centre and zoom in the address, so the view the visitor sees is a link to share;
  // only a view the server takes back (the map's bounds already keep it so).
  function keepViewInAddress(map, config) {
    var bounds = config.viewBounds || [[-90, -180], [90, 180]];
    map.on("moveend", function () {
      var centre = map.getCenter();
      var query = new URLSearchParams(window.location.search);
      query.set("lat", clamp(centre.lat, [bounds[0][0], bounds[1][0]]).toFixed(4));
      query.set("lon", clamp(centre.lng, [bounds[0][1], bounds[1][1]]).toFixed(4));
      query.set("zoom", String(map.getZoom()));
      window.history.replaceState(null, "", "?" + query.toString() + window.location.hash);
    });
  }

  // In a short window (400 % zoom makes it 256 px high) the wheel scrolls the page past
  // the map, which would otherwise take every turn for zooming; its buttons, keys,
  // double-click and pinch still zoom it.
  function wheelScrollsShortPage(map) {
    if (!window.matchMedia) return;
    var short = window.matchMedia("(max-height: 30rem)");
    function apply() {
      if (short.matches) map.scrollWheelZoom.disable(); else map.scrollWheelZoom.enable();
    }
    apply();
    if (short.addEventListener) short.addEventListener("change", apply);
  }

  // "Near me": the browser's position centres the map and goes nowhere else.
  function nearMeControl(map, labels) {
    if (!navigator.geolocation) return;
    var NearMe = L.Control.extend({
      options: { position: "topleft" },
      onAdd: function () {
        var box = L.DomUtil.create("div", "leaflet-bar near-me");
        var button = L.DomUtil.create("button", "near-me-button", box);
        button.type = "button";
        button.textContent = labels.nearMe;
        L.DomEvent.disableClickPropagation(box);
        button.addEventListener("click", function () {
          navigator.geolocation.getCurrentPosition(
            function (position) {
              map.setView([position.coords.latitude, position.coords.longitude], 11);
            },
            function () { button.textContent = labels.nearMeFailed; },
            { maximumAge: 600000, timeout: 15000 }
          );
        });
        return box;
      }
    });
    new NearMe().addTo(map);
  }

  // A rally's own page: its one marker, from the data the page carries; it re-reads the
  // rally now and then, and says so at once when its status turns urgent.
  function initSingle(map, config) {
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
    translateControls(map, config.labels);
    if (!config.apiRallyUrl || !shown.id) return;
    var banner = Banner(config);
    var url = config.apiRallyUrl + encodeURIComponent(String(Number(shown.id)));
    watch(url, config.refreshSeconds, "omit", function (rally) {
      if (!rally) return;
      if (rally.status !== shown.status) {
        // The status the page was made with is no longer true: only the banner speaks now.
        document.querySelectorAll("[data-status-then]").forEach(function (node) { node.remove(); });
        banner.say(rally, false);
        shown.status = rally.status;
        point.dataset.status = rally.status;
        marker.setIcon(iconFor(rally));
      }
      if (isFinite(rally.lat) && isFinite(rally.lon) && !marker.getLatLng().equals([rally.lat, rally.lon])) {
        marker.setLatLng([rally.lat, rally.lon]);
      }
    });
  }

  function init(map, config) {
    if (window.RallyBasemap) window.RallyBasemap.add(map, config);  // basemap.js
    if (config.mode === "pin") return initPin(map, config);
    if (config.mode === "single") return initSingle(map, config);
    var status = document.getElementById("map-status");
    var list = document.getElementById("rally-list");
    var banner = Banner(config);
    initialView(map, config);
    translateControls(map, config.labels);
    if (config.mode === "browse") {
      nearMeControl(map, config.labels);
      keepViewInAddress(map, config);
      wheelScrollsShortPage(map);
    }
    var cluster = L.markerClusterGroup({
      showCoverageOnHover: false,
      maxClusterRadius: 50,
      // 10,000 rallies are added a slice at a time (at most 100 ms each, then the page
      // answers taps and draws), so a phone's page stays responsive.
      chunkedLoading: true,
      chunkInterval: 100,
      chunkDelay: 1,
      chunkProgress: progress,
      iconCreateFunction: function (group) { return clusterIcon(group, config); }
    });
    map.addLayer(cluster);
    var markers = new Map();     // rally id -> marker
    var listItems = new Map();   // rally id -> <li> beside the map
    var star = null;             // the main rally's marker, never in a cluster
    var nextOpener = null;       // what opens the next popup, to give focus back to
    var loadedCount = null;      // set while chunks are still being added

    function progress(done, total) {
      if (loadedCount === null) return;
      if (done < total) {
        if (status) {
          status.textContent = config.labels.loadingProgress
            .replace("{done}", String(done)).replace("{total}", String(total));
        }
        return;
      }
      // markercluster draws the last slice right after saying it is done.
      window.setTimeout(finished, 0);
    }

    // Marks for bench/browser.py: where the time to markers goes.
    function mark(name) {
      if (window.performance && performance.mark) performance.mark(name);
    }

    function finished() {
      if (loadedCount === null) return;
      var count = loadedCount;
      loadedCount = null;
      if (status) {
        status.textContent = count ? config.labels.loaded.replace("{count}", String(count)) : config.labels.none;
      }
      mark("rallies-loaded");
      map.fire("rallies:loaded", { count: count });
    }

    // Rallies drawn under the star (the star's popup lists them, so none is out of reach).
    function underStar() {
      if (!star || !map.hasLayer(star)) return [];
      var centre = map.latLngToLayerPoint(star.getLatLng());
      var found = [];
      markers.forEach(function (marker) {
        if (marker === star) return;
        var drawn = cluster.getVisibleParent(marker);
        if (drawn && map.latLngToLayerPoint(drawn.getLatLng()).distanceTo(centre) <= STAR_RADIUS) {
          found.push(marker);
        }
      });
      return found;
    }

    function alsoHere(marker) {
      if (marker !== star) return null;
      var hidden = underStar();
      if (!hidden.length) return null;
      var box = element("div", "rally-popup-also");
      box.appendChild(element("h3", null, config.labels.alsoHere));
      var items = element("ul");
      hidden.forEach(function (other) {
        var item = element("li");
        var button = element("button", "rally-popup-other", other.feature.properties.title);
        button.type = "button";
        button.addEventListener("click", function () { show(other, star.getElement()); });
        item.appendChild(button);
        items.appendChild(item);
      });
      box.appendChild(items);
      return box;
    }

    function content(marker) {
      return popupContent(marker.feature.properties, config, alsoHere(marker));
    }

    // Popups are made when first opened (10,000 unused popups cost a phone's time),
    // and opened only here, by pointer, keyboard or the list.
    function openRally(marker, opener) {
      if (!marker.getPopup()) {
        marker.bindPopup(content, { maxWidth: 280, autoPanPadding: [12, 12] });
        // Leaflet's own handlers would toggle the popup; ours opens it.
        marker.off("click", marker._openPopup, marker);
        marker.off("keypress", marker._onKeyPress, marker);
      }
      nextOpener = opener || marker.getElement();
      if (marker.isPopupOpen()) {
        marker.getPopup().setContent(content);
      } else {
        marker.openPopup();
      }
    }

    function show(marker, opener) {
      if (cluster.hasLayer(marker)) {
        cluster.zoomToShowLayer(marker, function () { openRally(marker, opener); });
      } else {
        map.setView(marker.getLatLng(), Math.max(map.getZoom(), 13));
        openRally(marker, opener);
      }
    }

    // Gives focus back to what opened a popup; if that is gone (a marker now in a
    // cluster), to what stands for it on the map now.
    function focusOpener(popup) {
      var opener = popup.rallyOpener;
      if (opener && document.body.contains(opener)) {
        opener.focus({ preventScroll: true });
        return;
      }
      var source = popup._source;
      var drawn = source && (cluster.hasLayer(source) ? cluster.getVisibleParent(source) : source);
      var node = drawn && drawn._icon;
      (node && document.body.contains(node) ? node : map.getContainer()).focus({ preventScroll: true });
    }

    function onEscape(key) {
      if (key.key === "Escape") map.closePopup();
    }

    map.on("popupopen", function (event) {
      var popup = event.popup;
      popup.rallyOpener = nextOpener || (popup._source && popup._source.getElement());
      nextOpener = null;
      document.addEventListener("keydown", onEscape);
      var container = popup.getElement();
      var close = container && container.querySelector(".leaflet-popup-close-button");
      if (close) close.setAttribute("aria-label", config.labels.closePopup);
      var link = container && container.querySelector("a.rally-popup-link, button.rally-popup-other");
      if (link) link.focus({ preventScroll: true });
    });
    map.on("popupclose", function (event) {
      document.removeEventListener("keydown", onEscape);
      var popup = event.popup;
      var active = document.activeElement;
      var container = popup.getElement();
      // Focus left in the closed popup, or dropped to the page: back to the opener.
      // Focus the visitor put elsewhere (another marker, the list) stays there.
      if (!active || active === document.body || !document.body.contains(active) ||
          (container && container.contains(active)) || active === map.getContainer()) {
        focusOpener(popup);
      }
    });

    // After a cluster zooms in or spreads out, focus goes to the first of its rallies as
    // drawn now, not to the page's top (the cluster's own element is gone).
    function focusInside(target) {
      var children = target.getAllChildMarkers();
      for (var i = 0; i < children.length; i++) {
        var drawn = cluster.getVisibleParent(children[i]);
        var node = drawn && drawn !== target && drawn._icon;
        if (node && document.body.contains(node)) {
          node.focus({ preventScroll: true });
          return true;
        }
      }
      return false;
    }

    function focusAfterCluster(target) {
      var done = false;
      function land() {
        if (done) return;
        var active = document.activeElement;
        var lost = !active || active === document.body || active === map.getContainer() ||
          !document.body.contains(active) || active.rallyCluster === target;
        done = !lost || focusInside(target);
        if (done) {
          cluster.off("animationend", land);
          map.off("moveend", later);
        }
      }
      function later() { window.setTimeout(land, 50); }
      if (cluster._spiderfied === target) {
        land();
      } else {
        cluster.on("animationend", land);
        map.on("moveend", later);
      }
      window.setTimeout(function () { land(); done = true; cluster.off("animationend", land); map.off("moveend", later); }, 1500);
    }

    cluster.on("clusterclick", function (event) { focusAfterCluster(event.layer); });
    cluster.on("click", function (event) { openRally(event.layer, event.layer.getElement()); });

    // Enter and Space act on every marker and cluster: they are announced as buttons.
    map.getContainer().addEventListener("keydown", function (event) {
      if (event.key !== "Enter" && event.key !== " ") return;
      var node = event.target;
      if (node.rallyCluster) {
        event.preventDefault();
        map.getContainer().focus({ preventScroll: true });
        // The group turns "click" on a cluster into its "clusterclick" (zoom in or spread out).
        cluster.fire("click", { layer: node.rallyCluster, propagatedFrom: node.rallyCluster, originalEvent: event });
      } else if (node.rallyMarker) {
        event.preventDefault();
        openRally(node.rallyMarker, node);
      }
    });

    // A page saved with export-static carries its rallies and marker images itself.
    if (config.icons) {
      L.Icon.Default.imagePath = "";
      L.Icon.Default.mergeOptions(config.icons);
    }

    function signature(feature) {
      return JSON.stringify([feature.geometry.coordinates, feature.properties]);
    }

    function addMarker(feature) {
      var marker = markerFor(feature, config);
      marker.signature = null;  // made on the first re-check that brings new data
      markers.set(feature.properties.id, marker);
      if (feature.properties.featured) {
        star = marker;
        marker.on("click", function () { openRally(marker, marker.getElement()); });
        marker.addTo(map);
      }
      return marker;
    }

    function removeMarker(marker) {
      if (marker.isPopupOpen()) marker.closePopup();
      if (marker === star) {
        star = null;
        map.removeLayer(marker);
      } else {
        cluster.removeLayer(marker);
      }
      markers.delete(marker.feature.properties.id);
    }

    function replaceListItem(id, marker) {
      var old = listItems.get(id);
      if (!old) return;
      var fresh = listItem(marker.feature, marker, show, config);
      var active = document.activeElement;
      var focused = old.contains(active) ? active.className : null;
      old.replaceWith(fresh);
      listItems.set(id, fresh);
      if (focused) {
        var again = fresh.getElementsByClassName(focused)[0];
        if (again) again.focus({ preventScroll: true });
      }
    }

    // A newer document: changed rallies are redrawn where they are; the view, the open
    // popup and the list's focus stay. A rally that turns urgent is said in the banner.
    function update(features) {
      var seen = new Set();
      features.forEach(function (feature) {
        var p = feature.properties;
        seen.add(p.id);
        var marker = markers.get(p.id);
        if (!marker) {
          var added = addMarker(feature);
          if (!p.featured) cluster.addLayer(added);
          if (isUrgent(p.status)) banner.say(p, true);
          return;
        }
        var sig = signature(feature);
        if (marker.signature === null) marker.signature = signature(marker.feature);
        if (sig === marker.signature) return;
        var before = marker.feature.properties;
        if (before.featured !== p.featured) {
          var wasOpen = marker.isPopupOpen();
          removeMarker(marker);
          marker = addMarker(feature);
          if (!p.featured) cluster.addLayer(marker);
          if (wasOpen) openRally(marker);
        } else {
          var was = marker.feature.geometry.coordinates;
          marker.feature = feature;
          marker.signature = sig;
          marker.options.label = markerLabel(p, config.labels);
          var c = feature.geometry.coordinates;
          var inCluster = cluster.hasLayer(marker);
          // Compared with the data, not getLatLng(): a spread-out (spiderfied) marker is drawn elsewhere.
          if (was[0] !== c[0] || was[1] !== c[1]) {
            if (inCluster) cluster.removeLayer(marker);
            marker.setLatLng([c[1], c[0]]);
            if (inCluster) cluster.addLayer(marker);
          }
          marker.setIcon(iconFor(p));
          if (marker.isPopupOpen()) {
            var popupNode = marker.getPopup().getElement();
            var hadFocus = popupNode && popupNode.contains(document.activeElement);
            marker.getPopup().setContent(content);
            var link = hadFocus && marker.getPopup().getElement().querySelector("a.rally-popup-link");
            if (link) link.focus({ preventScroll: true });
          }
        }
        replaceListItem(p.id, marker);
        if (before.status !== p.status) banner.say(p, true);
      });
      markers.forEach(function (marker, id) {
        if (seen.has(id)) return;
        removeMarker(marker);
        var item = listItems.get(id);
        if (item) item.remove();
        listItems.delete(id);
      });
    }

    function draw(features) {
      // The main rally first in the list, then by time (ISO strings in one offset sort as text).
      features.sort(function (a, b) {
        var pa = a.properties, pb = b.properties;
        return (pb.featured - pa.featured) || (pa.starts_at < pb.starts_at ? -1 : pa.starts_at > pb.starts_at ? 1 : 0);
      });
      var clustered = [];
      var fragment = document.createDocumentFragment();
      features.forEach(function (feature, index) {
        var marker = addMarker(feature);
        if (!feature.properties.featured) clustered.push(marker);
        if (feature.properties.status === "danger") banner.say(feature.properties, true);
        // Beside the map, the first ones; the list page has them all, page by page.
        if (list && index < LIST_LIMIT) {
          var item = listItem(feature, marker, show, config);
          listItems.set(feature.properties.id, item);
          fragment.appendChild(item);
        }
      });
      if (list && features.length > LIST_LIMIT && config.listUrl) {
        var more = element("li", "rally-item rally-more");
        var link = element("a", null, config.labels.more.replace("{count}", String(features.length)));
        link.href = config.listUrl + filterQuery(config.lang);
        more.appendChild(link);
        fragment.appendChild(more);
      }
      if (list) list.appendChild(fragment);
      loadedCount = features.length;
      mark("rallies-built");
      if (clustered.length) {
        cluster.addLayers(clustered);  // chunked: progress() says when it is done
      } else {
        finished();
      }
    }

    var drawn = false;
    function received(data) {
      var features = (data && data.features) || [];
      if (!drawn) {
        drawn = true;
        mark("rallies-data");
        draw(features);
      } else {
        update(features);
      }
    }
    function failed() {
      if (!drawn && status) status.textContent = config.labels.failed;
    }

    if (config.data) {
      received(config.data);
    } else {
      // Moderators' map: its data needs their session cookie; public maps send none.
      watch(dataUrl(config), config.refreshSeconds, config.credentials || "omit", received, failed);
    }
  }

  window.RallyMap = { init: init, popupContent: popupContent };
})();
