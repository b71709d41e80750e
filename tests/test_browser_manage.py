"""The manage link in Chromium: opened by a person at once, never by a fetch, and no request
from its pages carries the token in a Referer."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from conftest import add_rally, browser_app, wait_until
from flask import Flask, request

from mapapp.domain import lifecycle

pytestmark = pytest.mark.browser

TOKEN = "secret-manage-token-0123456789abcdef"  # noqa: S105
TITLE = "Пікет ля Чырвонага касцёла"


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    app = browser_app(sqlite_url)
    app.test_cli_runner().invoke(args=["init-db"])
    app.referers = []  # every Referer the server was sent, with what it was sent for

    @app.before_request
    def note_referer() -> None:
        app.referers.append((request.method, request.path, request.headers.get("Referer", "")))

    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


@pytest.fixture
def rally(app: Flask) -> int:
    return add_rally(
        app,
        manage_token_hash=lifecycle.hash_token(TOKEN),
        title=TITLE,
        status="pending",
        town="Мінск",
        place="Плошча Незалежнасці",
    )


def new_page(browser, **options):  # noqa: ANN001, ANN003, ANN201
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US", **options)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


def test_a_person_lands_on_the_manage_page_and_back_leaves_it(browser, live_server, rally):
    page = new_page(browser)
    page.goto(f"{live_server}/about?lang=en")
    page.evaluate(f"location.href = '/manage/{TOKEN}?lang=en'")
    page.wait_for_url(re.compile(f"/manage/{TOKEN}"))
    page.get_by_text("Status:").wait_for()
    assert page.input_value("#title") == TITLE
    assert page.locator("#manage-open").count() == 0
    # the first page took no place in the history: Back leads to the page before the link
    page.go_back()
    page.wait_for_url(re.compile("/about"))
    page.go_forward()
    page.get_by_text("Status:").wait_for()
    assert page.errors == []
    page.context.close()


def test_a_link_opened_from_another_site_opens_too(browser, live_server, rally):
    """As a link tapped in Telegram: a navigation from elsewhere sends no SameSite=Strict
    cookie, and the first page opens the manage page again."""
    page = new_page(browser)
    other = live_server.replace("127.0.0.1", "localhost")  # another site for the browser
    page.goto(f"{other}/about?lang=en")
    page.evaluate(f"location.href = '{live_server}/manage/{TOKEN}?lang=en'")
    page.get_by_text("Status:").wait_for()
    assert page.input_value("#title") == TITLE
    page.context.close()


def test_without_javascript_one_press_opens_it_and_saving_needs_none(browser, live_server, rally):
    page = new_page(browser, java_script_enabled=False)
    page.goto(f"{live_server}/manage/{TOKEN}?lang=en")
    main = page.locator("main").inner_text()
    assert TITLE not in main and "Незалежнасці" not in main
    with page.expect_navigation():
        page.get_by_role("button", name="Open my rally").click()
    assert page.input_value("#title") == TITLE
    page.fill("#title", TITLE + " у нядзелю")
    with page.expect_navigation():
        page.get_by_role("button", name="Save changes").click()
    assert page.input_value("#title") == TITLE + " у нядзелю"
    assert page.get_by_text("Saved.").first.is_visible()
    page.context.close()


def test_no_request_from_a_manage_page_carries_its_token(browser, live_server, app, rally):
    page = new_page(browser)
    seen = []
    page.on("request", lambda sent: seen.append((sent.url, sent.all_headers().get("referer", ""))))
    page.goto(f"{live_server}/manage/{TOKEN}?lang=en")
    page.get_by_text("Status:").wait_for()
    wait_until(page, "document.querySelectorAll('.pin-map .leaflet-tile-loaded').length > 0")
    page.fill("#title", TITLE + " а 19:00")
    with page.expect_navigation():
        page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Status:").wait_for()
    wait_until(page, "document.querySelectorAll('.pin-map .leaflet-tile-loaded').length > 0")
    page.goto(f"{live_server}/about?lang=en")  # a link away from the manage page
    asked = [path for _, path, _ in app.referers]
    assert f"/manage/{TOKEN}/open" in asked and f"/manage/{TOKEN}/edit" in asked
    assert any(path.startswith("/test-tiles/") for path in asked)
    assert any(path.startswith("/static/") for path in asked)
    leaked = [(m, path, ref) for m, path, ref in app.referers if TOKEN in ref]
    assert leaked == []
    assert [(url, ref) for url, ref in seen if TOKEN in ref] == []
    page.context.close()


def test_the_service_worker_keeps_no_manage_page(browser, live_server, rally):
    page = new_page(browser, service_workers="allow")
    page.goto(f"{live_server}/rallies?lang=en")
    wait_until(page, "document.documentElement.dataset.offlineReady === '1'", timeout=30)
    page.goto(f"{live_server}/manage/{TOKEN}?lang=en")
    page.get_by_text("Status:").wait_for()
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    page.reload()
    page.get_by_text("Status:").wait_for()
    stored = page.evaluate(
        """caches.keys().then(names => Promise.all(names.map(name =>
             caches.open(name).then(c => c.keys()).then(rs => rs.map(r => r.url))))).then(a => a.flat())"""
    )
    assert stored and [url for url in stored if "/manage/" in url] == []
    page.context.close()


def test_the_first_page_passes_axe(browser, live_server, rally):
    from test_a11y import AXE, axe

    if not AXE.exists():
        pytest.skip("axe-core is not installed (make install-test runs npm ci in tests/axe)")
    page = new_page(browser)
    page.route("**/manage-open.js*", lambda route: route.abort())  # the page as without scripts
    for lang in ("be", "ru", "en"):
        page.goto(f"{live_server}/manage/{TOKEN}?lang={lang}")
        assert page.locator("#manage-open button").is_visible()
        assert axe(page, AXE.read_text(encoding="utf-8")) == [], lang
    page.context.close()
