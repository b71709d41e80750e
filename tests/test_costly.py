"""Costly routes under one client's flood: built answers for everyone, 429s for the flooder.

A share image costs ~0.1 s to draw and an offline copy ~0.15 s, a hundred times /healthz.
What is built is kept and served to all; what is new is counted per client (BUILD_LIMIT) and
for the site (BUILD_TOTAL_LIMIT). Through `make serve`, nginx keeps each share image once
whatever the query string.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest
from conftest import add_rally, make_app
from test_serve import get, run_stack, serve_env

FLOODER, OTHER = "198.51.100.66", "192.0.2.10"


def client_at(app, address: str):  # noqa: ANN201
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_a_one_client_flood_of_new_offline_copies_gets_429s(sqlite_url) -> None:
    app = make_app(sqlite_url, BUILD_LIMIT="5 per minute")
    add_rally(app)
    flooder, other = client_at(app, FLOODER), client_at(app, OTHER)
    answers = [flooder.get(f"/offline.html?from=2027-01-{day:02d}") for day in range(1, 11)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 5
    assert answers[-1].headers["Retry-After"] == "60"
    # What is built is served to the flooder too, and everyone else is served as ever.
    assert flooder.get("/offline.html?from=2027-01-05").status_code == 200
    assert flooder.get("/healthz").status_code == 200
    assert other.get("/offline.html?from=2027-02-01").status_code == 200
    assert other.get("/healthz").status_code == 200


def test_share_images_are_limited_per_client_and_kept_for_all(sqlite_url) -> None:
    app = make_app(sqlite_url, BUILD_LIMIT="4 per minute")
    ids = [add_rally(app, title=f"Rally {n}") for n in range(3)]
    urls = [f"/share/rallies/{i}-{lang}.png" for i in ids for lang in ("be", "ru", "en")]
    flooder = client_at(app, FLOODER)
    codes = [flooder.get(url).status_code for url in urls]
    assert codes == [200] * 4 + [429] * 5
    assert all(flooder.get(url).status_code == 200 for url in urls[:4])  # kept, not redrawn
    assert client_at(app, OTHER).get(urls[-1]).status_code == 200


def test_many_clients_together_stop_at_the_site_limit(sqlite_url) -> None:
    app = make_app(sqlite_url, BUILD_LIMIT="5 per minute", BUILD_TOTAL_LIMIT="6 per minute")
    add_rally(app)
    codes = [
        client_at(app, f"203.0.113.{n}").get(f"/offline.html?to=2028-01-{n:02d}").status_code
        for n in range(1, 10)
    ]
    assert codes == [200] * 6 + [429] * 3
    # The refusal says it is the whole site's load, not this visitor's tries, in their language.
    refused = client_at(app, "203.0.113.50").get(
        "/rallies?to=2028-02-01", headers={"Accept-Language": "be"}
    )
    assert refused.status_code == 429
    assert "Зараз вельмі шмат людзей" in refused.text and "вашага падключэння" not in refused.text
    refused = client_at(app, "203.0.113.51").get("/api/rallies.geojson?to=2028-02-02")
    assert refused.status_code == 429 and "Very many people" in refused.json["message"]
    own = make_app(sqlite_url, BUILD_LIMIT="1 per minute")
    mine = client_at(own, "203.0.113.60")
    assert mine.get("/rallies?to=2028-03-01").status_code == 200
    refused = mine.get("/rallies?to=2028-03-02", headers={"Accept-Language": "be"})
    assert refused.status_code == 429 and "вашага падключэння" in refused.text
    assert client_at(app, OTHER).get("/healthz").status_code == 200
    assert client_at(app, OTHER).get("/offline.html?to=2028-01-06").status_code == 200  # kept


@pytest.fixture
def stack(tmp_path: Path):  # noqa: ANN201
    env = serve_env(tmp_path, MAPAPP_BUILD_LIMIT="5 per minute")
    yield from run_stack(tmp_path, env)


def test_through_make_serve_a_flood_gets_429s_and_healthz_stays(stack, tmp_path) -> None:
    base = stack.base
    # A share image is drawn once whatever the query string: nginx keys it by the path.
    status, headers, _ = get(f"{base}/share/map-en.png?x=0")
    assert status == 200
    caches = {get(f"{base}/share/map-en.png?x={n}")[1].get("X-Cache") for n in range(1, 20)}
    assert caches == {"HIT"}
    codes = [get(f"{base}/offline.html?from=2027-03-{day:02d}")[0] for day in range(1, 13)]
    assert codes[0] == 200 and codes.count(429) >= 7
    assert all(get(f"{base}/healthz")[0] == 200 for _ in range(5))


@pytest.fixture
def unlimited_app_stack(tmp_path: Path):  # noqa: ANN201
    """make serve with the app's own limits out of reach: every 429 is nginx's."""
    env = serve_env(
        tmp_path,
        MAPAPP_BUILD_LIMIT="100000 per minute",
        MAPAPP_BUILD_TOTAL_LIMIT="100000 per minute",
        MAPAPP_GEOCODE_LIMIT="100000 per minute",
    )
    yield from run_stack(tmp_path, env)


def from_address(base: str, path: str, address: str) -> tuple[int, dict[str, str]]:
    """GET base + path from a given loopback address (another client to nginx's limits)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30, source_address=(address, 0))
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        answer.read()
        return answer.status, dict(answer.headers)
    finally:
        conn.close()


def test_nginx_refuses_one_clients_costly_flood_before_the_app(unlimited_app_stack) -> None:
    base = unlimited_app_stack.base
    flooder, visitor = "127.0.0.2", "127.0.0.1"
    popup = json.loads(get(f"{base}/api/rallies.geojson?when=all")[2])["features"][0]["id"]
    # Geocoding answers in milliseconds, so 60 searches outrun the rate (2 a second after a
    # burst of 20) however slow the machine: past the burst nginx answers the flooder itself,
    # with no Retry-After, which every 429 of the app carries (its limits are out of reach).
    answers = [from_address(base, f"/api/geocode?q=place{n}", flooder) for n in range(60)]
    refused = [headers for status, headers in answers if status == 429]
    assert answers[0][0] != 429 and len(refused) >= 10  # (404: no such place)
    assert all("Retry-After" not in headers for headers in refused)

    # The same count covers offline copies, share images and signatures: with the count
    # spent, the flooder's new copies are refused by nginx too, before any worker builds them.
    def refused_by_nginx(path: str) -> bool:
        for n in range(30):
            from_address(base, f"/api/geocode?q=more{n}", flooder)
            status, headers = from_address(base, path.format(n + 1), flooder)
            if status == 429:
                return "Retry-After" not in headers
        return False

    assert refused_by_nginx("/offline.html?from=2027-05-{:02d}")
    assert refused_by_nginx("/rallies.ics.minisig?from=2027-06-{:02d}")
    assert refused_by_nginx(f"/share/rallies/{popup}-en.png?n={{}}")
    # Another visitor meanwhile: the health check, a popup, a page and a new copy of their own.
    for path in ("/healthz", f"/api/rallies/{popup}", "/", "/offline.html?from=2027-04-02"):
        assert from_address(base, path, visitor)[0] == 200, path
    # The flooder itself still gets what costs nothing new: a page, a popup, the health check.
    for path in ("/healthz", f"/api/rallies/{popup}", "/"):
        assert from_address(base, path, flooder)[0] == 200, path


def test_a_document_kept_for_every_worker_is_served_past_the_site_limit(sqlite_url) -> None:
    """Reading a document another worker kept (mapapp.publishing.partstore) is no build: with
    the site's build limit spent by a flood, a fresh worker still serves it and the map page
    (review of issue 27: after a change every worker's first read of the map's feed was a 429)."""
    limits = {"BUILD_LIMIT": "5 per minute", "BUILD_TOTAL_LIMIT": "6 per minute"}
    first, second = make_app(sqlite_url, **limits), make_app(sqlite_url, **limits)
    add_rally(first)
    feed = "/api/rallies.geojson?fields=map&lang=be"
    assert client_at(first, OTHER).get(feed).status_code == 200  # built and kept
    codes = [
        client_at(first, f"203.0.113.{n}")
        .get(f"/api/rallies.geojson?to=2028-01-{n:02d}")
        .status_code
        for n in range(1, 10)
    ]
    assert codes[-1] == 429  # the site's builds are spent
    visitor = client_at(second, "198.51.100.9")
    assert visitor.get(feed).status_code == 200  # read whole, not built
    # A common document no one has kept yet (the map's feed in another language, its
    # parameters in any order) is built past the limit too: a bounded set of addresses, the
    # same the preparation after a change makes; a new filter is still refused.
    assert visitor.get(feed.replace("=be", "=ru")).status_code == 200
    assert visitor.get("/api/rallies.geojson?lang=en&fields=map").status_code == 200
    assert visitor.get("/rallies.ics?when=all&lang=en").status_code == 200
    # The feeds partners subscribe to, without ?lang=: the negotiated language's document.
    assert visitor.get("/rallies.ics").status_code == 200
    assert visitor.get("/rallies.csv?when=all").status_code == 200
    assert visitor.get("/api/rallies.geojson?to=2029-01-01").status_code == 429
    assert visitor.get("/rallies.ics?when=all&lang=en&region=BY-HR").status_code == 429
    assert visitor.get("/").status_code == 200  # the map page: no data, no query
