"""A pin a moderator moved, on a touch phone in Chromium (review 24c): the rally's moderation
page says how far it went and its small map shows both pins, the organizer's grey and dashed,
the new one ringed, both inside the map; the organizer's manage page too, beside the pin they
drag; axe finds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from conftest import browser_app
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
    assert app.test_cli_runner().invoke(args=["create-moderator", "alesia"]).exit_code == 0
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def inside(inner: dict, outer: dict) -> bool:
    return (
        inner["x"] >= outer["x"]
        and inner["y"] >= outer["y"]
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"]
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"]
    )


def test_the_moderation_map_shows_the_pin_where_it_was_and_where_it_is(
    browser,
    live_server,
    app,
    axe_source,  # noqa: ANN001, F811
) -> None:
    with app.app_context():
        session = db.session(write=True)
        rally, token = lifecycle.submit(
            session,
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
        # The pin alone, 0.01° north: the place's text says the same square.
        lifecycle.edit(session, rally, {"lat": 53.9125}, "moderator:carol")
        session.commit()
        rally_id = rally.id
    context = browser.new_context(locale="en-US", viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.goto(live_server + f"/moderate/login?lang=en&next=/moderate/rallies/{rally_id}?lang=en")
    page.fill("#name", "alesia")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    moved = page.locator(".pin-moved")
    assert moved.inner_text().replace("\u00a0", " ") == "pin moved 1.1 km"
    assert "grey dashed circle" in page.inner_text("#pin-was-hint")
    was = page.locator(".moderate-pin path.pin-was")
    now = page.locator(".moderate-pin .rally-marker.pin-now")
    line = page.locator(".moderate-pin path.pin-move")
    was.wait_for(state="attached")
    assert was.count() == 1 and now.count() == 1 and line.count() == 1
    frame = page.locator(".moderate-pin .leaflet-container").bounding_box()
    was_box, now_box = was.bounding_box(), now.bounding_box()
    assert inside(was_box, frame) and inside(now_box, frame), (was_box, now_box, frame)
    # North is up: the new pin above the organizer's, about 1.1 km apart on the screen too.
    assert now_box["y"] + now_box["height"] / 2 < was_box["y"] + was_box["height"] / 2 - 40
    # The organizer's is grey and dashed, not the rally's colour.
    assert was.get_attribute("stroke-dasharray") == "4 4"
    assert was.get_attribute("stroke") == "#555"
    assert axe(page, axe_source) == [], "moderation page with a moved pin"
    context.close()
    # The organizer's manage page: their pin to drag is where it is now, theirs grey beside it.
    context = browser.new_context(locale="en-US", viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.goto(live_server + "/about?lang=en")
    page.evaluate(f"location.href = '/manage/{token}?lang=en'")
    page.get_by_text("Status:").wait_for()
    assert page.locator(".pin-moved").inner_text().replace("\u00a0", " ") == "pin moved 1.1 km"
    assert "where you put the pin" in page.inner_text("#pin-was-hint")
    was = page.locator(".pin-map path.pin-was")
    was.wait_for(state="attached")
    pin = page.locator(".pin-map .rally-marker-pin")
    assert was.count() == 1 and pin.count() == 1
    assert page.locator(".pin-map path.pin-move").count() == 1
    frame = page.locator(".pin-map .leaflet-container").bounding_box()
    was_box, pin_box = was.bounding_box(), pin.bounding_box()
    assert inside(was_box, frame) and inside(pin_box, frame), (was_box, pin_box, frame)
    assert pin_box["y"] + pin_box["height"] < was_box["y"] + was_box["height"] / 2 - 20
    assert axe(page, axe_source) == [], "manage page with a moved pin"
    context.close()
