/* The map's own light basemap, drawn from data shipped with the app (data/basemap.json):
 * Belarus's outline, its seven regions and their names, and town names in the page's
 * language, the regional centres first and more towns as the map zooms in. It reads when
 * no tile loads (a blocked tile server, a file opened from disk); tiles, when they load,
 * lie underneath it.
 *
 * Cheap on a phone: the shapes go to one canvas, the names are a few dozen <span>s in one
 * box, redrawn only when the map stops moving. The names are decoration for sighted
 * readers (aria-hidden): the list beside the map says where every rally is in words.
 */
(function () {
  "use strict";

  var FONT = "12px system-ui, sans-serif";
  var REGION_FONT = "italic 13px system-ui, sans-serif";
  var MARGIN = 4;  // px kept free around a name
  var REGION_MAX_ZOOM = 9;  // past it a region's name is just in the way
  var measure = document.createElement("canvas").getContext("2d");
  var widths = {};

  function textWidth(text, font) {
    var key = font + "|" + text;
    if (!(key in widths)) {
      measure.font = font;
      widths[key] = Math.ceil(measure.measureText(text).width);
    }
    return widths[key];
  }

  // GeoJSON order [lon, lat] to Leaflet's [lat, lon].
  function latLngs(rings) {
    return rings.map(function (ring) {
      return ring.map(function (p) { return [p[1], p[0]]; });
    });
  }

  // Where the rallies' markers and clusters are drawn (container pixels, with room for a
  // cluster's "!" badge and ring): a name is never placed over one.
  var MARKER_MARGIN = 6;
  // How much further from its dot a town's name may stand, clear of the main rally's star on
  // its town (40 px and its margin): Minsk's name beside the star.
  var SHIFT = 14;
  function markerBoxes(map) {
    var boxes = [];
    map.eachLayer(function (layer) {
      if (!(layer instanceof L.Marker) || !layer.getElement()) return;
      var icon = layer.options.icon && layer.options.icon.options;
      var size = L.point((icon && icon.iconSize) || [40, 40]);
      var anchor = icon && icon.iconAnchor ? L.point(icon.iconAnchor) : size.divideBy(2);
      var at = map.latLngToContainerPoint(layer.getLatLng()).subtract(anchor);
      boxes.push([
        at.x - MARKER_MARGIN, at.y - MARKER_MARGIN,
        at.x + size.x + MARKER_MARGIN, at.y + size.y + MARKER_MARGIN
      ]);
    });
    return boxes;
  }

  function overlaps(box, taken) {
    for (var i = 0; i < taken.length; i++) {
      var t = taken[i];
      if (box[0] < t[2] && box[2] > t[0] && box[1] < t[3] && box[3] > t[1]) return true;
    }
    return false;
  }

  var Names = L.Layer.extend({
    initialize: function (data, lang) {
      var index = Math.max(0, data.langs.indexOf(lang));
      var towns = data.towns.map(function (t) {
        return { text: t.names[index], latlng: L.latLng(t.point), zoom: t.zoom, kind: "town" };
      });
      var regions = data.regions.map(function (r) {
        return { text: r.names[index], latlng: L.latLng(r.label), zoom: 0, kind: "region" };
      });
      // Regional centres first, then the regions' names, then the other towns, biggest first.
      var centres = towns.filter(function (t) { return t.zoom <= 5; });
      var others = towns.filter(function (t) { return t.zoom > 5; });
      this._names = centres.concat(regions, others);
    },

    onAdd: function (map) {
      this._box = L.DomUtil.create("div", "basemap-names leaflet-zoom-hide", map.getPane("basemapNames"));
      this._box.setAttribute("aria-hidden", "true");
      // The towns' dots, under the markers: a rally's marker on a town keeps its sign ("!",
      // a cross) whole, while the name beside it stays above every marker.
      this._dots = L.DomUtil.create("div", "basemap-dots leaflet-zoom-hide", map.getPane("basemapDots"));
      this._dots.setAttribute("aria-hidden", "true");
      this._spans = new Map();
      map.on("moveend", this._draw, this);
      map.on("zoomanim", this._drawSoon, this);
      // The rallies drawn anew (map/markers.js render): the names make way for them.
      map.on("rallies:drawn", this._markersMoved, this);
      this._draw();
    },

    onRemove: function (map) {
      map.off("moveend", this._draw, this);
      map.off("zoomanim", this._drawSoon, this);
      map.off("rallies:drawn", this._markersMoved, this);
      L.DomUtil.remove(this._box);
      L.DomUtil.remove(this._dots);
    },

    // Each name's spans are made once and kept (this._spans): a redraw moves those that stay,
    // adds those that come into view and takes out the others, so a zoom or a pan changes a
    // few elements, not all of them.
    // A zoom's names are placed while Leaflet animates it, when they are hidden (leaflet-zoom-hide)
    // and the map is at the new zoom and centre already (Leaflet 1.9 moves at the animation's
    // start): at its end (moveend) nothing is left to do. In a task of its own: work in the
    // zoomanim event's task would delay the animation's end.
    _drawSoon: function () {
      var self = this;
      window.setTimeout(function () {
        var map = self._map;
        if (map && map._animatingZoom && map.getZoom() === map._animateToZoom) self._draw();
      }, 0);
    },

    _markersMoved: function () {
      this._markersDrawn = (this._markersDrawn || 0) + 1;
      if (this._map && !this._map._animatingZoom) this._draw();
    },

    _draw: function () {
      var map = this._map;
      var zoom = map.getZoom();
      var size = map.getSize();
      // Where the names were drawn for: the same view again (the zoom's end after _drawSoon)
      // with the same markers changes nothing.
      var view = [zoom, map.getPixelOrigin(), map._getMapPanePos(), size, this._markersDrawn].join(" ");
      if (view === this._drawnView) return;
      this._drawnView = view;
      var taken = [];
      var markers = markerBoxes(map);
      var spans = this._spans || (this._spans = new Map());
      var shown = new Set();
      var box = this._box;
      var dots = this._dots;
      this._names.forEach(function (name, n) {
        if (name.kind === "town" ? name.zoom > zoom : zoom > REGION_MAX_ZOOM) return;
        var at = map.latLngToContainerPoint(name.latlng);
        if (at.x < -100 || at.y < -20 || at.x > size.x + 100 || at.y > size.y + 20) return;
        var region = name.kind === "region";
        var width = textWidth(name.text, region ? REGION_FONT : FONT);
        // A town's name to the right of its dot (far enough for a rally's marker on the
        // town not to cover it), else to the left; a region's centred on its point, or just
        // below or above it when a town already sits there.
        // Further off when markers stand there (a region's name may move half its width and
        // two lines away; beyond that it is left out).
        var tries = region ? [
          [-width / 2, -8], [-width / 2, 10], [-width / 2, -26], [-width / 2, 28], [-width / 2, -44],
          [-width, -8], [0, -8], [-width, 10], [0, 10], [-width, -26], [0, -26]
        ] : [[-4, -8], [-width - 22, -8], [-4 + SHIFT, -8], [-width - 22 - SHIFT, -8]];
        for (var i = 0; i < tries.length; i++) {
          var x = at.x + tries[i][0];
          var y = at.y + tries[i][1];
          var place = [x - MARGIN, y - MARGIN, x + width + (region ? 0 : 18) + MARGIN, y + 16 + MARGIN];
          // The words themselves (a town's span leaves 18 px for its dot, on the dot's side)
          // keep off every marker and cluster: a name over a cluster hid its count.
          var onLeft = !region && i % 2 === 1;
          var left = region || onLeft ? x : x + 18;
          var words = [left, y, left + width, y + 16];
          if (overlaps(place, taken) || overlaps(words, markers)) continue;
          taken.push(place);
          var key = n + ":" + i;
          var kept = spans.get(key);
          if (!kept) {
            var span = document.createElement("span");
            span.className = region ? "basemap-region" : "basemap-town" + (onLeft ? " basemap-town-left" : "");
            span.textContent = name.text;
            // The town's dot, in the pane under the markers, where the name leaves room for it.
            var dot = region ? null : document.createElement("span");
            if (dot) dot.className = "basemap-dot";
            // The dot stays at its town when the name stands further off (SHIFT).
            var dx = onLeft ? width + 11 : 1;
            kept = { span: span, dot: dot, dx: i < 2 ? dx : onLeft ? dx + SHIFT : dx - SHIFT };
            spans.set(key, kept);
          }
          var point = map.containerPointToLayerPoint([x, y]);
          L.DomUtil.setPosition(kept.span, point);
          if (kept.dot) L.DomUtil.setPosition(kept.dot, point.add([kept.dx, 5]));
          if (kept.span.parentNode !== box) {
            box.appendChild(kept.span);
            if (kept.dot) dots.appendChild(kept.dot);
          }
          shown.add(key);
          return;
        }
      });
      spans.forEach(function (kept, key) {
        if (shown.has(key) || kept.span.parentNode !== box) return;
        box.removeChild(kept.span);
        if (kept.dot) dots.removeChild(kept.dot);
      });
    }
  });

  function draw(map, data, lang) {
    // The shapes between the tiles (200) and the rallies' layers (400); the names under the
    // markers (600) and clusters, so that no name ever hides a marker or a cluster's count
    // (above them, a region's name covered a cluster's count: review of session 9), and
    // placed clear of them (Names: markerBoxes), so that no marker hides a name either.
    // They take no taps.
    map.createPane("basemap").style.zIndex = 250;
    var names = map.createPane("basemapNames");
    names.style.zIndex = 590;
    var dots = map.createPane("basemapDots");
    dots.style.zIndex = 450;
    dots.style.pointerEvents = "none";
    names.style.pointerEvents = "none";
    // The canvas covers the view and a quarter of it each way (a short drag shows the outline
    // at once; it is drawn again when the map stops): Leaflet's default of half a view each
    // way makes a canvas of four views to draw and paint at every zoom.
    var renderer = L.canvas({ pane: "basemap", padding: 0.25 });
    var common = { renderer: renderer, interactive: false };
    L.polygon(latLngs(data.outline), L.extend({
      color: "#4a5560", weight: 2, fillColor: "#fffdf5", fillOpacity: 0.35
    }, common)).addTo(map);
    L.polygon(data.regions.map(function (r) { return latLngs(r.rings); }), L.extend({
      color: "#7d8a96", weight: 1, dashArray: "5 4", fill: false
    }, common)).addTo(map);
    L.DomUtil.addClass(map.getContainer(), "has-basemap");
    new Names(data, lang).addTo(map);
  }

  // config.basemap: the data itself (a page saved to disk); config.basemapUrl: where to fetch it.
  function add(map, config) {
    if (config.basemap) {
      draw(map, config.basemap, config.lang);
    } else if (config.basemapUrl) {
      fetch(config.basemapUrl, { credentials: "omit" })
        .then(function (response) {
          if (!response.ok) throw new Error(response.status);
          return response.json();
        })
        .then(function (data) { draw(map, data, config.lang); })
        .catch(function () {});  // the map works without it, as before
    }
  }

  window.RallyBasemap = { add: add };
})();
