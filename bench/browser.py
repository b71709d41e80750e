"""Time to markers in Chromium at 100, 1,000 and 10,000 rallies, on a desktop profile and
with a 4x slower CPU (a phone), and the map feed's bytes a rally.

Time to markers: from the start of navigation to the moment the map says how many rallies
it drew (the index built, the first clusters and markers on screen). Also the longest task
(what a visitor feels as a freeze) and where the time went: until the page asked for its
feed (HTML, scripts, basemap), the feed's transfer, its parsing, the records and the
cluster index (supercluster), drawing the view and the list. Every page shows all the
rallies (`when=all`).

Baselines, measured in the same run: the same page with 100 rallies, and the naive folium
page (one folium.Marker with its Popup a rally, all inline, as folium's tutorials make it;
served with the app's own Leaflet).

A uMap-like baseline, in alternated rounds at the largest count (1x and 4x CPU): uMap draws a
big map's points as Leaflet markers in a Leaflet.markercluster group over the full GeoJSON
(vendored from the npm registry in bench/vendor, never served by the app), with the same tile
layer as the map (uMap always has one; the bench answers neither's tiles): time to markers,
and the time to zoom in one level and redraw (ZOOM_IN: from the zoom's start until the markers
of the new level are drawn and the map is idle) with its main-thread CPU time, each round
printed, and the main thread's CPU time until the markers (a light trace). In the same rounds,
Leaflet with the same tile layer and no markers at all ("bare Leaflet"): the floor that
Leaflet's own zoom animation (250 ms) sets on the zoom's time.

Also in those rounds, the floor of any page that clusters the points in the browser
("supercluster floor", FLOOR_PAGE): Leaflet, supercluster over this map's own feed, the
view's clusters as Leaflet markers, and nothing else; the time to markers and the zoom of this
map are printed as how far above each floor they are.

The map and the bench's own pages are served by gunicorn with the app's own settings
(`--workers N`, default gunicorn.conf.py's CPUs + 1), as production serves them behind nginx
and as bench/umap_real.py serves uMap; `--workers 0` serves them from a thread of this
process (werkzeug), as this bench did before session 10.

With --fresh-server R, only issue 27's first visit to a freshly started server: R rounds at
1x and 4x CPU, each starting gunicorn anew on the database an earlier server has made its
parts and common documents in (as after a deploy), the first page load once /healthz answers,
then the next load on the same server.

With --umap-url URL, real uMap too (bench/umap_real.py installs and serves it and prints the
URL of its map of the same rallies, one "Clustered" datalayer): markers drawn there are, as on
the uMap-like page, the first marker or cluster icon in the DOM. Every page of the comparison
may ask no host but its own.

Then a phone on a slow link (Lighthouse's mobile profile: "Slow 4G", 150 ms a round trip,
1.6 Mbit/s down, and the 4x CPU) at the largest count: the page as served, against the same
page without the request for the feed in its head (mapapp/web/mapshells.py EARLY_FEED), which then
asks for the feed only once its scripts have come and run.

    .venv/bin/python bench/browser.py [--counts 100,1000,10000] [--repeat R] [--chromium PATH]
        [--only-umap] [--baseline-code DIR] [--umap-url URL] [--throttles 1,4] [--workers N]
        [--fresh-server R]

--baseline-code DIR adds the map as another checkout serves it (this script run there with
--serve-only, DIR first on the path: the same demo rallies) to the uMap-like comparison, as
a "before" in the same alternated rounds.
"""

from __future__ import annotations

import argparse
import atexit
import gzip
import json
import logging
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

from flask import Flask, Response
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from deploy.serve import gunicorn_has
from mapapp import create_app
from mapapp.domain import db, lifecycle
from mapapp.domain.filters import RallyFilter
from mapapp.domain.geocoding import gazetteer
from mapapp.domain.seed import demo_rallies
from mapapp.publishing.public import public_rallies
from mapapp.web.assets import map_assets, vendor_url

# Targets of issue 13: a desktop profile, and a 4x CPU slowdown (seconds).
TARGETS = {1: 1.0, 4: 2.5}
BUDGET = 25  # bytes a rally in the map's feed, gzipped
PAGE = "/?lang=en&when=all"

# Before any page script: note when the status line first says how many rallies are drawn,
# and the longest task that kept the page from answering.
WATCH = """
window.__bench = {longest: 0};
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    window.__bench.longest = Math.max(window.__bench.longest, entry.duration);
  }
}).observe({type: "longtask", buffered: true});
document.addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("map-status");
  if (!status) {  // the naive folium page: its markers are made by its inline script
    window.__bench.markers = window.__bench.markers ||
      (document.querySelector(".leaflet-marker-icon") && performance.now());
    return;
  }
  const done = () => {
    if (!window.__bench.markers && /\\d{2}/.test(status.textContent) &&
        document.querySelector(".leaflet-marker-icon")) {
      window.__bench.markers = performance.now();
    }
  };
  new MutationObserver(done).observe(status, {childList: true, characterData: true, subtree: true});
  done();  // drawn already: the feed asked for in the head can come before the page is parsed
});
"""

# Where the time went, from the map script's marks (static/map/dom.js mark()) and the feed's
# resource timing (ms).
PHASES = """
(() => {
  const mark = (name) => (performance.getEntriesByName(name)[0] || {startTime: NaN}).startTime;
  const feed = performance.getEntriesByType("resource").find((e) => e.name.includes("geojson"));
  return [window.__bench.markers, window.__bench.longest, feed ? feed.startTime : NaN,
          feed ? feed.responseEnd : NaN, mark("rallies-data"), mark("rallies-built"),
          mark("rallies-loaded")];
})()
"""


# Lighthouse's "Slow 4G" (its mobile default), for Network.emulateNetworkConditions.
PHONE_LINK = {
    "offline": False,
    "latency": 150,  # ms a round trip
    "downloadThroughput": 1.6e6 / 8,  # bytes a second
    "uploadThroughput": 750e3 / 8,
}
EARLY_FEED = re.compile(r'<script data-feed="[^"]*">.*?</script>')


def naive_page(app: Flask) -> str:
    """folium's tutorial map of every public rally (markers and popups inline), with the
    app's own Leaflet instead of folium's CDNs (this bench asks no other host)."""
    import folium

    with app.test_request_context("/"):
        rallies = public_rallies(db.session(), RallyFilter("all"))
        fmap = folium.Map(location=(53.7, 27.9), zoom_start=6, tiles=None)
        fmap.default_js = [("leaflet", vendor_url("leaflet", "leaflet.js"))]
        fmap.default_css = [("leaflet_css", vendor_url("leaflet", "leaflet.css"))]
        for rally in rallies:
            folium.Marker((rally.lat, rally.lon), popup=folium.Popup(rally.title)).add_to(fmap)
        return fmap.get_root().render()


VENDOR = Path(__file__).resolve().parent / "vendor" / "leaflet.markercluster-1.5.3"
UMAP_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="{leaflet_css}">
<link rel="stylesheet" href="/bench-vendor/MarkerCluster.css">
<link rel="stylesheet" href="/bench-vendor/MarkerCluster.Default.css">
<style>html, body, #map {{ margin: 0; height: 100%; }}</style>
<script src="{leaflet_js}"></script>
<script src="/bench-vendor/leaflet.markercluster.js"></script></head>
<body><div id="map"></div><script>
var map_umap = L.map("map", {{ maxZoom: 18, minZoom: 5 }}).setView([53.7, 27.9], 7);
L.tileLayer("/no-tiles/{{z}}/{{x}}/{{y}}.png", {{ maxZoom: 18, minZoom: 5 }}).addTo(map_umap);
fetch("/api/rallies.geojson?when=all&lang=en").then(function (r) {{ return r.json(); }})
  .then(function (data) {{
    var group = L.markerClusterGroup({{ chunkedLoading: true }});
    group.addLayer(L.geoJSON(data, {{ onEachFeature: function (feature, layer) {{
      layer.bindPopup(function () {{ return feature.properties.title; }});
    }} }}));
    map_umap.addLayer(group);
    var seen = function () {{
      if (document.querySelector(".leaflet-marker-icon")) window.__bench.markers = performance.now();
      else requestAnimationFrame(seen);
    }};
    seen();
  }});
</script></body></html>"""

# The floor of the zoom comparison: Leaflet with the same tile layer and view as the uMap-like
# page and no markers at all ("markers" here: the map made).
BARE_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="{leaflet_css}">
<style>html, body, #map {{ margin: 0; height: 100%; }}</style>
<script src="{leaflet_js}"></script></head>
<body><div id="map"></div><script>
var map_bare = L.map("map", {{ maxZoom: 18, minZoom: 5 }}).setView([53.7, 27.9], 7);
L.tileLayer("/no-tiles/{{z}}/{{x}}/{{y}}.png", {{ maxZoom: 18, minZoom: 5 }}).addTo(map_bare);
window.__bench.markers = performance.now();
</script></body></html>"""

# The floor of the time to markers for any page that clusters 10,000 points in the browser:
# Leaflet, the same tile layer and view, supercluster over this map's own feed (the same
# request, bytes and radius), the view's clusters drawn as Leaflet markers with a count, and
# nothing else (no page around the map, no list, no popups, no danger counts, no star).
FLOOR_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="{leaflet_css}">
<style>html, body, #map {{ margin: 0; height: 100%; }}
.c {{ background: #1565c0; color: #fff; border-radius: 50%; text-align: center; line-height: 40px; }}</style>
<script src="{leaflet_js}"></script><script src="{supercluster_js}"></script></head>
<body><div id="map"></div><script>
var feed = fetch("/api/rallies.geojson?fields=map&when=all&lang=en").then(function (r) {{ return r.json(); }});
var map_floor = L.map("map", {{ maxZoom: 18, minZoom: 5 }}).setView([53.7, 27.9], 7);
L.tileLayer("/no-tiles/{{z}}/{{x}}/{{y}}.png", {{ maxZoom: 18, minZoom: 5 }}).addTo(map_floor);
var layer = L.layerGroup().addTo(map_floor);
feed.then(function (data) {{
  var points = data.features.map(function (f) {{
    return {{ type: "Feature", properties: {{ id: f.id }}, geometry: f.geometry }};
  }});
  var index = new Supercluster({{ radius: 50, extent: 256, minZoom: 5, maxZoom: 17 }});
  index.load(points);
  function draw() {{
    var b = map_floor.getBounds();
    layer.clearLayers();
    index.getClusters([b.getWest(), b.getSouth(), b.getEast(), b.getNorth()],
                      map_floor.getZoom()).forEach(function (c) {{
      var n = c.properties.point_count;
      var icon = n ? L.divIcon({{ className: "c", html: String(n), iconSize: [40, 40] }})
                   : new L.Icon.Default();
      layer.addLayer(L.marker([c.geometry.coordinates[1], c.geometry.coordinates[0]], {{ icon: icon }}));
    }});
  }}
  draw();
  map_floor.on("moveend", draw);
  window.__bench.markers = performance.now();
}});
</script></body></html>"""

# Real uMap (bench/umap_real.py), whose page is not ours to change: "markers drawn" as for the
# uMap-like page, the first marker or cluster icon in the DOM (uMap's clusters are Leaflet
# markers, `.leaflet-marker-icon.umap-cluster-icon`; it draws none before its datalayer's
# GeoJSON has come and been read), seen by a MutationObserver when it is inserted. Its Leaflet
# map (U.MAP._leafletMap) as a `map_` global, for ZOOM_IN.
UMAP_REAL_WATCH = """
new MutationObserver((records, observer) => {
  if (document.querySelector(".leaflet-marker-icon")) {
    window.__bench.markers = window.__bench.markers || performance.now();
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
Object.defineProperty(window, "map_umap_real", {
  enumerable: true, get: () => window.U && window.U.MAP && window.U.MAP._leafletMap,
});
"""

# Zoom in one level and redraw, as the zoom control's "+" does (animated): from the zoom's
# start until the markers of the new level are drawn and the map is idle, that is until the
# frame after the last change to the map's elements (tiles aside: the bench answers none) that
# was followed by 500 ms without one. A Leaflet.markercluster group redraws after `zoomend`
# (and animates its clusters), this map at `moveend`: both are in. Returns the time (ms) and
# how many markers and clusters are drawn after it; the marks "zoom-start" and "zoom-idle"
# bound the window whose main-thread CPU time the bench reads from a trace (zoom_cpu). Also
# the time from the animation's end (Leaflet's, 250 ms after its start at the earliest) to
# idle, and the CPU time in it ("zoom-animated" to "zoom-idle"): the redraw's own share.
ZOOM_IN = """
async () => {
  const map = window[Object.keys(window).find((k) => /^map_\\w+$/.test(k))];
  const frames = () => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  await frames();
  await new Promise((done) => requestIdleCallback(done));
  const tile = (n) => n.nodeType !== 1 || n.classList.contains("leaflet-tile") ||
    Boolean(n.closest(".leaflet-tile-pane"));
  let changes = 0, last = 0, painted = 0;
  const observer = new MutationObserver((records) => {
    if (records.every((r) => tile(r.target))) return;
    const change = ++changes;
    last = performance.now();
    requestAnimationFrame(() => setTimeout(() => {
      if (change === changes) painted = performance.now();
    }, 0));
  });
  observer.observe(map.getContainer(), {subtree: true, childList: true, attributes: true});
  // The animation's end: Leaflet's _onZoomTransitionEnd (its 250 ms timer or the transition's
  // end), looked up on the map when called (both call it as this._onZoomTransitionEnd).
  let animated = 0;
  const transitionEnd = map._onZoomTransitionEnd;
  map._onZoomTransitionEnd = function () {
    if (this._animatingZoom && !animated) {
      animated = performance.now();
      performance.mark("zoom-animated");
    }
    return transitionEnd.apply(this, arguments);
  };
  let ended = false;
  map.once("zoomend", () => { ended = true; });
  performance.mark("zoom-start");
  const start = performance.now();
  map.setZoom(Math.round(map.getZoom()) + 1);
  while (!ended || painted < last || performance.now() - painted < 500) {
    await new Promise((done) => setTimeout(done, 50));
    if (performance.now() - start > 30000) throw new Error("the map did not settle in 30 s");
  }
  observer.disconnect();
  delete map._onZoomTransitionEnd;
  performance.mark("zoom-idle", {startTime: painted});
  return [painted - start, painted - animated, document.querySelectorAll(".leaflet-marker-icon").length];
}
"""


def zoom_cpu(trace: bytes) -> tuple[float, float]:
    """The CPU time (ms) of the page's main thread between the marks zoom-start and
    zoom-idle of a trace (its top-level tasks' thread time): less moved by other processes on
    the machine than the wall time. Then the same from zoom-animated (the animation's end)."""
    events = json.loads(trace)["traceEvents"]
    names = ("zoom-start", "zoom-animated", "zoom-idle")
    marks = {e["name"]: e for e in events if e.get("name") in names}
    start = marks["zoom-start"]
    until = start["ts"] + 1000 * (
        marks["zoom-idle"]["args"]["data"]["startTime"] - start["args"]["data"]["startTime"]
    )

    return (
        thread_cpu(events, start, start["ts"], until),
        thread_cpu(events, start, marks["zoom-animated"]["ts"], until),
    )


def thread_cpu(events: list[dict], mark: dict, since: float, until: float) -> float:
    """The thread time (ms) of the top-level tasks of `mark`'s thread (the page's main thread)
    that start from `since` until `until` (trace timestamps, µs)."""
    return (
        sum(
            e.get("tdur", e.get("dur", 0))
            for e in events
            if e.get("ph") == "X"
            and e.get("name") == "ThreadControllerImpl::RunTask"
            and (e.get("pid"), e.get("tid")) == (mark["pid"], mark["tid"])
            and since <= e["ts"] < until
        )
        / 1000
    )


def load_cpu(trace: bytes, until: float) -> float:
    """The CPU time (ms) of the page's main thread from the navigation's start (the page's time
    origin) until `until` (ms after it, the markers), from a trace with the mark "bench-loaded"
    (made once the markers were seen): its tasks' thread time, as zoom_cpu."""
    events = json.loads(trace)["traceEvents"]
    mark = next(e for e in events if e.get("name") == "bench-loaded")
    origin = mark["ts"] - 1000 * mark["args"]["data"]["startTime"]
    return thread_cpu(events, mark, origin, origin + 1000 * until)


def bench_app(database: str) -> Flask:
    """The app on `database` with the bench's own pages beside it: /naive (folium's page,
    made at its first request), /without-early-feed, /umap, /bare and their vendored files.
    gunicorn imports it as `browser:bench_app('PATH')` (serve's `workers`)."""
    # Tiles from a path nobody answers: the bench measures the markers, not the network.
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{database}", "TILE_URL": "/no-tiles/{z}/{x}/{y}.png"}
    )
    # The naive page from the same server; its scripts are inline, so a CSP that allows them.
    policy = "default-src 'self' 'unsafe-inline'; img-src 'self' data:"
    naive: list[str] = []

    def naive_route() -> Response:
        if not naive:
            naive.append(naive_page(app))
        return Response(naive[0], headers={"Content-Security-Policy": policy})

    app.add_url_rule("/naive", "naive", naive_route)
    # The map page without its head's request for the feed: the baseline of the phone rows.
    index = app.view_functions["pages.index"]

    def without_early_feed() -> Response:
        page = index()
        page.set_data(EARLY_FEED.sub("", page.get_data(as_text=True)))
        return page

    app.add_url_rule("/without-early-feed", "without_early_feed", without_early_feed)
    with app.test_request_context("/"):
        assets = map_assets()  # the app's own Leaflet and supercluster, as the map loads them
        umap = UMAP_PAGE.format_map(assets)
        bare = BARE_PAGE.format_map(assets)
        floor = FLOOR_PAGE.format_map(assets)
    app.add_url_rule(
        "/umap", "umap", lambda: Response(umap, headers={"Content-Security-Policy": policy})
    )
    app.add_url_rule(
        "/bare", "bare", lambda: Response(bare, headers={"Content-Security-Policy": policy})
    )
    app.add_url_rule(
        "/floor", "floor", lambda: Response(floor, headers={"Content-Security-Policy": policy})
    )
    app.add_url_rule(
        "/bench-vendor/<name>",
        "bench_vendor",
        lambda name: Response(
            (VENDOR / Path(name).name).read_bytes(),
            mimetype="text/css" if name.endswith(".css") else "text/javascript",
        ),
    )
    return app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(count: int, folder: Path, workers: int = 0) -> tuple[str, object, Flask]:
    """The app with `count` demo rallies on a free port of 127.0.0.1: in a thread of this
    process (werkzeug), or with `workers` under gunicorn with the app's own settings
    (gunicorn.conf.py: gthread workers of MAPAPP_THREADS threads), as production serves it
    behind nginx and as bench/umap_real.py serves uMap. Returns the address, what to call
    .shutdown() on, and the app (for the feed's bytes)."""
    database = folder / f"bench{count}.sqlite3"
    app = bench_app(str(database))
    with app.app_context():
        db.upgrade_schema()
        session = db.session()
        lifecycle.publish_many(session, demo_rallies(gazetteer(), count, seed=1), actor="bench")
        session.commit()
    if workers:
        server = Gunicorn(database, workers)
        url = server.url
    else:
        wsgi = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=wsgi.serve_forever, daemon=True).start()
        server, url = wsgi, f"http://127.0.0.1:{wsgi.server_port}"
    # The feed is built once and then served from memory, as in production.
    urlopen(f"{url}/api/rallies.geojson?fields=map&when=all&lang=en", timeout=120).read()  # noqa: S310
    return url, server, app


class Gunicorn:
    """gunicorn serving bench_app on a database, with `workers` workers, until shutdown()."""

    def __init__(self, database: Path, workers: int) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        here = Path(__file__).resolve().parent
        env = {**os.environ, "PYTHONPATH": f"{here}{os.pathsep}{here.parent}"}
        env["WEB_CONCURRENCY"] = str(workers)
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable, "-m", "gunicorn", "--config", str(here.parent / "gunicorn.conf.py"),
                "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                *(["--control-socket", str(database.with_suffix(".ctl"))] if gunicorn_has("control_socket") else []),
                f"browser:bench_app({str(database)!r})",
            ],
            env=env,
        )  # fmt: skip
        atexit.register(self.shutdown)  # never left serving after the bench, whatever happens
        deadline = time.monotonic() + 120
        while True:
            try:
                urlopen(f"{self.url}/healthz", timeout=5).read()  # noqa: S310
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.2)

    def shutdown(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(60)


def markers_and_zoom(
    browser,  # noqa: ANN001
    url: str,
    throttle: int,
    init: str | None = None,
    bare: bool = False,
) -> tuple[float, ...]:
    """For one fresh page at 1280x800: time to markers (s) and the main thread's CPU time
    until then (s, from a light trace), then the zoom-in redraw (ZOOM_IN): its time (s), its
    main-thread CPU time (s), the same two from the animation's end, and how many markers and
    clusters it drew. `init`: another script before the page's (UMAP_REAL_WATCH); `bare`: a
    page without markers (BARE_PAGE), none expected after the zoom."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    hosts = set()  # none but the page's own: no CDN, no tiles, no geocoder from elsewhere
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    page.add_init_script(WATCH)
    if init:
        page.add_init_script(init)
    cdp = context.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
    browser.start_tracing(page=page, categories=["toplevel", "blink.user_timing"])
    page.goto(url, wait_until="commit", timeout=120_000)
    deadline = time.monotonic() + 120
    while not page.evaluate("Boolean(window.__bench && window.__bench.markers)"):
        if time.monotonic() > deadline:
            raise SystemExit(f"no markers after 120 s: {url}")
        page.wait_for_timeout(50)
    markers = page.evaluate("performance.mark('bench-loaded') && window.__bench.markers")
    loaded = load_cpu(browser.stop_tracing(), markers)
    page.wait_for_timeout(1500)  # the page settles (chunked loading, the list)
    browser.start_tracing(page=page, categories=["toplevel", "blink.user_timing"])
    zoom, after, drawn = page.evaluate(ZOOM_IN)
    cpu, cpu_after = zoom_cpu(browser.stop_tracing())
    context.close()
    if not drawn and not bare:
        raise SystemExit(f"no markers after zooming in: {url}")
    if hosts - {urlsplit(url).netloc}:
        raise SystemExit(f"{url} asked other hosts: {sorted(hosts - {urlsplit(url).netloc})}")
    return (
        markers / 1000,
        loaded / 1000,
        zoom / 1000,
        cpu / 1000,
        after / 1000,
        cpu_after / 1000,
        drawn,
    )


def rounds(count: int) -> list[list[int]]:
    """The orders of `count` pages in alternated rounds: a balanced Latin square (Williams'),
    each page in each place, and after each other page, equally often over its rows."""
    first = [0]
    for step in range(1, count):
        first.append((first[-1] + (step if step % 2 else -step)) % count)
    rows = [[(page + shift) % count for page in first] for shift in range(count)]
    return rows + ([row[::-1] for row in rows] if count % 2 else [])


def versus_umap(
    browser,  # noqa: ANN001
    url: str,
    repeat: int,
    baseline: str | None = None,
    throttles: tuple[int, ...] = (1, 4),
    umap_url: str | None = None,
) -> None:
    """The app's map against the uMap-like page, real uMap (`umap_url`, when given) and
    Leaflet without markers (the zoom's floor), and `baseline` (the map as another checkout
    serves it, when given): alternated rounds, each printed, medians, ratios."""
    pages = [("this map", url + PAGE, None), ("uMap-like", url + "/umap", None)]
    if umap_url:
        pages.append(("uMap (real)", umap_url, UMAP_REAL_WATCH))
    pages.append(("bare Leaflet", url + "/bare", None))
    pages.append(("supercluster floor", url + "/floor", None))
    if baseline:
        pages.insert(1, ("baseline", baseline + PAGE, None))
    orders = [[pages[i] for i in row] for row in rounds(len(pages))]
    print(
        f"\nthe map against a uMap-like page (markercluster, full GeoJSON)"
        f"{', real uMap' if umap_url else ''}, Leaflet without markers"
        f"{' and the baseline map' if baseline else ''}, median of {repeat}"
    )
    for throttle in throttles:
        runs: dict[str, list] = {name: [] for name, _, _ in pages}
        for name, address, init in pages:  # warm: the servers, their caches
            markers_and_zoom(browser, address, throttle, init, bare=name == "bare Leaflet")
        for round_number in range(repeat):
            for name, address, init in orders[round_number % len(orders)]:
                runs[name].append(
                    markers_and_zoom(browser, address, throttle, init, bare=name == "bare Leaflet")
                )
                m, load, z, cpu, after, cpu_after, drawn = runs[name][-1]
                what = "map made" if name == "bare Leaflet" else "markers"
                print(
                    f"  round {round_number + 1} {throttle}x CPU {name:>18}: {what} {m:.2f} s"
                    f" ({load:.3f} s CPU); zoom in + redraw {z:.2f} s, {cpu:.3f} s CPU,"
                    f" {drawn} drawn; from the animation's end {after:.2f} s,"
                    f" {cpu_after:.3f} s CPU",
                    flush=True,
                )
        median = {
            name: [statistics.median(run[i] for run in kept) for i in range(6)]
            for name, kept in runs.items()
        }
        for name, (m, load, z, cpu, after, cpu_after) in median.items():
            what = "map made" if name == "bare Leaflet" else "markers"
            print(
                f"  {throttle}x CPU {name:>18} median: {what} {m:.2f} s ({load:.3f} s CPU);"
                f" zoom in + redraw {z:.2f} s ({cpu:.3f} s CPU);"
                f" from the animation's end {after:.2f} s ({cpu_after:.3f} s CPU)"
            )
        m_ours, load_ours, z_ours, c_ours = median["this map"][:4]
        for other in ("uMap-like", "uMap (real)"):
            if other not in median:
                continue
            m_theirs, load_theirs, z_theirs, c_theirs = median[other][:4]
            print(
                f"  {throttle}x CPU: markers {m_theirs / m_ours:.2f}x sooner than {other}"
                f" ({load_theirs / load_ours:.2f}x less CPU until then);"
                f" zoom redraw {z_ours / z_theirs:.2f}x {other}'s time,"
                f" {c_ours / c_theirs:.2f}x its CPU time"
            )
        m_floor, load_floor = median["supercluster floor"][:2]
        print(
            f"  {throttle}x CPU: the floor of markers clustered in the browser (Leaflet,"
            f" supercluster, this feed, nothing else) {m_floor:.2f} s, {load_floor:.3f} s CPU;"
            f" this map {m_ours - m_floor:+.2f} s above it"
        )
        z_bare, c_bare = median["bare Leaflet"][2:4]
        print(
            f"  {throttle}x CPU: the zoom's floor (Leaflet, no markers) {z_bare:.2f} s,"
            f" {c_bare:.3f} s CPU; this map {z_ours - z_bare:+.2f} s above it"
        )
        if baseline:
            z_base, c_base = median["baseline"][2:4]
            after_ours, ca_ours = median["this map"][4:6]
            after_base, ca_base = median["baseline"][4:6]
            print(
                f"  {throttle}x CPU: zoom redraw {z_ours / z_base:.2f}x the baseline's time,"
                f" {c_ours / c_base:.2f}x its CPU time; from the animation's end"
                f" {after_ours / after_base:.2f}x its time, {ca_ours / ca_base:.2f}x its CPU time"
            )


def measure(browser, url: str, throttle: int, link: dict | None = None) -> list[float]:  # noqa: ANN001
    """For one fresh page, in seconds: time to markers, the longest task, and the phases
    (until the feed was asked for, its transfer, parsing, build, drawing). `link`: network
    conditions (PHONE_LINK) on a phone-sized screen."""
    if link:
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, locale="en-US"
        )
    else:
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    page.add_init_script(WATCH)
    cdp = context.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
    if link:
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", link)
    page.goto(url, wait_until="commit", timeout=120_000)
    # Polled from here: the page's CSP forbids the eval wait_for_function's polling needs.
    deadline = time.monotonic() + 120
    while not page.evaluate("Boolean(window.__bench && window.__bench.markers)"):
        if time.monotonic() > deadline:
            raise SystemExit(f"no markers after 120 s: {url}")
        page.wait_for_timeout(50)
    markers, longest, asked, received, data, built, drawn = page.evaluate(PHASES)
    context.close()
    return [
        value / 1000
        for value in (markers, longest, asked, received - asked, data - received, built - data)
    ] + [(drawn - built) / 1000]


def fresh_servers(browser, database: Path, workers: int, repeat: int) -> None:  # noqa: ANN001
    """Issue 27's "first visit to a freshly started server": `repeat` rounds at 1x and 4x CPU,
    each starting gunicorn anew on `database` (whose parts and common documents an earlier
    server made, as after a deploy's `prepare-parts`), then the first page load (a fresh
    browser context) once /healthz answers, then a second load on the same, now warm, server."""
    print(f"\na freshly started server (gunicorn, {workers} workers), median of {repeat}:")
    for throttle in (1, 4):
        first, again = [], []
        for round_number in range(repeat):
            server = Gunicorn(database, workers)
            try:
                first.append(measure(browser, server.url + PAGE, throttle)[0])
                again.append(measure(browser, server.url + PAGE, throttle)[0])
            finally:
                server.shutdown()
            print(
                f"  round {round_number + 1} {throttle}x CPU: markers {first[-1]:.2f} s on the"
                f" first load, {again[-1]:.2f} s on the next",
                flush=True,
            )
        target = TARGETS[throttle]
        print(
            f"  {throttle}x CPU median: first load {statistics.median(first):.2f} s"
            f" (<= {target} s: {'yes' if statistics.median(first) <= target else 'NO'}),"
            f" the next {statistics.median(again):.2f} s:"
            f" {statistics.median(first) / statistics.median(again):.2f}x"
        )


def feed_bytes(app: Flask, count: int) -> None:
    client = app.test_client()
    sizes = {}
    for name, query in (("full", ""), ("map", "fields=map&")):
        body = client.get(f"/api/rallies.geojson?{query}when=all&lang=en").data
        sizes[name] = (len(body) / count, len(gzip.compress(body, 6, mtime=0)) / count)
    (plain, gz), (full_plain, full_gz) = sizes["map"], sizes["full"]
    print(f"\nfeed at {count:,} rallies, bytes a rally (plain / gzipped):")
    print(f"  full GeoJSON (?lang=en)           {full_plain:7.1f} / {full_gz:5.1f}")
    print(
        f"  map's feed (?fields=map&lang=en)  {plain:7.1f} / {gz:5.1f}"
        f"   {full_gz / gz:.2f}x smaller gzipped; <= {BUDGET} B: {'yes' if gz <= BUDGET else 'NO'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counts", default="100,1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--naive-repeat", type=int, default=1)
    parser.add_argument(
        "--only-umap",
        action="store_true",
        help="only the uMap-like comparison at the largest count",
    )
    parser.add_argument(
        "--baseline-code",
        metavar="DIR",
        help="also the map as another checkout serves it (e.g. a `git worktree` of main with its"
        " translations compiled), in the uMap-like comparison's alternated rounds",
    )
    parser.add_argument(
        "--throttles",
        default="1,4",
        help="CPU slowdowns of the uMap-like comparison (1: none; 4: a phone)",
    )
    parser.add_argument(
        "--umap-url",
        metavar="URL",
        help="also real uMap's map of the same rallies (bench/umap_real.py prints its URL), in"
        " the uMap comparison's alternated rounds",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=len(os.sched_getaffinity(0)) + 1,
        help="serve the map with this many gunicorn workers, as production does (default: the"
        " CPUs + 1, gunicorn.conf.py's own); 0: werkzeug in a thread of this process",
    )
    parser.add_argument(
        "--fresh-server",
        type=int,
        metavar="R",
        help="only the first visit to a freshly started server (R rounds at 1x and 4x CPU, the"
        " largest count, gunicorn started anew each round)",
    )
    parser.add_argument(
        "--serve-only",
        action="store_true",
        help="serve the largest count, print its address and run until stdin closes",
    )
    parser.add_argument(
        "--chromium", default=os.environ.get("MAPAPP_TEST_CHROMIUM", "/usr/bin/chromium")
    )
    args = parser.parse_args()
    if args.fresh_server and not args.workers:
        parser.error("--fresh-server starts gunicorn: give --workers N (N > 0)")
    counts = [int(c) for c in args.counts.split(",")]
    baseline, largest = counts[0], counts[-1]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    if args.serve_only:
        with tempfile.TemporaryDirectory() as tmp:
            url, server, _ = serve(largest, Path(tmp), args.workers)
            print(url, flush=True)
            sys.stdin.read()
            server.shutdown()
        return
    other = None
    if args.baseline_code:
        # This script, with the other checkout's package first on the path.
        code = Path(args.baseline_code).resolve()
        other = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                __file__,
                "--serve-only",
                "--counts",
                str(largest),
                "--workers",
                str(args.workers),
            ],
            cwd=code,
            env={**os.environ, "PYTHONPATH": str(code)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        baseline_url = other.stdout.readline().strip()
        print(f"baseline: {code} at {baseline_url}")
    with open("/proc/loadavg") as load:
        print(f"load average before: {' '.join(load.read().split()[:3])} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        servers = {count: serve(count, Path(tmp), args.workers) for count in counts}
        browser = playwright.chromium.launch(
            executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        if args.fresh_server:
            servers[largest][1].shutdown()
            fresh_servers(
                browser, Path(tmp) / f"bench{largest}.sqlite3", args.workers, args.fresh_server
            )
            browser.close()
            return
        throttles = tuple(int(t) for t in args.throttles.split(","))
        versus_umap(
            browser,
            servers[largest][0],
            args.repeat,
            other and baseline_url,
            throttles,
            args.umap_url,
        )
        if other:
            other.stdin.close()
            other.wait()
        if args.only_umap:
            browser.close()
            for _, server, _ in servers.values():
                server.shutdown()
            with open("/proc/loadavg") as load:
                print(f"load average after: {' '.join(load.read().split()[:3])}")
            return
        print(f"time to markers in Chromium, median of {args.repeat}; baseline: {baseline} rallies")
        print(
            f"{'rallies':>8} {'CPU':>4} {'markers s':>10} {'vs base':>8} {'vs naive':>9}"
            f" {'longest':>8} {'to feed':>8} {'feed':>6} {'parse':>6} {'build':>6} {'draw':>6}"
            "  target"
        )
        for throttle in (1, 4):
            results = {}
            for count, (url, _, _) in servers.items():
                measure(browser, url + PAGE, throttle)  # warm: files in the browser's cache
                runs = [measure(browser, url + PAGE, throttle) for _ in range(args.repeat)]
                results[count] = [statistics.median(column) for column in zip(*runs, strict=True)]
            url = servers[largest][0] + "/naive"
            naive = statistics.median(
                measure(browser, url, throttle)[0] for _ in range(args.naive_repeat)
            )
            for count, (seconds, longest, asked, feed, parse, build, draw) in results.items():
                ratio = seconds / results[baseline][0]
                verdict = (
                    ""
                    if count == baseline
                    else f"<= {TARGETS[throttle]} s: {'yes' if seconds <= TARGETS[throttle] else 'NO'}"
                )
                versus = f"{naive / seconds:8.1f}x" if count == largest else f"{'':>9}"
                print(
                    f"{count:>8} {throttle:>3}x {seconds:>10.2f} {ratio:>7.2f}x {versus}"
                    f" {longest:>8.2f} {asked:>8.2f} {feed:>6.2f} {parse:>6.2f} {build:>6.2f}"
                    f" {draw:>6.2f}  {verdict}"
                )
            print(
                f"   naive {throttle:>3}x {naive:>10.2f}   (folium, {largest:,} markers and popups inline)"
            )
        url = servers[largest][0]
        phone = {}
        for name, path in (("as served", PAGE), ("without", "/without-early-feed" + PAGE[1:])):
            measure(browser, url + path, 4, PHONE_LINK)  # warm: files in the browser's cache
            runs = [measure(browser, url + path, 4, PHONE_LINK) for _ in range(args.repeat)]
            phone[name] = [statistics.median(column) for column in zip(*runs, strict=True)]
        served, without = phone["as served"], phone["without"]
        print(
            f"\na phone on Slow 4G (150 ms, 1.6 Mbit/s) with 4x CPU, {largest:,} rallies, 390x844,"
            f" median of {args.repeat}: markers {served[0]:.2f} s (feed asked at {served[2]:.2f} s,"
            f" here {served[3]:.2f} s later); without the head's request {without[0]:.2f} s"
            f" (asked at {without[2]:.2f} s): {without[0] / served[0]:.2f}x"
        )
        browser.close()
        feed_bytes(servers[largest][2], largest)
        for _, server, _ in servers.values():
            server.shutdown()
    with open("/proc/loadavg") as load:
        print(f"load average after: {' '.join(load.read().split()[:3])}")


if __name__ == "__main__":
    main()
