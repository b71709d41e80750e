"""A moderator's rally page and queue on a phone in Chromium (review 9): the danger warning sits
apart from "Mark as moved", every state button is 44 px tall, the warning needs its box ticked,
and a moderator's change of what waits reads struck and marked; axe finds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from conftest import add_rally, browser_app, tick
from flask import Flask
from test_a11y import axe, axe_source  # noqa: F401 - the fixture

from mapapp.domain import db, lifecycle

pytestmark = pytest.mark.browser

PASSWORD = "a long passphrase"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def app(sqlite_url: str, monkeypatch) -> Iterator[Flask]:  # noqa: ANN001
    app = browser_app(sqlite_url, APPROVALS=2)
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    for name in ("alesia", "carol"):
        assert app.test_cli_runner().invoke(args=["create-moderator", name]).exit_code == 0
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def phone_page(browser, live_server: str, name: str, path: str):  # noqa: ANN001, ANN201
    page = browser.new_context(locale="en-US", viewport=PHONE).new_page()
    page.goto(live_server + "/moderate/login?lang=en&next=" + path)
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    return page


def box(page, selector: str) -> dict:  # noqa: ANN001
    found = page.locator(selector)
    assert found.count() == 1, selector
    return found.bounding_box()


def test_the_danger_warning_is_apart_and_needs_its_box(browser, live_server, app, axe_source):  # noqa: ANN001, F811
    rally_id = add_rally(app, title="Пікет на плошчы")
    page = phone_page(browser, live_server, "alesia", f"/moderate/rallies/{rally_id}?lang=en")
    moved = box(page, "button:has-text('Mark as moved')")
    danger = box(page, "#danger button[type=submit]")
    assert danger["y"] - (moved["y"] + moved["height"]) >= 16  # not 8 px below it
    for button in page.locator(".actions .button, #danger .button").all():
        assert button.bounding_box()["height"] >= 44
    buttons = page.locator(".actions .button").all()
    for upper, lower in zip(buttons, buttons[1:], strict=False):
        a, b = upper.bounding_box(), lower.bounding_box()
        same_row = b["y"] < a["y"] + a["height"]
        apart = b["x"] - (a["x"] + a["width"]) if same_row else b["y"] - (a["y"] + a["height"])
        assert apart >= 16, (upper.inner_text(), lower.inner_text(), apart)
    assert "2 moderators must press" in page.inner_text("#danger-lift")
    assert axe(page, axe_source) == [], "rally page with the danger box"
    # Pressed without the box: the same page, the error beside the box, nothing public.
    page.evaluate("document.querySelector('#danger').noValidate = true")
    with page.expect_navigation():
        page.click("#danger button[type=submit]")
    assert "Tick the box to confirm the warning." in page.inner_text("#danger")
    assert axe(page, axe_source) == [], "rally page with the danger box's error"
    tick(page, "#danger-confirm")  # where it is drawn: its label's 44 px square takes it
    with page.expect_navigation():
        page.click("#danger button[type=submit]")
    assert "Danger is shown" in page.inner_text("main")


def test_a_moderators_change_reads_struck_and_marked(browser, live_server, app, axe_source):  # noqa: ANN001, F811
    with app.app_context():
        rally, _token = lifecycle.submit(
            db.session(write=True),
            {
                "title": "Пікет ля палаца",
                "description": "Ля ўваходу.",
                "town": "Мінск",
                "place": "Кастрычніцкая плошча",
                "region": "BY-HM",
                "lat": 53.9025,
                "lon": 27.5616,
                "starts_at": datetime(datetime.now(UTC).year + 1, 6, 1, 16, 0, tzinfo=UTC),
            },
        )
        lifecycle.edit(
            db.session(write=True),
            rally,
            {"place": "Двор за вакзалам, гаражы"},
            "moderator:carol",
        )
        rally_id = rally.id
    page = phone_page(browser, live_server, "alesia", "/moderate?lang=en")
    item = page.locator(f"#rally-{rally_id}")
    assert "changed by moderator carol" in item.inner_text()
    assert item.locator("del").first.inner_text().endswith("Кастрычніцкая плошча")
    assert item.locator("ins").first.inner_text().endswith("Двор за вакзалам, гаражы")
    assert axe(page, axe_source) == [], "queue with a moderator's change"
