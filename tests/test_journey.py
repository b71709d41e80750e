"""A person's way through the product in Chromium: submit on a phone, approve, see it on the map."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from conftest import browser_app, wait_until
from flask import Flask

from mapapp.places.locale import MINSK

pytestmark = pytest.mark.browser


@pytest.fixture
def app(sqlite_url: str, monkeypatch) -> Iterator[Flask]:
    app = browser_app(sqlite_url)
    app.test_cli_runner().invoke(args=["init-db"])
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", "a long passphrase")
    app.test_cli_runner().invoke(args=["create-moderator", "mod"])
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def test_submit_approve_and_see_it_on_the_map(browser, live_server, app):
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="be-BY")
    page = phone.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(live_server + "/submit?lang=be")
    assert page.locator("html").get_attribute("lang") == "be"
    # only the keyboard, as some organizers do
    page.locator("#title").focus()
    page.keyboard.type("Пікет на Савецкай плошчы ў Гродне")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "town"
    page.keyboard.type("Гродно")
    page.keyboard.press("Tab")
    page.keyboard.type("Савецкая плошча")
    day = (datetime.now(MINSK) + timedelta(days=5)).date()
    page.fill("#date", day.isoformat())
    page.fill("#time", "19:00")
    page.fill("#description", "Прыходзьце з плакатамі.")
    with page.expect_navigation():
        page.locator("button[type=submit]").press("Enter")

    # the preview: the geocoded square, a pin that the arrow keys move
    assert page.locator("h1").inner_text() == "Праверце месца"
    pin = page.locator(".leaflet-marker-icon.leaflet-marker-draggable")
    pin.wait_for(state="visible")
    assert page.input_value("input[name=lat]") == "53.6778"
    pin.focus()
    page.keyboard.press("ArrowUp")
    wait_until(page, "document.getElementById('pin-status').textContent.includes('Гродна')")
    assert page.input_value("input[name=lat]") == "53.678300"
    page.get_by_role("button", name="Адправіць мадэратарам").click()

    page.wait_for_url("**/submit/done**")
    link = page.locator(".manage-link a").get_attribute("href")
    assert re.search(r"/manage/[\w-]{32,}", link)
    page.goto(link)
    assert "чакае мадэратара" in page.inner_text("main")
    phone.close()

    # a moderator approves it
    desk = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = desk.new_page()
    page.goto(live_server + "/moderate/login?lang=en")
    page.fill("#name", "mod")
    page.fill("#password", "a long passphrase")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "Пікет на Савецкай плошчы" in page.inner_text("main")
    with page.expect_navigation():
        page.get_by_role("button", name="Approve").first.click()
    assert "Approved" in page.inner_text(".flash")

    # and anyone sees it on the map
    page.goto(live_server + "/?lang=en")
    item = page.locator("#rally-list li", has_text="Пікет на Савецкай плошчы")
    item.wait_for()
    item.get_by_role("button").click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible")
    assert "Савецкая плошча, Hrodna" in popup.inner_text()
    assert errors == []
    desk.close()
