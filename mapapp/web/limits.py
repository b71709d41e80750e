"""Rate limits (Flask-Limiter) and the client address they count by.

Counts are shared by all gunicorn workers: in Redis with MAPAPP_REDIS_URL, otherwise (and
while Redis is down) in the app's database (table rate_limit). Per-worker memory would
multiply every limit by the number of workers. X-Forwarded-For is trusted only for
MAPAPP_TRUSTED_PROXIES hops: trusting it with no proxy in front would let anyone step past
a limit by sending a new address each time. Clients are counted by a keyed hash of their
address (client_key), and expired counters are deleted: no address is stored anywhere.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import random
import time
from typing import Any

from flask import Flask, current_app, g, has_request_context
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse as parse_limit
from limits.storage import Storage, storage_from_string
from sqlalchemy import Engine, text
from werkzeug.middleware.proxy_fix import ProxyFix

from mapapp.domain import db
from mapapp.web.keyed import keyed_hash


def client_address() -> str:
    """The client's address as the limits count it: an IPv6 address by its /64 network
    (what one subscriber or phone gets: one attacker could otherwise take a new address from
    it for every request and step past every limit), any other as it is."""
    address = get_remote_address() or "-"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return address


def client_key() -> str:
    """The client, as the limits count it: a keyed hash of its address (client_address),
    never the address.

    The counters' names (rows of rate_limit, Redis keys) then hold nothing a seized disk
    could turn back into an address (mapapp.web.keyed: the key is not on the disk).
    """
    return keyed_hash("address", client_address())


limiter = Limiter(key_func=client_key, default_limits=[])
log = logging.getLogger(__name__)

REDIS_RETRY_SECONDS = 30  # how long the database counts alone after Redis failed
REDIS_TIMEOUT = 0.5  # seconds: a limit check must not hold a request up for long


def retry_seconds() -> int | None:
    """Seconds until the limit this request broke lets the client in again (its window's
    reset), or None outside a limited request."""
    try:
        current = limiter.current_limit
    except Exception:  # noqa: BLE001 - no limiter context
        return None
    if current is None:
        return None
    return max(1, math.ceil(current.reset_at - time.time()))


def may_build() -> bool:
    """Whether this request may pay for one costly build (a cache miss: a share image, an
    offline copy, a feed or a page for a new query string).

    Counted per client (BUILD_LIMIT) and for the whole site (BUILD_TOTAL_LIMIT), in Redis or
    the database like every limit: one client with a script gets 429s long before the site is
    busy, many together get them before the workers are; answers already built are served to
    everyone whatever the counts. Outside a request (a CLI command), in the app's own
    preparation of the common documents after a change (mapapp.web.caching.prepare_documents),
    or without counters at all, the build goes ahead.
    """
    if not has_request_context() or not limiter.enabled or g.get("prepared_ahead"):
        return True
    config = current_app.config
    try:
        if not limiter.limiter.hit(parse_limit(config["BUILD_LIMIT"]), "build", client_key()):
            return False
        if not limiter.limiter.hit(parse_limit(config["BUILD_TOTAL_LIMIT"]), "build-all"):
            g.site_busy = True  # the 429 says so: it is not this visitor's doing
            return False
        return True
    except Exception:  # noqa: BLE001 - no counter: serve, as the pages do without Redis
        return True


class DatabaseStorage(Storage):
    """Fixed-window counters in the app's database, one row per key.

    Each increment is one short write transaction (SQLite: BEGIN IMMEDIATE); stale rows
    are deleted as they are met, and all of them now and then.
    """

    STORAGE_SCHEME = ["mapapp-database"]

    def __init__(self, uri: str | None = None, engine: Engine | None = None, **options: Any):  # noqa: ANN401
        super().__init__(uri, wrap_exceptions=bool(options.get("wrap_exceptions")))
        assert engine is not None, "DatabaseStorage needs the app's engine"
        self.engine = engine
        self.writer = db.writer(engine)

    @property
    def base_exceptions(self) -> type[Exception]:
        return Exception

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self.writer.begin() as connection:
            connection.execute(
                text("DELETE FROM rate_limit WHERE name = :name AND expires_at <= :now"),
                {"name": key, "now": now},
            )
            count = connection.execute(
                text(
                    "INSERT INTO rate_limit (name, count, expires_at) VALUES (:name, :amount, :at) "
                    "ON CONFLICT (name) DO UPDATE SET count = rate_limit.count + :amount "
                    "RETURNING count"
                ),
                {"name": key, "amount": amount, "at": now + expiry},
            ).scalar_one()
            if random.random() < 0.01:  # noqa: S311 - housekeeping, not security
                connection.execute(
                    text("DELETE FROM rate_limit WHERE expires_at <= :now"), {"now": now}
                )
        return int(count)

    def _row(self, key: str) -> tuple[int, float] | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT count, expires_at FROM rate_limit "
                    "WHERE name = :name AND expires_at > :now"
                ),
                {"name": key, "now": time.time()},
            ).first()
        return (int(row[0]), float(row[1])) if row else None

    def get(self, key: str) -> int:
        row = self._row(key)
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row[1] if row else time.time()

    def check(self) -> bool:
        try:
            return db.ping_engine(self.engine)
        except Exception:  # noqa: BLE001 - "not healthy" is the answer
            return False

    def reset(self) -> int | None:
        with self.writer.begin() as connection:
            return connection.execute(text("DELETE FROM rate_limit")).rowcount

    def clear(self, key: str) -> None:
        with self.writer.begin() as connection:
            connection.execute(text("DELETE FROM rate_limit WHERE name = :name"), {"name": key})


class FailoverStorage(Storage):
    """Redis while it answers; the database while it does not (said once in the log).

    After a failure Redis is left alone for REDIS_RETRY_SECONDS, so a dead Redis costs each
    worker one short timeout per half minute, not one per request.
    """

    STORAGE_SCHEME = ["mapapp-failover"]

    def __init__(
        self,
        uri: str | None = None,
        redis_url: str = "",
        engine: Engine | None = None,
        **options: Any,  # noqa: ANN401
    ) -> None:
        super().__init__(uri, wrap_exceptions=bool(options.get("wrap_exceptions")))
        self.redis = storage_from_string(
            redis_url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        self.database = DatabaseStorage(engine=engine)
        self.redis_down_until = 0.0
        self.said_down = False

    @property
    def base_exceptions(self) -> type[Exception]:
        return Exception

    def _call(self, method: str, *args: Any) -> Any:  # noqa: ANN401
        if time.monotonic() >= self.redis_down_until:
            try:
                answer = getattr(self.redis, method)(*args)
            except Exception:  # noqa: BLE001 - any Redis failure: count in the database
                self.redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
                if not self.said_down:
                    self.said_down = True
                    log.warning(
                        "Redis is unreachable: rate limits are counted in the database "
                        "until it answers again"
                    )
            else:
                if self.said_down:
                    self.said_down = False
                    log.warning("Redis answers again: rate limits are counted in Redis")
                return answer
        return getattr(self.database, method)(*args)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self._call("incr", key, expiry, amount)

    def get(self, key: str) -> int:
        return self._call("get", key)

    def get_expiry(self, key: str) -> float:
        return self._call("get_expiry", key)

    def check(self) -> bool:
        return self._call("check")

    def reset(self) -> int | None:
        return self._call("reset")

    def clear(self, key: str) -> None:
        self._call("clear", key)


def init_app(app: Flask) -> None:
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies:
        # Not X-Forwarded-Host: the proxy passes Host on (mapapp.web.urls checks it). The prefix
        # is the path the proxy mounts the site under (/mirror): links follow it.
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=0, x_prefix=proxies
        )
    engine = app.extensions["mapapp.db"]["engine"]
    if "RATELIMIT_STORAGE_URI" not in app.config:
        if app.config["REDIS_URL"]:
            app.config["RATELIMIT_STORAGE_URI"] = "mapapp-failover://"
            app.config.setdefault(
                "RATELIMIT_STORAGE_OPTIONS",
                {"redis_url": app.config["REDIS_URL"], "engine": engine},
            )
        else:
            app.config["RATELIMIT_STORAGE_URI"] = "mapapp-database://"
            app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"engine": engine})
    # Flask-Limiter keeps `enabled` on the one Limiter and takes it as the default of the next
    # app: an app made with limits off (a test) would switch them off for every later one.
    app.config.setdefault("RATELIMIT_ENABLED", True)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "mapapp")
    limiter.init_app(app)
