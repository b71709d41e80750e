"""Only a keyboard: reach a rally marker with Tab, open its popup with Enter, close it with Escape."""

from __future__ import annotations

import pytest
from flask import Flask

pytestmark = pytest.mark.browser


@pytest.fixture
def app(seeded_browser_app: Flask) -> Flask:
    return seeded_browser_app


def test_tab_to_a_marker_and_back(page, live_server):
    page.goto(live_server + "/?lang=en")
    page.locator(".rally-marker-featured").wait_for()
    # the skip link comes first
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('rally-marker-featured')"):
            break
    else:
        pytest.fail("Tab never reached the main rally's marker")
    name = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert name.startswith("Main rally: \u2068Minsk\u2069")  # the compact feed: town and day
    page.keyboard.press("Enter")
    page.locator(".leaflet-popup-content").wait_for(state="visible")
    assert page.evaluate("document.activeElement.classList.contains('rally-popup-link')")
    page.keyboard.press("Escape")
    page.locator(".leaflet-popup").wait_for(state="detached")
    assert page.evaluate("document.activeElement.classList.contains('rally-marker-featured')")
    # focus is visible
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"


def test_skip_link_moves_to_the_content(page, live_server):
    page.goto(live_server + "/rallies?lang=en")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
