"""The site under a path prefix (SCRIPT_NAME, or X-Forwarded-Prefix from a trusted proxy).

Every link, asset, feed, form action, map data and tile URL follows the prefix; oEmbed reads
the site's own prefixed addresses; in Chromium the map, a submission and the embed work at
/mirror/ behind a proxy that sends X-Forwarded-Prefix.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from conftest import add_rally, browser_app, make_app
from flask import Flask
from werkzeug.serving import make_server

from mapapp.places.locale import MINSK

PREFIX = "/mirror"


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    app = make_app(sqlite_url, TRUSTED_PROXIES=1, TILE_URL="/test-tiles/{z}/{x}/{y}.png")
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


LINK = re.compile(r'(?:href|src|action|data-copy|value)="([^"]*)"')


def local_links(html: str) -> list[str]:
    """The addresses a page points to on its own site (not anchors, data: or other hosts)."""
    links = [m.replace("&amp;", "&") for m in LINK.findall(html)]
    # The map's configuration (folium's script) holds the data, rally, list and tile URLs.
    links += re.findall(r'"(?:dataUrl|reverseUrl|rallyUrl|listUrl)": "([^"]*)"', html)
    links += re.findall(r'L\.tileLayer\(\s*"([^"]*)"', html)
    return [
        link.removeprefix("http://localhost")
        for link in links
        if link.startswith(("/", "http://localhost"))
    ]


def test_every_link_of_every_page_follows_the_prefix(app):
    rally_id = add_rally(app, title="Пікет", place="Плошча Свабоды")
    client = app.test_client()
    pages = [
        "/",
        "/?lang=en",
        "/rallies?when=all",
        f"/rallies/{rally_id}",
        "/submit",
        "/embed?list=1",
        "/embed/code",
        "/moderate/login",
        "/nowhere",  # the error page
    ]
    for how in ("SCRIPT_NAME", "X-Forwarded-Prefix"):
        for path in pages:
            if how == "SCRIPT_NAME":
                response = client.get(path, base_url=f"http://localhost{PREFIX}/")
            else:
                response = client.get(path, headers={"X-Forwarded-Prefix": PREFIX})
            html = response.get_data(as_text=True)
            links = local_links(html)
            assert len(links) >= 5, (path, links)
            outside = [link for link in links if not link.startswith(PREFIX + "/")]
            assert outside == [], (how, path, outside)
            if path != "/nowhere":
                assert response.status_code == 200, path


def test_feeds_robots_redirects_and_tiles_under_the_prefix(app):
    rally_id = add_rally(app, title="Пікет", place="Плошча Свабоды")
    client = app.test_client()
    base = f"http://localhost{PREFIX}/"
    ics = client.get("/rallies.ics?when=all", base_url=base).get_data(as_text=True)
    assert f"URL:http://localhost{PREFIX}/rallies/{rally_id}" in ics
    csv = client.get("/rallies.csv?when=all", base_url=base).get_data(as_text=True)
    assert f"http://localhost{PREFIX}/rallies/{rally_id}" in csv
    robots = client.get("/robots.txt", base_url=base).get_data(as_text=True)
    assert f"Disallow: {PREFIX}/manage/" in robots and f"Disallow: {PREFIX}/moderate\n" in robots
    # The moderators' door and its way back, both under the prefix.
    response = client.get("/moderate", base_url=base)
    assert response.headers["Location"] == f"{PREFIX}/moderate/login?next=/moderate"
    # A shell rendered for one prefix is not served to another.
    client.get("/", base_url="http://localhost/")
    assert f'"{PREFIX}/api/rallies.geojson' in client.get("/", base_url=base).get_data(True)
    assert '"/api/rallies.geojson' in client.get("/", base_url="http://localhost/").get_data(True)


def test_oembed_reads_the_prefixed_addresses_of_the_site(app):
    rally_id = add_rally(app, title="Пікет", place="Плошча Свабоды")
    client = app.test_client()
    for url in (f"http://localhost{PREFIX}/rallies/{rally_id}", f"http://localhost{PREFIX}/"):
        response = client.get(
            "/oembed", query_string={"url": url}, headers={"X-Forwarded-Prefix": PREFIX}
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        assert f'src="http://localhost{PREFIX}/embed?' in response.get_json()["html"]
        assert response.get_json()["provider_url"] == f"http://localhost{PREFIX}/"
    # The page's own discovery link is one oEmbed answers.
    page = client.get(f"/rallies/{rally_id}", headers={"X-Forwarded-Prefix": PREFIX})
    href = re.search(r'type="application/json\+oembed" href="([^"]+)"', page.get_data(True))
    discovered = href.group(1).replace("&amp;", "&").removeprefix(f"http://localhost{PREFIX}")
    assert client.get(discovered, headers={"X-Forwarded-Prefix": PREFIX}).status_code == 200
    # Without the prefix, or under another one, it is not this site's page.
    missing = client.get(
        "/oembed",
        query_string={"url": f"http://localhost/other/rallies/{rally_id}"},
        headers={"X-Forwarded-Prefix": PREFIX},
    )
    assert missing.status_code == 404


def test_the_prefix_header_counts_only_from_a_trusted_proxy(sqlite_url):
    app = make_app(sqlite_url)
    html = app.test_client().get("/", headers={"X-Forwarded-Prefix": "/evil"}).get_data(True)
    assert "/evil" not in html
    app.extensions["mapapp.db"]["engine"].dispose()


class PrefixProxy:
    """What nginx does with `location /mirror/ { proxy_pass ...; X-Forwarded-Prefix /mirror }`."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __call__(self, environ, start_response):  # noqa: ANN001, ANN204
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX + "/"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"outside the mirror"]
        environ["PATH_INFO"] = path[len(PREFIX) :]
        environ["HTTP_X_FORWARDED_PREFIX"] = PREFIX
        environ["HTTP_X_FORWARDED_FOR"] = "127.0.0.1"
        return self.app(environ, start_response)


@pytest.fixture
def mirror(sqlite_url: str, monkeypatch) -> Iterator[str]:  # noqa: ANN001
    app = browser_app(sqlite_url, TRUSTED_PROXIES=1)
    app.test_cli_runner().invoke(args=["init-db"])
    server = make_server("127.0.0.1", 0, PrefixProxy(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}{PREFIX}"
    server.shutdown()
    thread.join()
    app.extensions["mapapp.db"]["engine"].dispose()


@pytest.mark.browser
def test_map_submission_and_embed_work_at_the_mirror(page, mirror):
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.goto(mirror + "/?lang=en")
    page.locator(".rally-marker-featured").wait_for(state="visible")
    assert page.locator("#rally-list li").count() > 3
    # a rally page from the list, with its map
    with page.expect_navigation():
        page.locator("#rally-list li a").first.click()
    assert page.url.startswith(mirror + "/rallies/")
    page.locator(".leaflet-marker-icon").first.wait_for(state="visible")

    # a submission, up to its manage link
    page.goto(mirror + "/submit?lang=en")
    page.fill("#title", "Пікет на Савецкай плошчы ў Гродне")
    page.fill("#town", "Гродна")
    page.fill("#place", "Савецкая плошча")
    page.fill("#date", (datetime.now(MINSK) + timedelta(days=5)).date().isoformat())
    page.fill("#time", "19:00")
    with page.expect_navigation():
        page.locator("button[type=submit]").click()
    page.locator(".leaflet-marker-icon.leaflet-marker-draggable").wait_for(state="visible")
    with page.expect_navigation():
        page.get_by_role("button", name="Send to moderators").click()
    assert page.url.startswith(mirror + "/submit/done")
    link = page.locator(".manage-link a").get_attribute("href")
    assert link.startswith(mirror + "/manage/")
    page.goto(link)
    assert page.locator("form[action^='/mirror/manage/']").count() >= 1

    # the embed and its oEmbed answer
    page.goto(mirror + "/embed?lang=en&list=1")
    page.locator(".rally-marker-featured").wait_for(state="visible")
    html = page.evaluate("url => fetch(url).then(r => r.json())", f"{mirror}/oembed?url={mirror}/")[
        "html"
    ]
    assert f'src="{mirror}/embed?' in html

    outside = [url for url in page.requested if not url.startswith(mirror + "/")]
    assert outside == []
    assert failed == []
    assert page.errors == []


def test_a_prefix_that_names_another_host_is_refused(app):
    """A proxy that passes a client's X-Forwarded-Prefix on must not let it name another host:
    "//attacker.example" would put that host into every link, and a cache keeps the page."""
    client = app.test_client()
    for prefix in ("//attacker.example", "/\\attacker.example"):
        response = client.get("/rallies", headers={"X-Forwarded-Prefix": prefix})
        assert response.status_code == 400
        assert b"attacker.example" not in response.data
    assert client.get("/rallies", headers={"X-Forwarded-Prefix": PREFIX}).status_code == 200


def test_a_cached_list_page_is_kept_per_address_and_prefix(app):
    """The list page is cached by the data version: one built for a mirror's address or
    under a prefix must not be served (with its links) at another address, nor its ETag."""
    add_rally(app)
    client = app.test_client()
    asked = [
        ("http://localhost", {}),
        ("http://127.0.0.1:8080", {}),
        ("http://localhost", {"X-Forwarded-Prefix": PREFIX}),
    ]
    etags = set()
    for base, headers in asked:
        page = client.get("/rallies?lang=en", base_url=base, headers=headers)
        html = page.get_data(as_text=True)
        etags.add(page.headers["ETag"])
        assert f'content="{base}{headers.get("X-Forwarded-Prefix", "")}/share/' in html, base
        links = local_links(html)
        if headers:
            assert all(link.startswith(PREFIX) for link in links if link.startswith("/"))
        else:
            assert not any(link.startswith(PREFIX) for link in links)
    assert len(etags) == len(asked)
