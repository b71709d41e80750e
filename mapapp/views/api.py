"""Machine-readable twins of the pages: GeoJSON and JSON, and the health check."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request

from mapapp import db, openapi
from mapapp.filters import one_of, parse_filter
from mapapp.geocode import gazetteer, geocode, reverse_json
from mapapp.i18n import LANGUAGES, current_language, local_datetime, town_name
from mapapp.limits import limiter
from mapapp.models import Rally, utcnow
from mapapp.rallies import feature_collection, list_etag, public_detail, public_rallies
from mapapp.rallies import public_rally as find_public_rally
from mapapp.signing import signed_comment, signing_key
from mapapp.views.caching import conditional, memoized

bp = Blueprint("api", __name__)


def cached_geojson(key: str, build: Callable[[], bytes]) -> tuple[bytes, bytes]:
    """A GeoJSON document, plain and gzipped, kept by ETag.

    Gzip takes 10,000 rallies from about 3.5 MB to a tenth: it matters on a phone.
    """

    def both() -> tuple[bytes, bytes]:
        body = build()
        return body, gzip.compress(body, compresslevel=6, mtime=0)

    return memoized("geojson", key, both)


def api_language() -> str:
    """?lang= for machine clients: an unknown one is a 400, as the OpenAPI document says,
    not the silent fallback to Accept-Language that pages make for people."""
    asked = request.args.get("lang") or None
    if asked is not None and asked not in LANGUAGES:
        raise one_of("lang", LANGUAGES)
    return current_language()


def in_language(lang: str) -> Callable[[Rally], dict[str, Any]]:
    """What the map shows in a language: the town's name, and the start time as text.

    The time is formatted here because browsers lack some languages' dates (Chromium
    has no Belarusian in Intl), and so the map reads like the list and rally pages.
    """

    def localise(rally: Rally) -> dict[str, Any]:
        return {
            "town": town_name(rally, lang),
            "starts_text": local_datetime(rally.starts_at, "full", lang),
        }

    return localise


def geojson_document() -> tuple[str, tuple[bytes, bytes]]:
    """The GeoJSON this request asks for: its ETag (before any "-gz") and its bytes."""
    rally_filter = parse_filter(request.args, gazetteer())
    api_language()
    # Without ?lang the document is the same for everyone: towns as written, no texts.
    lang = request.args.get("lang") or None
    session = db.session()
    now = utcnow()
    etag = list_etag(session, rally_filter, now, lang or "")
    return etag, cached_geojson(
        etag,
        lambda: feature_collection(
            public_rallies(session, rally_filter, now), in_language(lang) if lang else None
        ),
    )


@bp.get("/api/rallies.geojson")
def rallies_geojson() -> Response:
    gzipped = "gzip" in request.accept_encodings
    etag, (plain, compressed) = geojson_document()
    # Gzipped is another representation, so another strong ETag.
    etag += "-gz" if gzipped else ""

    def build() -> Response:
        if not gzipped:
            return Response(plain, mimetype="application/geo+json")
        response = Response(compressed, mimetype="application/geo+json")
        response.content_encoding = "gzip"
        return response

    response = conditional(etag, build)
    response.vary.add("Accept-Encoding")
    return response


@bp.get("/api/rallies.geojson.minisig")
def rallies_geojson_signature() -> Response:
    """minisign's signature of the document /api/rallies.geojson gives for the same query.

    Check it with `minisign -Vm rallies.geojson -p signing.pub` (the key is on /about).
    The trusted comment carries the document's ETag: fetch both within the same minute,
    or compare the ETag, since the "upcoming" list moves with the clock.
    """
    key = signing_key(current_app)
    if key is None:
        abort(404, "This site has no signing key (MAPAPP_SIGNING_KEY).")
    etag, (plain, _) = geojson_document()
    signature = memoized(
        "geojson_signature",
        etag,
        lambda: key.sign(plain, signed_comment(f"rallies.geojson etag:{etag}")),
    )
    response = conditional(etag + "-sig", lambda: Response(signature, mimetype="text/plain"))
    return response


@bp.get("/api/rallies/<int:rally_id>")
def rally_json(rally_id: int) -> Response:
    found = find_public_rally(db.session(), rally_id)
    if found is None:
        abort(404, "No such rally.")
    return jsonify(public_detail(found))


@bp.get("/api/geocode")
@limiter.limit(lambda: current_app.config["GEOCODE_LIMIT"])
def geocode_json() -> tuple[Response, int]:
    query = request.args.get("q", "")
    if not query.strip():
        abort(400, "Give the place to look up as ?q=, for example ?q=Гродна.")
    if len(query) > 300:
        abort(400, "The query is too long (at most 300 characters).")
    result = geocode(query, api_language())
    return jsonify(result), 404 if "error" in result else 200


@bp.get("/api/reverse")
@limiter.limit(lambda: current_app.config["GEOCODE_LIMIT"])
def reverse() -> Response:
    try:
        lat, lon = float(request.args["lat"]), float(request.args["lon"])
    except (KeyError, ValueError):
        abort(400, "Give the point as ?lat=53.9&lon=27.56 (decimal degrees).")
    found = reverse_json(lat, lon, api_language())
    if found is None:
        abort(422, "This point is outside Belarus.")
    return jsonify(found)


@bp.get("/api/openapi.json")
def openapi_json() -> Response:
    return jsonify(openapi.document())


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        ok = db.ping()
    except Exception:  # noqa: BLE001 - any database failure means "not healthy"
        ok = False
    return jsonify(status="ok" if ok else "database unavailable"), 200 if ok else 503
