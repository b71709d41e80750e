"""Issue 24 in Chromium on a 390x844 touch phone: the organizer's form, the manage link."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from conftest import browser_app, wait_until
from flask import Flask

from mapapp.places.locale import MINSK

pytestmark = pytest.mark.browser


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    app = browser_app(sqlite_url)
    app.test_cli_runner().invoke(args=["init-db"])
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


@pytest.fixture
def phone(browser):  # noqa: ANN001, ANN201
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="en-US"
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def shot(page, name: str) -> None:  # noqa: ANN001
    """A screenshot to look at, when MAPAPP_TEST_SHOTS names a folder."""
    if os.environ.get("MAPAPP_TEST_SHOTS"):
        page.screenshot(
            path=os.path.join(os.environ["MAPAPP_TEST_SHOTS"], f"{name}.png"), full_page=True
        )


def fill_form(page, live_server: str, lang: str = "en", **extra: str) -> None:  # noqa: ANN001
    page.goto(f"{live_server}/submit?lang={lang}")
    typed = {
        "#title": "Пікет на Савецкай плошчы ў Гродне",
        "#town": "Гродна",
        "#place": "Савецкая плошча",
        "#date": (datetime.now(MINSK) + timedelta(days=5)).date().isoformat(),
        "#time": "19:00",
        "#description": "Прыходзьце з плакатамі.",
        **extra,
    }
    for selector, value in typed.items():
        page.fill(selector, value)


def send(page) -> None:  # noqa: ANN001
    with page.expect_navigation():
        page.locator("button[type=submit]").first.tap()


def test_the_reveal_date_shows_only_with_a_time_i_choose(phone, live_server):
    fill_form(phone, live_server)
    assert not phone.locator("#reveal_date").is_visible()
    phone.select_option("#reveal", "at")
    assert phone.locator("#reveal_date").is_visible() and phone.locator("#reveal_time").is_visible()
    day = (datetime.now(MINSK) + timedelta(days=5)).date().isoformat()
    phone.fill("#reveal_date", day)
    phone.fill("#reveal_time", "17:00")
    phone.select_option("#reveal", "now")  # changed their mind: the typed time is now hidden
    assert not phone.locator("#reveal_date").is_visible()
    send(phone)
    # refused with a message, and the fields come back into view to be cleared
    assert "but chose to show it now" in phone.locator("#error-summary").inner_text()
    assert phone.locator("#reveal_date").is_visible()
    shot(phone, "reveal-refused")
    phone.select_option("#reveal", "at")
    send(phone)
    reveal = phone.locator("#preview-reveal").inner_text()
    assert reveal.startswith("From ") and "5:00" in reveal and "PM" in reveal
    shot(phone, "preview-hidden-place")


def test_the_manage_link_survives_a_reload_in_its_browser_only(phone, live_server):
    fill_form(phone, live_server)
    send(phone)
    send(phone)  # "Send to moderators" on the preview
    link = phone.locator("#manage-link").get_attribute("href")
    assert "/manage/" in link
    telegram = phone.locator("#manage-telegram").get_attribute("href")
    assert telegram.startswith("tg://msg_url?url=http")
    token = link.split("/manage/")[1].split("?")[0]
    assert token in telegram
    shot(phone, "manage-link")
    phone.locator("#manage-copy").tap()
    wait_until(phone, "document.getElementById('manage-link-status').textContent !== ''")
    assert phone.evaluate("navigator.clipboard.readText()") == link
    # a reload (or a tab brought back): the same link, from the server and from the tab
    phone.reload()
    assert phone.locator("#manage-link").get_attribute("href") == link
    assert phone.locator("#manage-link").is_visible()
    assert not phone.get_by_text("The manage link is no longer shown here").is_visible()
    assert token in phone.locator("#manage-telegram").get_attribute("href")
    assert phone.locator("#manage-telegram-hint").is_visible()
    shot(phone, "manage-link-reloaded")
    # another browser never sees it
    other = phone.context.browser.new_context().new_page()
    other.goto(live_server + "/submit/done?lang=en")
    assert other.get_by_text("The manage link is no longer shown here").is_visible()
    assert not other.locator("#manage-link").is_visible()
    other.context.close()
    # "Remove the link from this page" forgets it on the server and in the tab
    phone.get_by_role("button", name="Remove the link from this page").tap()
    phone.wait_for_url("**forgotten=1**")
    assert phone.get_by_text("The link is removed from this page").is_visible()
    assert phone.evaluate("sessionStorage.getItem('mapapp.manageLink')") is None
    phone.reload()
    assert not phone.locator("#manage-link").is_visible()
    assert phone.errors == []


def test_the_manage_page_of_a_hidden_place_has_the_pin_map(phone, live_server):
    fill_form(phone, live_server)
    phone.select_option("#reveal", "2")
    send(phone)
    send(phone)
    link = phone.locator("#manage-link").get_attribute("href")
    phone.goto(link)
    pin = phone.locator(".pin-map .leaflet-marker-icon.leaflet-marker-draggable")
    pin.wait_for()
    before = phone.input_value("input[name=lat]")
    assert before.startswith("53.67")
    phone.locator(".pin-map").scroll_into_view_if_needed()
    box = phone.locator(".pin-map").bounding_box()
    phone.touchscreen.tap(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.4)
    wait_until(phone, f"document.querySelector('input[name=lat]').value !== '{before}'")
    assert phone.locator("#danger-confirm").count() == 0  # a pending rally has no danger yet
    shot(phone, "manage-pin-map")
    assert phone.errors == []


# The map on a phone: tap targets (axe-core target-size) with 200 rallies, metric scale.

AXE = os.path.join(os.path.dirname(__file__), "axe", "node_modules", "axe-core", "axe.min.js")


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)])
def test_the_map_with_200_rallies_has_big_enough_targets(browser, live_server, app, width, height):
    from mapapp.domain import db, lifecycle
    from mapapp.domain.geocoding import gazetteer
    from mapapp.domain.seed import demo_rallies

    with app.app_context():
        session = db.session()
        lifecycle.publish_many(session, demo_rallies(gazetteer(), 200, seed=3), actor="test")
        session.commit()
    touch = width < 600
    context = browser.new_context(
        viewport={"width": width, "height": height},
        is_mobile=touch,
        has_touch=touch,
        bypass_csp=True,
        locale="en-US",
    )
    page = context.new_page()
    page.goto(live_server + "/?lang=en")
    wait_until(page, "performance.getEntriesByName('rallies-loaded').length > 0")
    page.wait_for_load_state("networkidle")
    shot(page, f"map-{width}")
    scale = page.locator(".leaflet-control-scale").inner_text()
    assert "km" in scale and "mi" not in scale and "ft" not in scale
    if not os.path.exists(AXE):  # as tests/test_a11y.py
        pytest.skip("axe-core is not installed (make install-test runs npm ci in tests/axe)")
    with open(AXE, encoding="utf-8") as source:
        page.evaluate(source.read())
    result = page.evaluate("axe.run(document, {runOnly: {type: 'rule', values: ['target-size']}})")
    found = [
        [(n["target"], n["failureSummary"]) for n in v["nodes"]][:8] for v in result["violations"]
    ]
    assert found == []
    if touch:  # on a touch screen every control is at least 44 x 44 px
        small = page.evaluate(
            """[...document.querySelectorAll('.leaflet-control:not(.leaflet-control-attribution) a, .leaflet-control button, '
                + '.site-nav a, .lang-nav a, .map-filters summary')]
              .map(e => [e.className || e.textContent, e.getBoundingClientRect()])
              .filter(([, r]) => r.width && (r.width < 44 || r.height < 44))
              .map(([n, r]) => [n, Math.round(r.width), Math.round(r.height)])"""
        )
        assert small == []
    context.close()


def test_belarus_fills_the_phone_s_width_at_first_view(phone, live_server):
    phone.goto(live_server + "/?lang=en")
    wait_until(phone, "performance.getEntriesByName('rallies-loaded').length > 0")
    width = phone.evaluate(
        "(() => { const m = window[Object.keys(window).find((k) => /^map_\\w+$/.test(k))];"
        " const west = m.latLngToContainerPoint([53.9, 23.18]);"
        " const east = m.latLngToContainerPoint([53.9, 32.78]);"
        " return east.x - west.x; })()"
    )
    assert width >= 0.85 * 390, width
    shot(phone, "map-first-view")


def test_show_on_the_map_puts_the_popup_on_screen(phone, live_server):
    phone.goto(live_server + "/?lang=en")
    wait_until(phone, "performance.getEntriesByName('rallies-loaded').length > 0")
    button = phone.locator("#rally-list li", has_text="Pinsk").get_by_role("button")
    button.scroll_into_view_if_needed()
    button.tap()
    popup = phone.locator(".leaflet-popup-content")
    popup.wait_for()
    box = popup.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 844, box
    shot(phone, "show-on-the-map")


def test_the_list_s_buttons_reset_forget_and_markers_are_44_px_targets(phone, live_server):
    """Beyond the map's controls: "Show on the map" (29 px), "Reset filters" (24 px), "Forget this
    site" (21 px) and the markers (28 px) were smaller than a finger on a phone."""
    phone.goto(live_server + "/?lang=be&city=Гродна")
    wait_until(phone, "performance.getEntriesByName('rallies-loaded').length > 0")
    wait_until(phone, "document.querySelector('.show-on-map')")
    phone.locator(".map-filters summary").tap()
    sizes = phone.evaluate(
        """[...document.querySelectorAll('.show-on-map, .filter-reset')]
             .map(e => [e.className, e.getBoundingClientRect()])
             .filter(([, r]) => r.width && (r.width < 44 || r.height < 44))
             .map(([n, r]) => [n, Math.round(r.width), Math.round(r.height)])"""
    )
    assert sizes == []
    # a marker drawn 28 px wide answers a tap 20 px off its centre in every direction
    missed = phone.evaluate(
        """[...document.querySelectorAll('.rally-marker, .rally-marker-featured')].flatMap(m => {
             const r = m.getBoundingClientRect(), x = r.x + r.width / 2, y = r.y + r.height / 2;
             return [[20, 0], [-20, 0], [0, 20], [0, -20], [20, 20], [-20, -20]]
               .filter(([dx, dy]) => document.elementFromPoint(x + dx, y + dy)
                 ?.closest('.leaflet-marker-icon') !== m)
               .map(d => [m.className, d]);
           })"""
    )
    assert phone.locator(".rally-marker, .rally-marker-featured").count() >= 1
    assert missed == []
    phone.goto(live_server + "/rallies?lang=be")
    box = phone.locator(".filter-reset").first.bounding_box()
    assert box["height"] >= 44, box
    phone.goto(live_server + "/about?lang=be")
    wait_until(phone, "!document.getElementById('forget-site').hidden")
    box = phone.locator("#forget-site").bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44, box


def test_no_marker_s_square_touches_the_star_s_at_the_country_s_zoom(phone, live_server):
    """Maladziečna (70 km from Minsk) was drawn 46 px from the star on a diagonal: the round
    marks were clear, but their squares (what a finger and axe's target-size see) overlapped."""
    phone.goto(live_server + "/?lang=en")
    wait_until(phone, "performance.getEntriesByName('rallies-loaded').length > 0")
    wait_until(phone, "document.querySelector('.rally-marker-featured')")
    phone.wait_for_timeout(500)
    touching = phone.evaluate(
        """(() => {
             const star = document.querySelector('.rally-marker-featured').getBoundingClientRect();
             const grow = (r, by) => ({l: r.left - by, r: r.right + by, t: r.top - by, b: r.bottom + by});
             const s = grow(star, 2);
             return [...document.querySelectorAll('.rally-marker, .marker-cluster')].filter(m => {
               const r = grow(m.getBoundingClientRect(), 0);
               return r.l < s.r && s.l < r.r && r.t < s.b && s.t < r.b;
             }).map(m => m.getAttribute('aria-label'));
           })()"""
    )
    assert phone.locator(".rally-marker").count() >= 5
    assert touching == []


def test_the_scale_and_the_attribution_speak_the_pages_language(phone, live_server):
    for lang, unit, credit in (("be", "км", "удзельнікі"), ("ru", "км", "участники")):
        phone.goto(live_server + f"/?lang={lang}")
        wait_until(phone, "document.querySelector('.leaflet-control-scale-line') !== null")
        scale = phone.locator(".leaflet-control-scale-line").inner_text()
        assert unit in scale or " м" in scale, (lang, scale)
        assert "km" not in scale and not scale.endswith(" m"), (lang, scale)
        corner = phone.locator(".leaflet-control-attribution").inner_text()
        assert credit in corner and "contributors" not in corner, (lang, corner)
    assert phone.errors == []


def test_without_javascript_the_manage_link_survives_a_reload(browser, live_server):
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        locale="be-BY",
        java_script_enabled=False,
    )
    page = context.new_page()
    fill_form(page, live_server, lang="be")
    send(page)
    send(page)  # «Адправіць мадэратарам» on the preview
    link = page.locator("#manage-link").get_attribute("href")
    assert "/manage/" in link
    page.reload()  # Android bringing the tab back, without a script to keep it
    assert page.locator("#manage-link").get_attribute("href") == link
    assert page.locator("#manage-link").is_visible()
    text = page.locator("main").inner_text()
    assert "15 хвілін" in text and "30 хвілін" not in text
    assert "Telegram захоўвае" in text
    shot(page, "nojs-done-reload")
    context.close()
