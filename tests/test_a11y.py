"""WCAG 2.2 A/AA with axe-core (npm, injected by Playwright) on every page, phone and desktop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
WIDTHS = [(390, 844), (1280, 800)]


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make install-test runs npm ci in tests/axe)")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
def app(seeded_browser_app: Flask) -> Flask:
    return seeded_browser_app


PAGES = [
    "/?lang=be",
    "/?lang=en",
    "/rallies?lang=be",
    "/rallies?when=all&lang=ru",
    "/rallies/1?lang=be",
    "/rallies/2?lang=en",
    "/rallies/1/report?lang=ru",
    "/submit?lang=be",
    "/moderate/login?lang=ru",
    "/verify?lang=be",
    "/no-such-page?lang=en",
    "/embed?lang=be&list=1",
    "/embed/code?lang=ru",
    "/about?lang=be",
    "/offline?lang=ru",  # the service worker's page for a page not saved
]


def axe(page, axe_source: str) -> list[dict]:  # noqa: ANN001
    page.wait_for_load_state("networkidle")
    page.evaluate(axe_source)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]


def violations(browser, url: str, width: int, height: int, axe_source: str) -> list[dict]:  # noqa: ANN001
    # axe is injected through the DevTools protocol; bypass_csp lets it run beside our CSP
    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    page = context.new_page()
    page.goto(url)
    found = axe(page, axe_source)
    context.close()
    return found


@pytest.mark.parametrize(("width", "height"), WIDTHS)
@pytest.mark.parametrize("path", PAGES)
def test_no_axe_violations(browser, live_server, axe_source, path, width, height):
    found = violations(browser, live_server + path, width, height, axe_source)
    assert found == [], json.dumps(found, ensure_ascii=False, indent=1)


def test_submit_errors_have_no_axe_violations(browser, live_server, axe_source):
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    page = context.new_page()
    page.goto(live_server + "/submit?lang=en")
    page.click("button[type=submit]")  # everything empty: every error shown
    page.wait_for_selector(".error-summary")
    page.evaluate(axe_source)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    context.close()
    assert [v["id"] for v in result["violations"]] == []


@pytest.mark.parametrize(("width", "height"), WIDTHS)
def test_preview_manage_and_moderation_pages(browser, live_server, app, axe_source, width, height):
    """The pages behind a form or a login, reached as people reach them."""
    from datetime import date, timedelta

    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    page = context.new_page()
    page.goto(live_server + "/submit?lang=be")
    page.fill("#title", "Пікет салідарнасці ў Гродне")
    page.fill("#town", "Гродна")
    page.fill("#date", (date.today() + timedelta(days=5)).isoformat())
    page.fill("#time", "19:00")
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.locator(".leaflet-marker-draggable").wait_for()
    assert axe(page, axe_source) == [], "preview"
    page.click("button[value=confirm]")
    page.wait_for_url("**/submit/done**")
    assert axe(page, axe_source) == [], "done"
    page.goto(page.locator(".manage-link a").get_attribute("href"))
    assert axe(page, axe_source) == [], "manage"
    import os

    os.environ["MAPAPP_MODERATOR_PASSWORD"] = "a long passphrase"
    try:
        app.test_cli_runner().invoke(args=["create-moderator", "mod"])
    finally:
        del os.environ["MAPAPP_MODERATOR_PASSWORD"]
    page.goto(live_server + "/moderate/login?lang=en")
    page.fill("#name", "mod")
    page.fill("#password", "a long passphrase")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert axe(page, axe_source) == [], "moderation queue"
    # Ticking a rally for the bulk actions: a 44 px target, not the 26 px box alone.
    target = page.evaluate(
        """() => { const box = document.querySelector('.queue-pick');
        const label = box.closest('label') || box; const r = label.getBoundingClientRect();
        return [r.width, r.height]; }"""
    )
    assert min(target) >= 44, target
    page.locator(".queue-pick-area").first.click(position={"x": 2, "y": 2})
    assert page.locator(".queue-pick").first.is_checked()
    page.locator(".queue-pick").first.uncheck()
    with page.expect_navigation():
        page.locator(".rally-title").first.click()
    assert axe(page, axe_source) == [], "moderation of a rally"
    context.close()


def test_no_horizontal_scrolling_on_a_phone(browser, live_server):
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    for path in ["/?lang=be", "/rallies?lang=be", "/rallies/1?lang=be", "/submit?lang=be"]:
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, path
    context.close()


def test_axe_finds_what_is_wrong(browser, axe_source):
    """The check itself works: a page without lang, title, alt text or link names fails it."""
    page = browser.new_page(bypass_csp=True)
    page.set_content("<html><body><img src='x.png'><a href='#'></a></body></html>")
    page.evaluate(axe_source)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    page.close()
    assert {"html-has-lang", "image-alt", "link-name"} <= {v["id"] for v in result["violations"]}
