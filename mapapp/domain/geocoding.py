"""Geocoding for the app: the offline gazetteer first, Nominatim (geopy) when configured.

The one module that imports geopy. Nominatim is asked only when the gazetteer has no
confident answer (a street address, say), at most once a second for the whole
deployment (through Redis when configured, else through the database), with a short
timeout, and its answers are cached in the database. Any failure of the service
falls back to the gazetteer's answer, or to "not found, set the pin": never an error
page, never a lost submission. Typed addresses are never logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from mapapp.domain import db, rules
from mapapp.domain.models import GeocodeCache, Throttle, utcnow
from mapapp.places.index import Candidate, Match
from mapapp.places.nominatim import search as nominatim_search
from mapapp.places.search import Gazetteer
from mapapp.places.spelling import fold

log = logging.getLogger(__name__)

NOT_FOUND = "Place not found: choose the town and set the pin on the map."
CONFIDENT = 0.6  # below this, or for a street address, Nominatim is asked when configured
NOMINATIM_INTERVAL = 1.0  # seconds between requests, for all workers together (its policy)


def init_app(app: Flask) -> None:
    app.extensions["mapapp.gazetteer"] = Gazetteer.load()
    # geopy logs request URLs (with the typed address) at DEBUG, and its RateLimiter logs
    # its arguments at WARNING: keep its records out of the logs altogether.
    logging.getLogger("geopy").setLevel(logging.CRITICAL)
    if app.config["GEOCODER"] not in ("offline", "nominatim"):
        raise ValueError("MAPAPP_GEOCODER must be 'offline' or 'nominatim'")
    if app.config["GEOCODER"] == "nominatim" and not app.config["NOMINATIM_USER_AGENT"]:
        raise ValueError("MAPAPP_GEOCODER=nominatim needs MAPAPP_NOMINATIM_USER_AGENT")


def gazetteer() -> Gazetteer:
    return current_app.extensions["mapapp.gazetteer"]


# -- answers as JSON ---------------------------------------------------------------------


def candidate_json(candidate: Candidate, lang: str) -> dict[str, Any]:
    return {
        "name": candidate.name_in(lang),
        "town": candidate.place.name_in(lang),
        "geonameid": candidate.place.geonameid,
        "lat": round(candidate.lat, 6),
        "lon": round(candidate.lon, 6),
        "region": candidate.region,
        "kind": candidate.kind,
        "confidence": candidate.confidence,
    }


def match_json(query: str, match: Match, lang: str) -> dict[str, Any]:
    return {
        "query": query,
        **candidate_json(match, lang),
        "matched": match.matched,
        "source": "gazetteer",
        "alternatives": [candidate_json(c, lang) for c in match.alternatives],
    }


def geocode(query: str, lang: str = "en") -> dict[str, Any]:
    """One query -> {"query", "lat", "lon", "name", "region", "kind", "source", ...}
    or {"query", "error"}. The query is read as NFC (decomposed letters joined)."""
    query = rules.normalise(query or "")
    if not query:
        return {"query": query, "error": "Empty query: type a town, and a square or street."}
    if len(query) > 300:
        return {"query": query[:300], "error": "The query is too long (at most 300 characters)."}
    match = gazetteer().geocode(query)
    if current_app.config["GEOCODER"] == "nominatim" and (
        match is None or match.kind == "approximate" or match.confidence < CONFIDENT
    ):
        online = nominatim(query)
        if online is not None:
            return {"query": query, **online}
    if match is None:
        return {"query": query, "error": NOT_FOUND}
    return match_json(query, match, lang)


def reverse_json(lat: float, lon: float, lang: str = "en") -> dict[str, Any] | None:
    """The town under a dragged pin, or None outside Belarus."""
    found = gazetteer().reverse(lat, lon)
    if found is None:
        return None
    return {
        "lat": lat,
        "lon": lon,
        "town": found.place.name_in(lang),
        "geonameid": found.place.geonameid,
        "region": found.region,
        "distance_km": found.distance_km,
    }


# -- Nominatim through geopy ------------------------------------------------------------


def nominatim(query: str) -> dict[str, Any] | None:
    """Ask Nominatim (cached, throttled); None on any failure or when outside Belarus."""
    key = hashlib.sha256(fold(query).encode()).hexdigest()
    cached = cache_get(key)
    if cached is not None:
        return cached or None
    if not acquire_slot("nominatim", NOMINATIM_INTERVAL, wait=NOMINATIM_INTERVAL * 1.5):
        return None  # busy: the gazetteer answers this time; nothing cached
    config = current_app.config
    try:
        location = nominatim_search(
            query,
            config["NOMINATIM_URL"],
            config["NOMINATIM_USER_AGENT"],
            config["NOMINATIM_TIMEOUT"],
        )
    except Exception as error:  # noqa: BLE001 - timeouts, refusals, 429, 5xx, bad JSON
        log.warning("Nominatim failed: %s", type(error).__name__)  # never the query
        return None
    result: dict[str, Any] = {}
    if location is not None:
        lat, lon = location.lat, location.lon
        found = gazetteer().reverse(lat, lon)
        if found is not None:
            result = {
                "lat": round(lat, 6),
                "lon": round(lon, 6),
                "name": location.address[:200],
                "town": found.place.name,
                "geonameid": found.place.geonameid,
                "region": found.region,
                "kind": "address",
                "confidence": 0.8,
                "source": "nominatim",
                "alternatives": [],
            }
    cache_put(key, result)
    return result or None


def cache_get(key: str) -> dict[str, Any] | None:
    """The cached answer ({} for "found nothing"), or None when not cached."""
    try:
        with db.engine().connect() as connection:
            raw = connection.execute(
                select(GeocodeCache.result).where(GeocodeCache.key == key)
            ).scalar()
    except SQLAlchemyError:
        return None
    return None if raw is None else (json.loads(raw) or {})


def cache_put(key: str, result: dict[str, Any]) -> None:
    try:
        with db.engine().begin() as connection:
            connection.execute(
                insert(GeocodeCache).values(key=key, result=json.dumps(result), created_at=utcnow())
            )
    except SQLAlchemyError:
        pass  # another worker cached it first, or the database is busy: no harm


def acquire_slot(name: str, interval: float, wait: float) -> bool:
    """Take the next slot of a service shared by all workers, waiting up to `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        if _try_slot(name, interval):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _try_slot(name: str, interval: float) -> bool:
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        try:
            return bool(
                _redis(redis_url).set(f"mapapp:slot:{name}", "1", nx=True, px=int(interval * 1000))
            )
        except Exception:  # noqa: BLE001 - Redis down: the database still serialises
            said = current_app.extensions.setdefault("mapapp.redis_down_said", set())
            if name not in said:  # once per worker, not once per request
                said.add(name)
                log.warning("Redis unavailable for the %s throttle; using the database", name)
    now = utcnow()
    try:
        # Read then write: SQLite takes the write lock first (BEGIN IMMEDIATE).
        with db.writer(db.engine()).begin() as connection:
            taken = connection.execute(
                update(Throttle)
                .where(Throttle.name == name, Throttle.next_at <= now)
                .values(next_at=now + timedelta(seconds=interval))
            ).rowcount
            if taken:
                return True
            if connection.execute(select(Throttle.name).where(Throttle.name == name)).first():
                return False
            connection.execute(
                insert(Throttle).values(name=name, next_at=now + timedelta(seconds=interval))
            )
            return True
    except (IntegrityError, SQLAlchemyError):
        return False


def _redis(url: str):  # noqa: ANN202
    clients = current_app.extensions.setdefault("mapapp.redis", {})
    if url not in clients:
        import redis

        clients[url] = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    return clients[url]
