"""Rate limits shared by all workers through Redis, and client addresses that can't be forged."""

import os

import pytest
from conftest import fresh_postgres, make_app
from sqlalchemy import text

from mapapp.domain import db

REDIS_URL = os.environ.get("MAPAPP_TEST_REDIS_URL")
HASH_KEY = "k" * 64


def test_workers_share_limits_through_redis(sqlite_url):
    if not REDIS_URL:
        pytest.skip("MAPAPP_TEST_REDIS_URL is not set")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    # two apps stand for two gunicorn workers, with the hash key their master gave both
    shared = {"REDIS_URL": REDIS_URL, "GEOCODE_LIMIT": "3 per minute", "HASH_KEY": HASH_KEY}
    first = make_app(sqlite_url, **shared)
    second = make_app(sqlite_url, **shared)
    assert first.config["RATELIMIT_STORAGE_URI"] == "mapapp-failover://"
    codes = [
        app.test_client().get("/api/geocode?q=Minsk").status_code
        for app in (first, second, first, second)
    ]
    assert codes == [200, 200, 200, 429]


def counted_in_database(app, route: str = "geocode") -> list[int]:
    """The counters of a route's limit in the rate_limit table: what every worker reads (the
    costly builds' counters, mapapp.web.caching, sit beside them)."""
    with app.app_context():
        query = text("SELECT count FROM rate_limit WHERE name LIKE :route")
        return list(db.session().scalars(query, {"route": f"%{route}%"}))


def test_limits_are_counted_in_the_database_without_redis(sqlite_url):
    """Not per-worker memory, which would multiply every limit by the number of workers."""
    app = make_app(sqlite_url, GEOCODE_LIMIT="3 per minute")
    assert app.config["RATELIMIT_STORAGE_URI"] == "mapapp-database://"
    client = app.test_client()
    codes = [client.get("/api/geocode?q=Minsk").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert counted_in_database(app) == [4]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_redis_down_pages_serve_and_limits_fall_back_to_the_database(database, sqlite_url, caplog):
    url = sqlite_url if database == "sqlite" else fresh_postgres()
    closed = "redis://127.0.0.1:5169/0"  # nothing listens there
    app = make_app(url, REDIS_URL=closed, GEOCODE_LIMIT="3 per minute")
    client = app.test_client()
    for path in ("/", "/rallies", "/api/rallies.geojson", "/rallies.ics", "/healthz"):
        assert client.get(path).status_code == 200, path
    codes = [client.get("/api/geocode?q=Minsk").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert counted_in_database(app) == [5]  # shared by every worker, not in this one's memory
    said = [r.getMessage() for r in caplog.records if "rate limits" in r.getMessage()]
    assert said == [
        "Redis is unreachable: rate limits are counted in the database until it answers again"
    ]  # once, not once per request
    app.extensions["mapapp.db"]["engine"].dispose()


def test_forwarded_for_is_ignored_without_a_trusted_proxy(sqlite_url):
    app = make_app(sqlite_url, GEOCODE_LIMIT="2 per minute")
    client = app.test_client()
    codes = [
        client.get(
            "/api/geocode?q=Minsk", headers={"X-Forwarded-For": f"198.51.100.{i}"}
        ).status_code
        for i in range(3)
    ]
    assert codes == [200, 200, 429]  # a new made-up address each time does not help


def test_forwarded_for_counts_behind_one_trusted_proxy(sqlite_url):
    app = make_app(sqlite_url, GEOCODE_LIMIT="2 per minute", TRUSTED_PROXIES=1)
    client = app.test_client()
    codes = [
        client.get(
            "/api/geocode?q=Minsk", headers={"X-Forwarded-For": f"198.51.100.{i}"}
        ).status_code
        for i in range(3)
    ]
    assert codes == [200, 200, 200]  # three real clients behind the proxy
