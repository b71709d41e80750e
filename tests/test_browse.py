"""Browsing in Chromium: views as permalinks, "near me", the main rally's cluster, a rally's map."""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import add_rally, wait_until
from flask import Flask

pytestmark = pytest.mark.browser

FMAP = "window[Object.keys(window).find((k) => /^map_\\w+$/.test(k))]"


@pytest.fixture
def app(seeded_browser_app: Flask) -> Flask:
    return seeded_browser_app


def shot(page, name: str) -> None:  # noqa: ANN001
    """A screenshot to look at, when MAPAPP_TEST_SHOTS names a folder."""
    if os.environ.get("MAPAPP_TEST_SHOTS"):
        page.screenshot(path=os.path.join(os.environ["MAPAPP_TEST_SHOTS"], f"{name}.png"))


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


def test_near_me_keeps_the_position_in_the_page_only(browser, live_server, app):
    """On a touch phone: a "you are here" mark, the nearest rally named, and the position in no
    address, history entry, request or log."""
    add_rally(app, title="Гомель", lat=52.4345, lon=30.9754, town="Гомель")
    context = browser.new_context(
        geolocation={"latitude": 51.9434, "longitude": 30.7986},  # 55 km from Гомель
        permissions=["geolocation"],
        locale="en-US",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url + (request.post_data or "")))
    page.goto(live_server + "/?lang=en&lat=53.9&lon=27.5&zoom=7")
    page.locator(".leaflet-marker-icon").first.wait_for()
    requested.clear()
    entries = page.evaluate("history.length")
    page.get_by_role("button", name="Near me").tap()
    page.locator(".you-are-here").wait_for()
    message = page.locator(".near-me-message")
    assert message.inner_text().startswith("The nearest rally: Гомель, ")
    assert re.search(r", 5[4-7] km from you", message.inner_text())
    assert page.get_by_text("You are here").is_visible()
    shot(page, "near-me")
    page.evaluate(f"{FMAP}.panBy([30, 30], {{animate: false}})")  # the visitor moves on
    page.wait_for_timeout(300)
    for address in (page.url, page.evaluate("location.href")):
        assert "lat=" not in address and "zoom=" not in address and "51.9" not in address
    assert view(page) == {"lang": "en"}
    assert page.evaluate("history.length") == entries  # replaced, never pushed
    # tiles were asked for, but no request carries the position
    assert not [url for url in requested if re.search(r"51\.9|30\.7|30\.8", url)]
    context.close()


def test_a_refused_position_is_said_and_the_button_still_works(browser, live_server):
    context = browser.new_context(
        locale="en-US", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )  # no permission: the browser refuses
    page = context.new_page()
    page.goto(live_server + "/?lang=en")
    page.locator(".leaflet-marker-icon").first.wait_for()
    button = page.get_by_role("button", name="Near me")
    button.tap()
    message = page.locator(".near-me-message")
    wait_until(page, "document.querySelector('.near-me-message').hidden === false")
    assert "did not share your position" in message.inner_text()
    assert button.inner_text() == "Near me" and button.is_enabled()
    context.grant_permissions(["geolocation"])
    context.set_geolocation({"latitude": 53.9, "longitude": 27.56})
    button.tap()
    page.locator(".you-are-here").wait_for()
    assert "The nearest rally" in message.inner_text()
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
    assert "October Square" in marker.get_attribute("title")  # the seed's title in English
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
