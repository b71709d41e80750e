"""Rate limits shared by all workers through Redis, and client addresses that can't be forged."""

import os

import pytest
from conftest import make_app

REDIS_URL = os.environ.get("MAPAPP_TEST_REDIS_URL")


def test_workers_share_limits_through_redis(sqlite_url):
    if not REDIS_URL:
        pytest.skip("MAPAPP_TEST_REDIS_URL is not set")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    # two apps stand for two gunicorn workers
    first = make_app(sqlite_url, REDIS_URL=REDIS_URL, GEOCODE_LIMIT="3 per minute")
    second = make_app(sqlite_url, REDIS_URL=REDIS_URL, GEOCODE_LIMIT="3 per minute")
    assert first.config["RATELIMIT_STORAGE_URI"] == REDIS_URL
    codes = [
        app.test_client().get("/api/geocode?q=Minsk").status_code
        for app in (first, second, first, second)
    ]
    assert codes == [200, 200, 200, 429]


def test_memory_storage_without_redis(sqlite_url):
    app = make_app(sqlite_url)
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"


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
