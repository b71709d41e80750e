"""The moderators' queue with 500 rallies waiting, on a phone in Chromium: a moderator clears
100 of them, a page at a time, and the view (page, filters, place on the page) is kept."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import browser_app
from flask import Flask
from test_a11y import axe, axe_source  # noqa: F401 - the fixture

from mapapp.domain import db, lifecycle
from mapapp.domain.models import Rally, Status

pytestmark = pytest.mark.browser

PASSWORD = "a long passphrase"
PHONE = {"width": 390, "height": 844}
TOWNS = [("Мінск", "BY-HM", 53.9036, 27.5561), ("Гомель", "BY-HO", 52.4345, 30.9754)]


@pytest.fixture
def app(sqlite_url: str, monkeypatch) -> Iterator[Flask]:  # noqa: ANN001
    app = browser_app(sqlite_url)
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    assert app.test_cli_runner().invoke(args=["create-moderator", "mod"]).exit_code == 0
    start = datetime.now(UTC) + timedelta(days=10)
    with app.app_context():
        session = db.session(write=True)
        for i in range(500):
            town, region, lat, lon = TOWNS[i % 2]
            fields = {
                "title": f"Submission {i:03d} in {town}",
                "description": "Апісанне",
                "town": town,
                "place": "Цэнтральная плошча",
                "region": region,
                "lat": lat,
                "lon": lon,
                "starts_at": start + timedelta(hours=i),
            }
            lifecycle.create(session, fields, approved=False, actor="import", commit=False)
        session.commit()
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def log_in(page, live_server: str, path: str) -> None:  # noqa: ANN001
    page.goto(live_server + "/moderate/login?lang=en&next=" + path)
    page.fill("#name", "mod")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def waiting(app: Flask) -> int:
    with app.app_context():
        return db.session().query(Rally).filter(Rally.status == Status.PENDING.value).count()


def test_a_moderator_clears_100_of_500_on_a_phone(browser, live_server, app, axe_source):  # noqa: F811
    context = browser.new_context(viewport=PHONE, locale="en-US", is_mobile=True, has_touch=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, live_server, "/moderate")
    assert "Waiting for a decision (500)" in page.inner_text("h2#queue")
    assert page.locator(".queue-item").count() == 25
    # a phone's page, not a wall: no sideways scrolling, a few screens long
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert page.evaluate("document.documentElement.scrollHeight") < 12 * PHONE["height"]
    assert axe(page, axe_source) == [], "queue on a phone"

    # Gomel's only: the filters are a plain form
    page.locator(".queue-filters summary").click()
    page.select_option("#filter-region", "BY-HO")
    with page.expect_navigation():
        page.locator(".queue-filters button[type=submit]").click()
    assert "Waiting for a decision (250)" in page.inner_text("h2#queue")

    started = time.monotonic()
    for _ in range(4):
        page.locator(".bulk-all").click()  # select all 25 on this page
        assert page.locator(".bulk-count").inner_text() == "(25)"
        with page.expect_navigation():
            page.get_by_role("button", name="Approve the selected").click()
        assert page.locator(".flash").inner_text().startswith("Approved 25:")
        assert "region=BY-HO" in page.url  # the view is kept
        assert page.locator(".queue-item").count() == 25
    # and 25 from Minsk rejected with one reason, searched for (the filters then stay open)
    page.goto(live_server + "/moderate?lang=en&q=%D0%BC%D0%86%D0%BD%D0%A1%D0%9A")  # мІнСК
    page.locator(".bulk-all").click()
    page.get_by_role("button", name="Reject the selected").click()  # no reason yet
    page.locator("#reason-error").wait_for()
    # shown where the moderator looks: the page opens at the error summary, not at its top
    box = page.locator("#error-summary").bounding_box()
    assert 0 <= box["y"] < PHONE["height"], box
    assert page.locator("#reason-error").inner_text() == "Say why, for the record."
    assert page.locator("input[name=ids]:checked").count() == 25  # the selection is kept
    assert axe(page, axe_source) == [], "queue with an error"
    page.fill("#reason", "Duplicate")
    with page.expect_navigation():
        page.get_by_role("button", name="Reject the selected").click()
    seconds = time.monotonic() - started
    assert page.locator(".flash").inner_text().startswith("Rejected 25:")
    assert waiting(app) == 375
    print(f"\n100 approved and 25 rejected in {seconds:.1f} s")  # noqa: T201
    assert seconds < 60

    # one in the middle of page 3: back on page 3, at the rally that followed it
    page.goto(live_server + "/moderate?lang=en&page=3")
    items = page.locator(".queue-item")
    target, following = items.nth(12), items.nth(13)
    name = target.locator(".rally-title").inner_text()
    following_id = following.get_attribute("id")
    with page.expect_navigation():
        target.get_by_role("button", name="Approve").click()
    # (the map beside the list adds its view, lat=&lon=&zoom=, to the address)
    address = urlsplit(page.url)
    assert parse_qs(address.query)["page"] == ["3"] and address.fragment == following_id
    assert page.locator(".flash").inner_text() == f"Approved: \u201c{name}\u201d is on the map."
    box = page.locator("#" + following_id).bounding_box()
    assert 0 <= box["y"] < PHONE["height"], box  # scrolled to where the moderator was
    assert errors == []
    context.close()


def test_the_item_page_shows_the_pin_and_the_log_page_reads_well(
    browser,
    live_server,
    app,
    axe_source,  # noqa: F811
):
    context = browser.new_context(viewport=PHONE, locale="en-US", is_mobile=True, has_touch=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    log_in(page, live_server, "/moderate/rallies/2")
    marker = page.locator(".rally-map .leaflet-marker-icon")
    marker.wait_for()
    assert marker.count() == 1
    assert marker.get_attribute("title") == "Submission 001 in Гомель"
    assert axe(page, axe_source) == [], "item page with its map"
    page.goto(live_server + "/moderate/log?lang=ru")
    assert "импортирована, ждёт модератора" in page.inner_text("table")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert axe(page, axe_source) == [], "audit log"
    assert errors == []
    context.close()
