"""The offline web app in Chromium: a phone that loses the network keeps the map, the list and
the popups it saw, says since when, and takes the news when the network is back."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from conftest import add_rally, browser_app, wait_until
from flask import Flask
from playwright.sync_api import Error as PlaywrightError
from test_browser_legend import shot
from test_browser_phone import PHONE

from mapapp.domain import db, lifecycle
from mapapp.domain.models import Rally

pytestmark = [pytest.mark.browser, pytest.mark.service_worker]


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    app = browser_app(sqlite_url)
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def wait_through_reloads(page, expression: str, timeout: float = 30) -> None:  # noqa: ANN001
    """wait_until, for a page that reloads by itself meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if page.evaluate(f"Boolean({expression})"):
                return
        except PlaywrightError:  # the page was reloading
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(100)


def loaded(page) -> None:  # noqa: ANN001
    wait_until(page, "performance.getEntriesByName('rallies-loaded').length > 0")


def open_popup(page, rally_id: int, popup) -> None:  # noqa: ANN001
    """Open a rally's popup (markers are buttons: Enter) and wait for its details.

    The details come through the service worker: on a loaded machine (a full test run on two
    cores) that took more than the 8 s this waited before, which looked like a lost popup; with
    a 15 s wait, 24 runs in a row passed under a load of 15-18 on two cores. Should the page's
    context still go (a navigation), the popup is asked for again."""
    for attempt in range(3):
        try:
            page.locator(f".leaflet-marker-icon[data-id='{rally_id}']").press("Enter")
            popup.wait_for(timeout=20000)
            return
        except Exception:
            if attempt == 2:
                raise
            page.wait_for_load_state()
            loaded(page)


def test_offline_the_map_list_and_a_popup_seen_stay_with_their_time(page, live_server, app):
    hrodna = add_rally(app, title="Пікет у Гродне", town="Гродна", lat=53.6778, lon=23.8297)
    mahilyow = add_rally(app, title="Пікет у Магілёве", town="Магілёў", lat=53.9, lon=30.33)
    page.goto(live_server + "/?lang=en")
    loaded(page)
    wait_until(page, "document.documentElement.dataset.offlineReady === '1'")
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    popup = page.locator(".leaflet-popup-content .rally-popup-title")
    open_popup(page, hrodna, popup)
    assert page.locator("#offline-note").is_hidden()
    # The worker stores the details after it has answered the page (event.waitUntil): on a
    # loaded machine that finished after the test had cut the network. A phone has the time.
    stored = (
        "caches.open('rallymap-data').then(c => c.keys())"
        f".then(keys => keys.some(k => new URL(k.url).pathname === '/api/rallies/{hrodna}'))"
    )
    deadline = time.monotonic() + 20
    while not page.evaluate(stored):
        assert time.monotonic() < deadline, "the popup's details were never stored"
        page.wait_for_timeout(100)

    page.context.set_offline(True)
    page.reload()
    loaded(page)
    note = page.locator("#offline-note")
    note.wait_for()
    assert note.inner_text().startswith("No network: this is what the site showed at ")
    assert "The page reloads when the network is back." in note.inner_text()
    for rally_id in (hrodna, mahilyow):
        assert page.locator(f".leaflet-marker-icon[data-id='{rally_id}']").count() == 1
        wait_until(page, f"document.querySelector(\"#rally-list li[data-id='{rally_id}']\")")
    open_popup(page, hrodna, popup)
    assert popup.inner_text() == "Пікет у Гродне"

    # Meanwhile a danger warning is made; the network comes back: the page reloads with it.
    with app.app_context():
        session = db.session(write=True)
        lifecycle.perform(session, session.get(Rally, mahilyow), "moderator:test", "danger")
    page.context.set_offline(False)  # the page reloads by itself, to the fresh data
    wait_through_reloads(
        page,
        "document.documentElement.dataset.offlineAsOf === undefined"
        " && performance.getEntriesByName('rallies-loaded').length > 0",
    )
    danger = page.locator(f".leaflet-marker-icon[data-id='{mahilyow}']")
    assert danger.get_attribute("aria-label").startswith("Danger")
    assert page.locator("#offline-note").is_hidden()


def test_the_app_is_installable_and_keeps_nothing_private(page, live_server, app):
    page.goto(live_server + "/?lang=en")
    loaded(page)
    wait_until(page, "document.documentElement.dataset.offlineReady === '1'")
    manifest = page.evaluate(
        "fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())"
    )
    assert manifest["name"] == "Rally map of Belarus" and manifest["display"] == "standalone"
    assert {icon["sizes"] for icon in manifest["icons"]} >= {"192x192", "512x512"}
    assert "maskable" in {icon["purpose"] for icon in manifest["icons"]}
    page.goto(live_server + "/submit?lang=en")
    page.goto(live_server + "/moderate?lang=en")
    stored = page.evaluate(
        """caches.keys().then(names => Promise.all(names.map(name =>
             caches.open(name).then(c => c.keys()).then(rs => rs.map(r => r.url))))).then(a => a.flat())"""
    )
    assert any(url.endswith("/?lang=en") for url in stored)
    assert not [url for url in stored if "/submit" in url or "/moderate" in url or "/manage" in url]
    assert not [url for url in stored if not url.startswith(live_server)]
    assert page.errors == []


ORDER_LOG = """(() => {
  window.forgetOrder = [];
  const unregister = ServiceWorkerRegistration.prototype.unregister;
  ServiceWorkerRegistration.prototype.unregister = function () {
    return unregister.call(this).then((done) => { window.forgetOrder.push("unregistered"); return done; });
  };
  const fetch = window.fetch;
  window.fetch = function (url, options) {
    if (String(url).endsWith("/forget")) window.forgetOrder.push("forget asked");
    return fetch.apply(this, arguments);
  };
})();"""


def test_forget_this_site_removes_the_copies_and_the_worker(page, live_server, app):
    add_rally(app)
    page.goto(live_server + "/?lang=en")
    loaded(page)
    wait_until(page, "document.documentElement.dataset.offlineReady === '1'")
    # The order of things: the site's Clear-Site-Data, asked while the worker was still being
    # unregistered, aborted the unregister and "Done" never came (seen behind nginx).
    page.add_init_script(ORDER_LOG)
    page.goto(live_server + "/about?lang=en")
    assert page.evaluate("caches.keys().then(k => k.length)") > 0
    # A cookie of the site's (the session keeps a just-made manage link in one, sealed).
    page.context.add_cookies([{"name": "session", "value": "x", "url": live_server}])
    with page.expect_response(lambda r: r.url.endswith("/forget")) as asked:
        page.get_by_role("button", name="Forget this site on this phone").click()
    # The site's answer empties the browser's HTTP cache too (out of a script's reach).
    assert asked.value.status == 204
    assert asked.value.all_headers()["clear-site-data"] == '"cache", "cookies", "storage"'
    wait_until(page, "document.documentElement.dataset.forgotten === '1'")
    assert page.context.cookies(live_server) == []
    assert page.locator("#forget-status").inner_text().startswith("Done:")
    assert page.evaluate("caches.keys().then(k => k.length)") == 0
    assert page.evaluate("navigator.serviceWorker.getRegistrations().then(r => r.length)") == 0
    assert page.evaluate("window.forgetOrder") == ["unregistered", "forget asked"]
    assert page.errors == []
    # Now the network is cut: nothing of the map is left in this browser.
    page.context.set_offline(True)
    with pytest.raises(Exception, match="ERR_INTERNET_DISCONNECTED"):
        page.goto(live_server + "/?lang=en")


STORED = """caches.keys().then(names => Promise.all(names.map(name =>
  caches.open(name).then(c => c.keys()).then(rs => rs.map(r => r.url))))).then(a => a.flat())"""


def test_a_rally_taken_down_leaves_no_copy_to_show_offline(page, live_server, app):
    """Online, the site answers 404 for a rally taken down: the copies of its page and its
    details are deleted, so the phone cannot show it (its place) once the network is cut."""
    rally_id = add_rally(app, title="Пікет у Гродне", town="Гродна", lat=53.6778, lon=23.8297)
    page.goto(live_server + "/?lang=en")
    loaded(page)
    wait_until(page, "document.documentElement.dataset.offlineReady === '1'")
    page.goto(f"{live_server}/rallies/{rally_id}?lang=en")
    details = f"fetch('/api/rallies/{rally_id}').then(r => r.status)"
    assert page.evaluate(details) == 200
    kept = [u for u in page.evaluate(STORED) if f"/rallies/{rally_id}" in u]
    assert len(kept) >= 2, kept  # the page and its details

    with app.app_context():
        session = db.session(write=True)
        lifecycle.perform(session, session.get(Rally, rally_id), "moderator:test", "reject")
    assert page.goto(f"{live_server}/rallies/{rally_id}?lang=en").status == 404
    assert [u for u in page.evaluate(STORED) if f"/rallies/{rally_id}" in u] == []
    page.context.set_offline(True)
    # Past the browser's HTTP cache (which keeps it for its max-age): no copy in the worker's.
    fresh = f"fetch('/api/rallies/{rally_id}', {{cache: 'no-store'}}).then(r => r.status, e => 0)"
    assert page.evaluate(fresh) == 0
    # The page: the worker's own "not saved" (the browser's error page before), nothing of it.
    assert page.goto(f"{live_server}/rallies/{rally_id}?lang=en").status == 503
    assert page.locator("h1").inner_text() == "This page was not saved"
    assert "Гродне" not in page.content()


NOT_SAVED = {
    "be": "Гэтая старонка не захавана",
    "ru": "Эта страница не сохранена",
    "en": "This page was not saved",
}


def phone_online_once(browser, live_server: str, path: str, locale: str):  # noqa: ANN001, ANN201
    """A phone that opened `path` once with a network, under the worker, then lost it."""
    context = browser.new_context(**PHONE, locale=locale, service_workers="allow")
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(live_server + path)
    loaded(page)
    wait_until(page, "document.documentElement.dataset.offlineReady === '1'", timeout=30)
    wait_until(page, "navigator.serviceWorker.controller !== null", timeout=30)
    # the worker's pages for a page not saved (sw.js FALLBACK), kept at its install
    stored = "caches.open('rallymap-fallback').then(c => c.keys()).then(k => k.length === 3)"
    deadline = time.monotonic() + 30
    while not page.evaluate(stored) and time.monotonic() < deadline - 20:
        page.wait_for_timeout(200)
    kept = "caches.open('rallymap-pages').then(c => c.keys()).then(k => k.length > 0)"
    while not page.evaluate(kept):
        assert time.monotonic() < deadline, "the map page was not kept"
        page.wait_for_timeout(200)
    context.set_offline(True)
    return context, page


@pytest.mark.parametrize(
    ("path", "locale", "lang"),
    [
        ("/?lang=ru", "en-US", "ru"),  # the pages kept say ru: it wins over the browser's en
        ("/?lang=be", "ru-RU", "be"),
        ("/", "en-GB", "en"),  # no lang kept: the browser's language
    ],
)
def test_a_rally_page_never_opened_offline_says_it_was_not_saved(
    browser, live_server, app, path, locale, lang
):
    """Chromium's own error page before (the worker failed the navigation); now ours, in the
    visitor's language, with the way to the map kept and to the offline copy, and nothing of
    any other rally."""
    seen = add_rally(app, title="Пікет у Гродне", town="Гродна", lat=53.6778, lon=23.8297)
    never = add_rally(app, title="Пікет у Магілёве", town="Магілёў", lat=53.9, lon=30.33)
    context, page = phone_online_once(browser, live_server, path, locale)
    context.set_offline(False)
    # a rally page opened once (kept), then the network goes
    page.goto(f"{live_server}/rallies/{seen}" + (f"?lang={lang}" if "lang" in path else ""))
    wait_until(page, "document.documentElement.dataset.offlineReady === '1'", timeout=30)
    page.wait_for_timeout(500)
    context.set_offline(True)
    for target in (f"/rallies/{never}", f"/rallies/{never}?lang={lang}", "/submit"):
        page.goto(live_server + target)
        heading = page.locator("h1").inner_text()
        assert heading == NOT_SAVED[lang], (target, heading)
        assert page.locator("html").get_attribute("lang") == lang
        body = page.locator("main").inner_text()
        assert "Гродне" not in body and "Магілёве" not in body, body
        assert f"rally-map-{lang}.html" in body
        assert page.locator("a[download]").count() >= 1
        shot(page, f"not-saved-{lang}-{target.strip('/').replace('/', '-').split('?')[0]}")
    # its way to the map: the map kept, which opens with no network
    link = page.locator("a[data-saved-map]")
    assert link.bounding_box()["height"] >= 44
    link.tap()
    wait_through_reloads(page, "performance.getEntriesByName('rallies-loaded').length > 0")
    assert page.locator(".leaflet-container").count() == 1
    assert page.locator("h1").inner_text() != NOT_SAVED[lang]
    # the rally page kept is still its own, not the fallback
    page.goto(f"{live_server}/rallies/{seen}" + (f"?lang={lang}" if "lang" in path else ""))
    assert "Гродне" in page.locator("main").inner_text()
    assert page.errors == []
    context.close()
