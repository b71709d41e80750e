/* A rally's popup and its details: opened once the details (title, place, time) are in,
 * or after a moment saying "Loading" until they come; "Try again" when they fail.
 *
 * `state` is the map's shared state, made by main.js.
 */

import { element, within } from "./dom.js";
import { STREET_ZOOM } from "./keyboard.js";
import { drawnFor, iconFor, render, zoomToSeparate } from "./markers.js";
import { appendPlace, rallyLink, startsText, statusBadge } from "./rally.js";
import { alsoHere, TITLES_AT_ONCE, underStar } from "./star.js";
import { PLACE_ZOOM } from "./view.js";

// A popup waits this long (ms) for its rally's details before it opens saying "Loading".
var DETAILS_WAIT = 800;

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
  // After a time change, the old time (people may have planned for it).
  if (d.time_note) body.appendChild(element("p", "rally-popup-note rally-popup-rescheduled", d.time_note));
  // How it was checked (mapapp/publishing/public.py): "Checked by 2 moderators" and so on.
  if (d.verification_text) {
    var checked = element("p", "rally-popup-verification", d.verification_text);
    checked.setAttribute("data-verification", d.verification);
    body.appendChild(checked);
  }
}

// A rally's popup: what the feed says at once (status, main rally, the link to its page),
// its details when they are there; `phase` is "loading" or "failed" until then (`retry`
// asks again).
export function popupContent(r, config, d, phase, retry, extra) {
  var box = element("div", "rally-popup");
  var badge = statusBadge("p", r, config.labels);
  if (badge) box.appendChild(badge);
  if (r.featured) box.appendChild(element("p", "badge badge-featured", config.labels.featured));
  var body = element("div", "rally-popup-body");
  if (d) {
    appendDetails(body, d, config);
  } else if (phase === "failed") {
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

function popupOffset(r) {
  var anchor = iconFor(r).options.popupAnchor || [0, 0];
  return L.point(anchor[0], anchor[1] + 7);  // Leaflet's own offset, from the icon's anchor
}

function popupFor(state, r, hidden) {
  var d = state.details.known(r);
  var phase = d ? null : (state.detailsFailed.has(r.id) ? "failed" : "loading");
  return popupContent(r, state.config, d, phase, function () { reload(state, r); },
    alsoHere(state, r, hidden));
}

export function showing(state, r) {
  var current = state.current;
  return Boolean(current && current.record && current.record.id === r.id);
}

// Loads a rally's details; its open popup is drawn again when they come or fail.
function loadDetails(state, r) {
  state.detailsFailed.delete(r.id);
  var loading = state.details.load(r);
  loading.then(function () {
    if (showing(state, r)) refreshPopup(state);
  }, function () {
    state.detailsFailed.add(r.id);
    if (showing(state, r)) refreshPopup(state);
  });
  return loading;
}

// "Try again" in a popup, or a newer status: the details asked for again, in place.
export function reload(state, r) {
  loadDetails(state, r);
  if (showing(state, r)) refreshPopup(state);
}

// Opens a rally's popup once its details (and, for the star, the titles of what it
// hides) are there, or after DETAILS_WAIT: then it says "Loading" until they come.
export function openRally(state, r, opener) {
  var hidden = state.star && r.id === state.star.record.id ? underStar(state) : [];
  var wanted = [loadDetails(state, r)].concat(hidden.slice(0, TITLES_AT_ONCE).map(function (other) {
    return state.details.load(other);
  }));
  var ticket = {};
  state.opening = ticket;
  within(Promise.all(wanted), DETAILS_WAIT).then(function () {
    if (state.opening !== ticket) return;  // another rally was asked for meanwhile
    state.opening = null;
    openPopup(state, r, opener, hidden);
  });
}

// Where a rally's popup points: its marker as drawn (spread out, beside its point).
function popupPoint(state, r) {
  var marker = state.markers.get(r.id);
  return marker && state.map.hasLayer(marker) ? marker.getLatLng() : L.latLng(r.lat, r.lon);
}

// What a popup must stay clear of on the map (pixels from its edges): the controls in the
// top-left corner (zoom, "Near me", which on a phone covered the popup's title and its page
// link) and the urgent banner over the map's foot, which a popup shrinks to two lines while
// it is open (app.css: .popup-open), so that nothing is drawn over a popup.
function popupPadding(map) {
  var box = map.getContainer().getBoundingClientRect();
  var top = 12, bottom = 12;
  // On a phone (a coarse pointer, or a narrow map) the controls take a large part of the map:
  // the popup keeps below them. A wide map keeps Leaflet's small margin, and its view stays
  // put when an open popup grows (a new status).
  var small = box.width < 600 || (window.matchMedia && window.matchMedia("(pointer: coarse)").matches);
  var corner = small ? map.getContainer().querySelectorAll(".leaflet-top.leaflet-left .leaflet-control") : [];
  Array.prototype.forEach.call(corner, function (control) {
    var rect = control.getBoundingClientRect();
    if (rect.height) top = Math.max(top, rect.bottom - box.top + 8);
  });
  var frame = map.getContainer().closest(".map-frame, .embed-map");
  if (frame) {
    frame.classList.add("popup-open");
    var banner = frame.querySelector(".urgent-over-map");
    var rect = banner && banner.getBoundingClientRect();
    if (rect && rect.height) bottom = Math.max(bottom, box.bottom - rect.top + 8);
  }
  // A map too short for both keeps the popup's top (its title) in view.
  if (top + bottom > box.height / 2) bottom = 12;
  return { topLeft: [12, top], bottomRight: [12, bottom] };
}

function openPopup(state, r, opener, hidden) {
  var pad = popupPadding(state.map);
  // The view's bounds (view.js) give way while a popup is open: near the country's edge
  // they pulled the map back after the popup's pan, under the controls again. main.js
  // puts them back when the popup closes.
  if (state.map.options.maxBounds) {
    state.viewBounds = state.map.options.maxBounds;
    state.map.setMaxBounds(null);
  }
  var popup = L.popup({
    maxWidth: 280, autoPanPaddingTopLeft: pad.topLeft, autoPanPaddingBottomRight: pad.bottomRight,
    offset: popupOffset(r)
  })
    .setLatLng(popupPoint(state, r))
    .setContent(popupFor(state, r, hidden));
  var source = drawnFor(state, r);
  popup.rallyOpener = opener || (source && source.getElement()) || null;
  popup.record = r;
  popup.hidden = hidden;
  state.current = { popup: popup, record: r };
  state.map.openPopup(popup);
}

// The open popup drawn again (new details, or a new status), keeping focus inside it.
function refreshPopup(state) {
  var current = state.current;
  if (!current) return;
  var popup = current.popup;
  var node = popup.getElement();
  var hadFocus = node && node.contains(document.activeElement);
  var r = state.records.get(current.record.id) || current.record;
  current.record = r;
  popup.record = r;
  // Redrawn in place: the map does not move under the visitor (it panned when it opened).
  popup.options.autoPan = false;
  popup.setLatLng(popupPoint(state, r));
  popup.setContent(popupFor(state, r, popup.hidden || []));
  popup.options.autoPan = true;
  if (hadFocus) {
    var link = popup.getElement().querySelector("a.rally-popup-link, button");
    if (link) link.focus({ preventScroll: true });
  }
}

// A rally shown from outside the map (its line in the list, the star's popup): the map
// moves to where it is drawn on its own, and its popup opens.
export function show(state, r, opener) {
  var map = state.map;
  // From the list below the map (a phone): bring the map on screen, or its popup opens
  // where nobody sees it.
  var box = map.getContainer().getBoundingClientRect();
  if (box.top < 0 || box.bottom > window.innerHeight) {
    map.getContainer().scrollIntoView({ block: "nearest" });
  }
  if (state.stars.has(r.id)) {
    map.setView([r.lat, r.lon], Math.max(map.getZoom(), PLACE_ZOOM), { animate: false });
    openRally(state, r, opener);
    return;
  }
  var zoom = Math.round(map.getZoom());
  // A rally that parts from its neighbours only past a street's zoom (at one point with them)
  // opens its popup over their cluster: the map never goes to a blank street at 19.
  var target = Math.min(zoomToSeparate(state, r, zoom), Math.max(zoom, STREET_ZOOM));
  if (target !== zoom || !map.getBounds().contains([r.lat, r.lon])) {
    map.setView([r.lat, r.lon], target, { animate: false });
  }
  render(state);
  openRally(state, r, opener);
}
