/* Markers and clusters. Clusters come from supercluster (vendored in
 * static/vendor/supercluster): it indexes the points, and a view draws only what it shows,
 * so only what is on screen has elements. The main rally's star is never clustered (see
 * star.js for what it hides).
 *
 * `state` is the map's shared state, made by main.js.
 */

import { openCluster, STREET_ZOOM } from "./keyboard.js";
import { openRally } from "./popups.js";
import { isUrgent, markerLabel } from "./rally.js";

// Rallies closer than this (pixels, at the current zoom) are drawn as one cluster.
var CLUSTER_RADIUS = 50;

// A div icon that carries a label: a cluster is otherwise just a number.
// The node keeps its cluster's marker, for the keyboard (see keyboard.js).
// One element with its count as text (its two rings are backgrounds: app.css), made only
// when Leaflet makes the icon's element: every element of the map's panes is styled and laid
// out again at each zoom's start and end (markercluster's look took three).
var LabelledIcon = L.DivIcon.extend({
  createIcon: function (oldIcon) {
    this.options.html = false;
    var node = L.DivIcon.prototype.createIcon.call(this, oldIcon);
    node.textContent = String(this.options.count);
    node.title = this.options.label;
    node.setAttribute("aria-label", this.options.label);
    node.rallyCluster = this.options.cluster;
    return node;
  }
});

// What a cluster (supercluster's properties: point_count, danger, cluster_id) looks like and
// is called: markercluster's look (app.css), the count as text. A cluster holding a rally
// with a danger warning says so, by a sign and in its name: the warning is never hidden
// inside a number. One whose rallies part only past a street's zoom opens their list
// (keyboard.js openCluster), and is called by that list's heading, not "zoom in".
function clusterLook(state, properties) {
  var count = properties.point_count;
  var danger = properties.danger;
  var labels = state.config.labels;
  var size = count < 10 ? "small" : count < 100 ? "medium" : "large";
  var listed = state.index.getClusterExpansionZoom(properties.cluster_id) > STREET_ZOOM;
  var label = (listed ? labels.clusterList : labels.cluster).replace("{count}", String(count));
  if (danger) label = labels.clusterDanger.replace("{count}", String(danger)) + " " + label;
  return {
    className: "marker-cluster marker-cluster-" + size + (danger ? " marker-cluster-danger" : ""),
    label: label
  };
}

function clusterIcon(look, count, marker) {
  return new LabelledIcon({
    count: count,
    className: look.className,
    iconSize: L.point(40, 40),
    label: look.label,
    cluster: marker
  });
}

// Markers drawn with CSS, not Leaflet's pictures: sharp on every screen, and an urgent
// status shows on the map (a cross, "!", an arrow) as well as in words.
var icons = {};
export function iconFor(p) {
  var key = (p.featured ? "featured" : "plain") + "-" + (isUrgent(p.status) ? p.status : "") +
    "-" + (p.verification || "");
  if (!icons[key]) {
    var className = p.featured ? "rally-marker-featured" : "rally-marker";
    if (isUrgent(p.status)) className += " " + className + "-" + p.status;
    // How it was checked: the ring's style (solid, double, dashed, dotted), not its colour.
    if (p.verification) className += " rally-v-" + p.verification;
    icons[key] = p.featured
      ? L.divIcon({ className: className, iconSize: [40, 40], iconAnchor: [20, 20], popupAnchor: [0, -18] })
      : L.divIcon({ className: className, iconSize: [28, 28], iconAnchor: [14, 14], popupAnchor: [0, -12] });
  }
  return icons[key];
}

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

export function rebuildIndex(state) {
  var map = state.map;
  var points = [];
  state.records.forEach(function (r) {
    if (r.featured) return;
    var danger = r.status === "danger" ? 1 : 0;
    points.push({ type: "Feature", properties: { id: r.id, danger: danger }, geometry: { type: "Point", coordinates: [r.lon, r.lat] } });
  });
  // Clusters up to one zoom below the map's closest; at that one every rally is drawn,
  // those that share a point spread around it (place()).
  state.index = new window.Supercluster({
    radius: CLUSTER_RADIUS,
    extent: 256,  // Leaflet's tiles: the radius is then in CSS pixels
    minZoom: Math.max(0, Math.floor(map.getMinZoom())),
    maxZoom: Math.min(22, Math.ceil(map.getMaxZoom())) - 1,
    // How many of a cluster's rallies have a danger warning (its sign and its name).
    map: function (props) { return { danger: props.danger }; },
    reduce: function (total, props) { total.danger += props.danger; }
  });
  state.index.load(points);
}

function markerOf(state, r) {
  var marker = state.markers.get(r.id);
  if (!marker) {
    marker = markerFor(r, state.config);
    marker.on("click", function () { openRally(state, marker.record, marker.getElement()); });
    state.markers.set(r.id, marker);
  }
  return marker;
}

function clusterMarker(state, item) {
  var c = item.geometry.coordinates;
  var marker = L.marker([c[1], c[0]], { keyboard: true });
  marker.home = L.latLng(c[1], c[0]);  // where supercluster put it (clearOfStar may move it)
  marker.clusterId = item.properties.cluster_id;
  var look = clusterLook(state, item.properties);
  marker.setIcon(clusterIcon(look, item.properties.point_count, marker));
  marker.on("click", function () { openCluster(state, marker); });
  return marker;
}

// A cluster marker of the view before, on the map still, made to stand for another
// cluster: its element is changed in place (count, look, name, place), not made again with
// its listeners. What a zoom costs is then mostly moving elements.
function reuseCluster(state, marker, item) {
  var c = item.geometry.coordinates;
  var count = item.properties.point_count;
  var look = clusterLook(state, item.properties);
  var node = marker.getElement();
  var old = marker.options.icon.options;
  if (old.className !== look.className) {
    old.className.split(" ").forEach(function (name) { node.classList.remove(name); });
    look.className.split(" ").forEach(function (name) { node.classList.add(name); });
  }
  if (old.label !== look.label) {
    node.title = look.label;
    node.setAttribute("aria-label", look.label);
  }
  if (node.textContent !== String(count)) node.textContent = String(count);
  // For Leaflet, when it makes the element again (the marker added anew).
  marker.options.icon = clusterIcon(look, count, marker);
  marker.clusterId = item.properties.cluster_id;
  marker.home = L.latLng(c[1], c[0]);
  marker.setLatLng(marker.home);
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
function place(state, markersHere, zoom) {
  var map = state.map;
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
      var target = group.length > 1 && zoom > state.index.options.maxZoom
        ? map.unproject(centre.add(spreadOffset(i, group.length)), zoom) : point;
      if (!marker.getLatLng().equals(target)) marker.setLatLng(target);
    });
  });
}

// How far (pixels, centre to centre, across or down: the targets are squares) a cluster or
// marker is kept from the main rally's star, which is never clustered: the star (40 px)
// never covers another target, which stays whole and tappable beside it, and their 44 px
// touch squares (app.css) do not overlap either, on a diagonal too.
var STAR_CLEAR = 46;

// Moves the clusters and markers drawn under the star out from under it, along the line
// from the star through them (straight down when they lie on its very point). `zoom` is the
// one the map shows, fractional too (the first view's 5.75): measured at the level's whole
// zoom, 46 px there were 39 on the screen, and a marker's 44 px square went under the star's.
function clearOfStar(state, layers, zoom) {
  var star = state.star;
  if (!star) return;
  var map = state.map;
  var centre = map.project(star.getLatLng(), zoom);
  // Where each target is drawn (pixels at `zoom`), as moved so far.
  var drawn = layers.map(function (layer) { return map.project(layer.home || layer.getLatLng(), zoom); });
  layers.forEach(function (layer, i) {
    var home = layer.home || layer.getLatLng();
    var away = drawn[i].subtract(centre);
    // Squares' distance: the larger of across and down.
    var length = Math.max(Math.abs(away.x), Math.abs(away.y));
    if (length >= STAR_CLEAR) {
      if (layer.home && !layer.getLatLng().equals(home)) layer.setLatLng(home);
      return;
    }
    // Out along the same line, to the square STAR_CLEAR px around the star, and further
    // while its square would touch another target's: moved clear of the star alone, a
    // marker at a fractional zoom landed 18 px from its neighbour (axe's target-size).
    var direction = length < 1 ? L.point(0, 1) : away.divideBy(length);
    var point = centre.add(direction.multiplyBy(STAR_CLEAR));
    for (var step = 1; step <= 12 && crowded(drawn, i, point); step++) {
      point = centre.add(direction.multiplyBy(STAR_CLEAR + 6 * step));
    }
    drawn[i] = point;
    var target = map.unproject(point, zoom);
    if (!layer.getLatLng().equals(target)) layer.setLatLng(target);
  });
}

// Whether a target at `point` would be within 44 px (its touch square, app.css) of another.
function crowded(drawn, i, point) {
  return drawn.some(function (other, j) {
    return j !== i && Math.max(Math.abs(other.x - point.x), Math.abs(other.y - point.y)) < 44;
  });
}

export function leafIds(state, clusterId, limit) {
  return state.index.getLeaves(clusterId, limit || Infinity).map(function (leaf) { return leaf.properties.id; });
}

// How much around the view is drawn, as a share of its width and height each way: a short
// pan shows markers at once; a longer one draws more as the map moves (renderIfUncovered).
// Only what is near the view has elements: fewer to place and paint on every zoom.
var DRAW_PAD = 0.25;

// Draws the clusters and markers over the view and a little around it (DRAW_PAD); removes
// the others. A marker whose popup is open stays while the zoom does. Clusters of the view
// before that are gone are reused for the new ones (reuseCluster), and the elements are
// changed together, after every position has been worked out.
// What a level draws over `view` at `zoom`, in the index's order: `next` (key -> its layer:
// a cluster already drawn, or a rally's marker; null for a cluster still to make, kept in its
// place for keyboard.js), the rallies' markers, and the index's clusters not drawn yet.
function levelOf(state, zoom, view) {
  var next = new Map();
  var rallyMarkers = [];
  var newClusters = [];
  state.index.getClusters(boxOf(view), zoom).forEach(function (item) {
    var key, layer;
    if (item.properties.cluster) {
      key = "c" + item.properties.cluster_id;
      layer = state.drawn.get(key);
      if (!layer) {
        newClusters.push(item);
        next.set(key, null);
        return;
      }
    } else {
      var r = state.records.get(item.properties.id);
      if (!r) return;
      key = "r" + r.id;
      layer = markerOf(state, r);
      rallyMarkers.push(layer);
    }
    next.set(key, layer);
  });
  return { next: next, rallyMarkers: rallyMarkers, newClusters: newClusters };
}

export function render(state) {
  var map = state.map;
  if (!state.index) return;
  if (state.next && finishLevel(state)) return;
  var zoom = Math.round(map.getZoom());
  var view = map.getBounds().pad(DRAW_PAD);
  var drawn = state.drawn;
  var level = levelOf(state, zoom, view);
  var next = level.next, rallyMarkers = level.rallyMarkers, newClusters = level.newClusters;
  var current = state.current;
  var focused = document.activeElement;
  var gone = [];
  var spare = [];
  drawn.forEach(function (layer, key) {
    if (next.has(key)) return;
    if (zoom === state.drawnZoom && current && layer.record === current.record) {
      next.set(key, layer);  // panned away from its open popup: keep it for the way back
      return;
    }
    // A cluster no longer drawn, unless it has focus (the keyboard's place stays its own).
    if (layer.clusterId !== undefined && layer.getElement() && layer.getElement() !== focused) {
      spare.push(layer);
    } else {
      gone.push(layer);
    }
  });
  newClusters.forEach(function (item) {
    var layer = spare.length ? reuseCluster(state, spare.pop(), item) : clusterMarker(state, item);
    next.set("c" + item.properties.cluster_id, layer);
  });
  gone = gone.concat(spare);
  place(state, rallyMarkers, zoom);
  clearOfStar(state, Array.from(next.values()).filter(function (layer) { return !layer.record || !layer.record.featured; }), map.getZoom());
  gone.forEach(function (layer) { map.removeLayer(layer); });
  next.forEach(function (layer) {
    if (!map.hasLayer(layer)) map.addLayer(layer);
  });
  state.drawn = next;
  state.drawnZoom = zoom;
  state.drawnBounds = view;
  state.drawnAt = map.getZoom();  // the zoom itself, which may be fractional (the first view)
  map.fire("rallies:drawn");  // the basemap's names make way for them (basemap.js)
}

function boxOf(view) {
  return [
    Math.max(view.getWest(), -180), Math.max(view.getSouth(), -85),
    Math.min(view.getEast(), 180), Math.min(view.getNorth(), 85)
  ];
}

// Marks the elements of the level a zoom goes to that are made while Leaflet's animation
// runs: hidden until it ends (app.css: .leaflet-zoom-anim .rally-next), as the level before
// is drawn scaled until then.
var NEXT = "rally-next";

// The new level's clusters and markers made during Leaflet's zoom animation (250 ms, whose
// main thread is mostly idle) instead of after it: in Leaflet 1.9 the map is at the new
// zoom and centre from the animation's start (its _move comes then), so the view and every
// position are the new level's already. What the new level adds is put on the map hidden
// (NEXT); the level before stays as Leaflet animates it. When the animation ends, render()
// (at moveend) only takes out what the new level no longer draws (finishLevel). Called
// once the zoomanim task is over (prepareLevelSoon), not in it: work there would delay the
// animation's end.
//
// Clusters of the level before that Leaflet's animation moves only off screen (the drawn
// area around the view: about half of them) are reused for the new level's at once
// (reuseCluster), hidden as the new ones are: fewer elements to make now and to take out
// at the end.
export function prepareLevel(state) {
  var map = state.map;
  if (!state.index || state.next || !map._animatingZoom || map.getZoom() !== map._animateToZoom) return;
  var zoom = Math.round(map.getZoom());
  if (zoom === state.drawnZoom) return;
  var view = map.getBounds().pad(DRAW_PAD);
  var drawn = state.drawn;
  var level = levelOf(state, zoom, view);
  var next = level.next, rallyMarkers = level.rallyMarkers, newClusters = level.newClusters;
  var hidden = unseenWhileZooming(state);
  var spare = [];
  drawn.forEach(function (layer, key) {
    if (!next.has(key) && layer.clusterId !== undefined && hidden(layer)) spare.push(key);
  });
  var reused = [];
  newClusters.forEach(function (item) {
    var layer;
    if (spare.length) {
      var old = spare.pop();
      layer = reuseCluster(state, drawn.get(old), item);
      drawn.delete(old);  // it stands for the new level's cluster now
      reused.push(layer);
    } else {
      layer = clusterMarker(state, item);
    }
    next.set("c" + item.properties.cluster_id, layer);
  });
  place(state, rallyMarkers, zoom);
  clearOfStar(state, Array.from(next.values()).filter(function (layer) { return !layer.record || !layer.record.featured; }), map.getZoom());
  var added = reused.slice();
  next.forEach(function (layer) {
    if (!map.hasLayer(layer)) added.push(layer);
  });
  added.forEach(function (layer) {
    if (!map.hasLayer(layer)) map.addLayer(layer);
    var node = layer.getElement();
    if (node) node.classList.add(NEXT);
  });
  state.next = { zoom: zoom, view: view, layers: next, added: added };
}

// Leaflet's zoomanim comes before the map moves to the new level: where the level before is
// drawn then is kept for unseenWhileZooming, and the new level made in the next task.
export function prepareLevelSoon(state) {
  var map = state.map;
  state.zoomFrom = { zoom: map.getZoom(), origin: map.getPixelOrigin() };
  window.setTimeout(function () { prepareLevel(state); }, 0);
}

// How far (px) off the map's edges an element's point must stay to be unseen: half a cluster
// and its touch square (44 px), and a margin.
var UNSEEN_MARGIN = 40;

// Whether a layer of the level before stays off screen throughout the zoom animation that
// runs now: Leaflet moves its element in a straight line from where the level before drew it
// to where the new level would, so two ends past one edge (left, right, above or below the
// map) keep it off screen all the way. The focused element is always seen.
function unseenWhileZooming(state) {
  var map = state.map;
  var from = state.zoomFrom;
  var size = map.getSize();
  var pane = map._getMapPanePos();
  var focused = document.activeElement;
  function side(point) {
    return [point.x < -UNSEEN_MARGIN, point.x > size.x + UNSEEN_MARGIN,
      point.y < -UNSEEN_MARGIN, point.y > size.y + UNSEEN_MARGIN];
  }
  return function (layer) {
    var node = layer.getElement();
    if (!from || !node || node === focused) return false;
    var latlng = layer.getLatLng();
    var start = side(map.project(latlng, from.zoom).round().subtract(from.origin).add(pane));
    var end = side(map.latLngToContainerPoint(latlng));
    for (var i = 0; i < 4; i++) if (start[i] && end[i]) return true;
    return false;
  };
}

// At the end of a zoom prepared by prepareLevel: the new level's elements shown for good,
// those of the level before taken out. False when the map is not where the preparation
// drew (another zoom, a view it does not cover): render() then draws as usual, from what is
// on the map now.
function finishLevel(state) {
  var map = state.map;
  var next = state.next;
  settleNext(state);
  if (map._animatingZoom || map.getZoom() !== next.zoom || !next.view.contains(map.getBounds())) return false;
  var kept = new Set(next.layers.values());
  state.drawn.forEach(function (layer) {
    if (!kept.has(layer)) map.removeLayer(layer);
  });
  state.drawn = next.layers;
  state.drawnZoom = next.zoom;
  state.drawnBounds = next.view;
  state.drawnAt = map.getZoom();
  map.fire("rallies:drawn");
  return true;
}

// The new level's elements shown, and counted among those drawn (beside the level before's).
function settleNext(state) {
  var next = state.next;
  if (!next) return;
  state.next = null;
  next.added.forEach(function (layer) {
    var node = layer.getElement();
    if (node) node.classList.remove(NEXT);
  });
  next.layers.forEach(function (layer, key) {
    if (!state.drawn.has(key)) state.drawn.set(key, layer);
  });
}

// While the map moves (a drag, a fling): draws again, once a frame at most, when the view
// leaves what was drawn around it. Not while the zoom changes (a pinch, an animation): the
// new level is drawn when it ends (moveend).
export function renderIfUncovered(state) {
  if (state.renderQueued || covered(state)) return;
  state.renderQueued = true;
  L.Util.requestAnimFrame(function () {
    state.renderQueued = false;
    if (!covered(state)) render(state);
  });
}

function covered(state) {
  var map = state.map;
  return !state.index || !state.drawnBounds || map._animatingZoom ||
    map.getZoom() !== state.drawnAt || state.drawnBounds.contains(map.getBounds());
}

// The marker or cluster that stands for a rally on the map now, or null.
export function drawnFor(state, r) {
  if (state.stars.has(r.id)) return state.stars.get(r.id);
  var found = state.drawn.get("r" + r.id) || null;
  if (found) return found;
  state.drawn.forEach(function (layer) {
    if (!found && layer.clusterId !== undefined && leafIds(state, layer.clusterId).indexOf(r.id) >= 0) found = layer;
  });
  return found;
}

// The lowest zoom from `from` up at which a rally is drawn on its own (at the closest
// zoom at the latest).
export function zoomToSeparate(state, r, from) {
  var map = state.map;
  for (var zoom = from; zoom <= map.getMaxZoom(); zoom++) {
    var reach = CLUSTER_RADIUS * 360 / (256 * Math.pow(2, zoom));
    var items = state.index.getClusters([r.lon - reach, r.lat - reach, r.lon + reach, r.lat + reach], zoom);
    for (var i = 0; i < items.length; i++) {
      if (!items[i].properties.cluster && items[i].properties.id === r.id) return zoom;
    }
  }
  return map.getMaxZoom();
}

// A rally the map now knows; the main rally's star is drawn at once, never clustered.
export function addRecord(state, r) {
  state.records.set(r.id, r);
  if (!r.featured) return;
  var marker = markerOf(state, r);
  state.stars.set(r.id, marker);
  state.star = marker;
  marker.addTo(state.map);
}

export function removeRecord(state, r) {
  var map = state.map;
  var marker = state.markers.get(r.id);
  if (marker && map.hasLayer(marker)) map.removeLayer(marker);
  state.markers.delete(r.id);
  if (state.stars.get(r.id) === state.star) state.star = null;
  state.stars.delete(r.id);
  state.records.delete(r.id);
  var current = state.current;
  if (current && current.record && current.record.id === r.id) map.closePopup();
}

// A rally whose data changed in place: its marker moves and says its new status.
export function updateMarker(state, r) {
  var marker = state.markers.get(r.id);
  if (!marker) return;
  marker.record = r;
  marker.options.label = markerLabel(r, state.config.labels);
  marker.setLatLng([r.lat, r.lon]);
  marker.setIcon(iconFor(r));  // its element is made again, with the new label
}

// After a new index: the old clusters go (their ids mean nothing in the new one).
export function dropClusters(state) {
  var map = state.map;
  settleNext(state);
  state.drawn.forEach(function (layer) { if (layer.clusterId !== undefined) map.removeLayer(layer); });
  state.drawn.forEach(function (layer, key) { if (layer.clusterId !== undefined) state.drawn.delete(key); });
}
