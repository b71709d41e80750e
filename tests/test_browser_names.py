"""The basemap's names never hide a rally (review of session 9): on a 390x844 touch phone with
the 200-rally demo data, at the country's zoom and one level in, no town or region name is
drawn over a marker or a cluster's count, on the map, the embed and the offline copy. The names
lie under the markers and are placed clear of them (static/basemap.js)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import browser_app, wait_until
from flask import Flask
from test_browser_legend import MAP, shot
from test_browser_phone import PHONE

pytestmark = pytest.mark.browser


# Each name's words (its text, not the room its span leaves for the town's dot) against each
# marker's and cluster's drawn box (with a cluster's "!" badge), in the map's view.
CLASHES = """(() => {
  const map = document.querySelector('.leaflet-container').getBoundingClientRect();
  const inView = (r) => r.width && r.right > map.left && r.left < map.right
    && r.bottom > map.top && r.top < map.bottom;
  const words = [];
  for (const span of document.querySelectorAll('.basemap-names span')) {
    const range = document.createRange();
    range.selectNodeContents(span);
    const r = range.getBoundingClientRect();
    if (inView(r)) words.push([span.textContent, r]);
  }
  const marks = [];
  for (const node of document.querySelectorAll('.leaflet-marker-pane .leaflet-marker-icon')) {
    const r = node.getBoundingClientRect();
    if (!inView(r)) continue;
    const badge = node.classList.contains('marker-cluster-danger') ? 6 : 0;
    marks.push([node.textContent || node.getAttribute('aria-label'),
      {left: r.left, right: r.right + badge, top: r.top - badge, bottom: r.bottom}]);
  }
  const clashes = [];
  for (const [name, w] of words) for (const [mark, m] of marks) {
    if (w.left < m.right - 0.5 && m.left < w.right - 0.5 && w.top < m.bottom - 0.5 && m.top < w.bottom - 0.5) {
      clashes.push(name + ' over ' + mark);
    }
  }
  return {clashes, words: words.length, marks: marks.length};
})()"""

# Whether the names' pane is drawn under the markers' (a name never covers a marker).
UNDER = f"""(() => {{ const m = {MAP};
  const z = (p) => Number(getComputedStyle(m.getPane(p)).zIndex);
  return z('basemapNames') < z('markerPane'); }})()"""


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    app = browser_app(sqlite_url)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init-db"]).exit_code == 0
    result = runner.invoke(args=["demo-data", "--count", "200", "--seed", "9"])
    assert result.exit_code == 0, result.output
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def check_levels(page, name: str) -> None:  # noqa: ANN001
    wait_until(page, "performance.getEntriesByName('rallies-loaded').length > 0")
    page.locator(".basemap-names span").first.wait_for()
    page.wait_for_timeout(400)
    zoom = page.evaluate(f"{MAP}.getZoom()")
    assert page.evaluate(UNDER)
    for step, level in enumerate((zoom, round(zoom) + 1)):
        if step:
            page.evaluate(f"{MAP}.setZoom({level})")
            wait_until(page, f"{MAP}.getZoom() === {level} && !{MAP}._animatingZoom")
            page.wait_for_timeout(600)
        found = page.evaluate(CLASHES)
        shot(page, f"names-{name}-{step}")
        assert found["words"] >= 1 and found["marks"] >= 10, found
        assert found["clashes"] == [], (level, found)


@pytest.mark.parametrize("lang", ["be", "ru"])
def test_no_name_is_drawn_over_a_marker_or_a_clusters_count(browser, live_server, app, lang):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(f"{live_server}/?lang={lang}")
    check_levels(page, f"map-{lang}")
    page.goto(f"{live_server}/embed?lang={lang}")
    check_levels(page, f"embed-{lang}")
    assert page.errors == []
    context.close()


def test_nor_in_the_offline_copy(browser, app, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["export-static", str(tmp_path)])
    assert result.exit_code == 0, result.output
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto((tmp_path / "index.html").as_uri() + "?lang=be")
    check_levels(page, "offline")
    context.close()
