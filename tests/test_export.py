"""export-static: one HTML file that works opened from disk, in Chromium."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from conftest import add_rally

PAYLOAD = "</script><script>window.__xss=1</script>${window.__xss=2}"


@pytest.fixture
def exported(app, tmp_path):
    app.test_cli_runner().invoke(args=["init-db"])
    add_rally(app, title=PAYLOAD, town="Гродна", lat=53.68, lon=23.83)

    def export(*args: str):
        out = tmp_path / "site"
        result = app.test_cli_runner().invoke(args=["export-static", str(out), *args])
        assert result.exit_code == 0, result.output
        return out / "index.html"

    return export


def test_export_is_one_file_with_everything_in_it(exported):
    page = exported("--lang", "en").read_text(encoding="utf-8")
    assert '<html lang="en">' in page
    assert "<script src=" not in page and '<link rel="stylesheet"' not in page
    assert "L.markerClusterGroup" in page and "RallyMap" in page
    assert '"featured": true' in page and '"type": "FeatureCollection"' in page  # the rallies
    assert "data:image/png;base64," in page  # and the marker images
    assert "</script><script>window.__xss" not in page


@pytest.mark.browser
def test_export_works_opened_from_disk(browser, exported):
    path = exported("--lang", "ru", "--base-url", "https://rallies.example")
    page = browser.new_page()
    hosts, errors = set(), []
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path.as_uri())
    page.wait_for_function("document.querySelectorAll('#rally-list li').length === 14")
    featured = page.locator(".rally-marker-featured")
    featured.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible")
    assert "Кастрычніцкая плошча, Минск" in popup.inner_text()
    link = popup.locator("a").get_attribute("href")
    assert link.startswith("https://rallies.example/rallies/") and link.endswith("?lang=ru")
    assert page.locator("#rally-list li").count() == 14
    assert PAYLOAD in page.inner_text("#rally-list")
    assert page.evaluate("window.__xss") is None
    # from disk, only the tile server is asked for anything
    assert hosts <= {"", "tile.openstreetmap.org"}
    assert errors == []
    page.close()


@pytest.mark.browser
def test_export_without_a_base_url_has_no_dead_links(browser, exported):
    page = browser.new_page()
    page.goto(exported().as_uri())
    page.wait_for_function("document.querySelectorAll('#rally-list li').length === 14")
    page.locator(".rally-marker-featured").click()
    page.locator(".leaflet-popup-content").wait_for(state="visible")
    assert page.locator(".leaflet-popup-content a").count() == 0
    assert page.locator("#rally-list a").count() == 0
    page.close()
