"""The map's view in Chromium: it opens at its final view, and zooming in draws each level's
clusters and markers as the cluster index has them (elements of the level before are reused
for the new one: each must say its new count)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from conftest import add_rally, browser_app, wait_until
from flask import Flask
from test_browser_legend import shot
from test_browser_phone import PHONE

pytestmark = pytest.mark.browser

FMAP = "window[Object.keys(window).find((k) => /^map_\\w+$/.test(k))]"

# Notes whether Leaflet ever animated a zoom (its map pane's class while it does).
ANIMATED = """
window.__zoomAnimated = false;
new MutationObserver((records) => {
  for (const r of records) {
    if (r.target.classList && r.target.classList.contains("leaflet-zoom-anim")) {
      window.__zoomAnimated = true;
    }
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ["class"]});
"""


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    app = browser_app(sqlite_url)
    app.test_cli_runner().invoke(args=["init-db"])  # the seed's rallies, with the main one
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def add_grid(app: Flask) -> None:
    """48 rallies on a grid around Minsk: clusters at the country's zooms, rallies closer."""
    for i in range(8):
        for j in range(6):
            add_rally(app, title=f"Rally {i} {j}", lat=53.2 + i * 0.12, lon=26.9 + j * 0.18)


def loaded(page) -> None:  # noqa: ANN001
    wait_until(page, "performance.getEntriesByName('rallies-loaded').length > 0")


def tile_zooms(page) -> set[int]:  # noqa: ANN001
    return {int(m.group(1)) for u in page.requested if (m := re.search(r"/test-tiles/(\d+)/", u))}


@pytest.mark.parametrize(
    ("path", "zoom"),
    [
        ("/?lang=en", None),  # Belarus, fitted to the window
        ("/?lang=en&lat=53.9&lon=27.56&zoom=10", 10),  # a link's view (and every reload's)
        ("/?lang=en&city=%D0%9C%D1%96%D0%BD%D1%81%D0%BA", None),  # a town's filter
    ],
)
def test_the_map_opens_at_its_final_view(page, live_server, path: str, zoom: int | None):
    """No second view at load: tiles of one zoom level only, no zoom animation (folium made
    the map at zoom 6; a link's zoom 10 animated from there, and a town's filter showed
    Belarus until the rallies came). A town's view stays once its rallies come."""
    page.add_init_script(ANIMATED)
    page.goto(live_server + path)
    loaded(page)
    page.wait_for_timeout(500)  # tiles asked for after the rallies, if any
    final = page.evaluate(f"Math.round({FMAP}.getZoom())")
    assert tile_zooms(page) == {final}, (tile_zooms(page), final)
    assert page.evaluate("window.__zoomAnimated") is False
    if zoom is not None:
        assert final == zoom
    if "city=" in path:
        assert final >= 10  # the town, from the start
    assert page.errors == []


@pytest.mark.parametrize(
    "view",
    [
        "lat=53.7&lon=27.4&zoom=7",
        "lat=53.9&lon=27.56&zoom=12",
        # fractional, as Leaflet has it: a 400 before, and drawn at 7 by the map
        "lat=53.7&lon=27.4&zoom=7.5",
        "lat=53.9012&lon=27.5593&zoom=17.25",
    ],
)
def test_a_links_view_stays_where_the_link_put_it(page, live_server, view: str):
    """The centre a link asks for is the centre shown, and stays so once loaded: the map's
    bounds were set over folium's first view, and Leaflet's pan into them went on after the
    link's view was set, moving it by 30 px (and, the view being kept in the address, again
    at each reload)."""
    page.goto(f"{live_server}/?lang=en&{view}")
    loaded(page)
    page.evaluate(f"window.__moves = 0; {FMAP}.on('movestart', () => {{ window.__moves += 1; }})")
    page.wait_for_timeout(800)  # a pan animation takes 250 ms
    lat, lon, zoom = (float(part.split("=")[1]) for part in view.split("&"))
    # How far (px) the link's centre is drawn from the map's centre: Leaflet rounds to pixels.
    off = f"{FMAP}.latLngToContainerPoint([{lat}, {lon}]).distanceTo({FMAP}.getSize().divideBy(2))"
    assert page.evaluate(off) <= 1
    assert page.evaluate(f"{FMAP}.getZoom()") == zoom
    assert page.evaluate("window.__moves") == 0
    page.reload()
    loaded(page)
    page.wait_for_timeout(800)
    assert page.evaluate(off) <= 2  # the address keeps 4 decimals
    assert page.evaluate(f"{FMAP}.getZoom()") == zoom
    assert page.errors == []


VIEW = f"[{FMAP}.getZoom(), {FMAP}.getCenter().lat, {FMAP}.getCenter().lng]"


def address_view(page) -> tuple[float, float, float]:  # noqa: ANN001
    query = "Object.fromEntries(new URLSearchParams(location.search))"
    wait_until(page, f"{query}.zoom !== undefined")
    args = page.evaluate(query)
    return float(args["zoom"]), float(args["lat"]), float(args["lon"])


def same_view(page, first: list, px: float = 1.5) -> None:  # noqa: ANN001
    """The map shows the zoom of `first` and its centre within `px` pixels."""
    zoom = page.evaluate(f"{FMAP}.getZoom()")
    assert abs(zoom - first[0]) < 1e-6, (zoom, first)
    off = f"{FMAP}.latLngToContainerPoint([{first[1]}, {first[2]}]).distanceTo({FMAP}.getSize().divideBy(2))"
    assert page.evaluate(off) <= px, (page.evaluate(VIEW), first)


@pytest.mark.parametrize("lang", ["be", "en"])
def test_on_a_phone_the_address_holds_the_view_shown_and_a_reload_or_shared_link_shows_it(
    browser, live_server, lang: str
):
    """The first fit of Belarus on a phone is a fractional zoom (quarters): the page wrote its
    zoom rounded (zoom=7 for 6.75, the reviewer saw 6), so a reload or the link shared from
    the address showed another view, and a link's zoom=6.5 was a 400."""
    context = browser.new_context(**PHONE, locale="en-US")
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(f"{live_server}/?lang={lang}")
    loaded(page)
    first = page.evaluate(VIEW)
    assert first[0] != round(first[0])  # Belarus fitted at a quarter level on a phone
    # the visitor drags the map a little: the address takes the view
    page.evaluate(f"{FMAP}.panBy([30, -20], {{animate: false}})")
    first = page.evaluate(VIEW)
    written = address_view(page)
    assert written[0] == first[0], (written, first)  # the zoom shown, not a rounded one
    shot(page, f"zoom-first-{lang}")
    page.reload()
    loaded(page)
    page.wait_for_timeout(500)
    same_view(page, first)
    # A link with a fractional zoom (a 400 before), shared: it opens at that view, and so
    # does its reload from the address the page wrote.
    link = f"{live_server}/?lang={lang}&lat=53.61&lon=27.93&zoom=6.5"
    moved = [6.5, 53.61, 27.93]
    other = context.new_page()
    other.goto(link)
    loaded(other)
    other.wait_for_timeout(500)
    same_view(other, moved)
    other.evaluate(f"{FMAP}.panBy([0, 1], {{animate: false}})")
    assert address_view(other)[0] == 6.5
    moved = other.evaluate(VIEW)
    other.reload()
    loaded(other)
    other.wait_for_timeout(500)
    same_view(other, moved)
    shot(other, f"zoom-shared-{lang}")
    assert page.errors == []
    context.close()


@pytest.mark.parametrize(("asked", "shown"), [("25", 19), ("2.5", 5)])
def test_a_links_zoom_out_of_range_shows_the_nearest_the_map_goes(
    browser, live_server, asked: str, shown: int
):
    context = browser.new_context(**PHONE, locale="en-US")
    page = context.new_page()
    for path in ("/", "/embed"):
        response = page.goto(f"{live_server}{path}?lang=en&lat=53.9&lon=27.56&zoom={asked}")
        assert response.status == 200
        loaded(page)
        assert page.evaluate(f"{FMAP}.getZoom()") == shown
    context.close()


# What the map draws, read from its elements: each cluster's count (its text, its name and
# its size class must agree) and place, and each rally marker's id; only those inside the view.
DRAWN = """(() => {
  const map = __MAP__;
  const view = map.getBounds();
  const clusters = [], rallies = [], wrong = [];
  for (const node of document.querySelectorAll(".leaflet-marker-pane .leaflet-marker-icon")) {
    if (node.rallyCluster) {
      const marker = node.rallyCluster;
      const count = Number(node.textContent);
      const size = count < 10 ? "small" : count < 100 ? "medium" : "large";
      if (!node.getAttribute("aria-label").includes("Rallies here: " + count + ".") ||
          !node.classList.contains("marker-cluster-" + size)) wrong.push(node.outerHTML);
      if (view.contains(marker.home)) {
        clusters.push([count, marker.home.lat.toFixed(5), marker.home.lng.toFixed(5)].join(" "));
      }
    } else if (node.rallyMarker && !node.rallyMarker.record.featured) {
      if (view.contains(node.rallyMarker.record)) rallies.push(node.rallyMarker.record.id);
    }
  }
  return {clusters: clusters.sort(), rallies: rallies.sort((a, b) => a - b), wrong: wrong};
})()""".replace("__MAP__", FMAP)

# The same, worked out by a cluster index of our own over the page's feed.
EXPECTED = """async () => {
  const map = __MAP__;
  const data = await (await fetch("/api/rallies.geojson?fields=map&lang=en")).json();
  const points = RallyMap.recordsOf(data).filter((r) => !r.featured).map((r) => ({
    type: "Feature", properties: {id: r.id}, geometry: {type: "Point", coordinates: [r.lon, r.lat]}
  }));
  const index = new Supercluster({radius: 50, extent: 256, minZoom: 5, maxZoom: 18}).load(points);
  const view = map.getBounds();
  const clusters = [], rallies = [];
  for (const item of index.getClusters([-180, -85, 180, 85], Math.round(map.getZoom()))) {
    const [lon, lat] = item.geometry.coordinates;
    if (!view.contains([lat, lon])) continue;
    if (item.properties.cluster) {
      clusters.push([item.properties.point_count, lat.toFixed(5), lon.toFixed(5)].join(" "));
    } else {
      rallies.push(item.properties.id);
    }
  }
  return {clusters: clusters.sort(), rallies: rallies.sort((a, b) => a - b), wrong: []};
}""".replace("__MAP__", FMAP)


def test_zooming_in_draws_each_levels_clusters_and_markers(page, live_server, app: Flask):
    """Zoomed in level by level with the "+" button (animated, as a visitor does): what is
    drawn over the view is what the cluster index has at that zoom, each cluster saying its
    own count, with nothing left of the level before."""
    add_grid(app)
    page.goto(live_server + "/?lang=en&lat=53.7&lon=27.4&zoom=7")
    loaded(page)
    seen = []
    for zoom in range(8, 13):
        # The moveend that ends this zoom (after its zoomend), not any other: the pan into
        # the map's bounds ended after load and its moveend, caught instead, came while the
        # zoom still animated (CI, 6 Dec 2026; test_a_links_view_stays_where_the_link_put_it).
        page.evaluate(
            f"{FMAP}.once('zoomend', () => {FMAP}.once('moveend', () => {{ window.__moved = true; }}))"
        )
        page.locator(".leaflet-control-zoom-in").click()
        wait_until(page, f"window.__moved === true && !{FMAP}._animatingZoom")
        page.evaluate("window.__moved = false")
        page.wait_for_timeout(100)
        assert page.evaluate(f"{FMAP}.getZoom()") == zoom
        drawn = page.evaluate(DRAWN)
        assert drawn == page.evaluate(EXPECTED), zoom
        assert drawn["clusters"] or drawn["rallies"]
        seen.append((len(drawn["clusters"]), len(drawn["rallies"])))
    # Clusters parted into rallies on the way in.
    assert seen[0][0] > 0 and max(rallies for _, rallies in seen) > seen[0][1], seen
    assert page.errors == []


def test_a_long_drag_draws_what_comes_into_view_before_the_map_stops(page, live_server, app: Flask):
    """Only the view and a little around it has elements: dragged far, with the button still
    down (no moveend yet), the map has drawn what came into view."""
    add_grid(app)
    page.goto(live_server + "/?lang=en&lat=53.3&lon=26.2&zoom=10")
    loaded(page)
    page.wait_for_timeout(300)
    page.mouse.move(1000, 400)
    page.mouse.down()
    for step in range(1, 31):
        page.mouse.move(1000 - step * 30, 400)
        page.wait_for_timeout(20)
    page.wait_for_timeout(300)
    drawn = page.evaluate(DRAWN)
    expected = page.evaluate(EXPECTED)
    page.mouse.up()
    assert expected["clusters"] or expected["rallies"], expected
    assert drawn == expected
    assert page.errors == []


# Each marker and cluster element of the marker pane, as "c <count> <lat> <lon>" (a cluster,
# at its point) or "r <id>" (a rally), whether it is shown, and whether it is over the map.
ELEMENTS = """(() => {
  const map = __MAP__.getContainer().getBoundingClientRect();
  return Array.from(document.querySelectorAll(".leaflet-marker-pane .leaflet-marker-icon"))
    .map((node) => {
      const box = node.getBoundingClientRect();
      return [
        node.rallyCluster ? ["c", node.textContent, node.rallyCluster.home.lat.toFixed(5),
          node.rallyCluster.home.lng.toFixed(5)].join(" ") : "r " + node.rallyMarker.record.id,
        getComputedStyle(node).visibility !== "hidden",
        box.right > map.left && box.left < map.right && box.bottom > map.top && box.top < map.bottom
      ];
    });
})()""".replace("__MAP__", FMAP)

# Looks at the marker pane in the first task after those that the zoom animation's start
# queued (its zoomanim's), while Leaflet still animates.
DURING_ZOOM = """(() => {
  const map = __MAP__;
  map.once("zoomanim", () => setTimeout(() => {
    window.__during = {animating: map._animatingZoom, elements: __ELEMENTS__};
  }, 0));
})()""".replace("__MAP__", FMAP).replace("__ELEMENTS__", ELEMENTS)


def zoom_in(page) -> None:  # noqa: ANN001
    """The "+" button, and the end of its zoom (the moveend after its zoomend)."""
    page.evaluate(
        f"{FMAP}.once('zoomend', () => {FMAP}.once('moveend', () => {{ window.__moved = true; }}))"
    )
    page.locator(".leaflet-control-zoom-in").click()
    wait_until(page, f"window.__moved === true && !{FMAP}._animatingZoom")
    page.evaluate("window.__moved = false")


def test_a_zooms_new_level_is_made_while_leaflet_animates_it(page, live_server, app: Flask):
    """The new level's clusters and markers are made during the zoom animation (whose main
    thread is otherwise idle), hidden, while the level before is shown as Leaflet scales it
    (what of it is over the map: elements only animated off it stand for the new level's at
    once); at its end the new level is shown, and only it (made after the animation before:
    its 250 ms, then all of the new level's work before the map answered)."""
    add_grid(app)
    page.goto(live_server + "/?lang=en&lat=53.7&lon=27.4&zoom=8")
    loaded(page)
    page.wait_for_timeout(300)
    before = page.evaluate(ELEMENTS)
    assert all(shown for _, shown, _ in before)
    page.evaluate(DURING_ZOOM)
    zoom_in(page)
    during = page.evaluate("window.__during")
    assert during["animating"] is True
    shown = {name for name, visible, _ in during["elements"] if visible}
    made = {name for name, visible, _ in during["elements"] if not visible}
    assert shown <= {name for name, _, _ in before}
    assert {name for name, _, over in before if over} <= shown
    assert made, "nothing of the new level was made during the animation"
    page.wait_for_timeout(100)
    after = page.evaluate(ELEMENTS)
    assert all(visible for _, visible, _ in after)
    assert made <= {name for name, _, _ in after}
    assert page.evaluate(f"{FMAP}.getZoom()") == 9
    assert page.evaluate(DRAWN) == page.evaluate(EXPECTED)
    assert page.evaluate("document.querySelectorAll('.rally-next').length") == 0
    assert page.errors == []


def test_a_zoom_from_a_fractional_view_asks_for_its_tiles_while_it_animates(page, live_server):
    """From a view between levels (the first view of Belarus fits it at quarters: 6.75) the
    "+" goes to 8, more than one level: Leaflet's tile layer dropped the level it had just made
    at the animation's start and asked for its tiles only at its end (Leaflet issue 8300)."""
    page.goto(live_server + "/?lang=en")
    loaded(page)
    page.evaluate(
        f"""(() => {{
          const map = {FMAP};
          map.options.zoomSnap = 0.25;
          map.setView([53.7, 27.9], 6.75, {{animate: false}});
          map.options.zoomSnap = 1;
          window.__tiles = [];
          map.eachLayer((layer) => {{
            if (layer instanceof L.TileLayer) layer.on("tileloadstart", (event) => {{
              window.__tiles.push([event.coords.z, map._animatingZoom]);
            }});
          }});
        }})()"""
    )
    page.wait_for_timeout(300)
    zoom_in(page)
    assert page.evaluate(f"{FMAP}.getZoom()") == 8
    tiles = page.evaluate("window.__tiles")
    assert [8, True] in tiles, tiles  # asked for during the animation
    asked = [u for u in page.requested if "/test-tiles/8/" in u]
    assert asked and len(asked) == len(set(asked)), asked
    assert page.errors == []


# The basemap's town names and dots: their mutations since the zoom's end (zoomend comes in
# the task that ends the animation, before moveend), and the names layer.
NAMES = """(() => {
  const map = __MAP__;
  window.__names = {during: 0, after: 0};
  let ended = false;
  map.once("zoomend", () => { ended = true; });
  const count = (records) => { window.__names[ended ? "after" : "during"] += records.length; };
  for (const box of document.querySelectorAll(".basemap-names, .basemap-dots")) {
    new MutationObserver(count).observe(box, {subtree: true, childList: true, attributes: true});
  }
})()""".replace("__MAP__", FMAP)


def test_the_basemaps_names_are_placed_while_the_zoom_animation_hides_them(page, live_server):
    """Town names and dots, hidden while Leaflet animates a zoom, are placed for the new level
    then: nothing is left to change in them when it ends, and drawing them again there changes
    nothing (they are the new level's)."""
    page.goto(live_server + "/?lang=en&lat=53.9&lon=27.56&zoom=7")
    loaded(page)
    wait_until(page, "document.querySelectorAll('.basemap-names span').length > 0")
    page.wait_for_timeout(300)
    page.evaluate(NAMES)
    zoom_in(page)
    page.wait_for_timeout(200)
    names = page.evaluate("window.__names")
    assert names["during"] > 0 and names["after"] == 0, names
    redrawn = f"""(() => {{
      const map = {FMAP};
      const layer = Object.values(map._layers).find((l) => l._names);
      layer._drawnView = null;
      layer._draw();
    }})()"""
    page.evaluate(redrawn)
    page.wait_for_timeout(100)
    assert page.evaluate("window.__names.after") == 0
    assert page.errors == []
