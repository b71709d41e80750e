"""Time to markers in Chromium with 10,000 rallies, with and without a 4x slower CPU (a phone).

Time to markers: from the start of navigation to the moment the map says how many rallies
it drew (every marker and cluster added, the first ones on screen). Also the longest time
the page did not answer (the longest "long task"): what a visitor feels as a freeze.
Baseline, measured in the same run: the same page with 100 rallies.
    .venv/bin/python bench/browser.py [--rallies N] [--repeat R] [--chromium PATH]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from mapapp import create_app, db
from mapapp.geocode import gazetteer
from mapapp.seed import demo_rallies

BASELINE = 100
# Targets of issue 13: a desktop profile, and a 4x CPU slowdown.
TARGETS = {1: 1.0, 4: 2.5}

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
  const done = () => {
    if (!window.__bench.markers && /\\d{2}/.test(status.textContent) &&
        !/\\d+\\D+\\d+/.test(status.textContent) &&
        document.querySelector(".leaflet-marker-icon")) {
      window.__bench.markers = performance.now();
    }
  };
  new MutationObserver(done).observe(status, {childList: true, characterData: true, subtree: true});
});
"""


def serve(count: int, folder: Path) -> tuple[str, object]:
    """The app with `count` demo rallies on a free port of 127.0.0.1, in a thread."""
    # Tiles from a path nobody answers: the bench measures the markers, not the network.
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{folder / f'bench{count}.sqlite3'}",
            "TILE_URL": "/no-tiles/{z}/{x}/{y}.png",
        }
    )
    with app.app_context():
        db.upgrade_schema()
        session = db.session()
        session.add_all(demo_rallies(gazetteer(), count, seed=1))
        session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    # The feed is built once and then served from memory, as in production.
    app.test_client().get("/api/rallies.geojson?when=all&lang=en")
    return url, server


def measure(browser, url: str, throttle: int) -> tuple[float, ...]:  # noqa: ANN001
    """For one fresh page, in seconds: time to markers, the longest task, and where the time
    went (rallymap.js's marks): data fetched and parsed, markers and list made, clustered."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    page.add_init_script(WATCH)
    cdp = context.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
    page.goto(url + "/?lang=en&when=all", wait_until="commit")
    # Polled from here: the page's CSP forbids the eval wait_for_function's polling needs.
    while not page.evaluate("Boolean(window.__bench && window.__bench.markers)"):
        page.wait_for_timeout(50)
    found = page.evaluate(
        "[window.__bench.markers, window.__bench.longest].concat("
        "['rallies-data', 'rallies-built', 'rallies-loaded'].map("
        "(name) => (performance.getEntriesByName(name)[0] || {startTime: NaN}).startTime))"
    )
    context.close()
    markers, longest, data, built, loaded = (value / 1000 for value in found)
    return markers, longest, data, built - data, loaded - built


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rallies", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--chromium", default=os.environ.get("MAPAPP_TEST_CHROMIUM", "/usr/bin/chromium")
    )
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        servers = {count: serve(count, Path(tmp)) for count in (BASELINE, args.rallies)}
        browser = playwright.chromium.launch(
            executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        print(f"time to markers in Chromium, median of {args.repeat}; baseline: {BASELINE} rallies")
        print(
            f"{'rallies':>8} {'CPU':>4} {'markers s':>10} {'vs baseline':>12} {'longest task s':>15}"
            f" {'data s':>7} {'build s':>8} {'cluster s':>10}  target"
        )
        for throttle in (1, 4):
            results = {}
            for count, (url, _) in servers.items():
                measure(
                    browser, url, throttle
                )  # warm: files in the browser's cache, as on a second visit
                runs = [measure(browser, url, throttle) for _ in range(args.repeat)]
                results[count] = [statistics.median(column) for column in zip(*runs, strict=True)]
            for count, (seconds, longest, data, build, clustering) in results.items():
                ratio = seconds / results[BASELINE][0]
                target = TARGETS[throttle]
                verdict = (
                    ""
                    if count == BASELINE
                    else f"<= {target} s: {'yes' if seconds <= target else 'NO'}"
                )
                print(
                    f"{count:>8} {throttle:>3}x {seconds:>10.2f} {ratio:>11.2f}x {longest:>15.2f}"
                    f" {data:>7.2f} {build:>8.2f} {clustering:>10.2f}  {verdict}"
                )
        browser.close()
        for _, server in servers.values():
            server.shutdown()


if __name__ == "__main__":
    main()
