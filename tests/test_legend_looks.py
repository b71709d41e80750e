"""Review of session 9: the legend shows every look a marker or cluster can take on the map.
Yellow (10-99) and orange (100 and more) clusters were missing, and read as "caution"; the
main rally's star in danger, moved or cancelled too. A look markers.js or app.css draws
without a legend entry fails here."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import add_rally, browser_app, wait_until
from flask import Flask

from mapapp.publishing.public import VERIFICATIONS

STATIC = Path(__file__).resolve().parent.parent / "mapapp" / "static"
# The classes that give a rally's marker or a cluster its look on the map.
LOOK = re.compile(r"\.((?:rally-marker|marker-cluster|rally-v)(?:-[a-z]+)*)(?![\w-])")
# The organizer's pin is on the forms' maps, never on the rally map (the form names it).
NOT_ON_THE_MAP = {"rally-marker-pin"}


def css_looks() -> set[str]:
    css = (STATIC / "app.css").read_text(encoding="utf-8")
    return {name for name in LOOK.findall(css)} - NOT_ON_THE_MAP


def js_looks() -> set[str]:
    """What markers.js puts together: sizes of clusters, urgent statuses, grades."""
    markers = (STATIC / "map" / "markers.js").read_text(encoding="utf-8")
    rally = (STATIC / "map" / "rally.js").read_text(encoding="utf-8")
    size = re.search(r"var size = (.*);", markers).group(1)
    sizes = re.findall(r'"(\w+)"', size)
    assert sizes == ["small", "medium", "large"]
    urgent = re.findall(r'"(\w+)"', re.search(r"var URGENT = \[(.*)\];", rally).group(1))
    assert set(urgent) == {"danger", "cancelled", "moved"}
    looks = {"marker-cluster", "marker-cluster-danger", "rally-marker", "rally-marker-featured"}
    looks |= {f"marker-cluster-{s}" for s in sizes}
    looks |= {f"{base}-{status}" for base in ("rally-marker", "rally-marker-featured")
              for status in urgent}  # fmt: skip
    looks |= {f"rally-v-{grade}" for grade in VERIFICATIONS}
    return looks


def twin(look: str) -> str:
    """The legend's class for a look of the map (app.css draws both alike): the map's own
    classes are not used in the legend, whose marks would then be found as markers."""
    for prefix, legend in (("rally-marker-featured", "legend-featured"),
                           ("marker-cluster", "legend-cluster"), ("rally-marker", "legend")):  # fmt: skip
        if look == prefix:
            return "legend-rally" if legend == "legend" else legend
        if look.startswith(prefix + "-"):
            return legend + look[len(prefix) :]
    return look  # rally-v-*


def legend_marks(html: str) -> list[set[str]]:
    legend = html[html.index('<details class="map-legend">') :]
    legend = legend[: legend.index("</details>")]
    return [set(c.split()) for c in re.findall(r'class="(legend-mark [^"]*)"', legend)]


@pytest.mark.parametrize("url", ["/?lang=be", "/embed?lang=ru"])
def test_every_look_of_the_map_has_a_legend_entry(client, url):
    marks = legend_marks(client.get(url).get_data(as_text=True))
    shown = set().union(*marks)
    looks = css_looks() | js_looks()
    assert {
        "marker-cluster-medium",
        "marker-cluster-large",
        "rally-marker-featured-danger",
    } <= looks
    assert sorted(look for look in looks if twin(look) not in shown) == []
    # Each urgent status of the main rally on its own star, not only on a plain marker.
    for status in ("danger", "moved", "cancelled"):
        assert any({"legend-featured", f"legend-featured-{status}"} <= m for m in marks)


def test_the_legend_says_yellow_and_orange_are_counts(client):
    page = client.get("/?lang=be").get_data(as_text=True)
    assert "жоўты — не папярэджанне" in page
    page = client.get("/?lang=ru").get_data(as_text=True)
    assert "жёлтый — не предупреждение" in page


# Rallies around three towns, far apart: a cluster of each size at the country's zoom, one
# with a danger warning; the main rally's star in danger.
GROUPS = [("Брэст", "BY-BR", 52.0976, 23.7341, 3), ("Гомель", "BY-HO", 52.4345, 30.9754, 12),
          ("Віцебск", "BY-VI", 55.1904, 30.2049, 100)]  # fmt: skip


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    app = browser_app(sqlite_url)
    for town, region, lat, lon, count in GROUPS:
        for n in range(count):
            add_rally(app, title=f"Акцыя {n}", town=town, region=region,
                      lat=lat + (n % 10) * 0.01, lon=lon + (n // 10) * 0.01,
                      status="danger" if (town == "Брэст" and n == 0) else "approved")  # fmt: skip
    add_rally(app, title="Галоўная", featured=True, lat=53.9022, lon=27.5617, status="danger")
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


@pytest.mark.browser
def test_every_mark_drawn_on_the_map_looks_as_its_legend_entry(browser, live_server, app):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.goto(f"{live_server}/?lang=be&zoom=6&lat=53.7&lon=27.9")
    wait_until(page, "performance.getEntriesByName('rallies-loaded').length > 0")
    wait_until(page, "document.querySelectorAll('.marker-cluster').length >= 3")
    drawn = page.evaluate(
        """() => [...document.querySelectorAll('.leaflet-marker-pane .leaflet-marker-icon')]
          .map(e => [...e.classList].filter(c => /^(rally-marker|marker-cluster|rally-v-)/.test(c)))"""
    )
    drawn_looks = set().union(*map(set, drawn))
    assert {"marker-cluster-small", "marker-cluster-medium", "marker-cluster-large",
            "marker-cluster-danger", "rally-marker-featured-danger"} <= drawn_looks  # fmt: skip
    # Each mark drawn has a legend entry with its classes, which looks the same: its colours,
    # its ring's colour and its sign (the legend's marks are smaller; the ring's style, how
    # the rally was checked, has entries of its own: test_browser_legend).
    same = """([classes, twins]) => {
      const drawn = [...document.querySelectorAll('.leaflet-marker-pane .leaflet-marker-icon')]
        .find(e => classes.every(c => e.classList.contains(c)) &&
          [...e.classList].filter(c => /^(rally-marker|marker-cluster)/.test(c)).length === classes.length);
      const mark = [...document.querySelectorAll('.map-legend .legend-mark')]
        .find(e => twins.every(c => e.classList.contains(c)) &&
          [...e.classList].filter(c => /^legend-(?!mark)/.test(c)).length === twins.length);
      if (!mark) return 'no legend entry';
      const look = (e) => { const s = getComputedStyle(e), a = getComputedStyle(e, '::after');
        return [s.backgroundColor, s.backgroundImage, s.outlineColor, s.color, a.content,
                a.backgroundColor].join(' | '); };
      return look(drawn) === look(mark) ? 'same' : look(drawn) + ' != ' + look(mark);
    }"""
    looks = {tuple(sorted(c for c in cs if not c.startswith("rally-v-"))) for cs in drawn}
    for classes in looks:
        if "marker-cluster-danger" in classes and "marker-cluster-small" not in classes:
            continue  # a larger cluster with a warning: its size's colour and the danger ring
        twins = [twin(c) for c in classes]
        assert page.evaluate(same, [list(classes), twins]) == "same", classes
    page.locator(".map-legend summary").tap()
    page.locator(".map-legend").scroll_into_view_if_needed()
    if shots := os.environ.get("MAPAPP_TEST_SHOTS"):
        page.locator(".map-legend").screenshot(path=f"{shots}/legend-looks-be.png")
    context.close()
