"""An open rally page follows every change of its rally without a reload, in Chromium on a
phone-sized screen: the place at its reveal time, a time change, and the rally taken down
("removed from the map", and no more re-checks). The page re-checks every second here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import add_rally, browser_app, wait_until
from flask import Flask
from test_browser_embed import PARTNER_PAGE, embed_frame
from test_browser_embed import partner as partner  # a fixture, for the embed

from mapapp.domain import db, lifecycle
from mapapp.domain.models import Rally
from mapapp.places.locale import local_datetime

pytestmark = pytest.mark.browser


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    app = browser_app(sqlite_url, REFRESH_SECONDS=1)
    app.test_cli_runner().invoke(args=["init-db"])
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


@pytest.fixture
def phone(browser):  # noqa: ANN001, ANN201
    context = browser.new_context(
        locale="en-US", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.requested = []
    page.errors = []
    page.on("request", lambda request: page.requested.append(request.url))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def main_text(page) -> str:  # noqa: ANN001
    return page.locator("main").inner_text()


def test_an_open_rally_page_shows_the_place_at_its_reveal(phone, live_server, app):
    reveal = datetime.now(UTC) + timedelta(seconds=4)
    rally_id = add_rally(
        app, place="Плошча Сакрэтная", reveal_at=reveal, starts_at=reveal + timedelta(hours=2)
    )
    phone.goto(f"{live_server}/rallies/{rally_id}?lang=en")
    assert "Сакрэтная" not in main_text(phone)
    assert "The exact place will be announced" in main_text(phone)
    wait_until(phone, "document.querySelector('main').innerText.includes('Плошча Сакрэтная')")
    assert "will be announced" not in main_text(phone)
    assert phone.locator("[data-live=facts] dt", has_text="Coordinates").count() == 1
    assert not phone.errors


def test_an_open_rally_page_shows_a_time_change_and_a_cancel(phone, live_server, app):
    start = datetime(datetime.now(UTC).year + 1, 6, 1, 16, 0, tzinfo=UTC)  # 19:00 in Minsk
    earlier = start - timedelta(hours=2)
    reveal = datetime.now(UTC) + timedelta(days=30)
    rally_id = add_rally(app, starts_at=start, reveal_at=reveal)
    phone.goto(f"{live_server}/rallies/{rally_id}?lang=en")
    old_time, new_time = local_datetime(start, "full", "en"), local_datetime(earlier, "full", "en")
    assert old_time in main_text(phone)
    with app.app_context():
        session = db.session(write=True)
        lifecycle.edit(session, session.get(Rally, rally_id), {"starts_at": earlier}, "moderator:m")
    wait_until(phone, "document.querySelector('main').innerText.includes('The time has changed')")
    text = main_text(phone)
    assert new_time in text and f"it was {local_datetime(start, 'medium', 'en')}" in text
    # Cancelled: the place will not be announced any more.
    with app.app_context():
        session = db.session(write=True)
        lifecycle.perform(session, session.get(Rally, rally_id), "moderator:m", "cancel")
    wait_until(phone, "!document.querySelector('main').innerText.includes('will be announced')")
    assert "This rally is cancelled." in main_text(phone)
    assert not phone.errors


def test_an_open_rally_page_says_when_its_rally_is_taken_down_and_stops(phone, live_server, app):
    rally_id = add_rally(app, title="Пікет, які знімуць")
    phone.goto(f"{live_server}/rallies/{rally_id}?lang=en")
    with app.app_context():
        session = db.session(write=True)
        lifecycle.perform(session, session.get(Rally, rally_id), "moderator:m", "reject", "spam")
    wait_until(
        phone,
        "document.getElementById('urgent').innerText.includes('This rally was removed from the map.')",
    )
    checks = len([url for url in phone.requested if f"/api/rallies/{rally_id}" in url])
    phone.wait_for_timeout(3000)  # three re-check periods
    assert len([url for url in phone.requested if f"/api/rallies/{rally_id}" in url]) == checks


def test_an_open_map_shows_a_same_day_time_change_in_its_list_and_popup(page, live_server, app):
    """19:00 -> 17:00 on the same day: the compact feed's town, day and point stay the same,
    its `rev` moves, and the list and the open popup load the rally's details again."""
    start = datetime(datetime.now(UTC).year + 1, 6, 1, 16, 0, tzinfo=UTC)  # 19:00 in Minsk
    rally_id = add_rally(
        app,
        title="Пікет у Мазыры",
        town="Мазыр",
        region="BY-HO",
        lat=52.05,
        lon=29.25,
        place="Плошча",
        starts_at=start,
    )  # alone in its part of the map: its own marker, no cluster
    page.goto(f"{live_server}/?lang=en&lat=52.05&lon=29.25&zoom=11")
    wait_until(page, "performance.getEntriesByName('rallies-loaded').length > 0")
    item = page.locator(f"#rally-list li[data-id='{rally_id}']")
    item.scroll_into_view_if_needed()
    wait_until(
        page, f"document.querySelector(\"#rally-list li[data-id='{rally_id}'][data-filled]\")"
    )
    assert "7:00" in item.inner_text()
    page.locator(f".leaflet-marker-icon[data-id='{rally_id}']").click()
    popup = page.locator(".leaflet-popup-content")
    popup.locator(".rally-popup-title").wait_for()
    assert "7:00" in popup.inner_text()
    with app.app_context():
        session = db.session(write=True)
        rally = session.get(Rally, rally_id)
        lifecycle.edit(session, rally, {"starts_at": start - timedelta(hours=2)}, "moderator:m")
    wait_until(
        page,
        f"document.querySelector(\"#rally-list li[data-id='{rally_id}']\").innerText.includes('5:00')",
    )
    wait_until(page, "document.querySelector('.leaflet-popup-content').innerText.includes('5:00')")
    assert "7:00 PM" not in item.locator(".rally-when").inner_text()
    # Both say the old time, as the rally page, calendars and feeds do (words.headline).
    was = f"The time has changed: it was {local_datetime(start, 'medium', 'en')}"
    wait_until(
        page, f"document.querySelector('.leaflet-popup-content').innerText.includes({was!r})"
    )
    assert was in item.inner_text()
    # A second change to another day (across midnight): one note, with the latest old time.
    with app.app_context():
        session = db.session(write=True)
        rally = session.get(Rally, rally_id)
        lifecycle.edit(session, rally, {"starts_at": start - timedelta(hours=20)}, "moderator:m")
    was = f"it was {local_datetime(start - timedelta(hours=2), 'medium', 'en')}"
    wait_until(
        page, f"document.querySelector('.leaflet-popup-content').innerText.includes({was!r})"
    )
    wait_until(
        page,
        f"document.querySelector(\"#rally-list li[data-id='{rally_id}']\").innerText.includes({was!r})",
    )
    assert item.locator(".rally-rescheduled").count() == 1
    assert not page.errors


def test_an_open_embed_on_a_partner_page_follows_a_danger_and_a_take_down(
    page,
    live_server,
    app,
    partner,  # noqa: F811 - the fixture imported above
):
    """The map framed on another site, left open: a danger warning reaches its open popup and
    its list, and a rally taken down leaves the list and the map, without the partner's page
    reloading."""
    # Towns no seed rally is near: each its own point.
    danger = add_rally(
        app, title="Пікет у Паставах", town="Паставы", lat=55.12, lon=26.83, place="Плошча"
    )
    gone = add_rally(
        app, title="Пікет у Мазыры", town="Мазыр", lat=52.05, lon=29.25, place="Плошча"
    )
    pages, origin = partner
    pages["/news"] = PARTNER_PAGE.format(src=live_server + "/embed?lang=en&list=1")
    page.goto(origin + "/news")
    frame = embed_frame(page)
    for rally_id in (danger, gone):
        frame.locator(f"#rally-list li[data-id='{rally_id}']").wait_for()
    # "Show on the map" opens the rally's popup on the map, as a reader would.
    frame.locator(f"#rally-list li[data-id='{danger}'] button").click()
    popup = frame.locator(".leaflet-popup-content")
    popup.locator(".rally-popup-title").wait_for(timeout=20000)
    assert "Danger" not in popup.inner_text()
    with app.app_context():
        session = db.session(write=True)
        lifecycle.perform(session, session.get(Rally, danger), "moderator:m", "danger")
        lifecycle.perform(session, session.get(Rally, gone), "moderator:m", "reject", "spam")
    # The open popup, the list and the map's marks follow without a reload.
    popup.locator(".badge-danger").wait_for(timeout=20000)
    frame.locator(f"#rally-list li[data-id='{gone}']").wait_for(state="detached", timeout=20000)
    assert "Danger" in frame.locator(f"#rally-list li[data-id='{danger}']").inner_text()
    assert frame.locator(f".leaflet-marker-icon[data-id='{gone}']").count() == 0
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert not page.errors


def test_what_an_open_rally_page_shares_follows_a_change(phone, live_server, app):
    # A phone left open on the page and shared after a change passes on the new time, place
    # and title (the share sheet's text, the Telegram link, the tab's title), not the old.
    start = datetime(datetime.now(UTC).year + 1, 6, 1, 16, 0, tzinfo=UTC)
    earlier = start - timedelta(days=1, hours=20)  # across midnight, to an earlier day
    rally_id = add_rally(app, title="Пікет", starts_at=start)
    phone.goto(f"{live_server}/rallies/{rally_id}?lang=en")
    old_time, new_time = local_datetime(start, "full", "en"), local_datetime(earlier, "full", "en")
    share = phone.locator("button[data-share]")
    assert old_time in share.get_attribute("data-share-text")
    with app.app_context():
        session = db.session(write=True)
        changes = {"starts_at": earlier, "title": "Пікет <перанесены>"}
        lifecycle.edit(session, session.get(Rally, rally_id), changes, "moderator:m")
    wait_until(phone, "document.querySelector('main').innerText.includes('The time has changed')")
    text = share.get_attribute("data-share-text")
    assert new_time in text and old_time not in text
    assert share.get_attribute("data-share-title") == "Пікет <перанесены>"
    telegram = phone.locator("a[href^='https://t.me/share/url']").get_attribute("href")
    assert "%D0%BF%D0%B5%D1%80%D0%B0%D0%BD%D0%B5%D1%81%D0%B5%D0%BD%D1%8B" in telegram
    assert phone.title().startswith("Пікет <перанесены>")
    # The marker's name too (its title: what a pointer's tooltip and a screen reader say).
    marker = phone.locator(".leaflet-marker-pane .leaflet-marker-icon")
    wait_until(
        phone, "document.querySelector('.leaflet-marker-icon').title === 'Пікет <перанесены>'"
    )
    assert marker.count() == 1
    assert not phone.errors
