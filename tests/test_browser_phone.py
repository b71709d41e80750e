"""Issue 24's review on a 390x844 touch phone in Chromium: "near me" fits the visitor and the
nearest rally clear of the controls and the urgent banner, at a region's zoom whose tiles are
not kept; a cluster of rallies at one point lists them instead of zooming to a blank street;
every interactive element on every map page is a 44 x 44 px target."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from conftest import add_rally, browser_app, wait_until
from flask import Flask
from test_a11y import AXE, TAGS
from test_browser_legend import MAP, loaded, shot

from mapapp.places.locale import MINSK

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
NEAR_ME = {"be": "Побач са мной", "ru": "Рядом со мной", "en": "Near me"}


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    app = browser_app(sqlite_url)
    add_rally(app, title="Акцыя ў Гомелі", town="Гомель", region="BY-HO", lat=52.4345, lon=30.9754)
    add_rally(app, title="Акцыя ў Мінску", lat=53.9036, lon=27.5561)
    # A danger warning: the urgent banner over the map's foot.
    add_rally(
        app,
        title="Небяспечна",
        town="Віцебск",
        region="BY-VI",
        lat=55.19,
        lon=30.2,
        status="danger",
    )
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def touch_page(browser, **options):  # noqa: ANN001, ANN003, ANN201
    context = browser.new_context(**PHONE, **options)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


def overlaps(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def inside(a: dict, frame: dict) -> bool:
    return (
        a["x"] >= frame["x"]
        and a["y"] >= frame["y"]
        and a["x"] + a["width"] <= frame["x"] + frame["width"]
        and a["y"] + a["height"] <= frame["y"] + frame["height"]
    )


def wait_for_value(page, expression: str, timeout: float = 30) -> None:  # noqa: ANN001
    """wait_until for an expression that gives a promise (wait_until's Boolean() would not
    wait for it)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            pytest.fail(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(100)


TILES_STORED = """caches.open('rallymap-tiles').then(c => c.keys())
  .then(keys => keys.map(k => new URL(k.url).pathname))"""


@pytest.mark.parametrize(
    ("lang", "lat", "lon", "rally", "town"),
    [
        ("be", 51.9434, 30.7986, 1, "Гомель"),  # the review's place: Гомель 56 km away
        ("ru", 53.9100, 27.5700, 2, "Мінск"),  # 1 km from a rally: the zoom is capped
    ],
)
def test_near_me_fits_clear_of_the_controls_at_a_region_zoom_and_keeps_no_tile(
    browser, live_server, app, lang, lat, lon, rally, town
):
    page = touch_page(
        browser,
        locale={"be": "be-BY", "ru": "ru-RU"}[lang],
        geolocation={"latitude": lat, "longitude": lon},
        permissions=["geolocation"],
        service_workers="allow",
    )
    tiles = []
    page.on("response", lambda r: tiles.append(r) if "/test-tiles/" in r.url else None)
    loaded(page, f"{live_server}/?lang={lang}")
    wait_until(page, "document.documentElement.dataset.offlineReady === '1'", timeout=30)
    page.reload()  # now under the worker, which stores the first view's tiles
    wait_until(page, "performance.getEntriesByName('rallies-loaded').length > 0", timeout=30)
    wait_for_value(page, f"{TILES_STORED}.then(paths => paths.length > 0)")
    page.locator(".map-frame").scroll_into_view_if_needed()
    tiles.clear()
    page.get_by_role("button", name=NEAR_ME[lang]).tap()
    page.locator(".you-are-here").wait_for()
    wait_until(page, "!document.querySelector('.near-me-message').hidden")
    assert town in page.locator(".near-me-message").inner_text()
    zoom = page.evaluate(f"{MAP}.getZoom()")
    assert zoom <= 9, zoom  # tiles of ~48 km: a region, not a street
    # The visitor, "you are here" and the nearest rally: inside the map, under no control,
    # message or banner.
    frame = page.locator(".leaflet-container").bounding_box()
    covers = [c.bounding_box() for c in page.locator(".leaflet-control").all()]
    covers.append(page.locator("#urgent").bounding_box())
    assert covers[-1]["height"] > 0  # the banner is there
    nearest = page.locator(f".leaflet-marker-icon[data-id='{rally}']")
    targets = {
        "you": page.locator(".you-are-here").bounding_box(),
        "label": page.locator(".you-are-here-label").bounding_box(),
        "rally": nearest.bounding_box(),
    }
    shot(page, f"near-me-{lang}")
    for name, box in targets.items():
        assert inside(box, frame), (name, box, frame)
        for cover in covers:
            assert not overlaps(box, cover), (name, box, cover)
    # The view's tiles are asked for (and shown) by the same URLs as anyone's; none is kept by
    # the worker.
    wait_until(page, "[...document.querySelectorAll('img.leaflet-tile')].every(t => t.complete)")
    assert tiles and not [r.url for r in tiles if "?" in r.url]
    asked = {r.url.split("/test-tiles")[1] for r in tiles}
    # Once the page has listed what it loaded for the worker to store (offline-status.js, 1.5 s
    # after loading), a tile another page asks for is stored: the private ones would be by then.
    wait_until(page, "performance.now() > 3000")
    other = page.context.new_page()
    other.goto(f"{live_server}/about")
    other.evaluate("fetch('/test-tiles/5/18/10.png').then(r => r.blob())")
    wait_for_value(page, f"{TILES_STORED}.then(p => p.some(x => x.endsWith('/5/18/10.png')))")
    stored = page.evaluate(TILES_STORED)
    assert not [p for p in stored if p.split("/test-tiles")[1] in asked]
    assert not [p for p in stored if int(p.split("/")[-3]) >= 9]
    assert page.errors == []
    page.context.close()


@pytest.fixture
def at_one_point(app: Flask) -> list[int]:
    # Hidden-place rallies are drawn at their town's centre: three at one point in Мазыр.
    return [
        add_rally(app, title=f"Акцыя {n} у Мазыры", town="Мазыр", region="BY-HO", lat=52.05,
                  lon=29.25)
        for n in (1, 2, 3)
    ]  # fmt: skip


@pytest.mark.parametrize("lang", ["be", "ru", "en"])
def test_a_cluster_at_one_point_lists_its_rallies(browser, live_server, app, at_one_point, lang):
    page = touch_page(browser, locale="en-US")
    loaded(page, f"{live_server}/?lang={lang}")
    page.locator(".map-frame").scroll_into_view_if_needed()
    before = page.evaluate(f"{MAP}.getZoom()")
    cluster = page.locator(".marker-cluster", has_text="3")
    heading = {"be": "Акцый тут: 3", "ru": "Акций здесь: 3", "en": "Rallies here: 3"}[lang]
    # Named for what a tap does (a list), not "zoom in to see them".
    assert cluster.get_attribute("aria-label") == heading
    # Tapped outside the 40 px it is drawn, in its 44 px square: the square takes the tap.
    cluster.tap(position={"x": -1, "y": 41})
    popup = page.locator(".leaflet-popup .rally-cluster-list")
    popup.wait_for()
    assert page.evaluate(f"{MAP}.getZoom()") == before  # no zoom to a blank street
    # Whole, clear of the controls and above the urgent banner, once the popup's pan is over.
    wait_until(page, f"!({MAP}._panAnim && {MAP}._panAnim._inProgress)")
    box = page.locator(".leaflet-popup").bounding_box()
    assert inside(box, page.locator(".leaflet-container").bounding_box())
    for control in page.locator(".leaflet-top .leaflet-control").all():
        assert not overlaps(box, control.bounding_box()), (box, control.bounding_box())
    assert box["y"] + box["height"] <= page.locator("#urgent").bounding_box()["y"]
    assert popup.locator("h2").inner_text() == heading
    buttons = popup.locator("button")
    assert buttons.count() == 3
    wait_until(
        page,
        "[...document.querySelectorAll('.rally-cluster-list button')]"
        ".every(b => /Мазыры/.test(b.textContent))",
    )
    for button in buttons.all():
        box = button.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44, box
    # A screen reader hears a list named by the heading; focus is on its first rally.
    assert popup.locator("ul").get_attribute("aria-labelledby") == popup.locator(
        "h2"
    ).get_attribute("id")
    assert page.evaluate("document.activeElement.closest('.rally-cluster-list') !== null")
    shot(page, f"cluster-list-{lang}")
    with open(AXE, encoding="utf-8") as source:
        page.evaluate(source.read())
    result = page.evaluate(
        "tags => axe.run('.leaflet-popup', {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    assert [(v["id"], [n["target"] for n in v["nodes"]][:4]) for v in result["violations"]] == []
    buttons.nth(1).tap()
    title = page.locator(".leaflet-popup .rally-popup-title", has_text="Акцыя 2 у Мазыры")
    title.wait_for()
    # Its popup opens where the cluster is (a rally's popup may snap the first view's
    # fractional zoom to a whole level: 5.75 to 6), not at a street's zoom.
    assert page.evaluate(f"{MAP}.getZoom()") < before + 1
    # Escape closes it; focus goes back to the cluster.
    page.keyboard.press("Escape")
    wait_until(page, "!document.querySelector('.leaflet-popup')")
    assert page.evaluate("document.activeElement.classList.contains('marker-cluster')")
    # The keyboard: Enter on the cluster opens the list too.
    page.keyboard.press("Enter")
    popup.wait_for()
    assert page.evaluate("document.activeElement.classList.contains('rally-popup-other')")
    assert page.errors == []
    page.context.close()


def test_show_on_the_map_of_a_rally_at_a_shared_point_stays_at_a_street_zoom(
    browser, live_server, app, at_one_point
):
    page = touch_page(browser)
    loaded(page, f"{live_server}/?lang=en")
    item = page.locator(f".rally-item[data-id='{at_one_point[1]}']")
    item.locator("button.show-on-map").tap()
    page.locator(".leaflet-popup .rally-popup-title", has_text="Акцыя 2 у Мазыры").wait_for()
    assert page.evaluate(f"{MAP}.getZoom()") <= 15
    popup = page.locator(".leaflet-popup").bounding_box()
    frame = page.locator(".leaflet-container").bounding_box()
    assert inside(popup, frame), (popup, frame)
    shot(page, "show-on-map-shared-point")
    assert page.errors == []
    page.context.close()


def test_a_cluster_that_parts_at_a_street_zoom_still_zooms_in(browser, live_server, app):
    for n, lon in enumerate((29.20, 29.25)):  # 3.4 km apart: parted by zooming in
        add_rally(app, title=f"Акцыя {n}", town="Мазыр", region="BY-HO", lat=52.05, lon=lon)
    page = touch_page(browser)
    loaded(page, f"{live_server}/?lang=en&lat=52.05&lon=29.2&zoom=7")
    before = page.evaluate(f"{MAP}.getZoom()")
    page.locator(".marker-cluster", has_text="2").tap()
    wait_until(page, f"{MAP}.getZoom() > {before}")
    assert page.locator(".rally-cluster-list").count() == 0
    page.context.close()


# Every interactive element, and its hit area: a marker's or the pin's invisible square
# (::before), a checkbox's label. Links inside a sentence are exempt (WCAG 2.5.8's inline
# exception): a link whose neighbouring text joins it to words (a letter or a comma before
# it, or a lower-case word or a full stop after it). A line of links («Назад да мапы · JSON»,
# «Спампаваць: .ics · .csv · Atom», a footer's) is no sentence: every other target is at least
# 44 x 44 px.
SMALL_TARGETS = """() => {
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary, ' +
    '[tabindex]:not([tabindex="-1"]), .leaflet-marker-icon, .leaflet-interactive';
  const blockOf = (el) => {
    let b = el.parentElement;
    while (b && /^inline/.test(getComputedStyle(b).display)) b = b.parentElement;
    return b;
  };
  const inSentence = (el) => {
    const block = blockOf(el);
    if (!block || el.closest('nav, .topbar, .leaflet-control')) return false;
    const before = document.createRange(), after = document.createRange();
    before.setStart(block, 0); before.setEndBefore(el);
    after.setStartAfter(el); after.setEnd(block, block.childNodes.length);
    const b = before.toString().trimEnd(), a = after.toString().trimStart();
    return /[\\p{L}\\p{N},«„“(]$/u.test(b) || /^[\\p{Ll},.;:)»”]/u.test(a);
  };
  const small = [];
  for (const el of document.querySelectorAll(selector)) {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!r.width || !r.height || style.visibility === 'hidden') continue;
    if (r.right <= 0) continue;  // off the page to its left: the forms' trap for robots
    if (el.matches('a') && style.display === 'inline' && inSentence(el)) continue;
    let w = r.width, h = r.height;
    const before = getComputedStyle(el, '::before');
    if (before.content !== 'none' && before.position === 'absolute') {
      w = Math.max(w, parseFloat(before.width)); h = Math.max(h, parseFloat(before.height));
    }
    for (const label of el.labels || []) {
      const l = label.getBoundingClientRect();
      if (l.width >= 44 && l.height >= 44) { w = Math.max(w, l.width); h = Math.max(h, l.height); }
    }
    if (w < 43.5 || h < 43.5) {
      small.push([el.tagName, el.className, el.id || el.getAttribute('type') || '', (el.textContent || el.title || '').trim().slice(0, 30),
                  Math.round(w), Math.round(h)]);
    }
  }
  return small;
}"""

# A target drawn smaller than 44 px (a radio button, a tick box, a marker, a cluster, the
# main rally's star, the pin) takes a tap anywhere in the 44 px square around its centre:
# the point at each corner and side of that square (1 px inside) is the element, a part of
# it, or its label (a tap there ticks the box or opens the marker). Measuring its ::before or
# its label's size is not enough: a label beside a box, or a square under another element,
# leaves the box 19-24 px to a thumb.
MISSED_SQUARES = """(selector) => {
  const missed = [];
  for (const el of document.querySelectorAll(selector)) {
    const r0 = el.getBoundingClientRect();
    if (!r0.width || !r0.height || getComputedStyle(el).visibility === 'hidden' || r0.right <= 0) continue;
    if (r0.width >= 44 && r0.height >= 44) continue;
    // A mark is brought into view with its map (scrolling into it would move the map's pane).
    const map = el.closest('.leaflet-container');
    (map || el).scrollIntoView({block: 'center', inline: 'center'});
    const r = el.getBoundingClientRect();
    const cx = r.x + r.width / 2, cy = r.y + r.height / 2;
    if (map) {  // a mark whose square is partly off its map, under a control or the banner yields
      const square = {left: cx - 22, right: cx + 22, top: cy - 22, bottom: cy + 22};
      const apart = (a, b) => a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top;
      const frame = map.getBoundingClientRect();
      if (square.left < frame.left || square.right > frame.right || square.top < frame.top || square.bottom > frame.bottom) continue;
      if ([...document.querySelectorAll('.leaflet-control, .urgent-over-map')].some(c => !apart(square, c.getBoundingClientRect()))) continue;
    }
    const labels = [...(el.labels || [])];
    for (const [dx, dy] of [[-21, -21], [0, -21], [21, -21], [-21, 0], [21, 0], [-21, 21], [0, 21], [21, 21]]) {
      const at = document.elementFromPoint(cx + dx, cy + dy);
      if (at && (at === el || el.contains(at) || labels.some(l => l === at || l.contains(at)))) continue;
      missed.push([el.tagName, el.className, el.id || el.getAttribute('type') || '', dx, dy,
                   at ? at.tagName + '.' + at.className : null]);
      break;
    }
  }
  return missed;
}"""
SMALL_CONTROLS = "input[type=radio], input[type=checkbox], .leaflet-marker-icon.leaflet-interactive"


def preview(page, live_server: str) -> None:  # noqa: ANN001
    page.goto(live_server + "/submit?lang=be")
    typed = {
        "#title": "Пікет на Савецкай плошчы ў Гродне",
        "#town": "Гродна",
        "#place": "Савецкая плошча",
        "#date": (datetime.now(MINSK) + timedelta(days=5)).date().isoformat(),
        "#time": "19:00",
    }
    for selector, value in typed.items():
        page.fill(selector, value)
    with page.expect_navigation():
        page.locator("button[type=submit]").click()
    page.locator(".leaflet-marker-icon.rally-marker-pin").wait_for()


# Pages with a map, and those without (the list, the forms, the embed code page).
MAP_PAGES = ["/", "/embed", "/rallies/1", "preview", "manage"]
OTHER_PAGES = ["/rallies", "/submit", "/rallies/1/report", "/embed/code"]


@pytest.mark.parametrize("where", MAP_PAGES + OTHER_PAGES)
def test_every_target_on_a_page_is_44_px(browser, live_server, app, where):
    add_rally(app, title="Галоўная акцыя", featured=True, lat=53.9022, lon=27.5617)
    for n in (1, 2, 3):  # a cluster, at the country's zoom
        add_rally(app, title=f"Акцыя {n} у Мазыры", town="Мазыр", region="BY-HO",
                  lat=52.05 + n / 100, lon=29.25)  # fmt: skip
    page = touch_page(browser)
    if where == "preview":
        preview(page, live_server)
    elif where == "manage":
        preview(page, live_server)
        with page.expect_navigation():
            page.locator("button[type=submit]").first.tap()  # "Send to moderators"
        page.goto(page.locator("#manage-link").get_attribute("href"))
        page.locator(".leaflet-marker-icon.rally-marker-pin").wait_for()
    else:
        page.goto(f"{live_server}{where}?lang=be")
        if where in ("/", "/embed"):
            wait_until(page, "performance.getEntriesByName('rallies-loaded').length > 0")
    if where in MAP_PAGES:
        page.locator(".leaflet-control-attribution a").first.wait_for()
    if where in ("/", "/embed"):  # the rallies' marks, the main rally's star, a cluster
        for look in (".rally-marker", ".rally-marker-featured", ".marker-cluster"):
            assert page.locator(f".leaflet-marker-pane {look}").count(), look
    # Closed disclosures (the filters, the legend) opened: what they hold is measured too.
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    small = page.evaluate(SMALL_TARGETS)
    shot(page, "targets-" + (where.strip("/").replace("/", "-") or "map"))
    assert small == []
    assert page.evaluate(MISSED_SQUARES, SMALL_CONTROLS) == []
    # The invisible parts of the pin's square and the attribution links' take taps.
    hit = """([selector, dx, dy]) => [...document.querySelectorAll(selector)].every(el => {
      el.scrollIntoView({block: 'center'});
      const r = el.getBoundingClientRect();
      const at = document.elementFromPoint(r.x + r.width / 2 + dx, r.y + r.height / 2 + dy);
      return at && (at === el || el.contains(at));
    })"""
    if where in ("preview", "manage"):
        assert page.evaluate(hit, [".rally-marker-pin", 20, -20])
    elif where in MAP_PAGES:
        assert page.evaluate(hit, [".leaflet-control-attribution a", 0, -20])
    # The urgent banner clears the attribution's taller links.
    banner = page.locator(".urgent-over-map")
    if banner.count() and banner.bounding_box() and banner.bounding_box()["height"]:
        for link in page.locator(".leaflet-control-attribution a").all():
            assert not overlaps(link.bounding_box(), banner.bounding_box())
    assert page.errors == []
    page.context.close()


def test_the_tiles_of_a_page_that_places_a_rally_are_never_kept(browser, live_server, app):
    """The manage page's pin map shows the organizer's place (maybe still hidden) at a street's
    zoom: the service worker keeps none of its tiles, as none of "Near me"'s (review 24b: a
    seized phone held zoom-15 tiles around the pin)."""
    from mapapp.domain import lifecycle

    add_rally(app, manage_token_hash=lifecycle.hash_token("tok-tiles"), lat=53.9, lon=27.56)
    page = touch_page(browser, service_workers="allow")
    tiles = []
    page.on("response", lambda r: tiles.append(r.url) if "/test-tiles/" in r.url else None)
    loaded(page, f"{live_server}/?lang=be")
    wait_until(page, "document.documentElement.dataset.offlineReady === '1'", timeout=30)
    tiles.clear()
    page.goto(f"{live_server}/manage/tok-tiles?lang=be")
    page.locator(".pin-map").wait_for()  # past the link's first page (its script opens it)
    wait_until(page, "document.querySelectorAll('img.leaflet-tile').length > 0", timeout=30)
    wait_until(page, "[...document.querySelectorAll('img.leaflet-tile')].every(t => t.complete)")
    assert tiles
    asked = {url.split("/test-tiles")[1] for url in tiles}
    wait_until(page, "performance.now() > 3000")  # past the page's list of what it loaded
    # A page that places nothing still has its tiles kept: the worker stores as before.
    other = page.context.new_page()
    other.goto(f"{live_server}/about")
    other.evaluate("fetch('/test-tiles/5/18/10.png').then(r => r.blob())")
    wait_for_value(page, f"{TILES_STORED}.then(p => p.some(x => x.endsWith('/5/18/10.png')))")
    stored = page.evaluate(TILES_STORED)
    assert not [p for p in stored if p.split("/test-tiles")[1] in asked], stored
    assert page.errors == []
    page.context.close()


def test_a_near_me_message_goes_once_the_map_is_tapped(browser, live_server, app):
    """Refused, "Near me" says why over the map's corner, where it covered a marker for good
    (review 24b, Полацк): a tap on the map takes it away."""
    page = touch_page(browser, locale="be-BY")  # no permission given: the browser refuses
    loaded(page, f"{live_server}/?lang=be")
    page.locator(".map-frame").scroll_into_view_if_needed()
    page.get_by_role("button", name=NEAR_ME["be"]).tap()
    message = page.locator(".near-me-message")
    wait_until(page, "!document.querySelector('.near-me-message').hidden")
    assert "налад" in message.inner_text()  # how to allow it, in Belarusian
    frame = page.locator(".leaflet-container").bounding_box()
    # An empty spot of the map (its lower left, under the country: no marker, no control).
    page.locator(".leaflet-container").tap(position={"x": 30, "y": frame["height"] * 0.75})
    wait_until(page, "document.querySelector('.near-me-message').hidden")
    assert page.errors == []
    page.context.close()
