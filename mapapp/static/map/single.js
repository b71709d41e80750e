/* A rally's own page: its one marker, from the data the page carries. It re-reads the
 * rally now and then (with its ETag), and says so at once in the urgent banner when its
 * status turns urgent. */

import { watch } from "./feed.js";
import { iconFor } from "./markers.js";
import { Banner } from "./urgent.js";
import { translateControls } from "./view.js";

export function initSingle(map, config) {
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
