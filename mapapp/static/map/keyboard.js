/* Keyboard and focus: Enter and Space on markers and clusters, Escape closes a popup,
 * focus goes into a popup when it opens and back to what opened it when it closes, and
 * to the first of a cluster's rallies once the map has zoomed in to it.
 *
 * `state` is the map's shared state, made by main.js.
 */

import { element } from "./dom.js";
import { drawnFor, leafIds } from "./markers.js";
import { openRally } from "./popups.js";
import { markerLabel } from "./rally.js";
import { clearArea } from "./view.js";

// Gives focus back to what opened a popup; if that is gone (a marker now in a
// cluster), to what stands for it on the map now.
function focusOpener(state, popup) {
  var opener = popup.rallyOpener;
  if (opener && document.body.contains(opener)) {
    opener.focus({ preventScroll: true });
    return;
  }
  var drawnNow = popup.record && drawnFor(state, popup.record);
  var node = drawnNow && drawnNow.getElement();
  (node && document.body.contains(node) ? node : state.map.getContainer()).focus({ preventScroll: true });
}

// Past this zoom a basemap has no more to show (a town's yards; at 19 it is blank, "10 m"):
// a cluster that parts only beyond it lists its rallies instead of zooming in.
export var STREET_ZOOM = 15;

// A cluster zooms in to where it parts. Focus then goes to the first of its rallies as drawn
// now, not to the page's top (the cluster's own element is gone). One that would part only
// past a street's zoom (rallies at one point: those whose place is hidden are drawn at their
// town's centre) opens a list of its rallies instead (clusterList).
export function openCluster(state, layer) {
  var map = state.map;
  var parts = state.index.getClusterExpansionZoom(layer.clusterId);
  if (parts > STREET_ZOOM) return clusterList(state, layer);
  var zoom = Math.min(parts, map.getMaxZoom());
  var inside = new Set(leafIds(state, layer.clusterId));
  map.once("moveend", function () { window.setTimeout(function () { focusInside(state, inside); }, 0); });
  map.setView(layer.getLatLng(), zoom);
}

// A cluster's rallies in a popup at its place: a heading and a button for each rally (named
// by its title once its details are in) that opens the rally's own popup; focus goes to the
// first button (the popupopen handler below) and back to the cluster when it closes.
function clusterList(state, layer) {
  var map = state.map;
  var config = state.config;
  var box = element("div", "rally-cluster-list");
  var ids = leafIds(state, layer.clusterId);
  var heading = element("h2", "rally-popup-title", config.labels.clusterList.replace("{count}", String(ids.length)));
  heading.id = "cluster-list-" + layer.clusterId;
  box.appendChild(heading);
  var items = element("ul");
  items.setAttribute("aria-labelledby", heading.id);
  var opener = layer.getElement();
  ids.forEach(function (id) {
    var r = state.records.get(id);
    if (!r) return;
    var d = state.details.known(r);
    var button = element("button", "rally-popup-other", d ? d.title : markerLabel(r, config.labels));
    button.type = "button";
    button.addEventListener("click", function (event) {
      event.stopPropagation();  // its popup replaces this one: not a click outside it
      openRally(state, r, opener);
    });
    if (!d) state.details.load(r).then(function (loaded) { button.textContent = loaded.title; }, function () {});
    var item = element("li");
    item.appendChild(button);
    items.appendChild(item);
  });
  box.appendChild(items);
  var clear = clearArea(map);
  var frame = map.getContainer().closest(".map-frame, .embed-map");
  if (frame) frame.classList.add("popup-open");  // the banner keeps two lines (main.js)
  // As for a rally's popup (popups.js): the view's bounds give way while it is open, or they
  // pull the map back under the banner after the popup's pan; main.js puts them back.
  if (map.options.maxBounds) {
    state.viewBounds = map.options.maxBounds;
    map.setMaxBounds(null);
  }
  var popup = L.popup({
    maxWidth: 280, autoPanPaddingTopLeft: [12, clear.top], autoPanPaddingBottomRight: [12, clear.bottom],
    offset: L.point(0, -14)
  }).setLatLng(layer.getLatLng()).setContent(box);
  popup.rallyOpener = opener;
  map.openPopup(popup);
}

function focusInside(state, inside) {
  var map = state.map;
  var active = document.activeElement;
  var lost = !active || active === document.body || active === map.getContainer() ||
    !document.body.contains(active);
  if (!lost) return;
  var target = null;
  state.drawn.forEach(function (layer) {
    if (target) return;
    var id = layer.clusterId !== undefined ? leafIds(state, layer.clusterId, 1)[0] : layer.record.id;
    if (inside.has(id) && layer.getElement()) target = layer.getElement();
  });
  if (target) target.focus({ preventScroll: true });
}

// The map's keyboard and focus handling, set up once.
export function keyboard(state) {
  var map = state.map;
  var config = state.config;

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
    if (state.current && state.current.popup === popup) state.current = null;
    var active = document.activeElement;
    var container = popup.getElement();
    // Focus left in the closed popup, or dropped to the page: back to the opener.
    // Focus the visitor put elsewhere (another marker, the list) stays there.
    if (!active || active === document.body || !document.body.contains(active) ||
        (container && container.contains(active)) || active === map.getContainer()) {
      focusOpener(state, popup);
    }
  });

  // Enter and Space act on every marker and cluster: they are announced as buttons.
  map.getContainer().addEventListener("keydown", function (event) {
    if (event.key !== "Enter" && event.key !== " ") return;
    var node = event.target;
    if (node.rallyCluster) {
      event.preventDefault();
      // Its element goes when the map zooms in: meanwhile focus stays in the map.
      map.getContainer().focus({ preventScroll: true });
      openCluster(state, node.rallyCluster);
    } else if (node.rallyMarker) {
      event.preventDefault();
      openRally(state, node.rallyMarker.record, node);
    }
  });
}
