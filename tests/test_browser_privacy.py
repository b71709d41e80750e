"""Secrets and positions that must not leave the page, in Chromium (session 9's review).

- The organizer's manage link: "Send to my Telegram" opens the Telegram app (tg://), so no
  web server (t.me's logs), no tab's history and no Referer gets the link; a phone without
  the app says so instead of a dead button.
- "Near me" on a first visit (no service worker in control yet, or none at all): the tiles
  of the visitor's region stay in no cache, neither the browser's HTTP cache nor the
  worker's; and the requests for them are the same as anyone's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import add_rally, browser_app, make_app, wait_until
from flask import Flask
from test_browser_safe import fill_form, send

from mapapp.web.tiles import GREY_TILE

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


# --- The manage link and Telegram -------------------------------------------------------


@pytest.fixture
def app(request, sqlite_url: str, tmp_path) -> Iterator[Flask]:  # noqa: ANN001
    if "tile_server" in request.fixturenames:  # tiles through the app's proxy
        app = make_app(
            sqlite_url, TILE_URL=request.getfixturevalue("tile_server") + "/{z}/{x}/{y}.png"
        )
        app.instance_path = str(tmp_path)
        add_rally(
            app, title="Акцыя ў Гомелі", town="Гомель", region="BY-HO", lat=52.4345, lon=30.9754
        )
        add_rally(app, title="Акцыя ў Мінску", lat=53.9036, lon=27.5561)
    else:
        app = browser_app(sqlite_url)
        app.test_cli_runner().invoke(args=["init-db"])
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def test_send_to_my_telegram_gives_the_link_to_no_web_server_and_no_history(browser, live_server):
    context = browser.new_context(**PHONE, locale="en-US")
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    elsewhere = []  # every web request to another host than the site
    context.on(
        "request",
        lambda r: (
            elsewhere.append(r.url)
            if r.url.startswith("http") and not r.url.startswith(live_server)
            else None
        ),
    )
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    fill_form(page, live_server)
    send(page)
    send(page)
    link = page.locator("#manage-link").get_attribute("href")
    token = link.split("/manage/")[1].split("?")[0]
    telegram = page.locator("#manage-telegram")
    href = telegram.get_attribute("href")
    # The Telegram app's own scheme: the link goes to the app, not to a web server.
    assert urlsplit(href).scheme == "tg", href
    assert parse_qs(urlsplit(href).query)["url"] == [link]
    assert telegram.get_attribute("target") is None  # no blank tab left behind
    box = telegram.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44, box
    missing = page.locator("#manage-telegram-missing")
    assert not missing.is_visible()
    before = page.evaluate("history.length")
    pages = len(context.pages)
    telegram.tap(no_wait_after=True)
    # No Telegram on this "phone": nothing opens, and after a moment the page says so (the
    # button stays, the copy button is there).
    missing.wait_for(state="visible", timeout=6000)
    assert "copy the link" in missing.inner_text()
    assert page.locator("#manage-copy").is_visible() and telegram.is_visible()
    page.wait_for_timeout(500)
    assert [u for u in elsewhere if token in u] == []
    assert elsewhere == []
    assert len(context.pages) == pages
    assert page.evaluate("history.length") == before
    for tab in context.pages:
        history = context.new_cdp_session(tab).send("Page.getNavigationHistory")
        assert [e["url"] for e in history["entries"] if token in e["url"]] == [], history
    # A page that goes to the background (the app opened) says nothing.
    page.reload()
    missing = page.locator("#manage-telegram-missing")
    page.evaluate(
        """() => { document.getElementById('manage-telegram').click();
                   Object.defineProperty(document, 'hidden', {value: true, configurable: true});
                   document.dispatchEvent(new Event('visibilitychange')); }"""
    )
    page.wait_for_timeout(3500)
    assert not missing.is_visible()
    assert page.errors == []
    context.close()


def test_send_to_my_telegram_leaves_the_link_out_of_the_profiles_history(
    browser, live_server, tmp_path
):
    """What a seized phone's browser keeps: the profile's History database (SQLite)."""
    import sqlite3

    from conftest import CHROMIUM

    profile = tmp_path / "profile"
    context = browser.browser_type.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, args=["--no-sandbox"], **PHONE, locale="en-US"
    )
    # t.me answered (by the test): a web link to it would be a page in the history.
    context.route(
        "https://t.me/**", lambda route: route.fulfill(body="t.me", content_type="text/html")
    )
    page = context.new_page()
    fill_form(page, live_server)
    send(page)
    send(page)
    token = page.locator("#manage-link").get_attribute("href").split("/manage/")[1].split("?")[0]
    page.locator("#manage-telegram").tap(no_wait_after=True)
    page.wait_for_timeout(3000)
    context.close()
    history = sqlite3.connect(profile / "Default" / "History")
    try:
        urls = [url for (url,) in history.execute("SELECT url FROM urls")]
    finally:
        history.close()
    assert [u for u in urls if "/submit/done" in u], urls  # the database is written
    assert [u for u in urls if token in u] == [], urls


def test_the_public_share_in_telegram_carries_the_public_address_only(browser, live_server, app):
    rally = add_rally(app, title="Пікет у Брэсце", town="Брэст", region="BY-BR")
    context = browser.new_context(**PHONE, locale="en-US")
    page = context.new_page()
    page.goto(f"{live_server}/rallies/{rally}?lang=be&lat=52.1&lon=23.7&zoom=9")
    share = page.locator("[data-live-attrs=share-telegram]")
    query = parse_qs(urlsplit(share.get_attribute("href")).query)
    # The rally's public address (in the page's language) and its title: nothing else of the
    # visitor's page address (a view) and no Referer (rel=noreferrer; the site sends none).
    assert query["url"] == [f"{live_server}/rallies/{rally}?lang=be"], query
    assert query["text"] == ["Пікет у Брэсце"]
    assert "noreferrer" in share.get_attribute("rel")
    context.close()


# --- "Near me" on a first visit --------------------------------------------------------


@pytest.fixture
def tile_server() -> Iterator[str]:
    """The tile server behind the app's tile proxy (MAPAPP_TILE_PROXY, as in production)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Cache-Control", "public, max-age=604800")
            self.end_headers()
            self.wfile.write(GREY_TILE)

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


# Whether the browser's HTTP cache holds a URL: `only-if-cached` never goes to the network.
IN_HTTP_CACHE = """async (urls) => {
  const kept = [];
  for (const url of urls) {
    try {
      await fetch(url, {cache: 'only-if-cached', mode: 'same-origin'});
      kept.push(url);
    } catch (e) { /* not in the cache */ }
  }
  return kept;
}"""
TILES_STORED = """async () => (await caches.has('rallymap-tiles'))
  ? (await (await caches.open('rallymap-tiles')).keys()).map(k => k.url) : []"""
MAP = "window[Object.keys(window).find((k) => /^map_\\w+$/.test(k))]"
HELD_WORKER = """(() => {
  if (!navigator.serviceWorker) return;
  const register = navigator.serviceWorker.register.bind(navigator.serviceWorker);
  const released = new Promise((resolve) => { window.releaseWorker = resolve; });
  navigator.serviceWorker.register = (...args) => released.then(() => register(...args));
})()"""


@pytest.mark.parametrize("workers", ["block", "allow"])
def test_near_me_on_a_first_visit_leaves_no_tile_of_the_visitors_region_in_any_cache(
    browser, tile_server, live_server, app, workers
):
    context = browser.new_context(
        **PHONE,
        locale="en-US",
        geolocation={"latitude": 51.9434, "longitude": 30.7986},  # 55 km from Гомель
        permissions=["geolocation"],
        service_workers=workers,
    )
    # The worker registers only once the test says (a slow phone: "near me" tapped first).
    context.add_init_script(HELD_WORKER)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    asked: list[tuple[str, dict]] = []
    page.on("request", lambda r: asked.append((r.url, r.headers)) if "/tiles/" in r.url else None)
    page.goto(f"{live_server}/?lang=en")
    wait_until(page, "performance.getEntriesByName('rallies-loaded').length > 0")
    wait_until(page, "[...document.querySelectorAll('img.leaflet-tile')].every(t => t.complete)")
    first_view = {url for url, _ in asked}
    # The first visit: no worker controls the page yet (or none ever will).
    assert page.evaluate("!(navigator.serviceWorker && navigator.serviceWorker.controller)")
    page.locator(".map-frame").scroll_into_view_if_needed()
    page.get_by_role("button", name="Near me").tap()
    page.locator(".you-are-here").wait_for()
    wait_until(page, "[...document.querySelectorAll('img.leaflet-tile')].every(t => t.complete)")
    assert page.evaluate(f"{MAP}.getZoom()") >= 8
    private = {url for url, _ in asked} - first_view
    assert private, "the view near the visitor asked for its tiles"
    # Asked for as anyone asks for them: same kind of request, nothing added or left out.
    headers = [h for url, h in asked if url in private]
    normal = [h for url, h in asked if url in first_view][0]
    for h in headers:
        assert {k: v for k, v in h.items() if k not in ("referer",)} == {
            k: v for k, v in normal.items() if k not in ("referer",)
        }, (h, normal)
    if workers == "allow":
        # The worker installs and takes the page; the page lists what it loaded for it.
        page.evaluate("window.releaseWorker()")
        wait_until(page, "document.documentElement.dataset.offlineReady === '1'", timeout=30)
        wait_until(page, "navigator.serviceWorker.controller !== null", timeout=15)
        page.wait_for_timeout(2500)  # offline-status.js's second list, 1.5 s later
        # ... and then more of the region, under the worker's control.
        page.evaluate(f"{MAP}.panBy([700, 500], {{animate: false}})")
        wait_until(
            page, "[...document.querySelectorAll('img.leaflet-tile')].every(t => t.complete)"
        )
        # The worker stores the first view's tiles from the page's list as it fetches them:
        # on a loaded machine that takes seconds, so wait for them rather than a fixed time.
        deadline = time.monotonic() + 30
        while not (stored := page.evaluate(TILES_STORED)) and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        page.wait_for_timeout(500)
        private = {url for url, _ in asked} - first_view
        stored = page.evaluate(TILES_STORED)
        assert stored, "the worker keeps the tiles of the first view"
        assert sorted(set(stored) & private) == []
        # The HTTP cache is looked at below by a page no worker answers for.
        page.evaluate(
            "navigator.serviceWorker.getRegistrations()"
            ".then(rs => Promise.all(rs.map(r => r.unregister())))"
        )
    # Another page of the site, the network cut: none of those tiles comes from a cache.
    other = context.new_page()
    other.goto(f"{live_server}/about?lang=en")
    assert other.evaluate("!(navigator.serviceWorker && navigator.serviceWorker.controller)")
    context.set_offline(True)
    kept = other.evaluate(IN_HTTP_CACHE, sorted(private))
    assert kept == [], kept
    # (The check itself works: a static file of the page is there.)
    script = page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name).find(u => /managelink|share|offline-status\\.js/.test(u))"
    )
    assert other.evaluate(IN_HTTP_CACHE, [script]) == [script]
    context.set_offline(False)
    assert page.errors == []
    context.close()


@pytest.fixture
def other_host_app(sqlite_url: str, tile_server: str) -> Iterator[Flask]:
    """Tiles straight from the tile server (MAPAPP_TILE_PROXY=0): another host."""
    app = make_app(
        sqlite_url,
        TILE_PROXY=False,
        TILE_URL=tile_server.replace("127.0.0.1", "localhost") + "/{z}/{x}/{y}.png",
    )
    add_rally(app, title="Акцыя ў Гомелі", town="Гомель", region="BY-HO", lat=52.4345, lon=30.9754)
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def test_near_me_asks_another_tile_host_for_nothing(browser, other_host_app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, other_host_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        context = browser.new_context(
            **PHONE,
            locale="en-US",
            geolocation={"latitude": 51.9434, "longitude": 30.7986},
            permissions=["geolocation"],
        )
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "localhost" in r.url else None)
        page.goto(f"http://127.0.0.1:{server.server_port}/?lang=en")
        wait_until(page, "performance.getEntriesByName('rallies-loaded').length > 0")
        wait_until(
            page, "[...document.querySelectorAll('img.leaflet-tile')].every(t => t.complete)"
        )
        assert asked, "the first view's tiles come from the tile server"
        asked.clear()
        page.locator(".map-frame").scroll_into_view_if_needed()
        page.get_by_role("button", name="Near me").tap()
        page.locator(".you-are-here").wait_for()
        page.evaluate(f"{MAP}.panBy([300, 300], {{animate: false}})")
        page.wait_for_timeout(1000)
        # The tile server would learn the visitor's region, with their address: the app's own
        # basemap is drawn there instead.
        assert asked == []
        assert page.locator(".basemap-names").count() == 1
        assert page.errors == []
        context.close()
    finally:
        server.shutdown()
        thread.join()
