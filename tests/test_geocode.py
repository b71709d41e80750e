"""Geocoding in the app: CLI, API, and Nominatim (a fake one on 127.0.0.1) as an option."""

import json
import logging
import os
import time

import pytest
from conftest import make_app
from fake_nominatim import FakeNominatim

from mapapp.domain.geocoding import acquire_slot, geocode

ADDRESS = "вул. Леніна, 3, Пінск"


def test_cli_geocode_arguments(runner):
    result = runner.invoke(args=["geocode", "Гродна", "Kastrychnitskaya", "Atlantis"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["query"] for line in lines] == ["Гродна", "Kastrychnitskaya", "Atlantis"]
    hrodna, square, missing = lines
    assert hrodna["region"] == "BY-HR" and hrodna["kind"] == "town"
    assert hrodna["source"] == "gazetteer"
    assert {"query", "lat", "lon", "name", "region", "kind", "source"} <= set(hrodna)
    assert square["kind"] == "square" and (square["lat"], square["lon"]) == (53.9022, 27.5617)
    assert set(missing) == {"query", "error"}


def test_cli_geocode_reads_stdin(runner):
    result = runner.invoke(args=["geocode", "-"], input="Mahiliou\n\nМогилёв\n")
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert len(lines) == 3
    assert lines[0]["region"] == lines[2]["region"] == "BY-MA"
    assert "error" in lines[1]


def test_api_geocode(client):
    found = client.get("/api/geocode?q=Гродно&lang=ru")
    assert found.status_code == 200
    data = found.get_json()
    assert data["region"] == "BY-HR" and data["town"] == "Гродно"
    missing = client.get("/api/geocode?q=Atlantis")
    assert missing.status_code == 404 and "error" in missing.get_json()
    assert client.get("/api/geocode?q=").status_code == 400
    assert client.get("/api/geocode?q=" + "x" * 301).status_code == 400


def test_api_geocode_is_rate_limited(sqlite_url):
    app = make_app(sqlite_url, GEOCODE_LIMIT="3 per minute")
    client = app.test_client()
    codes = [client.get("/api/geocode?q=Minsk").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert client.get("/api/geocode?q=Minsk").get_json()["status"] == 429


def test_api_reverse(client):
    data = client.get("/api/reverse?lat=53.678&lon=23.83&lang=be").get_json()
    assert data["town"] == "Гродна" and data["region"] == "BY-HR"
    outside = client.get("/api/reverse?lat=52.52&lon=13.40")
    assert outside.status_code == 404
    assert "outside Belarus" in outside.get_json()["message"]
    assert client.get("/api/reverse?lat=north&lon=1").status_code == 400


@pytest.fixture
def fake():
    with FakeNominatim() as server:
        yield server


@pytest.fixture
def online_app(sqlite_url, fake):
    return make_app(
        sqlite_url,
        GEOCODER="nominatim",
        NOMINATIM_URL=fake.url,
        NOMINATIM_USER_AGENT="mapapp-tests/1.0 (tests@example.org)",
        NOMINATIM_TIMEOUT=1,
    )


def test_nominatim_needs_a_user_agent(sqlite_url):
    with pytest.raises(ValueError, match="USER_AGENT"):
        make_app(sqlite_url, GEOCODER="nominatim", NOMINATIM_USER_AGENT=None)


def test_nominatim_answers_a_street_address(online_app, fake):
    with online_app.app_context():
        result = geocode(ADDRESS)
    assert result["source"] == "nominatim"
    assert (result["lat"], result["lon"]) == (52.1138, 26.1032)
    assert result["region"] == "BY-BR" and result["kind"] == "address"
    request = fake.requests[0]
    assert request["query"]["countrycodes"] == ["by"]
    assert request["user_agent"] == "mapapp-tests/1.0 (tests@example.org)"


def test_nominatim_is_not_asked_when_the_gazetteer_is_sure(online_app, fake):
    with online_app.app_context():
        assert geocode("Гродна")["source"] == "gazetteer"
        assert geocode("Октябрьская площадь, Минск")["kind"] == "square"
    assert fake.requests == []


def test_nominatim_answers_are_cached(online_app, fake):
    with online_app.app_context():
        first = geocode(ADDRESS)
        second = geocode(ADDRESS)
    assert first == second
    assert len(fake.requests) == 1


@pytest.mark.parametrize("mode", ["slow", "429", "500", "badjson", "empty", "outside"])
def test_every_failure_falls_back_to_the_gazetteer(online_app, fake, mode):
    fake.mode = mode
    with online_app.app_context():
        result = geocode(ADDRESS)
    assert result["source"] == "gazetteer"
    assert result["kind"] == "approximate" and result["town"] == "Pinsk"
    assert len(fake.requests) == 1


def test_refused_connection_falls_back(sqlite_url):
    app = make_app(
        sqlite_url,
        GEOCODER="nominatim",
        NOMINATIM_URL="http://127.0.0.1:9",  # discard port: nothing listens
        NOMINATIM_USER_AGENT="mapapp-tests",
    )
    with app.app_context():
        assert geocode(ADDRESS)["source"] == "gazetteer"
        assert geocode("Atlantis street 5") == {
            "query": "Atlantis street 5",
            "error": "Place not found: choose the town and set the pin on the map.",
        }


@pytest.mark.parametrize("mode", ["slow", "500", "ok"])
def test_the_address_never_reaches_the_logs(online_app, fake, caplog, mode):
    from urllib.parse import quote, quote_plus

    fake.mode = mode
    with caplog.at_level(logging.DEBUG), online_app.app_context():
        geocode(ADDRESS)
    assert len(fake.requests) == 1  # and no retries behind our back
    logged = " ".join(record.getMessage() for record in caplog.records)
    for form in ("Леніна", quote("Леніна"), quote_plus("Леніна"), "%D0%9B"):
        assert form not in logged
    if mode != "ok":
        assert "Nominatim failed" in logged


def test_one_request_a_second_for_all_callers(online_app, fake):
    with online_app.app_context():
        geocode("вул. Леніна, 3, Пінск")
        geocode("вул. Леніна, 5, Пінск")
    first, second = fake.requests
    assert second["at"] - first["at"] >= 0.95


def test_database_throttle_is_shared(online_app):
    # two "workers": two engines on the same database file
    with online_app.app_context():
        assert acquire_slot("test-service", 5.0, wait=0)
    other = make_app(online_app.config["DATABASE_URL"])
    with other.app_context():
        assert not acquire_slot("test-service", 5.0, wait=0.2)


REDIS_URL = os.environ.get("MAPAPP_TEST_REDIS_URL")


def test_redis_throttle_is_shared(sqlite_url):
    if not REDIS_URL:
        pytest.skip("MAPAPP_TEST_REDIS_URL is not set")
    import redis

    redis.Redis.from_url(REDIS_URL).delete("mapapp:slot:redis-test")
    first = make_app(sqlite_url, REDIS_URL=REDIS_URL)
    second = make_app(sqlite_url, REDIS_URL=REDIS_URL)
    with first.app_context():
        assert acquire_slot("redis-test", 1.0, wait=0)
    with second.app_context():
        assert not acquire_slot("redis-test", 1.0, wait=0)
        start = time.monotonic()
        assert acquire_slot("redis-test", 1.0, wait=2)
        assert time.monotonic() - start > 0.5
