"""The app's own basemap: Belarus, its regions and town names, drawn without any tile."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import make_app
from flask import Flask

from mapapp.paths import DATA_DIR
from mapapp.places.regions import REGION_CODES

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_basemap_is_what_the_script_builds():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import build_basemap
    finally:
        sys.path.pop(0)
    shipped = json.loads((DATA_DIR / "basemap.json").read_text(encoding="utf-8"))
    assert shipped == build_basemap.build()
    assert [r["code"] for r in shipped["regions"]] == list(REGION_CODES)
    # simplified: a few hundred points a shape, not thousands, and small on the wire
    assert len(shipped["outline"][0]) < 600
    assert (DATA_DIR / "basemap.json").stat().st_size < 80_000
    # the regional centres come first and show at every zoom
    assert [t["names"][2] for t in shipped["towns"][:6] if t["zoom"] == 5] == [
        "Minsk",
        "Homiel",
        "Hrodna",
        "Viciebsk",
        "Mahilioŭ",
        "Brest",
    ]
    assert shipped["towns"][6]["zoom"] > 5


def test_basemap_is_served_fingerprinted_for_a_year(client):
    page = client.get("/?lang=en").get_data(as_text=True)
    url = page.split('"basemapUrl": "', 1)[1].split('"', 1)[0]
    assert url.startswith("/basemap/") and url.endswith(".json")
    response = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.cache_control.max_age == 365 * 24 * 3600 and response.cache_control.immutable
    assert response.content_encoding == "gzip" and len(response.data) < 20_000
    assert client.get("/basemap/0123456789ab.json").status_code == 404
    assert "basemap.js" in page


@pytest.fixture
def app(sqlite_url: str) -> Flask:
    """The tile server cannot be reached: port 9 (discard) refuses, so the tile proxy
    sends its plain grey tiles."""
    app = make_app(sqlite_url, TILE_URL="http://127.0.0.1:9/{z}/{x}/{y}.png")
    app.test_cli_runner().invoke(args=["init-db"])
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def _drawn_pixels(page) -> int:
    # Pixels the basemap's canvas has drawn on (its lines and its light fill).
    return page.evaluate(
        """() => {
          const canvas = document.querySelector('.leaflet-basemap-pane canvas');
          const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
          let drawn = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i] > 0) drawn++;
          return drawn;
        }"""
    )


@pytest.mark.browser
def test_map_reads_without_tiles(page, live_server, tmp_path):
    page.goto(live_server + "/?lang=en")
    page.locator(".rally-marker-featured").wait_for(state="visible")
    page.locator(".basemap-names span").first.wait_for()
    page.wait_for_timeout(300)
    page.screenshot(path=str(tmp_path / "no-tiles.png"))
    names = page.locator(".basemap-names span").all_inner_texts()
    # the regional centres and the regions' names, in the page's language
    for town in ("Minsk", "Homiel", "Hrodna", "Viciebsk", "Mahilioŭ", "Brest"):
        assert town in names, names
    assert sum(name.endswith("Region") for name in names) >= 4, names
    assert page.locator(".leaflet-basemap-pane canvas").count() == 1
    assert _drawn_pixels(page) > 10_000
    # the names are few nodes, out of the way of pointers and screen readers
    assert len(names) < 60
    assert page.locator(".basemap-names").get_attribute("aria-hidden") == "true"
    # tiles were asked for and came back grey, under the basemap
    assert any("/tiles/" in url for url in page.requested)
    # zooming in shows more towns
    page.goto(live_server + "/?lang=ru&lat=53.9&lon=27.56&zoom=9")
    page.locator(".basemap-names span").first.wait_for()
    page.wait_for_timeout(300)
    near_minsk = page.locator(".basemap-names span").all_inner_texts()
    assert "Минск" in near_minsk and "Борисов" in near_minsk and "Заславль" in near_minsk
    assert page.errors == []
