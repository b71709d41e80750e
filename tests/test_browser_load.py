"""What a fresh load of the map does first, in Chromium: the markers and the status line before
the list, one level of tiles in every kind of map, and the offline web app's worker only once
the page has loaded (issue 27: time to markers)."""

from __future__ import annotations

import re

import pytest
from conftest import add_rally, wait_until
from test_browser_zoom import app as app  # a fixture: the seed's rallies, with the main one

pytestmark = pytest.mark.browser


# How many lines the list had when the status line first said how many rallies are drawn.
LIST_AT_STATUS = """
window.__listAtStatus = null;
document.addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("map-status");
  const seen = () => {
    if (window.__listAtStatus === null && /\\d/.test(status.textContent)) {
      window.__listAtStatus = {
        items: document.querySelectorAll("#rally-list li").length,
        markers: document.querySelectorAll(".leaflet-marker-icon").length,
      };
    }
  };
  new MutationObserver(seen).observe(status, {childList: true, characterData: true, subtree: true});
  seen();
});
"""


def test_the_markers_and_the_status_line_come_before_the_list(page, live_server, app):
    """The list beside the map is made once the markers are drawn (a frame later): its first
    page of elements held the first frame of the map back. It comes, whole, and the status
    line says the count as before."""
    page.add_init_script(LIST_AT_STATUS)
    page.goto(live_server + "/?lang=en")
    wait_until(page, "window.__listAtStatus !== null")
    at_status = page.evaluate("window.__listAtStatus")
    assert at_status["markers"] > 0
    assert at_status["items"] == 0
    wait_until(page, "document.querySelectorAll('#rally-list li').length === 13")
    status = page.locator("#map-status").inner_text()
    assert status == "Rallies on the map: 13"
    assert page.errors == []


# The zoom level of every tile the page put into the map, even one taken out in the same task
# (Leaflet then sets its src to an empty image: the record's old value names its tile).
TILES_ADDED = """
(() => {
window.__tileZooms = [];
const zoomOf = (src) => {
  const m = /\\/test-tiles\\/(\\d+)\\//.exec(src || "");
  if (m) window.__tileZooms.push(Number(m[1]));
};
new MutationObserver((records) => {
  for (const r of records) {
    if (r.type === "attributes") {
      if (r.target.classList.contains("leaflet-tile")) zoomOf(r.oldValue);
      continue;
    }
    for (const node of r.addedNodes) {
      const tiles = node.nodeType !== 1 ? [] : node.matches("img.leaflet-tile")
        ? [node] : Array.from(node.querySelectorAll("img.leaflet-tile"));
      for (const tile of tiles) zoomOf(tile.getAttribute("src"));
    }
  }
}).observe(document, {subtree: true, childList: true, attributes: true,
                      attributeFilter: ["src"], attributeOldValue: true});
})();
"""


def test_every_kind_of_map_lays_out_tiles_of_its_first_view_only(page, live_server, app):
    """folium makes the map without a view: the map and a rally's page (and the submit form's
    pin, tests/test_browser_submit.py) each set theirs first. With folium's view (zoom 6) the tile layer made that level's tiles
    and took them out at once (never asked for: tests/test_browser_zoom.py), at every load."""
    rally_id = add_rally(app, title="Пікет у Гродне", town="Гродна", lat=53.6778, lon=23.8297)
    page.add_init_script(TILES_ADDED)
    drawn = "performance.getEntriesByName('rallies-loaded').length > 0"
    for path, selector in (
        ("/?lang=en", drawn),
        ("/?lang=en&lat=53.9&lon=27.56&zoom=10", drawn),
        ("/?lang=en&zoom=9", drawn),
        (f"/rallies/{rally_id}?lang=en", "document.querySelector('img.leaflet-tile')"),
    ):
        page.goto(live_server + path)
        wait_until(page, selector)
        wait_until(page, "window.__tileZooms.length > 0")
        page.wait_for_timeout(300)
        zooms = set(page.evaluate("window.__tileZooms"))
        assert len(zooms) == 1, (path, zooms)
        if "zoom=10" in path:
            assert zooms == {10}
        if "zoom=9" in path:  # a zoom without a centre: Belarus's centre, as folium had it
            assert zooms == {9}
            centre = page.evaluate(
                "(() => { const m = window[Object.keys(window).find((k) => /^map_\\w+$/.test(k))];"
                " const c = m.getCenter(); return [c.lat, c.lng]; })()"
            )
            assert abs(centre[0] - 53.71) < 0.5 and abs(centre[1] - 27.95) < 0.5
    assert page.errors == []


# When the page asked for the offline web app's worker: the document's state then.
REGISTERED = """
window.__registered = null;
const register = ServiceWorkerContainer.prototype.register;
ServiceWorkerContainer.prototype.register = function (...args) {
  const status = document.getElementById("map-status");
  window.__registered = {
    state: document.readyState,
    status: status ? status.textContent : null,
  };
  return register.apply(this, args);
};
"""


@pytest.mark.service_worker
def test_the_worker_is_registered_once_the_page_has_loaded(page, live_server, app):
    """The worker's install (Workbox's scripts, then copies of what the page loaded) waits
    for the page's load and an idle moment: registered at once, it ran while the map parsed
    its feed and drew its markers. The page still becomes ready offline."""
    page.add_init_script(REGISTERED)
    page.goto(live_server + "/?lang=en")
    wait_until(page, "document.documentElement.dataset.offlineReady === '1'", timeout=30)
    registered = page.evaluate("window.__registered")
    assert registered["state"] == "complete"
    assert re.fullmatch(r"Rallies on the map: \d+", registered["status"])
    assert page.evaluate("navigator.serviceWorker.controller !== null")


def test_the_map_loads_its_modules_as_one_script(page, live_server, app):
    """Pages load the map's modules joined (map.js): one request, not thirteen (a browser opens
    six connections to a host on HTTP/1.1; the rest waited their turn behind Leaflet and the
    feed). The map works from it: markers, the list, a popup."""
    page.goto(live_server + "/?lang=en")
    wait_until(page, "document.querySelectorAll('#rally-list li').length === 13")
    scripts = [url for url in page.requested if "/static/map/" in url]
    assert len(scripts) == 1 and scripts[0].endswith("/map.js"), scripts
    page.locator("#rally-list li").first.get_by_role("button").click()
    page.locator(".leaflet-popup-content").wait_for()
    assert page.errors == []


FRAME_TOP = "document.querySelector('.map-frame').style.getPropertyValue('--map-top')"


def test_a_wide_page_measures_no_top_for_the_map(page, live_server, app):
    """--map-top (the map from where it starts to the window's foot) is for narrow pages: a
    wide one lays the map out in its grid, and measuring there forced a layout of the whole
    page before the first draw, and another once it was set. Narrowed, the page measures it."""
    page.goto(live_server + "/?lang=en")
    wait_until(page, "performance.getEntriesByName('rallies-loaded').length > 0")
    assert page.evaluate(FRAME_TOP) == ""
    page.set_viewport_size({"width": 390, "height": 844})
    wait_until(page, f"/^\\d+px$/.test({FRAME_TOP})")
    top = page.evaluate("document.querySelector('.map-frame').getBoundingClientRect().top")
    assert page.evaluate(FRAME_TOP) == f"{int(-(-top // 1))}px"
    assert page.errors == []
