"""Browsing in Chromium: views as permalinks, "near me", the main rally's cluster, a rally's map."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import add_rally, wait_until
from flask import Flask

pytestmark = pytest.mark.browser


@pytest.fixture
def app(seeded_browser_app: Flask) -> Flask:
    return seeded_browser_app


def view(page) -> dict:  # noqa: ANN001
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def test_the_address_follows_the_map_and_opens_the_same_view(page, live_server):
    page.goto(live_server + "/?lang=en&region=BY-HR")
    page.locator(".leaflet-marker-icon").first.wait_for()
    page.evaluate(
        "() => { const m = Object.values(window).find(v => v && v._container && v.setView); m.setView([53.68, 23.83], 12); }"
    )
    wait_until(page, "location.search.includes('zoom=12')")
    shown = view(page)
    assert shown["region"] == "BY-HR" and shown["lang"] == "en"
    assert abs(float(shown["lat"]) - 53.68) < 0.01 and abs(float(shown["lon"]) - 23.83) < 0.01
    # the same address in a new page opens at that view
    other = page.context.new_page()
    other.goto(page.url)
    other.locator(".leaflet-marker-icon").first.wait_for()
    zoom = other.evaluate(
        "Object.values(window).find(v => v && v._container && v.getZoom).getZoom()"
    )
    assert zoom == 12
    other.close()


def test_near_me_uses_the_position_only_in_the_browser(browser, live_server):
    context = browser.new_context(
        geolocation={"latitude": 52.1215, "longitude": 26.0673},  # Pinsk
        permissions=["geolocation"],
        locale="en-US",
    )
    page = context.new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(live_server + "/?lang=en")
    page.locator(".leaflet-marker-icon").first.wait_for()
    requested.clear()
    page.get_by_role("button", name="Near me").click()
    wait_until(page, "location.search.includes('zoom=11')")
    assert abs(float(view(page)["lat"]) - 52.12) < 0.01
    # tiles were asked for, but no request carries the position
    assert not [url for url in requested if "52.12" in url or "26.06" in url]
    context.close()


def test_the_main_rally_is_never_inside_a_cluster(page, live_server, app):
    for i in range(5):  # gatherings around October Square
        add_rally(app, title=f"Nearby {i}", lat=53.90 + i * 0.002, lon=27.56 + i * 0.002)
    page.goto(live_server + "/?lang=en")
    page.locator(".marker-cluster").first.wait_for()
    assert page.locator(".rally-marker-featured").is_visible()


def test_a_rally_page_shows_its_place_on_a_small_map(page, live_server):
    page.goto(live_server + "/rallies/1?lang=en")
    marker = page.locator(".rally-map .rally-marker-featured")
    marker.wait_for()
    assert "Кастрычніцкай" in marker.get_attribute("title")
    assert page.errors == []


def test_the_list_beside_the_map_shows_the_first_and_links_to_all(page, live_server, app):
    from mapapp.domain import db, lifecycle
    from mapapp.domain.geocoding import gazetteer
    from mapapp.domain.seed import demo_rallies

    with app.app_context():
        session = db.session()
        lifecycle.publish_many(session, demo_rallies(gazetteer(), 250, seed=5), actor="test")
        session.commit()
    page.goto(live_server + "/?lang=en&when=all")
    more = page.locator("#rally-list li.rally-more a")
    more.wait_for()
    assert page.locator("#rally-list li").count() == 51  # a page of 50, then "more"
    assert more.get_attribute("href") == "/rallies?when=all&lang=en"
    assert "263" in more.inner_text()
