/* Draws the rallies on the folium map.
 *
 * Public maps load the map's compact feed (/api/rallies.geojson?fields=map: points, status,
 * town and day, no user text) and each rally's details when its popup opens or its line in
 * the list comes into view (/api/rallies/<id>?lang=). The moderators' map and the saved
 * page carry every property in their GeoJSON. Clusters come from supercluster (vendored in
 * static/vendor/supercluster): only what is on screen has elements.
 *
 * User text is put into the page only through textContent and setAttribute: never through
 * HTML strings or folium's popup templates.
 */
(function () {
  "use strict";

  var FILTER_PARAMS = ["when", "region", "city", "from", "to", "featured"];
  // The list beside the map shows this many rallies at a time ("Show more" adds as many);
  // the list page has them all.
  var LIST_PAGE = 50;
  // The zoom for a centre asked for without one: a town's streets.
  var PLACE_ZOOM = 13;
  // Statuses that warn people away: each has its own marker and a fixed sentence.
  var URGENT = ["danger", "cancelled", "moved"];
  // Markers or clusters drawn this close (pixels) to the main rally's star are under it:
  // its popup lists them, so that they can be reached.
  var STAR_RADIUS = 34;
  // How many of the rallies under the star its popup names (a button zooms in to the rest).
  var ALSO_LIMIT = 30;
  // How many rallies the urgent banner names at most (the map and the list show the rest).
  var BANNER_LIMIT = 5;
  // Rallies closer than this (pixels, at the current zoom) are drawn as one cluster.
  var CLUSTER_RADIUS = 50;
  // A popup waits this long (ms) for its rally's details before it opens saying "Loading".
  var DETAILS_WAIT = 800;
  // The star's popup names at most this many of the rallies under it by their titles.
  var TITLES_AT_ONCE = 30;

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

  // A rally as the map keeps it, from either form of the GeoJSON: the map's compact one
  // (towns as an index into `towns`, the day, no texts) or the full one, whose properties
  // are the rally's details already.
  function recordsOf(data) {
    var towns = data && data.towns;
    var compact = Array.isArray(towns);
    var dayNames = (data && data.day_names) || {};
    return ((data && data.features) || []).map(function (feature) {
      var p = feature.properties || {};
      var c = feature.geometry.coordinates;
      var id = feature.id !== undefined && feature.id !== null ? feature.id : p.id;
      var record = {
        id: id,
        lat: c[1],
        lon: c[0],
        status: p.status || "approved",
        featured: Boolean(p.featured),
        town: compact ? towns[p.town] : p.town,
        day: compact ? p.day : String(p.starts_at || "").slice(0, 10),
        starts_at: compact ? null : p.starts_at,
        details: compact ? null : p
      };
      record.dayName = compact ? (dayNames[p.day] || p.day) : startsText(p);
      return record;
    });
  }

  // What tells a changed rally in a newer document (made only when one comes).
  function signature(r) {
    return JSON.stringify([r.lon, r.lat, r.status, r.featured, r.town, r.day, r.details]);
  }

  // What a rally's marker is called: its title and place when the data has them (the
  // moderators' map, the saved page), else its town and day: the compact feed has no texts.
  function markerLabel(r, labels) {
    var status = r.status === "cancelled" ? labels.cancelled : statusSentence(r.status, labels);
    var d = r.details;
    var name;
    if (d && d.title) {
      name = (BIDI.test(d.title) ? isolate(d.title) : d.title) + " — " + placeLine(d);
    } else {
      name = (r.featured ? labels.featured + ": " : "") +
        [r.town, r.dayName].filter(Boolean).map(isolate).join(", ");
    }
    return (status ? status + " " : "") + name;
  }

  // The rally's details (title, place, time...) in a popup's or list line's `body`.
  function appendDetails(body, d, config) {
    body.appendChild(element("h2", "rally-popup-title", d.title));
    body.appendChild(appendPlace(element("p", "rally-popup-place"), d));
    if (d.place_text) body.appendChild(element("p", "rally-popup-note", d.place_text));
    var when = element("p", "rally-popup-time");
    var time = element("time", null, startsText(d, config.lang));
    time.setAttribute("datetime", d.starts_at);
    when.appendChild(time);
    body.appendChild(when);
  }

  // A rally's popup: what the feed says at once (status, main rally, the link to its page),
  // its details when they are there; `state` is "loading" or "failed" until then (`retry`
  // asks again).
  function popupContent(r, config, d, state, retry, extra) {
    var box = element("div", "rally-popup");
    var badge = statusBadge("p", r, config.labels);
    if (badge) box.appendChild(badge);
    if (r.featured) box.appendChild(element("p", "badge badge-featured", config.labels.featured));
    var body = element("div", "rally-popup-body");
    if (d) {
      appendDetails(body, d, config);
    } else if (state === "failed") {
      body.appendChild(element("p", "rally-popup-error", config.labels.detailsFailed));
      var again = element("button", "rally-popup-retry", config.labels.retry);
      again.type = "button";
      again.addEventListener("click", function (event) {
        // The popup is drawn anew: the map must not take this click, whose target is then
        // gone, for one outside the popup (which closes it).
        event.stopPropagation();
        retry();
      });
      body.appendChild(again);
    } else {
      box.setAttribute("aria-busy", "true");
      body.appendChild(element("p", "rally-popup-loading", config.labels.loadingDetails));
    }
    box.appendChild(body);
    if (config.rallyUrl) box.appendChild(rallyLink(config, r, "rally-popup-link", config.labels.details));
    if (extra) box.appendChild(extra);
    return box;
  }

  // Rallies' details, from the data when it has them, else from /api/rallies/<id>?lang=,
  // kept in the page: each is asked for once, and again only after `fresh` ms (the page
  // re-checks its data as often), with its ETag (a 304 then).
  function DetailStore(config) {
    var kept = new Map();  // id -> {data, at} or {promise}
    var fresh = Math.max(config.refreshSeconds || 0, 5) * 1000;

    function url(id) {
      return config.apiRallyUrl + encodeURIComponent(String(Number(id))) +
        (config.lang ? "?lang=" + encodeURIComponent(config.lang) : "");
    }

    return {
      known: function (r) {
        if (r.details) return r.details;
        var entry = kept.get(r.id);
        return entry && entry.data ? entry.data : null;
      },
      load: function (r) {
        if (r.details) return Promise.resolve(r.details);
        var entry = kept.get(r.id);
        if (entry && entry.promise) return entry.promise;
        if (entry && entry.data && Date.now() - entry.at < fresh) return Promise.resolve(entry.data);
        if (!config.apiRallyUrl) return Promise.reject(new Error("no details"));
        var next = { data: entry ? entry.data : null, at: entry ? entry.at : 0 };
        next.promise = fetch(url(r.id), { credentials: "omit", cache: "no-cache" })
          .then(function (response) {
            if (!response.ok) throw new Error(String(response.status));
            return response.json();
          })
          .then(function (data) {
            kept.set(r.id, { data: data, at: Date.now() });
            return data;
          }, function (error) {
            if (next.data) kept.set(r.id, { data: next.data, at: next.at }); else kept.delete(r.id);
            throw error;
          });
        kept.set(r.id, next);
        return next.promise;
      },
      forget: function (id) {
        var entry = kept.get(id);
        if (entry && !entry.promise) entry.at = 0;  // asked again (with its ETag) next time
      }
    };
  }

  // `promise`, or after `ms` a promise of null: what to wait for before drawing.
  function within(promise, ms) {
    return Promise.race([
      promise.catch(function () { return null; }),
      new Promise(function (resolve) { window.setTimeout(function () { resolve(null); }, ms); })
    ]);
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
    // Towns and days in the page's language (the document is cached per language).
    var query = filterQuery(config.lang);
    if (query && config.dataUrl.indexOf("?") >= 0) query = "&" + query.slice(1);
    return config.dataUrl + query;
  }

  // Fetches `url` now and then every `seconds`, with the ETag of the last answer, so an
  // unchanged document costs a 304 with no body. It waits while the tab is hidden and
  // looks at once when the tab is shown again. `onData(json)` gets every new document;
  // `onData(null)` a 404 (the thing is gone). `first`: a fetch of `url` already under way
  // (the page's head starts the map's feed, see views/maps.py EARLY_FEED), taken as the
  // first answer.
  function watch(url, seconds, credentials, onData, onError, first) {
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
      var asked = first || fetch(url, { credentials: credentials, cache: "no-store", headers: headers });
      first = null;
      asked
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
  // With a DetailStore, a line names its rally by title (once the title is there).
  function Banner(config, details) {
    var node = document.getElementById("urgent");
    var lines = {};

    function write(line, p, title) {
      if (title !== null) {
        line.appendChild(rallyLink(config, p, "urgent-title", title));
        line.appendChild(document.createTextNode(": "));
      }
      line.appendChild(element("strong", null, statusSentence(p.status, config.labels)));
      node.appendChild(line);
    }

    return {
      say: function (p, withTitle) {
        if (!node) return;
        var id = String(p.id);
        if (lines[id]) lines[id].remove();
        delete lines[id];
        if (!isUrgent(p.status)) return;
        if (Object.keys(lines).length >= BANNER_LIMIT) return;
        var line = element("p", "urgent-line urgent-" + p.status);
        lines[id] = line;
        var known = withTitle && details ? details.known(p) : p;
        if (!withTitle || (known && known.title)) {
          write(line, p, withTitle ? known.title : null);
          return;
        }
        // The compact feed has no titles: the line waits a moment for one, else names the town.
        within(details.load(p), 3000).then(function (d) {
          if (lines[id] !== line) return;  // replaced meanwhile
          write(line, p, d && d.title ? d.title : [p.town, p.dayName].filter(Boolean).join(", "));
        });
      }
    };
  }

  // A div icon that carries a label: a cluster is otherwise just a number.
  // The node keeps its cluster's marker, for the keyboard (see init).
  var LabelledIcon = L.DivIcon.extend({
    createIcon: function (oldIcon) {
      var node = L.DivIcon.prototype.createIcon.call(this, oldIcon);
      node.title = this.options.label;
      node.setAttribute("aria-label", this.options.label);
      node.rallyCluster = this.options.cluster;
      return node;
    }
  });

  function clusterIcon(count, marker, config) {
    // markercluster's look (app.css); the count is inserted as text.
    var size = count < 10 ? "small" : count < 100 ? "medium" : "large";
    var inner = element("div");
    inner.appendChild(element("span", null, count));
    return new LabelledIcon({
      html: inner,
      className: "marker-cluster marker-cluster-" + size,
      iconSize: L.point(40, 40),
      label: config.labels.cluster.replace("{count}", String(count)),
      cluster: marker
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
      if (this.record) this._icon.dataset.id = String(this.record.id);
    }
  });

  function markerFor(r, config) {
    var marker = new RallyMarker([r.lat, r.lon], {
      label: markerLabel(r, config.labels), keyboard: true, riseOnHover: true,
      icon: iconFor(r), zIndexOffset: r.featured ? 1000 : 0
    });
    marker.record = r;
    return marker;
  }

  // A line of the list beside the map: at once what the feed says (status, town, day); the
  // title, time and place when the rally's details are there (fillItem). The link and the
  // button stay the same nodes, so focus on them survives.
  function listItem(r, show, config) {
    var item = element("li", "rally-item" + (r.featured ? " rally-featured" : "") +
      (isUrgent(r.status) ? " rally-" + r.status : ""));
    item.dataset.id = String(r.id);
    var badge = statusBadge("strong", r, config.labels);
    if (badge) item.appendChild(badge);
    if (r.featured) item.appendChild(element("strong", "badge badge-featured", config.labels.featured));
    var link = rallyLink(config, r, "rally-title");
    link.insertBefore(element("bdi", "rally-title-text", r.town), link.firstChild);
    item.appendChild(link);
    var meta = element("p", "rally-meta");
    meta.appendChild(element("span", "rally-when", r.dayName));
    meta.appendChild(element("span", "rally-where"));
    var button = element("button", "show-on-map", config.labels.show);
    button.type = "button";
    button.addEventListener("click", function () { show(r, button); });
    meta.appendChild(button);
    item.appendChild(meta);
    return item;
  }

  function fillItem(item, d, config) {
    item.querySelector(".rally-title-text").textContent = d.title;
    item.querySelector(".rally-when").textContent = startsText(d, config.lang);
    var where = item.querySelector(".rally-where");
    where.textContent = " · ";
    appendPlace(where, d);
    item.dataset.filled = "true";
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
    var details = DetailStore(config);
    var banner = Banner(config, details);
    initialView(map, config);
    translateControls(map, config.labels);
    if (config.mode === "browse") {
      nearMeControl(map, config.labels);
      keepViewInAddress(map, config);
      wheelScrollsShortPage(map);
    }
    // A page saved with export-static carries its rallies and marker images itself.
    if (config.icons) {
      L.Icon.Default.imagePath = "";
      L.Icon.Default.mergeOptions(config.icons);
    }

    var records = new Map();     // rally id -> record (recordsOf)
    var order = [];              // the records, main rally first, as the list shows them
    var markers = new Map();     // rally id -> its marker, made when first drawn
    var stars = new Map();       // the main rally's (never clustered) markers, by id
    var star = null;             // the main rally's marker, whose popup lists what it hides
    var index = null;            // supercluster over the other rallies
    var drawn = new Map();       // what is on the map now: "r<id>" or "c<cluster id>" -> marker
    var drawnZoom = null;
    var listItems = new Map();   // rally id -> <li> beside the map
    var listed = 0;              // how many of `order` the list shows
    var current = null;          // the open popup: {popup, record}
    var opening = null;          // the rally whose popup waits for its details

    // Marks for bench/browser.py: where the time to markers goes.
    function mark(name) {
      if (window.performance && performance.mark) performance.mark(name);
    }

    // --- clusters: supercluster indexes the points; a view draws what it shows ---

    function rebuildIndex() {
      var points = [];
      records.forEach(function (r) {
        if (r.featured) return;
        points.push({ type: "Feature", properties: { id: r.id }, geometry: { type: "Point", coordinates: [r.lon, r.lat] } });
      });
      // Clusters up to one zoom below the map's closest; at that one every rally is drawn,
      // those that share a point spread around it (place()).
      index = new window.Supercluster({
        radius: CLUSTER_RADIUS,
        extent: 256,  // Leaflet's tiles: the radius is then in CSS pixels
        minZoom: Math.max(0, Math.floor(map.getMinZoom())),
        maxZoom: Math.min(22, Math.ceil(map.getMaxZoom())) - 1
      });
      index.load(points);
    }

    function markerOf(r) {
      var marker = markers.get(r.id);
      if (!marker) {
        marker = markerFor(r, config);
        marker.on("click", function () { openRally(marker.record, marker.getElement()); });
        markers.set(r.id, marker);
      }
      return marker;
    }

    function clusterMarker(item) {
      var c = item.geometry.coordinates;
      var marker = L.marker([c[1], c[0]], { keyboard: true });
      marker.clusterId = item.properties.cluster_id;
      marker.setIcon(clusterIcon(item.properties.point_count, marker, config));
      marker.on("click", function () { openCluster(marker); });
      return marker;
    }

    // Where the i-th of n markers that share a point is drawn, in pixels from it: on a
    // circle, or for many a spiral (Leaflet.markercluster's "spiderfy" figures).
    function spreadOffset(i, n) {
      if (n < 9) {
        var radius = 25 * (2 + n) / (2 * Math.PI);
        var angle = Math.PI / 6 + i * 2 * Math.PI / n;
        return L.point(radius * Math.cos(angle), radius * Math.sin(angle));
      }
      var leg = 11, turn = 0;
      for (var k = 0; k <= i; k++) {
        turn += 28 / leg + k * 0.0005;
        leg += 5 * 2 * Math.PI / turn;
      }
      return L.point(leg * Math.cos(turn), leg * Math.sin(turn));
    }

    // Markers at their rallies' points; at the closest zoom, those sharing a point around it.
    function place(markersHere, zoom) {
      var groups = new Map();
      markersHere.forEach(function (marker) {
        var key = marker.record.lat + "," + marker.record.lon;
        if (!groups.has(key)) groups.set(key, []);
        groups.get(key).push(marker);
      });
      groups.forEach(function (group) {
        var point = L.latLng(group[0].record.lat, group[0].record.lon);
        var centre = map.project(point, zoom);
        group.forEach(function (marker, i) {
          var target = group.length > 1 && zoom > index.options.maxZoom
            ? map.unproject(centre.add(spreadOffset(i, group.length)), zoom) : point;
          if (!marker.getLatLng().equals(target)) marker.setLatLng(target);
        });
      });
    }

    function leafIds(clusterId, limit) {
      return index.getLeaves(clusterId, limit || Infinity).map(function (leaf) { return leaf.properties.id; });
    }

    // Draws the clusters and markers over the view (and half a view around it, so a short
    // pan shows them at once); removes the others. A marker whose popup is open stays while
    // the zoom does.
    function render() {
      if (!index) return;
      var zoom = Math.round(map.getZoom());
      var view = map.getBounds().pad(0.5);
      var box = [
        Math.max(view.getWest(), -180), Math.max(view.getSouth(), -85),
        Math.min(view.getEast(), 180), Math.min(view.getNorth(), 85)
      ];
      var next = new Map();
      var rallyMarkers = [];
      index.getClusters(box, zoom).forEach(function (item) {
        var key, layer;
        if (item.properties.cluster) {
          key = "c" + item.properties.cluster_id;
          layer = drawn.get(key) || clusterMarker(item);
        } else {
          var r = records.get(item.properties.id);
          if (!r) return;
          key = "r" + r.id;
          layer = markerOf(r);
          rallyMarkers.push(layer);
        }
        next.set(key, layer);
      });
      place(rallyMarkers, zoom);
      drawn.forEach(function (layer, key) {
        if (next.has(key)) return;
        if (zoom === drawnZoom && current && layer.record === current.record) {
          next.set(key, layer);  // panned away from its open popup: keep it for the way back
          return;
        }
        map.removeLayer(layer);
      });
      next.forEach(function (layer) {
        if (!map.hasLayer(layer)) map.addLayer(layer);
      });
      drawn = next;
      drawnZoom = zoom;
    }

    map.on("moveend", render);

    // The marker or cluster that stands for a rally on the map now, or null.
    function drawnFor(r) {
      if (stars.has(r.id)) return stars.get(r.id);
      var found = drawn.get("r" + r.id) || null;
      if (found) return found;
      drawn.forEach(function (layer) {
        if (!found && layer.clusterId !== undefined && leafIds(layer.clusterId).indexOf(r.id) >= 0) found = layer;
      });
      return found;
    }

    // The lowest zoom from `from` up at which a rally is drawn on its own (at the closest
    // zoom at the latest).
    function zoomToSeparate(r, from) {
      for (var zoom = from; zoom <= map.getMaxZoom(); zoom++) {
        var reach = CLUSTER_RADIUS * 360 / (256 * Math.pow(2, zoom));
        var items = index.getClusters([r.lon - reach, r.lat - reach, r.lon + reach, r.lat + reach], zoom);
        for (var i = 0; i < items.length; i++) {
          if (!items[i].properties.cluster && items[i].properties.id === r.id) return zoom;
        }
      }
      return map.getMaxZoom();
    }

    // --- popups ---

    // Rallies drawn under the star (the star's popup lists them, so none is out of reach).
    function underStar() {
      if (!star || !map.hasLayer(star)) return [];
      var centre = map.latLngToLayerPoint(star.getLatLng());
      var found = [];
      drawn.forEach(function (layer) {
        if (map.latLngToLayerPoint(layer.getLatLng()).distanceTo(centre) > STAR_RADIUS) return;
        if (layer.clusterId !== undefined) {
          leafIds(layer.clusterId).forEach(function (id) { found.push(records.get(id)); });
        } else {
          found.push(layer.record);
        }
      });
      return found;
    }

    // The rallies under the star, in its popup: each a button that opens its own popup,
    // named by its title once that is loaded.
    function alsoHere(r, hidden) {
      if (!hidden.length) return null;
      var box = element("div", "rally-popup-also");
      box.appendChild(element("h3", null, config.labels.alsoHere));
      var items = element("ul");
      // At a country's zoom the star can hide thousands: the list names the first few, and
      // its last button zooms in (a phone, and a keyboard, would go through every one).
      hidden.slice(0, ALSO_LIMIT).forEach(function (other, i) {
        var item = element("li");
        var d = details.known(other);
        var button = element("button", "rally-popup-other", d ? d.title : markerLabel(other, config.labels));
        button.type = "button";
        button.addEventListener("click", function () { show(other, star && star.getElement()); });
        if (!d && i < TITLES_AT_ONCE) {
          details.load(other).then(function (loaded) { button.textContent = loaded.title; }, function () {});
        }
        item.appendChild(button);
        items.appendChild(item);
      });
      if (hidden.length > ALSO_LIMIT) {
        var rest = element("li");
        var closer = element("button", "rally-popup-other rally-popup-zoom",
          config.labels.alsoMore.replace("{count}", String(hidden.length - ALSO_LIMIT)));
        closer.type = "button";
        closer.addEventListener("click", function () {
          var here = star.getLatLng();
          map.closePopup();
          map.setView(here, Math.min(map.getZoom() + 3, map.getMaxZoom()));
          var node = star.getElement();
          if (node) node.focus();
        });
        rest.appendChild(closer);
        items.appendChild(rest);
      }
      box.appendChild(items);
      return box;
    }

    function popupOffset(r) {
      var anchor = iconFor(r).options.popupAnchor || [0, 0];
      return L.point(anchor[0], anchor[1] + 7);  // Leaflet's own offset, from the icon's anchor
    }

    // Rallies whose details could not be loaded. Not `failed`: that is the feed's handler
    // below, and a var of the same name in this function would replace it.
    var detailsFailed = new Set();

    function popupFor(r, hidden) {
      var d = details.known(r);
      var state = d ? null : (detailsFailed.has(r.id) ? "failed" : "loading");
      return popupContent(r, config, d, state, function () { reload(r); }, alsoHere(r, hidden));
    }

    function showing(r) {
      return Boolean(current && current.record && current.record.id === r.id);
    }

    // Loads a rally's details; its open popup is drawn again when they come or fail.
    function loadDetails(r) {
      detailsFailed.delete(r.id);
      var loading = details.load(r);
      loading.then(function () {
        if (showing(r)) refreshPopup();
      }, function () {
        detailsFailed.add(r.id);
        if (showing(r)) refreshPopup();
      });
      return loading;
    }

    // "Try again" in a popup, or a newer status: the details asked for again, in place.
    function reload(r) {
      loadDetails(r);
      if (showing(r)) refreshPopup();
    }

    // Opens a rally's popup once its details (and, for the star, the titles of what it
    // hides) are there, or after DETAILS_WAIT: then it says "Loading" until they come.
    function openRally(r, opener) {
      var hidden = star && r.id === star.record.id ? underStar() : [];
      var wanted = [loadDetails(r)].concat(hidden.slice(0, TITLES_AT_ONCE).map(function (other) {
        return details.load(other);
      }));
      var ticket = {};
      opening = ticket;
      within(Promise.all(wanted), DETAILS_WAIT).then(function () {
        if (opening !== ticket) return;  // another rally was asked for meanwhile
        opening = null;
        openPopup(r, opener, hidden);
      });
    }

    // Where a rally's popup points: its marker as drawn (spread out, beside its point).
    function popupPoint(r) {
      var marker = markers.get(r.id);
      return marker && map.hasLayer(marker) ? marker.getLatLng() : L.latLng(r.lat, r.lon);
    }

    function openPopup(r, opener, hidden) {
      var popup = L.popup({ maxWidth: 280, autoPanPadding: [12, 12], offset: popupOffset(r) })
        .setLatLng(popupPoint(r))
        .setContent(popupFor(r, hidden));
      var source = drawnFor(r);
      popup.rallyOpener = opener || (source && source.getElement()) || null;
      popup.record = r;
      popup.hidden = hidden;
      current = { popup: popup, record: r };
      map.openPopup(popup);
    }

    // The open popup drawn again (new details, or a new status), keeping focus inside it.
    function refreshPopup() {
      if (!current) return;
      var popup = current.popup;
      var node = popup.getElement();
      var hadFocus = node && node.contains(document.activeElement);
      var r = records.get(current.record.id) || current.record;
      current.record = r;
      popup.record = r;
      popup.setLatLng(popupPoint(r));
      popup.setContent(popupFor(r, popup.hidden || []));
      if (hadFocus) {
        var link = popup.getElement().querySelector("a.rally-popup-link, button");
        if (link) link.focus({ preventScroll: true });
      }
    }

    function show(r, opener) {
      if (stars.has(r.id)) {
        map.setView([r.lat, r.lon], Math.max(map.getZoom(), PLACE_ZOOM), { animate: false });
        openRally(r, opener);
        return;
      }
      var zoom = Math.round(map.getZoom());
      var target = zoomToSeparate(r, zoom);
      if (target !== zoom || !map.getBounds().contains([r.lat, r.lon])) {
        map.setView([r.lat, r.lon], target, { animate: false });
      }
      render();
      openRally(r, opener);
    }

    // Gives focus back to what opened a popup; if that is gone (a marker now in a
    // cluster), to what stands for it on the map now.
    function focusOpener(popup) {
      var opener = popup.rallyOpener;
      if (opener && document.body.contains(opener)) {
        opener.focus({ preventScroll: true });
        return;
      }
      var drawnNow = popup.record && drawnFor(popup.record);
      var node = drawnNow && drawnNow.getElement();
      (node && document.body.contains(node) ? node : map.getContainer()).focus({ preventScroll: true });
    }

    function onEscape(key) {
      if (key.key === "Escape") map.closePopup();
    }

    map.on("popupopen", function (event) {
      var popup = event.popup;
      if (!popup.rallyOpener && popup._source) popup.rallyOpener = popup._source.getElement();
      document.addEventListener("keydown", onEscape);
      var container = popup.getElement();
      var close = container && container.querySelector(".leaflet-popup-close-button");
      if (close) close.setAttribute("aria-label", config.labels.closePopup);
      var link = container && container.querySelector(
        "a.rally-popup-link, button.rally-popup-retry, button.rally-popup-other");
      if (link) link.focus({ preventScroll: true });
    });
    map.on("popupclose", function (event) {
      document.removeEventListener("keydown", onEscape);
      var popup = event.popup;
      if (current && current.popup === popup) current = null;
      var active = document.activeElement;
      var container = popup.getElement();
      // Focus left in the closed popup, or dropped to the page: back to the opener.
      // Focus the visitor put elsewhere (another marker, the list) stays there.
      if (!active || active === document.body || !document.body.contains(active) ||
          (container && container.contains(active)) || active === map.getContainer()) {
        focusOpener(popup);
      }
    });

    // --- clusters by pointer and keyboard ---

    // A cluster zooms in to where it parts (rallies that share a point spread out at the
    // closest zoom). Focus then goes to the first of its rallies as drawn now, not to the
    // page's top (the cluster's own element is gone).
    function openCluster(layer) {
      var zoom = Math.min(index.getClusterExpansionZoom(layer.clusterId), map.getMaxZoom());
      var inside = new Set(leafIds(layer.clusterId));
      map.once("moveend", function () { window.setTimeout(function () { focusInside(inside); }, 0); });
      map.setView(layer.getLatLng(), zoom);
    }

    function focusInside(inside) {
      var active = document.activeElement;
      var lost = !active || active === document.body || active === map.getContainer() ||
        !document.body.contains(active);
      if (!lost) return;
      var target = null;
      drawn.forEach(function (layer) {
        if (target) return;
        var id = layer.clusterId !== undefined ? leafIds(layer.clusterId, 1)[0] : layer.record.id;
        if (inside.has(id) && layer.getElement()) target = layer.getElement();
      });
      if (target) target.focus({ preventScroll: true });
    }

    // Enter and Space act on every marker and cluster: they are announced as buttons.
    map.getContainer().addEventListener("keydown", function (event) {
      if (event.key !== "Enter" && event.key !== " ") return;
      var node = event.target;
      if (node.rallyCluster) {
        event.preventDefault();
        // Its element goes when the map zooms in: meanwhile focus stays in the map.
        map.getContainer().focus({ preventScroll: true });
        openCluster(node.rallyCluster);
      } else if (node.rallyMarker) {
        event.preventDefault();
        openRally(node.rallyMarker.record, node);
      }
    });

    // --- the list beside the map: a page at a time, each line's text when it is seen ---

    var seen = window.IntersectionObserver ? new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (!entry.isIntersecting) return;
        seen.unobserve(entry.target);
        fill(entry.target);
      });
    }, { rootMargin: "300px 0px" }) : null;

    function fill(item) {
      var r = records.get(Number(item.dataset.id));
      if (!r) return;
      details.load(r).then(function (d) {
        if (listItems.get(r.id) === item) fillItem(item, d, config);
      }, function () {
        if (seen && listItems.get(r.id) === item) window.setTimeout(function () { seen.observe(item); }, 5000);
      });
    }

    function makeItem(r) {
      var item = listItem(r, show, config);
      var d = details.known(r);
      if (d) fillItem(item, d, config); else if (seen) seen.observe(item); else fill(item);
      listItems.set(r.id, item);
      return item;
    }

    var moreItem = null;
    function showMore(focusFirst) {
      if (!list) return;
      var fragment = document.createDocumentFragment();
      var first = null;
      order.slice(listed, listed + LIST_PAGE).forEach(function (r) {
        var item = makeItem(r);
        first = first || item;
        fragment.appendChild(item);
      });
      listed = Math.min(order.length, listed + LIST_PAGE);
      if (moreItem) moreItem.remove();
      moreItem = null;
      if (listed < order.length) {
        moreItem = element("li", "rally-item rally-more");
        var button = element("button", "show-more", config.labels.showMore);
        button.type = "button";
        button.addEventListener("click", function () { showMore(true); });
        moreItem.appendChild(button);
        if (config.listUrl) {
          var link = element("a", null, config.labels.more.replace("{count}", String(order.length)));
          link.href = config.listUrl + filterQuery(config.lang);
          moreItem.appendChild(document.createTextNode(" "));
          moreItem.appendChild(link);
        }
        fragment.appendChild(moreItem);
      }
      list.appendChild(fragment);
      var firstLink = first && focusFirst && first.querySelector(".rally-title, .show-on-map");
      if (firstLink) firstLink.focus();
    }

    function replaceListItem(r) {
      var old = listItems.get(r.id);
      if (!old) return;
      var active = document.activeElement;
      var focused = old.contains(active) ? active.className : null;
      var fresh = makeItem(r);
      old.replaceWith(fresh);
      if (focused) {
        var again = fresh.getElementsByClassName(focused)[0];
        if (again) again.focus({ preventScroll: true });
      }
    }

    // --- the data ---

    function addRecord(r) {
      records.set(r.id, r);
      if (!r.featured) return;
      var marker = markerOf(r);
      stars.set(r.id, marker);
      star = marker;
      marker.addTo(map);
    }

    function removeRecord(r) {
      var marker = markers.get(r.id);
      if (marker && map.hasLayer(marker)) map.removeLayer(marker);
      markers.delete(r.id);
      if (stars.get(r.id) === star) star = null;
      stars.delete(r.id);
      records.delete(r.id);
      if (current && current.record && current.record.id === r.id) map.closePopup();
    }

    function draw(data) {
      order = recordsOf(data);
      // The main rally first, then by time (ISO strings in one offset sort as text); the
      // compact feed comes in the list's order already (a stable sort keeps it).
      order.sort(function (a, b) {
        return (b.featured - a.featured) ||
          (a.starts_at && b.starts_at ? (a.starts_at < b.starts_at ? -1 : a.starts_at > b.starts_at ? 1 : 0) : 0);
      });
      order.forEach(function (r) {
        addRecord(r);
        if (r.status === "danger") banner.say(r, true);
      });
      rebuildIndex();
      mark("rallies-built");
      render();
      showMore(false);
      if (status) {
        status.textContent = order.length
          ? config.labels.loaded.replace("{count}", String(order.length)) : config.labels.none;
      }
      mark("rallies-loaded");
      map.fire("rallies:loaded", { count: order.length });
    }

    // A newer document: changed rallies are redrawn where they are; the view, the open
    // popup and the list's focus stay. A rally that turns urgent is said in the banner.
    function update(data) {
      var fresh = recordsOf(data);
      var now = new Set();
      var reindex = false;
      fresh.forEach(function (r) {
        now.add(r.id);
        var before = records.get(r.id);
        if (!before) {
          addRecord(r);
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
          removeRecord(before);
          addRecord(r);
          reindex = true;
        } else {
          records.set(r.id, r);
          if (before.lat !== r.lat || before.lon !== r.lon) reindex = true;
          var marker = markers.get(r.id);
          if (marker) {
            marker.record = r;
            marker.options.label = markerLabel(r, config.labels);
            marker.setLatLng([r.lat, r.lon]);
            marker.setIcon(iconFor(r));  // its element is made again, with the new label
          }
        }
        order[order.indexOf(before)] = r;
        replaceListItem(r);
        if (showing(r)) reload(r);  // the new status at once, its details again
        if (before.status !== r.status) banner.say(r, true);
      });
      records.forEach(function (r) {
        if (now.has(r.id)) return;
        removeRecord(r);
        order.splice(order.indexOf(r), 1);
        var item = listItems.get(r.id);
        if (item) item.remove();
        listItems.delete(r.id);
        reindex = true;
      });
      if (reindex) {
        rebuildIndex();
        drawn.forEach(function (layer) { if (layer.clusterId !== undefined) map.removeLayer(layer); });
        drawn.forEach(function (layer, key) { if (layer.clusterId !== undefined) drawn.delete(key); });
      }
      render();
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

  window.RallyMap = { init: init, popupContent: popupContent, recordsOf: recordsOf };
})();
