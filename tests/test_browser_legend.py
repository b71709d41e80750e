"""Issue 24 (and 28's marker style) in Chromium on a 390x844 touch phone: the legend under the
map, the verification grade as each marker's ring (not its colour), the map fitting a filtered
town or region, popups clear of the controls and the urgent banner, town names under markers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from conftest import add_rally, browser_app, wait_until
from flask import Flask
from sqlalchemy import text
from test_a11y import AXE, TAGS

from mapapp.domain import db

pytestmark = pytest.mark.browser

# One rally of each grade, far apart (each its own marker at the country's zoom):
# (town, region, lat, lon, moderators who approved, organizer known, grade, ring style).
GRADES = [
    ("Брэст", "BY-BR", 52.0976, 23.7341, 2, False, "moderators", "solid"),
    ("Гродна", "BY-HR", 53.6884, 23.8258, 1, True, "known-organizer", "double"),
    ("Віцебск", "BY-VI", 55.1904, 30.2049, 1, False, "moderator", "dashed"),
    ("Гомель", "BY-HO", 52.4345, 30.9754, 0, False, "imported", "dotted"),
]
WORDS = {
    "be": ["двума ці больш", "Арганізатар вядомы", "адным мадэратарам", "з іншай крыніцы"],
    "ru": ["двумя или более", "Организатор известен", "одним модератором", "из другого источника"],
}


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    app = browser_app(sqlite_url)
    start = datetime.now(UTC) + timedelta(days=10)
    for town, region, lat, lon, checked, known, _grade, _style in GRADES:
        rally = add_rally(
            app, title=f"Акцыя: {town}", town=town, place="Цэнтральная плошча", region=region,
            lat=lat, lon=lon, starts_at=start,
        )  # fmt: skip
        with app.app_context():
            session = db.session(write=True)
            session.execute(
                text(
                    "UPDATE published_rally SET checked_by = :c, organizer_known = :k WHERE id = :i"
                ),
                {"c": checked, "k": known, "i": rally},
            )
            session.execute(text("DELETE FROM published_part"))  # made with the old grade
            session.commit()
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


@pytest.fixture
def phone(browser):  # noqa: ANN001, ANN201
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, bypass_csp=True
    )
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def shot(page, name: str) -> None:  # noqa: ANN001
    if os.environ.get("MAPAPP_TEST_SHOTS"):
        page.screenshot(path=os.path.join(os.environ["MAPAPP_TEST_SHOTS"], f"{name}.png"))


def loaded(page, url: str) -> None:  # noqa: ANN001
    page.goto(url)
    wait_until(page, "performance.getEntriesByName('rallies-loaded').length > 0")


MAP = "window[Object.keys(window).find((k) => /^map_\\w+$/.test(k))]"


@pytest.mark.parametrize("lang", ["be", "ru"])
def test_markers_show_their_grade_by_ring_and_in_words(phone, live_server, lang):
    loaded(phone, f"{live_server}/?lang={lang}")
    for (_town, *_rest, grade, style), words in zip(GRADES, WORDS[lang], strict=True):
        marker = phone.locator(f".leaflet-marker-icon.rally-v-{grade}")
        assert marker.count() == 1, grade
        assert marker.evaluate("e => getComputedStyle(e).outlineStyle") == style
        assert words.lower() in marker.get_attribute("aria-label").lower(), (
            grade,
            marker.get_attribute("aria-label"),
        )
    styles = phone.evaluate(
        "[...document.querySelectorAll('.leaflet-marker-icon.rally-marker')]"
        ".map(e => getComputedStyle(e).outlineStyle)"
    )
    assert sorted(styles) == sorted(style for *_, style in GRADES)  # no two grades look alike


@pytest.mark.parametrize("lang", ["be", "ru"])
def test_the_legend_is_a_disclosure_under_the_map(phone, live_server, lang):
    loaded(phone, f"{live_server}/?lang={lang}")
    legend = phone.locator("details.map-legend")
    summary = legend.locator("summary")
    assert legend.get_attribute("open") is None
    summary.scroll_into_view_if_needed()
    box = summary.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44, box
    summary.tap()
    assert legend.get_attribute("open") is not None
    # In the page's flow under the map: it covers none of it.
    frame = phone.locator(".map-frame").bounding_box()
    assert legend.bounding_box()["y"] >= frame["y"] + frame["height"]
    items = legend.locator("li")
    assert items.count() == 16
    rings = legend.evaluate(
        "d => [...d.querySelectorAll('.legend-list:last-of-type .legend-mark')]"
        ".map(e => getComputedStyle(e).outlineStyle)"
    )
    assert rings == [style for *_, style in GRADES]
    text = legend.inner_text().lower()
    for words in WORDS[lang]:
        assert words.lower() in text
    # The marks are pictures of the markers: screen readers read the words only.
    assert legend.locator(".legend-mark[aria-hidden=true]").count() == 16
    shot(phone, f"legend-{lang}")
    with open(AXE, encoding="utf-8") as source:
        phone.evaluate(source.read())
    result = phone.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    assert [(v["id"], [n["target"] for n in v["nodes"]][:4]) for v in result["violations"]] == []
    assert phone.errors == []


def test_the_embed_has_the_legend(phone, live_server):
    loaded(phone, f"{live_server}/embed?lang=be")
    legend = phone.locator("details.map-legend")
    legend.locator("summary").tap()
    assert "Суцэльнае кальцо" in legend.inner_text()
    embed = phone.locator(".embed-map").bounding_box()
    assert legend.bounding_box()["y"] >= embed["y"] + embed["height"] - 1


def view_box(page) -> dict:  # noqa: ANN001
    return page.evaluate(
        f"(() => {{ const b = {MAP}.getBounds(); return {{s: b.getSouth(), w: b.getWest(), n: b.getNorth(), e: b.getEast(), z: {MAP}.getZoom()}}; }})()"
    )


def test_a_filtered_town_fits_its_rallies_or_the_town(phone, live_server):
    loaded(phone, f"{live_server}/?lang=be&city={quote('Віцебск')}")
    box = view_box(phone)
    assert box["s"] < 55.1904 < box["n"] and box["w"] < 30.2049 < box["e"]
    assert box["n"] - box["s"] < 1, box  # the town, not the country (about 5 degrees)
    # A town with no rallies: the map shows the town itself.
    loaded(phone, f"{live_server}/?lang=ru&city={quote('Пинск')}")
    box = view_box(phone)
    assert box["s"] < 52.11 < box["n"] and box["w"] < 26.1 < box["e"] and box["n"] - box["s"] < 1, (
        box
    )
    # A region: its rallies (here one, in Hrodna).
    loaded(phone, f"{live_server}/?lang=en&region=BY-HR")
    box = view_box(phone)
    assert box["s"] < 53.6884 < box["n"] and box["n"] - box["s"] < 3, box
    # A link's own view wins over the filter.
    loaded(phone, f"{live_server}/?lang=en&region=BY-HR&lat=53.9&lon=27.56&zoom=8")
    assert view_box(phone)["z"] == 8
    # Without a filter, the whole country.
    loaded(phone, f"{live_server}/?lang=en")
    box = view_box(phone)
    assert box["w"] < 24 and box["e"] > 32, box


def test_a_popup_clears_the_controls_and_the_urgent_banner(phone, live_server, app):
    add_rally(app, title="Небяспечная акцыя", town="Мінск", lat=53.95, lon=27.7, status="danger")
    add_rally(
        app, title="Другая", town="Магілёў", region="BY-MA", lat=53.9, lon=30.34, status="danger"
    )
    for town, lat, lon in (("Орша", 54.51, 30.41), ("Пінск", 52.11, 26.1)):
        add_rally(app, title="Небяспечна", town=town, lat=lat, lon=lon, status="danger")
    add_rally(app, title="Акцыя ў Браславе", town="Браслаў", region="BY-VI", lat=55.64, lon=27.04)
    loaded(phone, f"{live_server}/?lang=be")
    phone.locator(".map-frame").scroll_into_view_if_needed()
    # In the north-west, under "Near me"; at the foot, over the banner; on the right.
    for town in ("Браслаў", "Брэст", "Гомель"):
        marker = phone.locator(f".leaflet-marker-icon[title*={town}]")
        marker.dispatch_event("click")
        popup = phone.locator(".leaflet-popup")
        popup.wait_for()
        phone.wait_for_timeout(400)  # the pan
        box = popup.bounding_box()
        title = phone.locator(
            ".leaflet-popup-content h2, .leaflet-popup-content h3, .leaflet-popup-content strong"
        ).first.bounding_box()
        link = phone.locator(".leaflet-popup-content a.rally-popup-link").bounding_box()
        frame = phone.locator(".map-frame").bounding_box()
        assert (
            title["y"] >= frame["y"] and link["y"] + link["height"] <= frame["y"] + frame["height"]
        )
        for control in phone.locator(".leaflet-top.leaflet-left .leaflet-control").all():
            c = control.bounding_box()
            overlap = not (
                c["y"] + c["height"] <= box["y"]
                or c["x"] + c["width"] <= box["x"]
                or c["x"] >= box["x"] + box["width"]
            )
            assert not overlap, (c, box)
        banner = phone.locator("#urgent").bounding_box()
        assert banner["height"] > 0
        assert box["y"] + box["height"] <= banner["y"], (box, banner)
        shot(phone, f"popup-{town}")
        phone.locator(".leaflet-popup-close-button").dispatch_event("click")
        wait_until(phone, "!document.querySelector('.leaflet-popup')")
    assert phone.errors == []


def test_town_names_are_drawn_under_markers_and_popups(phone, live_server):
    loaded(phone, f"{live_server}/?lang=be")
    z = phone.evaluate(
        f"(() => {{ const m = {MAP}; return ['basemapDots', 'basemapNames', 'markerPane', 'tooltipPane', 'popupPane']"
        ".map((p) => Number(getComputedStyle(m.getPane(p)).zIndex)); })()"
    )
    # the towns' dots and names under the markers (a name over a cluster hid its count: they
    # are placed clear of the markers instead, tests/test_browser_names.py)
    assert z[0] < z[1] < z[2] < z[3] < z[4], z
    assert (
        phone.evaluate(f"getComputedStyle({MAP}.getPane('basemapNames')).pointerEvents") == "none"
    )


FAKE_SHARE = """
window.shared = [];
Object.defineProperty(navigator, 'share', {
  configurable: true,
  value: (data) => { window.shared.push(data); return Promise.resolve(); },
});
"""


@pytest.mark.parametrize("lang", ["be", "ru"])
def test_the_rally_page_has_the_share_sheet_and_a_calendar_button(phone, live_server, app, lang):
    rally = add_rally(
        app, title="Пікет у Гродне", town="Гродна", region="BY-HR", lat=53.68, lon=23.83
    )
    phone.add_init_script(FAKE_SHARE)  # headless Chromium on Linux has no share sheet
    phone.goto(f"{live_server}/rallies/{rally}?lang={lang}")
    share = phone.locator("button[data-share]")
    share.scroll_into_view_if_needed()
    assert share.is_visible()
    box = share.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44
    share.tap()
    wait_until(phone, "window.shared.length === 1")
    data = phone.evaluate("window.shared[0]")
    assert data["url"].endswith(f"/rallies/{rally}") or f"/rallies/{rally}?" in data["url"]
    assert data["title"] == "Пікет у Гродне" and "Гродн" in data["text"]
    # The copy-link fallback and the Telegram link stay beside it.
    assert phone.locator(".share-links a[href^='https://t.me/share']").is_visible()
    calendar = phone.locator("a[type='text/calendar'][download]")
    box = calendar.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44, box
    shot(phone, f"rally-{lang}")
    with open(AXE, encoding="utf-8") as source:
        phone.evaluate(source.read())
    result = phone.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    assert [(v["id"], [n["target"] for n in v["nodes"]][:4]) for v in result["violations"]] == []


def test_without_a_share_sheet_the_button_stays_hidden(phone, live_server, app):
    rally = add_rally(app, title="Пікет", town="Гродна", region="BY-HR", lat=53.68, lon=23.83)
    phone.goto(f"{live_server}/rallies/{rally}?lang=be")
    assert phone.evaluate("typeof navigator.share") == "undefined"
    assert not phone.locator("button[data-share]").is_visible()
    assert f"/rallies/{rally}" in phone.locator("#share-url").input_value()  # to copy by hand


def test_a_cluster_holding_a_danger_warning_says_so(phone, live_server, app):
    """Two rallies close together at the country's zoom, one under a danger warning: their
    cluster carries the sign and says it in its name; a cluster without one does not."""
    start = datetime.now(UTC) + timedelta(days=10)
    for n, status in enumerate(("danger", "approved")):
        add_rally(app, title=f"Мазыр {n}", town="Мазыр", region="BY-HO", lat=52.05 + n / 100,
                  lon=29.25, place="Плошча", starts_at=start, status=status)  # fmt: skip
    for n in range(2):
        add_rally(app, title=f"Ліда {n}", town="Ліда", region="BY-HR", lat=53.89 + n / 100,
                  lon=25.30, place="Плошча", starts_at=start)  # fmt: skip
    loaded(phone, live_server + "/?lang=en")
    clusters = phone.locator(".marker-cluster")
    wait_until(phone, "document.querySelectorAll('.marker-cluster').length === 2")
    labels = sorted(clusters.nth(i).get_attribute("aria-label") for i in range(2))
    assert labels == [
        "Danger warnings here: 1. Rallies here: 2. Zoom in to see them.",
        "Rallies here: 2. Zoom in to see them.",
    ]
    danger = phone.locator(".marker-cluster-danger")
    assert danger.count() == 1
    badge = danger.evaluate("e => getComputedStyle(e, '::after').content")
    assert badge == '"!"'
    phone.locator(".map-legend summary").click()
    assert "with a danger warning among them" in phone.locator(".map-legend").inner_text()
    shot(phone, "cluster-danger")
    assert not phone.errors


@pytest.mark.parametrize("lang", ["be", "ru", "en"])
def test_the_whole_map_and_its_urgent_banner_are_on_the_first_screen(phone, live_server, app, lang):
    """A danger warning is seen without scrolling: the map ends within the phone's first
    screen (its foot, where the banner sits over it, was 868-891 px down on 844 px)."""
    add_rally(app, title="Небяспечна", town="Мінск", lat=53.95, lon=27.7, status="danger")
    loaded(phone, f"{live_server}/?lang={lang}")
    assert phone.evaluate("window.scrollY") == 0
    frame = phone.locator(".map-frame").bounding_box()
    banner = phone.locator("#urgent").bounding_box()
    assert banner["height"] > 0
    assert frame["y"] + frame["height"] <= 844, frame
    assert banner["y"] + banner["height"] <= 844, banner
    # Still a map worth the name, and Belarus fills the phone's width.
    assert frame["height"] >= 0.55 * 844, frame
    box = view_box(phone)
    assert box["w"] > 22.5 and box["e"] < 33.5, box
    shot(phone, f"first-screen-{lang}")


def test_the_banner_names_urgent_rallies_already_urgent_at_load(phone, live_server, app):
    """Not only a danger warning: a rally already moved or cancelled when the map is opened is
    named in the banner too (review 24b), the warning first."""
    add_rally(app, title="Перанесеная", town="Ліда", region="BY-HR", lat=53.89, lon=25.3,
              status="moved")  # fmt: skip
    add_rally(app, title="Адмененая", town="Орша", region="BY-VI", lat=54.51, lon=30.41,
              status="cancelled")  # fmt: skip
    add_rally(app, title="Небяспечная", town="Мінск", lat=53.95, lon=27.7, status="danger")
    loaded(phone, f"{live_server}/?lang=be")
    lines = phone.locator("#urgent .urgent-line")
    wait_until(phone, "document.querySelectorAll('#urgent .urgent-line a').length === 3")
    assert [line.get_attribute("class").split()[-1] for line in lines.all()] == [
        "urgent-danger", "urgent-moved", "urgent-cancelled",
    ]  # fmt: skip
    text = phone.locator("#urgent").inner_text()
    assert "Небяспечная" in text  # the others behind "Іншыя тэрміновыя паведамленні: 2"
    phone.locator("#urgent button.urgent-more").tap()
    text = phone.locator("#urgent").inner_text()
    assert "Перанесеная" in text and "Адмененая" in text and "Небяспечная" in text


@pytest.mark.parametrize(("status", "sign", "colour"), [("danger", '"!"', "rgb(176, 0, 32)"),
                                                        ("moved", '"→"', "rgb(138, 75, 0)")])  # fmt: skip
def test_the_main_rally_in_danger_or_moved_shows_it_as_the_others_do(
    phone, live_server, app, status: str, sign: str, colour: str
):
    """The main rally's star took a black ring only: on a phone it looked as on any day.
    Now its sign and colour are those of every rally in that state (its size and thick ring
    still mark it as the main one)."""
    start = datetime.now(UTC) + timedelta(days=10)
    add_rally(app, title="Галоўная акцыя", featured=True, starts_at=start, status=status)
    loaded(phone, live_server + "/?lang=en")
    star = phone.locator(".rally-marker-featured")
    wait_until(phone, "document.querySelector('.rally-marker-featured') !== null")
    assert star.evaluate("e => getComputedStyle(e, '::after').content") == sign
    assert star.evaluate("e => getComputedStyle(e).backgroundColor") == colour
    assert not phone.errors
