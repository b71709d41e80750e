"""The export (export-static) with N rallies: its size, and its time opened from disk in Chromium.

Makes two databases of demo rallies (the baseline, 100, and N, 1,000 by default), runs
`export-static --when all` (with tiles, and with --no-tiles) on each, and opens every
index.html as a file:// URL in Chromium with the network cut off (nothing but file: and
data: URLs is let through; what else the page asks for is counted). Times, from the start
of navigation, in seconds (median of --repeat fresh pages):
- ready: the markers are all drawn (the map script's "rallies-loaded" mark), the list beside
  the map is filled and the basemap's shapes and names are on the map;
- popup: a marker's popup, opened from the list after that, shows the rally's text.
Printed beside the baseline's figures measured in the same run, with the targets of
issue 16 (at most 2.5 MB; ready and popup within 2 s).

    .venv/bin/python bench/export.py [--rallies 1000] [--repeat 5] [--throttle 1]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
BASELINE = 100
MAX_BYTES = 2.5 * 1024 * 1024
MAX_SECONDS = 2.0

# Before any script of the page: the moment every part is there, watched from the page.
WATCH = """
window.__bench = {};
(function () {
  function check() {
    var b = window.__bench;
    if (b.ready) return;
    var loaded = performance.getEntriesByName("rallies-loaded").length > 0;
    var list = document.querySelector("#rally-list li");
    var basemap = document.querySelector(".leaflet-basemap-pane canvas") &&
      document.querySelector(".basemap-names span");
    if (loaded && list && basemap) b.ready = performance.now();
    else requestAnimationFrame(check);
  }
  requestAnimationFrame(check);
})();
"""


def make_export(count: int, folder: Path) -> dict[str, Path]:
    """Exports of `count` rallies (13 seed rallies among them): with tiles and without."""
    env = dict(os.environ)
    env.update(
        MAPAPP_DATABASE_URL=f"sqlite:///{folder / f'export{count}.sqlite3'}",
        MAPAPP_SECRET_KEY=secrets.token_hex(16),
        MAPAPP_BASE_URL="https://rallies.example",
    )
    env.pop("MAPAPP_SIGNING_KEY", None)
    flask = [sys.executable, "-m", "flask", "--app", "mapapp"]

    def run(*args: str) -> None:
        subprocess.run([*flask, *args], cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603

    run("init-db")
    run("demo-data", "--count", str(count - 13), "--seed", "1")
    out = {}
    for name, extra in (("tiles", []), ("no-tiles", ["--no-tiles"])):
        out[name] = folder / f"{count}-{name}"
        run("export-static", str(out[name]), "--when", "all", "--lang", "be", *extra)
    return {name: path / "index.html" for name, path in out.items()}


def measure(browser, path: Path, throttle: int) -> tuple[float, float, list[str]]:  # noqa: ANN001
    """One fresh page: (ready s, popup s, URLs asked for other than file: and data:)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, offline=True)
    asked: list[str] = []

    def cut_off(route) -> None:  # noqa: ANN001
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            asked.append(url)
            route.abort()

    context.route("**/*", cut_off)
    page = context.new_page()
    page.add_init_script(WATCH)
    if throttle > 1:
        cdp = context.new_cdp_session(page)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
    page.goto(path.as_uri(), wait_until="commit")
    # Polled every 100 ms in the page (the time itself is taken there, at the frame it happens).
    page.wait_for_function("window.__bench && window.__bench.ready", polling=100, timeout=60_000)
    ready = page.evaluate("window.__bench.ready") / 1000
    # A popup, opened from the list: the button that shows the rally on the map.
    before = page.evaluate("performance.now()")
    page.locator("#rally-list li .show-on-map").first.click()
    page.locator(".leaflet-popup-content .rally-popup-title").first.wait_for()
    popup = (page.evaluate("performance.now()") - before) / 1000
    context.close()
    return ready, popup, asked


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rallies", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--throttle", type=int, default=1, help="CPU slowdown (4: a phone)")
    parser.add_argument(
        "--chromium", default=os.environ.get("MAPAPP_TEST_CHROMIUM", "/usr/bin/chromium")
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        exports = {count: make_export(count, Path(tmp)) for count in (BASELINE, args.rallies)}
        browser = playwright.chromium.launch(
            executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        print(
            f"export-static --when all, opened from disk with the network cut off, "
            f"CPU {args.throttle}x, median of {args.repeat}; baseline: {BASELINE} rallies"
        )
        print(
            f"{'rallies':>8} {'file':>9} {'KB':>6} {'size x':>7} {'ready s':>8} {'ready x':>8}"
            f" {'popup s':>8} {'asked':>6}  target"
        )
        base: dict[str, tuple[float, float]] = {}
        for count in (BASELINE, args.rallies):
            for name, path in exports[count].items():
                measure(browser, path, args.throttle)  # warm: Chromium's own start-up
                runs = [measure(browser, path, args.throttle) for _ in range(args.repeat)]
                ready = statistics.median(run[0] for run in runs)
                popup = statistics.median(run[1] for run in runs)
                asked = max(len(run[2]) for run in runs)
                size = path.stat().st_size
                if count == BASELINE:
                    base[name] = (size, ready)
                    verdict = ""
                else:
                    ok = size <= MAX_BYTES and ready <= MAX_SECONDS and popup <= MAX_SECONDS
                    ok = ok and (asked == 0 if name == "no-tiles" else True)
                    verdict = f"<= 2.5 MB, <= 2 s: {'yes' if ok else 'NO'}"
                print(
                    f"{count:>8} {name:>9} {size / 1024:>6.0f} {size / base[name][0]:>6.2f}x"
                    f" {ready:>8.2f} {ready / base[name][1]:>7.2f}x {popup:>8.2f} {asked:>6}"
                    f"  {verdict}"
                )
                if name == "tiles" and count != BASELINE:
                    others = {url.split("/")[2] for run in runs for url in run[2]}
                    print(f"{'':>8} hosts asked with tiles: {sorted(others) or 'none'}")
        browser.close()


if __name__ == "__main__":
    main()
