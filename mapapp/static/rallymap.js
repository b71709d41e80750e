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

  function placeLine(p) {
    return [p.place, p.town].filter(Boolean).join(", ");
  }

  function popupContent(p, config) {
    var box = element("div", "rally-popup");
    if (p.status === "cancelled") box.appendChild(element("p", "badge badge-cancelled", config.labels.cancelled));
    if (p.featured) box.appendChild(element("p", "badge badge-featured", config.labels.featured));
    box.appendChild(element("h2", "rally-popup-title", p.title));
    box.appendChild(element("p", "rally-popup-place", placeLine(p)));
    var when = element("p", "rally-popup-time");
    var time = element("time", null, startsText(p, config.lang));
    time.setAttribute("datetime", p.starts_at);
    when.appendChild(time);
    box.appendChild(when);
    if (config.rallyUrl) box.appendChild(rallyLink(config, p, "rally-popup-link", config.labels.details));
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

  // A div icon that carries a label: markercluster's clusters are otherwise just a number.
  var LabelledIcon = L.DivIcon.extend({
    createIcon: function (oldIcon) {
      var node = L.DivIcon.prototype.createIcon.call(this, oldIcon);
      node.title = this.options.label;
      node.setAttribute("aria-label", this.options.label);
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
      label: config.labels.cluster.replace("{count}", String(count))
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

  var featuredIcon = L.divIcon({
    className: "rally-marker-featured",
    iconSize: [40, 40],
    iconAnchor: [20, 20],
    popupAnchor: [0, -18]
  });
  // Markers drawn with CSS, not Leaflet's pictures: sharp on every screen, and a cancelled
  // rally shows a cross on the map as well as saying so in words.
  function rallyIcon(className) {
    return L.divIcon({ className: className, iconSize: [28, 28], iconAnchor: [14, 14], popupAnchor: [0, -12] });
  }
  var plainIcon = rallyIcon("rally-marker");
  var cancelledIcon = rallyIcon("rally-marker rally-marker-cancelled");
  var pinIcon = L.divIcon({
    className: "rally-marker-pin", html: "<span></span>", iconSize: [32, 32], iconAnchor: [16, 32]
  });

  function markerFor(feature, config) {
    var p = feature.properties;
    var c = feature.geometry.coordinates;
    var label = p.title + " — " + placeLine(p);
    var options = {
      title: label, alt: label, keyboard: true, riseOnHover: true,
      icon: p.status === "cancelled" ? cancelledIcon : plainIcon
    };
    if (p.featured) {
      options.icon = featuredIcon;
      options.zIndexOffset = 1000;
    }
    var marker = L.marker([c[1], c[0]], options);
    marker.rallyId = p.id;
    marker.bindPopup(function () { return popupContent(p, config); }, { maxWidth: 280 });
    marker.on("add", function () {
      var node = marker.getElement();
      if (node) node.setAttribute("aria-label", label);
    });
    // Keyboard: focus moves into the opened popup; Escape closes it and gives focus
    // back to the marker it came from.
    function onEscape(key) {
      if (key.key !== "Escape") return;
      marker.closePopup();
      var node = marker.getElement();
      if (node) node.focus();
    }
    marker.on("popupopen", function (event) {
      document.addEventListener("keydown", onEscape);
      var container = event.popup.getElement();
      var close = container && container.querySelector(".leaflet-popup-close-button");
      if (close) close.setAttribute("aria-label", config.labels.closePopup);
      var link = container && container.querySelector("a.rally-popup-link");
      if (link) link.focus({ preventScroll: true });
    });
    marker.on("popupclose", function () {
      document.removeEventListener("keydown", onEscape);
    });
    return marker;
  }

  function listItem(feature, marker, show, config) {
    var p = feature.properties;
    var item = element("li", "rally-item" + (p.featured ? " rally-featured" : "") +
      (p.status === "cancelled" ? " rally-cancelled" : ""));
    if (p.status === "cancelled") item.appendChild(element("strong", "badge badge-cancelled", config.labels.cancelled));
    if (p.featured) item.appendChild(element("strong", "badge badge-featured", config.labels.featured));
    item.appendChild(rallyLink(config, p, "rally-title", p.title));
    var meta = element("p", "rally-meta", startsText(p, config.lang) + " · " + placeLine(p));
    var button = element("button", "show-on-map", config.labels.show);
    button.type = "button";
    button.addEventListener("click", function () { show(marker); });
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

  // A link may ask for a centre and zoom (?lat=&lon=&zoom=, checked by the server);
  // otherwise the map shows the whole of Belarus.
  function initialView(map, config) {
    var page = new URLSearchParams(window.location.search);
    var lat = parseFloat(page.get("lat"));
    var lon = parseFloat(page.get("lon"));
    var zoom = parseInt(page.get("zoom"), 10);
    var centred = isFinite(lat) && isFinite(lon);
    if (!centred && !isFinite(zoom)) {
      map.fitBounds(config.bounds);
      return;
    }
    map.setView(centred ? [lat, lon] : map.getCenter(), isFinite(zoom) ? zoom : PLACE_ZOOM);
  }

  // Keeps centre and zoom in the address, so the view the visitor sees is a link to share.
  function keepViewInAddress(map) {
    map.on("moveend", function () {
      var centre = map.getCenter();
      var query = new URLSearchParams(window.location.search);
      query.set("lat", centre.lat.toFixed(4));
      query.set("lon", centre.lng.toFixed(4));
      query.set("zoom", String(map.getZoom()));
      window.history.replaceState(null, "", "?" + query.toString() + window.location.hash);
    });
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

  // A rally's own page: its one marker, from the data the page carries.
  function initSingle(map, config) {
    var point = document.getElementById("rally-point");
    if (!point) return;
    var latlng = [parseFloat(point.dataset.lat), parseFloat(point.dataset.lon)];
    var label = point.dataset.title;
    var options = { title: label, alt: label, keyboard: false, interactive: false, icon: plainIcon };
    if (point.dataset.featured === "true") options.icon = featuredIcon;
    L.marker(latlng, options).addTo(map);
    map.setView(latlng, 15);
    translateControls(map, config.labels);
  }

  function init(map, config) {
    if (window.RallyBasemap) window.RallyBasemap.add(map, config);  // basemap.js
    if (config.mode === "pin") return initPin(map, config);
    if (config.mode === "single") return initSingle(map, config);
    var status = document.getElementById("map-status");
    var list = document.getElementById("rally-list");
    initialView(map, config);
    translateControls(map, config.labels);
    if (config.mode === "browse") {
      nearMeControl(map, config.labels);
      keepViewInAddress(map);
    }
    var cluster = L.markerClusterGroup({
      showCoverageOnHover: false,
      maxClusterRadius: 50,
      iconCreateFunction: function (group) { return clusterIcon(group, config); }
    });
    map.addLayer(cluster);

    function show(marker) {
      if (cluster.hasLayer(marker)) {
        cluster.zoomToShowLayer(marker, function () { marker.openPopup(); });
      } else {
        map.setView(marker.getLatLng(), Math.max(map.getZoom(), 13));
        marker.openPopup();  // moves focus into the popup
      }
    }

    // A page saved with export-static carries its rallies and marker images itself.
    if (config.icons) {
      L.Icon.Default.imagePath = "";
      L.Icon.Default.mergeOptions(config.icons);
    }
    var loaded = config.data ? Promise.resolve(config.data) : fetch(dataUrl(config), { credentials: "omit" })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      });
    loaded
      .then(function (data) {
        var features = data.features || [];
        // The main rally first in the list, then by time.
        features.sort(function (a, b) {
          return (b.properties.featured - a.properties.featured) ||
            a.properties.starts_at.localeCompare(b.properties.starts_at);
        });
        var fragment = document.createDocumentFragment();
        features.forEach(function (feature, index) {
          var marker = markerFor(feature, config);
          // The main rally is never hidden inside a cluster.
          if (feature.properties.featured) marker.addTo(map); else cluster.addLayer(marker);
          // Beside the map, the first ones; the list page has them all, page by page.
          if (list && index < LIST_LIMIT) fragment.appendChild(listItem(feature, marker, show, config));
        });
        if (list && features.length > LIST_LIMIT && config.listUrl) {
          var more = element("li", "rally-item rally-more");
          var link = element("a", null, config.labels.more.replace("{count}", String(features.length)));
          link.href = config.listUrl + filterQuery(config.lang);
          more.appendChild(link);
          fragment.appendChild(more);
        }
        if (list) list.appendChild(fragment);
        if (status) {
          status.textContent = features.length
            ? config.labels.loaded.replace("{count}", String(features.length))
            : config.labels.none;
        }
        map.fire("rallies:loaded", { count: features.length });
      })
      .catch(function () {
        if (status) status.textContent = config.labels.failed;
      });
  }

  window.RallyMap = { init: init, popupContent: popupContent };
})();
