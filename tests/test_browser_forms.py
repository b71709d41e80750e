"""Forms in Chromium: nothing a person typed is lost on the browser's Back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from conftest import browser_app
from flask import Flask

from mapapp.places.locale import MINSK

pytestmark = pytest.mark.browser


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    app = browser_app(sqlite_url)
    app.test_cli_runner().invoke(args=["init-db"])
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def test_back_from_the_preview_keeps_every_field(page, live_server):
    typed = {
        "#title": "Пікет на Савецкай плошчы ў Гродне",
        "#town": "Гродна",
        "#place": "Савецкая плошча",
        "#date": (datetime.now(MINSK) + timedelta(days=5)).date().isoformat(),
        "#time": "19:00",
        "#description": "Прыходзьце з плакатамі.",
        "#contact": "@arganizatar",
    }
    page.goto(live_server + "/submit?lang=be")
    for selector, value in typed.items():
        page.fill(selector, value)
    with page.expect_navigation():
        page.locator("button[type=submit]").click()
    assert page.locator(".leaflet-marker-icon.leaflet-marker-draggable").count() == 1  # the preview
    page.go_back()
    page.locator("#title").wait_for()
    assert {selector: page.input_value(selector) for selector in typed} == typed
