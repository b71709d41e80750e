"""export-static: one HTML file that works opened from disk, in Chromium."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
from conftest import add_rally, wait_until

PAYLOAD = "</script><script>window.__xss=1</script>${window.__xss=2}"


@pytest.fixture
def exported(app, tmp_path):
    app.test_cli_runner().invoke(args=["init-db"])
    add_rally(app, title=PAYLOAD, town="Гродна", lat=53.68, lon=23.83)

    def export(*args: str):
        out = tmp_path / "site"
        result = app.test_cli_runner().invoke(args=["export-static", str(out), *args])
        assert result.exit_code == 0, result.output
        return out / "index.html"

    return export


def test_export_is_one_file_with_everything_in_it(exported):
    page = exported("--lang", "en").read_text(encoding="utf-8")
    assert '<html lang="en">' in page
    assert "<script src=" not in page and '<link rel="stylesheet"' not in page
    assert "Supercluster" in page and "RallyMap" in page and "ISC License" in page
    # The rallies and the basemap as compact JSON in plain UTF-8 (smaller and quicker to load
    # than a script's literal with \\u escapes)
    rallies = page.split('<script type="application/json" id="export-rallies">')[1]
    rallies = json.loads(rallies.split("</script>")[0])
    assert rallies["type"] == "FeatureCollection" and len(rallies["features"]) == 14
    assert rallies["features"][0]["properties"]["featured"] is True
    assert '"place":"October Square"' in page and 'id="export-basemap">{"langs":' in page
    assert "data:image/png;base64," in page  # and the marker images
    assert "</script><script>window.__xss" not in page


@pytest.mark.browser
def test_export_works_opened_from_disk(browser, exported):
    path = exported("--lang", "ru", "--base-url", "https://rallies.example")
    page = browser.new_page()
    hosts, errors = set(), []
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path.as_uri())
    wait_until(page, "document.querySelectorAll('#rally-list li').length === 14")
    featured = page.locator(".rally-marker-featured")
    featured.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible")
    assert "Октябрьская площадь, Минск" in popup.inner_text()  # the seed's place in Russian
    link = popup.locator("a").get_attribute("href")
    assert link.startswith("https://rallies.example/rallies/") and link.endswith("?lang=ru")
    assert page.locator("#rally-list li").count() == 14
    assert PAYLOAD in page.inner_text("#rally-list")
    # Each marker's ring says how it was checked (issue 28), the legend what the rings mean.
    assert page.locator(".leaflet-marker-icon.rally-v-imported").count() >= 1
    page.locator("details.map-legend summary").click()
    assert "Сплошное кольцо" in page.locator("details.map-legend").inner_text()
    assert page.evaluate("window.__xss") is None
    # opened online, it asks no server at all: no tiles unless the operator opts in
    assert hosts == {""}
    assert errors == []
    page.close()


@pytest.mark.browser
def test_export_without_a_base_url_has_no_dead_links(browser, exported):
    page = browser.new_page()
    page.goto(exported().as_uri())
    wait_until(page, "document.querySelectorAll('#rally-list li').length === 14")
    page.locator(".rally-marker-featured").click()
    page.locator(".leaflet-popup-content").wait_for(state="visible")
    assert page.locator(".leaflet-popup-content a").count() == 0
    assert page.locator("#rally-list a").count() == 0
    page.close()


@pytest.mark.browser
def test_export_without_tiles_fetches_nothing_and_draws_the_basemap(browser, exported):
    path = exported("--lang", "be", "--no-tiles", "--when", "all")
    page = browser.new_page()
    requested, errors = [], []
    page.on("request", lambda request: requested.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path.as_uri())
    wait_until(page, "document.querySelectorAll('#rally-list li').length === 14")
    page.locator(".basemap-names span").first.wait_for()
    names = page.locator(".basemap-names span").all_inner_texts()
    assert "Мінск" in names and "Гродна" in names and "Брэсцкая вобласць" in names
    assert page.locator(".leaflet-basemap-pane canvas").count() == 1
    assert page.locator(".leaflet-tile").count() == 0
    assert [url for url in requested if not url.startswith(("file:", "data:"))] == []
    assert page.locator("#plain-list").count() == 0  # replaced by the map's own list
    assert page.locator("#export-stale").is_hidden()  # made just now
    assert errors == []
    page.close()


@pytest.mark.browser
def test_export_reads_with_scripts_off_and_warns_when_old(browser, exported):
    path = exported("--lang", "en")
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(path.as_uri())
    items = page.locator("#plain-list li")
    assert items.count() == 14  # the seed rallies and the one added above
    # On a phone the list is on the first screen, not below an empty map's frame.
    assert page.locator(".map-frame").is_hidden()
    assert items.first.bounding_box()["y"] < 844
    assert "Main rally" in items.first.inner_text()
    assert PAYLOAD in page.locator("#plain-list").inner_text()
    assert "This copy of the map was made on" in page.inner_text("body")
    context.close()
    # opened two days later, it says so
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script("Date.now = () => new Date().getTime() + 2 * 24 * 3600 * 1000;")
    page.goto(path.as_uri())
    page.locator("#export-stale").wait_for(state="visible")
    assert "more than a day old" in page.locator("#export-stale").inner_text()
    context.close()


def test_export_of_1000_rallies_fits_its_budget(app, tmp_path):
    """At most 2.5 MB with the basemap (issue 16); bench/export.py measures its time."""
    runner = app.test_cli_runner()
    runner.invoke(args=["init-db"])
    assert runner.invoke(args=["demo-data", "--count", "987", "--seed", "1"]).exit_code == 0
    result = runner.invoke(args=["export-static", str(tmp_path / "big"), "--when", "all"])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "big" / "index.html").read_text(encoding="utf-8")
    assert page.count('<li class="rally-item') == 1000  # every rally, in the plain list
    assert len(page.encode()) <= 2.5 * 1024 * 1024


def test_export_takes_the_shared_filters(exported, app):
    page = exported("--lang", "en", "--region", "BY-HR").read_text(encoding="utf-8")
    assert "Hrodna: solidarity" in page and "political prisoners on October Square" not in page
    page = exported("--city", "Viciebsk", "--when", "all").read_text(encoding="utf-8")
    assert "Віцебск: салідарнасць" in page and "Гродна: салідарнасць" not in page
    result = app.test_cli_runner().invoke(args=["export-static", "out", "--region", "BY-XX"])
    assert result.exit_code == 2 and "region" in result.output


def test_the_site_serves_the_current_export(client, exported):
    exported()  # the seed rallies and the payload
    response = client.get("/offline.html?lang=ru")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == "attachment; filename=rally-map-ru.html"
    page = response.get_data(as_text=True)
    assert '<html lang="ru">' in page and 'id="export-basemap">{' in page
    assert 'href="http://localhost/rallies/' in page  # links back to the site
    again = client.get("/offline.html?lang=ru", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    add_rally(client.application, title="Новы сход", town="Ліда", lat=53.89, lon=25.3)
    moved = client.get("/offline.html?lang=ru")
    assert moved.headers["ETag"] != response.headers["ETag"] and "Новы сход" in moved.get_data(
        as_text=True
    )
    assert "/offline.html" in client.get("/?lang=en").get_data(as_text=True)


def test_the_maps_links_keep_the_main_rally_filter(client, exported):
    """A map of the main rally only (?featured=1, as partners embed it) offers the offline
    copy of that, not of every rally; its feed asked for in the head carries it too."""
    exported()
    page = client.get("/?lang=en&featured=1").get_data(as_text=True)
    offline = re.search(r'href="(/offline\.html[^"]*)"', page).group(1)
    assert "featured=1" in offline
    copy = client.get(offline.replace("&amp;", "&")).get_data(as_text=True)
    assert "on October Square" in copy and "Hrodna: solidarity" not in copy
    feed = re.search(r'<script data-feed="([^"]+)">', page).group(1)
    assert "featured=1" in feed and "fields=map" in feed


def modules(directory, **files: str):  # noqa: ANN001, ANN201
    for name, text in files.items():
        (directory / f"{name}.js").write_text(text, encoding="utf-8")
    return directory


def test_modules_are_joined_in_the_order_a_browser_runs_them(tmp_path):
    """Depth first, imports in their order, a module under way skipped (the cycle c -> main)."""
    from mapapp.publishing.export import classic_script

    folder = modules(
        tmp_path,
        main='import { b } from "./b.js";\nimport { c, C } from "./c.js";\n'
        "function init() { return b() + c() + C; }\nwindow.Init = init;\n",
        b='import { c } from "./c.js";\nexport function b() { return c(); }\n',
        c='import { b } from "./b.js";\nexport var C = 1;\nexport const c = () => C;\n',
    )
    script = classic_script(folder)
    names = re.findall(r"^/\* \w+/(\w+\.js) \*/$", script, re.M)
    assert names == ["c.js", "b.js", "main.js"]
    assert script.startswith('(function () {\n"use strict";') and script.endswith("})();\n")
    assert not re.search(r"^(import|export)\b", script, re.M)
    assert "\nvar C = 1;\nconst c = () => C;\n" in script and "\nfunction b() {" in script


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('import b from "./b.js";\n', "form of import"),
        ('import { b as bee } from "./b.js";\n', "no 'as'"),
        ('import {\n  b\n} from "./b.js";\n', "form of import"),
        ("export default function () {}\n", "form of import or export"),
        ("export { init };\n", "form of import or export"),
        ('import { nothing } from "./b.js";\n', "b.js exports no nothing"),
        ('import { b } from "./b.js";\nfunction helper() {}\n', "helper is declared in"),
    ],
)
def test_what_cannot_be_joined_faithfully_is_refused(tmp_path, text: str, message: str):
    from mapapp.publishing.export import classic_script

    folder = modules(tmp_path, main=text, b="export function b() {}\nvar helper = 1;\n")
    with pytest.raises(ValueError, match=message):
        classic_script(folder)


def test_every_module_of_the_map_is_in_the_saved_page(exported):
    from mapapp.paths import MODULES, STATIC_DIR

    page = exported("--lang", "en").read_text(encoding="utf-8")
    joined = re.findall(r"^/\* map/([\w-]+\.js) \*/$", page, re.M)
    assert sorted(joined) == sorted(p.name for p in (STATIC_DIR / MODULES).glob("*.js"))
    assert joined[-1] == "main.js" and "window.RallyMap = {" in page


@pytest.mark.browser
def test_the_sites_copy_opened_online_asks_no_other_host(browser, client, exported, tmp_path):
    exported()
    copy = client.get("/offline.html?lang=en").get_data(as_text=True)
    assert "tile.openstreetmap.org" not in copy  # no tile layer unless the operator opts in
    path = tmp_path / "rally-map-en.html"
    path.write_text(copy, encoding="utf-8")
    page = browser.new_page()
    requested, errors = [], []
    page.on("request", lambda request: requested.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path.as_uri())
    wait_until(page, "document.querySelectorAll('#rally-list li').length === 14")
    page.locator(".basemap-names span").first.wait_for()  # the app's own basemap instead
    assert [url for url in requested if not url.startswith(("file:", "data:"))] == []
    assert errors == []
    page.close()


def test_tiles_in_a_copy_are_the_operators_choice(exported, sqlite_url):
    from conftest import make_app

    assert "tile.openstreetmap.org" not in exported().read_text(encoding="utf-8")
    assert "tile.openstreetmap.org" in exported("--tiles").read_text(encoding="utf-8")
    opted_in = make_app(sqlite_url, EXPORT_TILES=True)
    page = opted_in.test_client().get("/offline.html").get_data(as_text=True)
    assert "tile.openstreetmap.org" in page
    assert "tile.openstreetmap.org" not in exported("--no-tiles").read_text(encoding="utf-8")


def test_the_inlined_leaflet_css_has_no_old_ie_rule(exported, client):
    page = exported().read_text(encoding="utf-8")
    assert ".lvml {" in page and "behavior:" not in page  # the rule stays, its IE line goes
    assert "behavior:" not in client.get("/offline.html").get_data(as_text=True)
