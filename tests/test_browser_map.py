"""The map as a keyboard user, a person at 400 % zoom, a phone and a moderator meet it, in Chromium."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import add_rally, browser_app, wait_until
from flask import Flask
from werkzeug.serving import make_server

pytestmark = pytest.mark.browser

FMAP = "window[Object.keys(window).find((k) => /^map_\\w+$/.test(k))]"
STAR = (53.9022, 27.5617)  # October Square, the seed's main rally


@pytest.fixture
def app(sqlite_url: str, monkeypatch) -> Iterator[Flask]:
    app = browser_app(sqlite_url)
    app.test_cli_runner().invoke(args=["init-db"])
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def minsk_rallies(app: Flask, count: int = 5) -> list[int]:
    """Rallies a few streets apart in Minsk: one cluster over Belarus, apart at street zoom."""
    return [
        add_rally(app, title=f"Minsk rally {i}", lat=53.93 + i * 0.004, lon=27.45 + i * 0.004)
        for i in range(count)
    ]


def loaded(page, count: int) -> None:
    wait_until(page, f"document.querySelectorAll('#rally-list li').length === {count}")
    wait_until(page, "performance.getEntriesByName('rallies-loaded').length > 0")


def active(page, expression: str):  # noqa: ANN201
    return page.evaluate(f"(() => {{ const e = document.activeElement; return {expression}; }})()")


def focus_in_map_on_a_rally(page) -> None:
    wait_until(
        page,
        "document.activeElement.closest('.leaflet-marker-pane') !== null"
        " && document.activeElement.classList.contains('leaflet-marker-icon')",
    )


def test_enter_and_space_open_a_cluster_and_focus_stays_in_the_map(page, live_server, app):
    minsk_rallies(app)
    page.goto(live_server + "/?lang=en")
    loaded(page, 18)
    start = 8
    for key in ("Enter", " "):
        page.evaluate(f"{FMAP}.setView([53.94, 27.46], {start}, {{animate: false}})")
        cluster = page.locator(
            ".marker-cluster[aria-label='Rallies here: 5. Zoom in to see them.']"
        )
        cluster.wait_for()
        assert (
            cluster.get_attribute("role") == "button" and cluster.get_attribute("tabindex") == "0"
        )
        cluster.focus()
        page.keyboard.press(key)
        wait_until(page, f"{FMAP}.getZoom() > {start}")
        focus_in_map_on_a_rally(page)
        # on one of the cluster's own rallies (or a smaller cluster of them)
        assert re.match(
            "\u2068Minsk\u2069|Rallies here: \\d", active(page, "e.getAttribute('aria-label')")
        )
    # a mouse click zooms too, and leaves focus in the map, not on <body>
    page.evaluate(f"{FMAP}.setView([53.94, 27.46], {start}, {{animate: false}})")
    page.locator(
        ".marker-cluster[aria-label='Rallies here: 5. Zoom in to see them.']"
    ).dispatch_event("click")  # the star may lie over it
    wait_until(page, f"{FMAP}.getZoom() > {start}")
    focus_in_map_on_a_rally(page)
    assert page.errors == []


def test_focus_returns_to_what_opened_the_popup(page, live_server, app):
    ids = minsk_rallies(app)
    page.goto(live_server + "/?lang=en")
    loaded(page, 18)
    button = page.locator("#rally-list li", has_text="Minsk rally 2").get_by_role("button")
    popup = page.locator(".leaflet-popup-content")
    # the list's button, then Escape: back on the button
    button.click()
    popup.wait_for(state="visible")
    assert active(page, "e.classList.contains('rally-popup-link')")
    page.keyboard.press("Escape")
    popup.wait_for(state="detached")
    assert active(page, "e.classList.contains('show-on-map') && e.closest('li').innerText")
    assert "Minsk rally 2" in active(page, "e.closest('li').innerText")
    # the list's button, then the popup's ×: back on the button, not on <body>
    button.click()
    popup.wait_for(state="visible")
    page.locator(".leaflet-popup-close-button").click()
    popup.wait_for(state="detached")
    assert "Minsk rally 2" in active(
        page, "e.classList.contains('show-on-map') && e.closest('li').innerText"
    )
    # a marker opened with the keyboard, closed with ×: back on the marker
    marker = page.locator(f".leaflet-marker-icon[data-id='{ids[2]}']")
    marker.focus()
    page.keyboard.press(" ")
    popup.wait_for(state="visible")
    page.locator(".leaflet-popup-close-button").click()
    popup.wait_for(state="detached")
    assert active(page, "e.dataset.id") == str(ids[2])
    assert page.errors == []


def test_at_400_percent_zoom_the_wheel_reaches_the_list(browser, live_server, app):
    # 1280 x 1024 at 400 %: a 320 x 256 CSS pixel window
    context = browser.new_context(viewport={"width": 320, "height": 256}, locale="en-US")
    page = context.new_page()
    page.goto(live_server + "/?lang=en")
    loaded(page, 13)
    frame = page.locator(".map-frame").bounding_box()
    assert frame["height"] <= 256
    zoom = page.evaluate(f"{FMAP}.getZoom()")
    page.mouse.move(160, 200)
    for _ in range(40):
        page.mouse.wheel(0, 120)
        page.wait_for_timeout(30)
        if page.evaluate("document.getElementById('rally-list').getBoundingClientRect().top < 256"):
            break
    else:
        pytest.fail("the wheel never brought the list into view")
    assert page.evaluate(f"{FMAP}.getZoom()") == zoom  # the wheel scrolled the page, not the map
    context.close()


def test_rallies_under_the_star_are_reachable(page, live_server, app):
    under = add_rally(
        app, title="Under the star", place="Кастрычніцкая плошча", lat=STAR[0], lon=STAR[1]
    )
    page.goto(live_server + f"/?lang=en&lat={STAR[0]}&lon={STAR[1]}&zoom=16")
    loaded(page, 14)
    star = page.locator(".rally-marker-featured")
    hidden = page.locator(f".leaflet-marker-icon[data-id='{under}']")
    # the marker is drawn beside the star, never under it: a pointer reaches it (issue 24)
    box = hidden.bounding_box()
    on_top = page.evaluate(
        f"document.elementFromPoint({box['x'] + box['width'] / 2}, {box['y'] + box['height'] / 2})"
        f".closest('[data-id]').dataset.id === '{under}'"
    )
    assert on_top
    # by pointer: the star's popup lists it
    star.click()
    other = page.locator(".rally-popup-other", has_text="Under the star")
    other.click()
    page.locator(".rally-popup-title", has_text="Under the star").wait_for()
    page.keyboard.press("Escape")
    wait_until(page, "document.querySelectorAll('.leaflet-popup').length === 0")
    # by keyboard: star, Enter, Tab to the listed rally, Enter
    star.focus()
    page.keyboard.press("Enter")
    page.locator(".rally-popup-other").wait_for()
    assert active(page, "e.classList.contains('rally-popup-link')")
    page.keyboard.press("Tab")
    assert active(page, "e.textContent") == "Under the star"
    page.keyboard.press("Enter")
    page.locator(".rally-popup-title", has_text="Under the star").wait_for()
    assert page.errors == []


def test_one_long_word_wraps_on_a_phone(browser, live_server, app):
    long_title = "Д" * 120
    long_place = "#" + "салідарнасць" * 8
    rally_id = add_rally(app, title=long_title, place=long_place, lat=53.6778, lon=23.8297)
    phone = browser.new_context(viewport={"width": 375, "height": 740}, locale="en-US")
    page = phone.new_page()
    wide = "document.documentElement.scrollWidth"
    page.goto(live_server + "/?lang=en")
    loaded(page, 14)
    assert page.evaluate(wide) <= 375
    page.locator("#rally-list").scroll_into_view_if_needed()  # titles come in view
    page.locator("#rally-list li", has_text="ДДДД").get_by_role("button").click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible")
    assert popup.evaluate("(e) => e.scrollWidth <= e.clientWidth")
    assert popup.locator("h2").evaluate("(e) => e.scrollWidth <= e.clientWidth")
    assert page.evaluate(wide) <= 375
    for path in (f"/rallies/{rally_id}?lang=en", "/rallies?lang=en"):
        page.goto(live_server + path)
        assert page.evaluate(wide) <= 375, path
        heading = page.locator("h1") if "/rallies/" in path else page.locator(".rally-title").first
        assert heading.evaluate("(e) => e.scrollWidth <= e.clientWidth"), path
    phone.close()


def test_the_map_never_writes_a_view_the_server_refuses(page, live_server):
    page.goto(live_server + "/?lang=en")
    wait_until(page, "performance.getEntriesByName('rallies-loaded').length > 0")
    # dragged far east, then far north-west
    for target in ("[53.9, 45.0]", "[70.0, 5.0]"):
        page.evaluate(f"{FMAP}.setView({target}, 8, {{animate: false}})")
        wait_until(page, "new URLSearchParams(location.search).get('zoom') === '8'")
        query = parse_qs(urlsplit(page.url).query)
        assert 21 <= float(query["lon"][0]) <= 35 and 49 <= float(query["lat"][0]) <= 59, query
        assert page.goto(page.url).status == 200
        # the reloaded map is drawn (its own view set from the address) before it is moved,
        # and Leaflet's own pan back inside the allowed area is over (stopped, it would end
        # by panning back over the move below)
        wait_until(page, "performance.getEntriesByName('rallies-loaded').length > 0")
        wait_until(page, f"!({FMAP}._panAnim && {FMAP}._panAnim._inProgress)")
        page.evaluate(f"{FMAP}.setView([53.9, 27.5], 7, {{animate: false}})")
        wait_until(page, "new URLSearchParams(location.search).get('zoom') === '7'")


def test_moderators_map_loads(browser, live_server, app, monkeypatch):
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", "a long passphrase")
    app.test_cli_runner().invoke(args=["create-moderator", "mod"])
    add_rally(app, title="Waiting rally", status="pending", lat=52.4345, lon=30.9754, town="Гомель")
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(live_server + "/moderate/login?lang=en")
    page.fill("#name", "mod")
    page.fill("#password", "a long passphrase")
    with page.expect_navigation():
        page.click("button[type=submit]")
    wait_until(page, "document.getElementById('map-status').textContent !== ''")
    assert page.locator("#map-status").inner_text() == "Rallies on the map: 1"
    assert page.locator(".leaflet-marker-icon[aria-label^='Waiting rally']").count() == 1
    feeds = [url for url in requested if "pending.geojson" in url]
    assert feeds and all(url.count("lang=") == 1 for url in feeds), feeds
    context.close()


def test_the_stars_popup_names_a_few_and_zooms_in_to_the_rest(page, live_server, app):
    # 40 rallies at the star's own place: the list names 30, then zooms in. Rallies drawn
    # near it on the screen but elsewhere (Barysaw, 70 km) are not "at this place" (issue 24).
    for i in range(40):
        add_rally(app, title=f"Near the star {i}", lat=STAR[0] + i * 0.00002, lon=STAR[1])
    add_rally(app, title="Far from the star", lat=54.2279, lon=28.5050)
    page.goto(live_server + f"/?lang=en&lat={STAR[0]}&lon={STAR[1]}&zoom=8")
    wait_until(page, "performance.getEntriesByName('rallies-loaded').length > 0")
    zoom = page.evaluate(f"{FMAP}.getZoom()")
    page.locator(".rally-marker-featured").click()
    page.locator(".rally-popup-zoom").wait_for()
    buttons = page.locator(".rally-popup-other")
    assert buttons.count() == 31  # 30 named, and the way to the rest
    assert page.locator(".rally-popup-other", has_text="Far from the star").count() == 0
    closer = page.locator(".rally-popup-zoom")
    assert re.fullmatch(r"\d+ more: zoom in to see them", closer.inner_text())
    closer.click()
    wait_until(page, f"{FMAP}.getZoom() > {zoom}")
    wait_until(page, "document.querySelectorAll('.leaflet-popup').length === 0")
    assert active(page, "e.classList.contains('rally-marker-featured')")
    assert page.errors == []


@pytest.fixture
def phone(browser, sqlite_url: str, request) -> Iterator[tuple[str, object]]:  # noqa: ANN001
    """A phone (390x844) and the app's address: three Minsk rallies, re-checked every second
    (or as often as the test's `refresh` mark says)."""
    mark = request.node.get_closest_marker("refresh")
    app = browser_app(sqlite_url, REFRESH_SECONDS=mark.args[0] if mark else 1)
    app.test_cli_runner().invoke(args=["init-db"])
    minsk_rallies(app, 3)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        yield f"http://127.0.0.1:{server.server_port}", context.new_page()
    finally:
        context.close()
        server.shutdown()
        app.extensions["mapapp.db"]["engine"].dispose()


def hold_rallymap(page) -> list:  # noqa: ANN001
    """The map's script (its modules joined, map/<hash>/map.js) held back: the list gets its
    request (a Route) to let it go on."""
    held = []
    page.route("**/static/map/*/map.js", lambda route: held.append(route))
    return held


def poll(page, condition, seconds: float = 10) -> None:  # noqa: ANN001
    """Wait, in the page's time, until `condition()` (a Python check) holds or time runs out."""
    for _ in range(int(seconds * 10)):
        if condition():
            return
        page.wait_for_timeout(100)


@pytest.mark.parametrize(
    "path",
    ["/?lang=en&region=BY-HM", "/embed?lang=ru&city=%D0%9C%D1%96%D0%BD%D1%81%D0%BA&list=1"],
)
def test_the_page_asks_for_its_feed_before_the_maps_scripts_have_come(phone, path: str):
    """On a phone's slow link the rallies come while Leaflet and the map's scripts load: the
    page's head asks for the feed. Held here: the map's script, which asked for it before. One
    request at load, then the map's re-checks of the same URL (304s)."""
    base, page = phone
    feeds: list[tuple[str, str | None]] = []
    page.on(
        "request",
        lambda r: (
            feeds.append((r.url, r.headers.get("if-none-match")))
            if "/api/rallies.geojson" in r.url
            else None
        ),
    )
    held = hold_rallymap(page)
    page.goto(base + path, wait_until="commit")
    poll(page, lambda: feeds and held)
    assert held and feeds, (held, feeds)  # asked for while the map's script has not come
    held[0].continue_()
    wait_until(page, "document.querySelectorAll('#rally-list li').length > 0")
    url, etag = feeds[0]
    assert "fields=map" in url and etag is None
    assert ("region=BY-HM" in url) if "region" in path else ("city=" in url)
    assert f"lang={'en' if 'lang=en' in path else 'ru'}" in url
    poll(page, lambda: len(feeds) > 1, 5)  # the first re-check, a second later
    assert [u for u, _ in feeds] == [url] * len(feeds) and len(feeds) > 1
    assert all(tag for _, tag in feeds[1:])  # with the first answer's ETag


@pytest.mark.parametrize("failure", ["503", "offline"])
def test_a_map_whose_feed_fails_at_load_says_so_and_recovers(phone, failure: str):
    """The head's request for the feed gets a 503 (the app restarting behind nginx), or no
    answer at all (the phone offline for a moment): the map says it could not load the
    rallies, with no uncaught error, and draws them at its next check once they come."""
    base, page = phone
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    down = [True]

    def feed(route) -> None:  # noqa: ANN001
        if down[0] and failure == "offline":
            route.abort("internetdisconnected")
        elif down[0]:
            route.fulfill(status=503, body="down", headers={"Retry-After": "1"})
        else:
            route.continue_()

    page.route("**/api/rallies.geojson*", feed)
    # Offline, the head's request fails at once, before the map's script has come to take it.
    held = []
    if failure == "offline":
        held = hold_rallymap(page)
        page.on("console", lambda m: errors.append(m.text) if "Uncaught" in m.text else None)
    # With the map's script held, the page never finishes loading: wait only for its start.
    start = "commit" if failure == "offline" else "load"
    page.goto(base + "/?lang=en", wait_until=start)
    poll(page, lambda: held or failure != "offline")
    if held:
        page.wait_for_timeout(500)  # the failure is in before the script
        held[0].continue_()
    wait_until(page, "/could not load/.test(document.getElementById('map-status').textContent)")
    down[0] = False
    wait_until(page, "/on the map: \\d/.test(document.getElementById('map-status').textContent)")
    wait_until(page, "document.querySelectorAll('#rally-list li').length > 0")  # a frame later
    assert errors == []


@pytest.mark.refresh(60)
@pytest.mark.parametrize("failure", ["429", "503", "offline"])
def test_a_feed_refused_at_load_is_asked_again_soon_not_at_the_next_check(phone, failure: str):
    """The first answer of the feed is a 429 or 503 with Retry-After: 1 (a burst of new filters,
    a worker busy building, a restart), or no answer: the map asks again within seconds (the
    answer's Retry-After, else 1, 2, 4 s), not at its next re-check a minute later, which left
    it blank that long."""
    base, page = phone
    refused = []

    def feed(route) -> None:  # noqa: ANN001
        if not refused:
            refused.append(route.request.url)
            if failure == "offline":
                route.abort("internetdisconnected")
            else:
                route.fulfill(status=int(failure), body="later", headers={"Retry-After": "1"})
        else:
            route.continue_()

    page.route("**/api/rallies.geojson*", feed)
    page.goto(base + "/?lang=en")
    wait_until(page, "document.querySelectorAll('#rally-list li').length > 0", timeout=8)
    assert refused


@pytest.mark.refresh(60)
def test_a_first_feed_that_never_answers_is_asked_again(phone):
    """The head's request for the feed is never answered (a connection lost without a reset,
    a proxy holding it): the map gives it up after feed.js FIRST_ANSWER_SECONDS and asks
    again, instead of waiting on it for good (issue 27: once, no markers for 60 s)."""
    base, page = phone
    held = []

    def feed(route) -> None:  # noqa: ANN001
        if not held:
            held.append(route)  # never answered
        else:
            route.continue_()

    page.route("**/api/rallies.geojson*", feed)
    page.goto(base + "/?lang=en", wait_until="commit")
    wait_until(page, "document.querySelectorAll('#rally-list li').length > 0", timeout=40)
    assert len(held) == 1
