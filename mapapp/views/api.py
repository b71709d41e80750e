"""Machine-readable twins of the pages: GeoJSON and JSON, and the health check."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, abort, current_app, jsonify, request

from mapapp.domain import db, rules
from mapapp.domain.filters import one_of, parse_filter
from mapapp.domain.geocoding import gazetteer, geocode, reverse_json
from mapapp.domain.models import utcnow
from mapapp.places.locale import LANGUAGES
from mapapp.publishing import openapi
from mapapp.publishing.geojson import FEATURES_LAYOUT, feature_bytes, in_language, public_detail
from mapapp.publishing.mapfeed import map_layout_and_parts
from mapapp.publishing.public import (
    current_version,
    etag_for,
    public_entries,
    revision,
    seconds_until_change,
)
from mapapp.publishing.public import public_rally as find_public_rally
from mapapp.publishing.signing import signed_comment, signing_key
from mapapp.web.caching import (
    Prepared,
    conditional,
    memoized,
    prepared,
    prepared_parts,
    prepared_response,
    shared_document,
    shared_parts,
)
from mapapp.web.i18n import current_language
from mapapp.web.limits import limiter
from mapapp.web.urls import current_origin

bp = Blueprint("api", __name__)


GEOJSON = "application/geo+json"


def cached_geojson(key: str, version: str, build: Callable[[], Prepared]) -> Prepared:
    """A GeoJSON document, gzipped (its plain bytes on demand), kept by ETag in this process
    and for every other (mapapp.web.caching.shared_document; `version`: the data version's key).

    Gzip takes 10,000 rallies from about 3.5 MB to a tenth: it matters on a phone.
    """
    return shared_document("geojson", key, version, build)


def asked_language() -> str | None:
    """?lang= for machine clients, or None: an unknown one is a 400, as the OpenAPI document
    says, not the silent fallback to Accept-Language that pages make for people."""
    asked = request.args.get("lang") or None
    if asked is not None and asked not in LANGUAGES:
        raise one_of("lang", LANGUAGES)
    return asked


def api_language() -> str:
    """The language of a machine client's answer: ?lang= (checked), else the request's."""
    asked_language()
    return current_language()


def geojson_document() -> tuple[str, Callable[[], Prepared], int]:
    """The GeoJSON this request asks for: its ETag (before any "-gz"), a function giving its
    bytes (plain and gzipped, built once per ETag), and how long it may be kept (seconds)."""
    rally_filter = parse_filter(request.args, gazetteer())
    # Without ?lang the document is the same for everyone: towns as written, no texts.
    lang = asked_language()
    # ?fields=map: the map's compact form (mapapp.publishing.mapfeed), else every public property.
    fields = request.args.get("fields") or None
    if fields not in (None, "map"):
        raise one_of("fields", ("map",))
    now = utcnow()
    version = current_version(db.reader(), now)  # the one database read of a 304
    etag = etag_for(version.key, rally_filter.key(), lang or "", *([fields] if fields else []))

    def document() -> Prepared:
        if fields == "map":
            return cached_geojson(
                etag,
                version.key,
                lambda: prepared_parts(
                    "geojson",
                    etag,
                    *map_layout_and_parts(
                        public_entries(db.session(), rally_filter, now), lang, *shared_parts()
                    ),
                ),
            )
        return cached_geojson(
            etag,
            version.key,
            lambda: prepared(
                "geojson",
                etag,
                FEATURES_LAYOUT,
                public_entries(db.session(), rally_filter, now),
                ("geojson", lang or ""),
                feature_bytes(in_language(lang) if lang else None),
            ),
        )

    return etag, document, seconds_until_change(version, now, current_app.config["CACHE_SECONDS"])


@bp.get("/api/rallies.geojson")
def rallies_geojson() -> Response:
    etag, document, max_age = geojson_document()
    return prepared_response(etag, document, max_age, GEOJSON)


@bp.get("/api/rallies.geojson.minisig")
def rallies_geojson_signature() -> Response:
    """minisign's signature of the document /api/rallies.geojson gives for the same query.

    Check it with `minisign -Vm rallies.geojson -p signing.pub` (the key is on /about).
    The trusted comment carries the document's ETag: compare it with the document's.
    """
    key = signing_key(current_app)
    if key is None:
        abort(404, "This site has no signing key (MAPAPP_SIGNING_KEY).")
    etag, document, max_age = geojson_document()

    def build() -> Response:
        signature = memoized(
            "geojson_signature",
            etag,
            lambda: key.sign(
                document().plain(),
                signed_comment(
                    f"rallies.geojson etag:{etag}",
                    selection=parse_filter(request.args, gazetteer()).args(),
                    made_at=utcnow(),
                ),
            ),
        )
        return Response(signature, mimetype="text/plain")

    # Weak: the signature says when it was made (each worker makes its own).
    return conditional(etag + "-sig", build, max_age, "text/plain", weak=True)


@bp.get("/api/rallies/<int:rally_id>")
def rally_json(rally_id: int) -> Response:
    """One public rally; cacheable like the map's feed, so a status reaches a page polling
    it within MAPAPP_CACHE_SECONDS."""
    # With ?lang (the map's popups): the town, the time and an unrevealed place's note in it.
    lang = asked_language()
    session, now = db.session(), utcnow()
    found = find_public_rally(session, rally_id, now)
    if found is None:
        abort(404, "No such rally.")
    version = current_version(session, now)
    # The rally's own public state: its sequence moves with every public change of it.
    etag = etag_for(
        "rally-json",
        str(found.id),
        f"{revision(found, version)}|{found.exact}|{found.changes_pending}",
        lang or "",
    )
    max_age = seconds_until_change(version, now, current_app.config["CACHE_SECONDS"])

    def build() -> Response:
        detail = public_detail(found)
        return jsonify({**detail, **in_language(lang)(found)} if lang else detail)

    return conditional(etag, build, max_age, "application/json")


@bp.get("/api/geocode")
@limiter.limit(lambda: current_app.config["GEOCODE_LIMIT"])
def geocode_json() -> tuple[Response, int]:
    query = rules.normalise(request.args.get("q", ""))
    if not query:
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
        # Not found, as /api/geocode says: the request itself was well formed.
        abort(404, "This point is outside Belarus: no town is under it.")
    return jsonify(found)


@bp.get("/api/openapi.json")
def openapi_json() -> Response:
    # Paths are relative to the site's address: the canonical one, else where this was asked.
    server = current_app.config["BASE_URL"] or (current_origin() + request.script_root)
    return jsonify(openapi.document(server or "/"))


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        ok = db.ping()
    except Exception:  # noqa: BLE001 - any database failure means "not healthy"
        ok = False
    return jsonify(status="ok" if ok else "database unavailable"), 200 if ok else 503
