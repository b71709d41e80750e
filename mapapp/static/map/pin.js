/* The submit form's map: one pin the organizer drags (or moves with the arrow keys) to
 * the place; the form's hidden lat/lon follow it, and a line says the town under it. */

import { translateControls } from "./view.js";

var pinIcon = L.divIcon({
  className: "rally-marker-pin", html: "<span></span>", iconSize: [32, 32], iconAnchor: [16, 32]
});

export function initPin(map, config) {
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
  var was = document.getElementById("pin-was");
  if (was) showWas(map, marker, [parseFloat(was.dataset.lat), parseFloat(was.dataset.lon)]);
}

// The manage page of a rally whose pin a moderator moved: where the organizer put it, grey
// and dashed, a dashed line to the pin (following it as it is dragged), both in view.
function showWas(map, marker, was) {
  var line = drawPinMove(map, was, marker.getLatLng());
  if (line) marker.on("move", function () { line.setLatLngs([was, marker.getLatLng()]); });
}

// A pin moved from `was` to `now` ([lat, lon] or a LatLng): the old pin a grey dashed circle,
// a dashed line to the new one, both in view; returns the line (null: no old pin to draw).
// The manage page and the moderation page (single.js) draw it alike.
export function drawPinMove(map, was, now) {
  if (!isFinite(was[0]) || !isFinite(was[1])) return null;
  var line = L.polyline([was, now], {
    className: "pin-move", color: "#555", weight: 2, dashArray: "6 6", interactive: false
  }).addTo(map);
  L.circleMarker(was, {
    className: "pin-was", radius: 10, color: "#555", weight: 2, dashArray: "4 4",
    fillColor: "#999", fillOpacity: 0.3, interactive: false
  }).addTo(map);
  map.fitBounds([was, now], { padding: [40, 40], maxZoom: 15, animate: false });
  return line;
}
