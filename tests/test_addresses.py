"""The host name is not the client's to choose: absolute links come from declared addresses.

Every GET route is asked for with an attacker's Host (and X-Forwarded-Host): refused, and the
attacker's name is in no body, header or cached response. Declared mirrors keep their own links.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import xstatic.pkg.leaflet
from conftest import add_rally, make_app
from flask import Flask

from mapapp import create_app
from mapapp.domain import db
from mapapp.web.urls import canonical_url

BASE = "https://rallies.example"
MIRROR = "https://mirror.example"
ONION = "http://rallies2345abcdefghijklmnopqrstuvwxyz234567abcdefghijkl.onion"
ATTACKER = "attacker.example"


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    app = make_app(
        sqlite_url,
        BASE_URL=BASE,
        HOSTS=MIRROR,
        ONION_URL=ONION,
        TRUSTED_PROXIES=1,
        TILE_URL="/test-tiles/{z}/{x}/{y}.png",
    )
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


def get_urls(app: Flask, rally_id: int) -> list[str]:
    """One address for every GET route of the app, with its arguments filled in."""
    values = {
        "rally_id": rally_id,
        "token": "t" * 43,
        "name": "leaflet",
        "version": xstatic.pkg.leaflet.VERSION,
        "filename": "leaflet.js",
        "z": 0,
        "x": 0,
        "y": 0,
        "language": "en",
    }
    queries = {
        "api.geocode_json": "?q=Мінск",
        "api.reverse": "?lat=53.9&lon=27.56",
        "embed.oembed": f"?url={BASE}/rallies/{rally_id}",
        "feeds.rallies_ics": "?when=all",
        "feeds.rallies_csv": "?when=all",
    }
    urls = []
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods:
                continue
            args = {name: values[name] for name in rule.arguments if name in values}
            if rule.endpoint == "assets.static":
                args["filename"] = "app.css"
            if rule.endpoint == "assets.module":
                from mapapp.web.assets import modules_version

                args.update(version=modules_version(), name="main.js")
            if rule.endpoint == "assets.basemap":
                from mapapp.web.assets import basemap_version

                args["version"] = basemap_version()
            urls.append(url_for(rule.endpoint, **args) + queries.get(rule.endpoint, ""))
    assert len(urls) >= 25
    return urls


def everything(response) -> str:  # noqa: ANN001
    body = response.get_data()
    # Images (share cards, tiles) are read as bytes: a host name would still show in them.
    text = body.decode("utf-8", "replace") + "\n" + str(response.headers)
    response.close()
    return text


def test_no_route_answers_for_an_undeclared_host(app):
    rally_id = add_rally(app, title="Пікет", place="Плошча Свабоды")
    client = app.test_client()
    for url in get_urls(app, rally_id):
        for host in (ATTACKER, "rallies.example:8443", "evil.rallies.example"):
            response = client.get(url, headers={"Host": host})
            assert response.status_code == 400, (url, host)
            assert response.headers["Cache-Control"] == "no-store"
            text = everything(response)
            assert ATTACKER not in text and "8443" not in text


def test_forwarded_host_is_never_trusted(app):
    """Behind a trusted proxy X-Forwarded-For/-Proto/-Prefix count, X-Forwarded-Host does not."""
    rally_id = add_rally(app, title="Пікет", place="Плошча Свабоды")
    client = app.test_client()
    statuses = {}
    for url in get_urls(app, rally_id):
        response = client.get(
            url,
            base_url=BASE,
            headers={"X-Forwarded-Host": ATTACKER, "X-Forwarded-Proto": "https"},
        )
        statuses[url] = response.status_code
        text = everything(response)
        assert ATTACKER not in text, url
        # Every absolute address in the answer is the site's own.
        for found in re.findall(r"https?://[^\s\"'<>\\]+", text):
            host = found.split("/")[2]
            assert "example" not in host or host in ("rallies.example", "news.example"), found
    assert statuses[f"/rallies/{rally_id}"] == 200
    assert statuses["/rallies.ics?when=all"] == 200


def test_absolute_links_come_from_the_base_url(app):
    rally_id = add_rally(app, title="Пікет", place="Плошча Свабоды")
    client = app.test_client()
    page = client.get(f"/rallies/{rally_id}?lang=en", base_url=BASE).get_data(as_text=True)
    assert f'<link rel="canonical" href="{BASE}/rallies/{rally_id}?lang=en">' in page
    assert f'<meta property="og:url" content="{BASE}/rallies/{rally_id}?lang=en">' in page
    assert f'hreflang="ru" href="{BASE}/rallies/{rally_id}?lang=ru"' in page
    assert f'value="{BASE}/rallies/{rally_id}?lang=en"' in page  # the share link
    ics = client.get("/rallies.ics?when=all", base_url=BASE).get_data(as_text=True)
    assert f"URL:{BASE}/rallies/{rally_id}" in ics


def test_a_mirror_links_to_itself_and_caches_apart(app):
    """Where a link must be absolute, a mirror's pages keep readers on the mirror (the main
    name may be blocked); canonical stays the main one. Its feed has its own ETag."""
    rally_id = add_rally(app, title="Пікет", place="Плошча Свабоды")
    client = app.test_client()
    page = client.get(f"/rallies/{rally_id}", base_url=MIRROR).get_data(as_text=True)
    assert f'<link rel="canonical" href="{BASE}/rallies/{rally_id}">' in page
    assert f'value="{MIRROR}/rallies/{rally_id}"' in page
    assert f'href="{MIRROR}/oembed?url={MIRROR}/rallies/{rally_id}&amp;format=json"' in page

    main = client.get("/rallies.ics?when=all", base_url=BASE)
    mirror = client.get("/rallies.ics?when=all", base_url=MIRROR)
    assert f"URL:{MIRROR}/rallies/{rally_id}" in mirror.get_data(as_text=True)
    assert "rallies.example" not in mirror.get_data(as_text=True).replace("mirror.example", "")
    assert main.headers["ETag"] != mirror.headers["ETag"]
    # A cache holding the main site's copy does not get a 304 for the mirror's.
    again = client.get(
        "/rallies.ics?when=all", base_url=MIRROR, headers={"If-None-Match": main.headers["ETag"]}
    )
    assert again.status_code == 200
    one = client.get(f"/rallies/{rally_id}.ics", base_url=BASE)
    assert (
        one.headers["ETag"]
        != client.get(f"/rallies/{rally_id}.ics", base_url=ONION).headers["ETag"]
    )

    oembed = client.get(
        "/oembed", base_url=MIRROR, query_string={"url": f"{BASE}/rallies/{rally_id}"}
    ).get_json()
    assert oembed["provider_url"] == f"{MIRROR}/"
    assert f'src="{MIRROR}/embed?' in oembed["html"]
    code = client.get("/embed/code", base_url=MIRROR).get_data(as_text=True)
    assert f"&lt;iframe src=&#34;{MIRROR}/embed?" in code or f"{MIRROR}/embed?" in code


def test_the_manage_link_is_on_the_address_the_organizer_used(app):
    from mapapp.views.submit import link_cipher

    client = app.test_client()
    with app.app_context():
        sealed = link_cipher().encrypt(b"secret-token").decode()
    with client.session_transaction(base_url=ONION) as session:
        session["manage_link"] = sealed
    page = client.get("/submit/done", base_url=ONION).get_data(as_text=True)
    assert f'href="{ONION}/manage/secret-token"' in page


def test_redirects_are_relative(app):
    client = app.test_client()
    response = client.get("/moderate", base_url=MIRROR)
    assert response.status_code == 302
    assert response.headers["Location"] == "/moderate/login?next=/moderate"


def test_onion_location_on_pages_elsewhere(app):
    client = app.test_client()
    response = client.get("/rallies?when=all&lang=ru", base_url=BASE)
    assert response.headers["Onion-Location"] == f"{ONION}/rallies?when=all&lang=ru"
    assert "Onion-Location" not in client.get("/rallies", base_url=ONION).headers
    assert "Onion-Location" not in client.get("/api/rallies.geojson", base_url=BASE).headers


def production_app(sqlite_url: str, **settings) -> Flask:  # noqa: ANN003
    app = create_app({"DATABASE_URL": sqlite_url, "SECRET_KEY": "x" * 32, **settings})
    with app.app_context():
        db.upgrade_schema()
    return app


def test_production_serves_only_its_declared_names(sqlite_url):
    app = production_app(sqlite_url, BASE_URL=BASE)
    client = app.test_client()
    assert client.get("/healthz", base_url=BASE).status_code == 200
    assert client.get("/healthz", base_url="http://localhost").status_code == 400
    assert client.get("/", base_url="http://127.0.0.1:5000").status_code == 400
    assert app.config["TRUSTED_HOSTS"] == ["rallies.example"]


def test_without_a_base_url_only_local_names_are_served(sqlite_url):
    app = production_app(sqlite_url)
    client = app.test_client()
    assert client.get("/healthz", base_url="http://127.0.0.1:8000").status_code == 200
    assert client.get("/healthz", base_url="https://rallies.example").status_code == 400


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("BASE_URL", "rallies.example"),
        ("BASE_URL", "https://rallies.example/?x=1"),
        ("HOSTS", "https://mirror.example/path"),
        ("HOSTS", "mirror.example"),
        ("ONION_URL", "ftp://x.onion"),
    ],
)
def test_addresses_must_be_addresses(sqlite_url, setting, value):
    with pytest.raises(ValueError, match=f"MAPAPP_{setting}"):
        create_app({"TESTING": True, "DATABASE_URL": sqlite_url, setting: value})


def test_the_export_links_to_the_base_url(app, tmp_path):
    add_rally(app)
    result = app.test_cli_runner().invoke(args=["export-static", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert f'"rallyUrl": "{BASE}/rallies/"' in page


def test_links_made_outside_a_request_use_the_base_url(app, sqlite_url):
    with app.app_context():
        assert canonical_url("/rallies/5") == f"{BASE}/rallies/5"
    other = make_app(sqlite_url)
    with other.app_context(), pytest.raises(RuntimeError, match="MAPAPP_BASE_URL"):
        canonical_url("/rallies/5")
