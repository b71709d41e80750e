"""The map draws from its compact feed and loads a rally's texts when they are shown, in Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import add_rally, browser_app, wait_until
from flask import Flask

from mapapp.domain import db, lifecycle
from mapapp.domain.geocoding import gazetteer
from mapapp.domain.seed import demo_rallies

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=window.__xss=1>${window.__xss=2}</script>"
HRODNA = 627904


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    app = browser_app(sqlite_url)
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def details_asked(page, rally_id: int) -> list[str]:
    return [url for url in page.requested if f"/api/rallies/{rally_id}?" in url]


def test_a_popup_shows_the_details_it_loads_when_it_opens(page, live_server, app):
    cancelled = add_rally(
        app,
        title=XSS,
        place="Савецкая плошча",
        town="Гродна",
        geonameid=HRODNA,
        lat=53.6778,
        lon=23.8297,
        status="cancelled",
    )
    plain = add_rally(app, title="Пікет у Магілёве", town="Магілёў", lat=53.9, lon=30.33)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(live_server + "/embed?lang=en")  # the embed without its list
    wait_until(page, "performance.getEntriesByName('rallies-loaded').length > 0")
    feeds = [url for url in page.requested if "/api/rallies.geojson" in url]
    assert feeds and all("fields=map" in url for url in feeds)
    # Nothing until a popup opens, but for the rallies the urgent banner names at load (by
    # their title): a cancelled one, once; the popup then takes that copy.
    assert details_asked(page, plain) == []
    wait_until(page, "document.querySelectorAll('#urgent .urgent-line a').length === 1")
    assert len(details_asked(page, cancelled)) == 1
    marker = page.locator(f".leaflet-marker-icon[data-id='{cancelled}']")
    assert marker.get_attribute("aria-label").startswith("Cancelled \u2068Hrodna\u2069, ")
    marker.click()
    popup = page.locator(".leaflet-popup-content")
    popup.locator(".rally-popup-title").wait_for()
    assert popup.locator(".rally-popup-title").inner_text() == XSS  # as text
    assert popup.locator("img").count() == 0
    text = popup.inner_text()
    assert "Cancelled" in text
    assert "Савецкая плошча, Hrodna" in text
    assert "7:00" in text  # 16:00 UTC is 19:00 in Minsk
    checked = popup.locator(".rally-popup-verification")  # imported by add_rally
    assert (
        checked.inner_text() == "Imported by the site's operators, not checked by a moderator here."
    )
    assert checked.get_attribute("data-verification") == "imported"
    link = popup.locator("a.rally-popup-link")
    assert link.get_attribute("href") == f"/rallies/{cancelled}?lang=en"
    assert link.get_attribute("target") == "_blank"  # an embed opens the site in a new tab
    assert len(details_asked(page, cancelled)) == 1
    assert details_asked(page, cancelled)[0].endswith(f"/api/rallies/{cancelled}?lang=en")
    # opened again: from the page's own copy
    page.keyboard.press("Escape")
    popup.wait_for(state="detached")
    marker.click()
    popup.locator(".rally-popup-title").wait_for()
    assert len(details_asked(page, cancelled)) == 1
    assert page.evaluate("window.__xss") is None and dialogs == []
    assert page.errors == []


def test_offline_a_popup_says_so_and_tries_again(page, live_server, app):
    rally_id = add_rally(app, title="Пікет у Гродне", town="Гродна", lat=53.6778, lon=23.8297)
    page.goto(live_server + "/embed?lang=en")
    wait_until(page, "performance.getEntriesByName('rallies-loaded').length > 0")
    page.route("**/api/rallies/*", lambda route: route.abort("internetdisconnected"))
    page.locator(f".leaflet-marker-icon[data-id='{rally_id}']").click()
    error = page.locator(".leaflet-popup-content .rally-popup-error")
    error.wait_for()
    assert error.inner_text() == "The rally's details could not be loaded. Check your connection."
    retry = page.get_by_role("button", name="Try again")
    assert page.evaluate("document.activeElement.classList.contains('rally-popup-retry')")
    page.unroute("**/api/rallies/*")
    retry.click()
    title = page.locator(".leaflet-popup-content .rally-popup-title")
    title.wait_for()
    assert title.inner_text() == "Пікет у Гродне"
    assert page.locator(".rally-popup-error").count() == 0


def test_the_list_beside_the_map_comes_a_page_at_a_time(page, live_server, app):
    with app.app_context():
        session = db.session()
        lifecycle.publish_many(session, demo_rallies(gazetteer(), 60, seed=5), actor="test")
        session.commit()
    page.goto(live_server + "/?lang=en&when=all")
    wait_until(page, "performance.getEntriesByName('rallies-loaded').length > 0")
    assert page.locator("#map-status").inner_text() == "Rallies on the map: 60"
    items = page.locator("#rally-list li.rally-item:not(.rally-more)")
    assert items.count() == 50
    # the lines in view get their titles; the others wait until they are seen
    items.first.scroll_into_view_if_needed()
    wait_until(page, "document.querySelector('#rally-list li[data-filled]') !== null")
    first = items.first.inner_text()
    assert "Rally page" not in first and "·" in first
    asked = {url for url in page.requested if "/api/rallies/" in url and "geojson" not in url}
    assert 0 < len(asked) < 50
    assert not [url for url in page.requested if "geojson" in url and "fields=map" not in url]
    more = page.get_by_role("button", name="Show more rallies")
    more.click()
    assert items.count() == 60
    assert page.get_by_role("button", name="Show more rallies").count() == 0
    # focus on the first of the new lines, not lost at the page's top
    assert page.evaluate("document.activeElement.closest('li').dataset.id") == (
        items.nth(50).get_attribute("data-id")
    )
    assert page.errors == []
