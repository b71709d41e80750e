/* The main rally's star: never clustered, so it can hide the markers and clusters drawn
 * under it. Its popup lists those rallies, so that none is out of reach.
 *
 * Other markers and clusters near it are drawn beside it (markers.js, clearOfStar).
 * `state` is the map's shared state, made by main.js.
 */

import { element } from "./dom.js";
import { show } from "./popups.js";
import { markerLabel } from "./rally.js";

// Rallies this close (metres) to the main rally's point are "at this place": its popup
// lists them. Others near it on the screen are drawn beside the star (markers.js), never under.
var SAME_PLACE_M = 150;
// How many of the rallies under the star its popup names (a button zooms in to the rest).
var ALSO_LIMIT = 30;
// The star's popup names at most this many of the rallies under it by their titles.
export var TITLES_AT_ONCE = 30;

// Rallies at the main rally's own point (the star's popup lists them: they share its place).
export function underStar(state) {
  var star = state.star;
  if (!star) return [];
  var here = star.getLatLng();
  var found = [];
  state.records.forEach(function (r) {
    if (r.featured || r === star.record) return;
    if (here.distanceTo([r.lat, r.lon]) <= SAME_PLACE_M) found.push(r);
  });
  return found;
}

// The rallies under the star, in its popup: each a button that opens its own popup,
// named by its title once that is loaded.
export function alsoHere(state, r, hidden) {
  if (!hidden.length) return null;
  var map = state.map;
  var config = state.config;
  var details = state.details;
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
    button.addEventListener("click", function () { show(state, other, state.star && state.star.getElement()); });
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
      var here = state.star.getLatLng();
      map.closePopup();
      map.setView(here, Math.min(map.getZoom() + 3, map.getMaxZoom()));
      var node = state.star.getElement();
      if (node) node.focus();
    });
    rest.appendChild(closer);
    items.appendChild(rest);
  }
  box.appendChild(items);
  return box;
}
