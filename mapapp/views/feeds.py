"""Feeds of the rallies for calendar apps (iCalendar) and spreadsheets (CSV).

They take the same filters as the list and the GeoJSON, and are cached the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, current_app, request

from mapapp.domain import db
from mapapp.domain.filters import parse_filter
from mapapp.domain.geocoding import gazetteer
from mapapp.domain.models import utcnow
from mapapp.places.locale import LANGUAGES
from mapapp.publishing.csvtable import CSV_LAYOUT, csv_row
from mapapp.publishing.ics import Notes, RallyUrl, calendar, calendar_layout, event_bytes
from mapapp.publishing.parts import Layout
from mapapp.publishing.public import (
    PublicRally,
    current_version,
    etag_for,
    public_entries,
    public_rally,
    revision,
    seconds_until_change,
)
from mapapp.publishing.signing import signed_comment, signing_key
from mapapp.publishing.words import feed_notes
from mapapp.web.caching import Prepared, conditional, memoized, prepared, prepared_response
from mapapp.web.i18n import current_language
from mapapp.web.urls import external_url

bp = Blueprint("feeds", __name__)


@bp.after_request
def vary_on_language(response: Response) -> Response:
    """Every answer here is in the request's language (the calendars' danger and moved
    warnings, the offline copy, their signatures; the ETags of all): without ?lang= that is
    Accept-Language's, so caches keep one copy per language. Without it nginx's micro-cache
    gave the first reader's warnings, in Russian say, to everyone for a second at a time."""
    if request.args.get("lang") not in LANGUAGES:
        response.vary.add("Accept-Language")
    return response


def rally_url(rally_id: int) -> str:
    """A rally page's address on this request's declared origin (a mirror's feed stays there)."""
    return external_url("pages.rally", rally_id=rally_id)


# A feed's format: its layout, and the function rendering one rally's part of it.
Format = tuple[Callable[[], Layout], Callable[[RallyUrl, Notes], Callable[[PublicRally], bytes]]]
ICS: Format = (calendar_layout, event_bytes)
CSV: Format = (lambda: CSV_LAYOUT, lambda url, notes: csv_row(url))


def feed_bytes(kind: str, form: Format) -> tuple[str, Callable[[], Prepared], int]:
    """This request's feed: its ETag, a function giving its body (gzipped, built once per
    ETag; the plain bytes on demand), and how long it may be kept (seconds: never past the next reveal or
    "upcoming" boundary)."""
    rally_filter = parse_filter(request.args, gazetteer())
    now = utcnow()
    version = current_version(db.reader(), now)
    lang = current_language()  # the warnings' language
    # The body links to rally pages: their origin, prefix and ?lang= are part of its ETag,
    # and of what each rally's part depends on.
    origin = rally_url(0)
    etag = etag_for(version.key, rally_filter.key(), kind, lang, origin)
    layout, part = form

    def body() -> Prepared:
        return memoized(
            "feed",
            etag,
            lambda: prepared(
                "feed",
                etag,
                layout(),
                public_entries(db.session(), rally_filter, now),
                (kind, lang, origin),
                part(rally_url, feed_notes(lang)),
            ),
            16,
        )

    return etag, body, seconds_until_change(version, now, current_app.config["CACHE_SECONDS"])


def feed(kind: str, mimetype: str, form: Format) -> Response:
    """The filtered public rallies in one format, with an ETag like the GeoJSON's; gzipped
    (another representation, another strong ETag) for clients that take it."""
    etag, body, max_age = feed_bytes(kind, form)
    return prepared_response(etag, body, max_age, mimetype)


@bp.get("/rallies.ics")
def rallies_ics() -> Response:
    # Served inline: calendar apps subscribe to this URL.
    return feed("ics", "text/calendar", ICS)


@bp.get("/rallies.ics.minisig")
def rallies_ics_signature() -> Response:
    """minisign's signature of the feed /rallies.ics gives for the same query (see /about)."""
    key = signing_key(current_app)
    if key is None:
        abort(404, "This site has no signing key (MAPAPP_SIGNING_KEY).")
    etag, body, max_age = feed_bytes("ics", ICS)

    def build() -> Response:
        signature = memoized(
            "feed_signature",
            etag,
            lambda: key.sign(body().plain(), signed_comment(f"rallies.ics etag:{etag}")),
            16,
        )
        return Response(signature, mimetype="text/plain")

    # Weak: the signature says when it was made (each worker makes its own).
    return conditional(etag + "-sig", build, max_age, "text/plain", weak=True)


@bp.get("/rallies.csv")
def rallies_csv() -> Response:
    response = feed("csv", "text/csv", CSV)
    response.headers.set("Content-Disposition", "attachment", filename="rallies.csv")
    return response


# The offline copy says when it was made, to the start of a window of this many seconds, so
# that every worker builds the same bytes for a window and its signature (from any worker)
# verifies the file (from any other).
OFFLINE_WINDOW = 600


def offline_document() -> tuple[str, Callable[[], bytes], int, str]:
    """This request's offline copy: its ETag, a function giving its bytes (built once per ETag
    in each worker, the same in every worker), how long it may be kept (seconds), and its
    language."""
    from mapapp.publishing.export import render_export

    rally_filter = parse_filter(request.args, gazetteer())
    lang = current_language()
    session, now = db.session(), utcnow()
    version = current_version(session, now)
    # What the public sees is the same at every moment of one data version; the time the copy
    # says it was made is the start of this window.
    start = int(now.timestamp()) // OFFLINE_WINDOW * OFFLINE_WINDOW
    made_at = datetime.fromtimestamp(start, UTC)
    # Links in the file lead to the declared address this request came to.
    site = external_url("pages.index", lang=None).rstrip("/")
    etag = etag_for(version.key, rally_filter.key(), "offline", lang, site, str(start))

    def body() -> bytes:
        return memoized(
            "offline",
            etag,
            lambda: render_export(rally_filter, lang, site, made_at=made_at, now=now).encode(),
            4,
        )

    max_age = seconds_until_change(version, now, current_app.config["CACHE_SECONDS"])
    return etag, body, min(max_age, start + OFFLINE_WINDOW - int(now.timestamp())), lang


@bp.get("/offline.html")
def offline_map() -> Response:
    """The export-static page for this language and these filters, as a download."""
    etag, body, max_age, lang = offline_document()
    response = conditional(
        etag, lambda: Response(body(), mimetype="text/html"), max_age, "text/html"
    )
    response.headers.set("Content-Disposition", "attachment", filename=f"rally-map-{lang}.html")
    return response


@bp.get("/offline.html.minisig")
def offline_map_signature() -> Response:
    """minisign's signature of the file /offline.html gives for the same query (see /about)."""
    key = signing_key(current_app)
    if key is None:
        abort(404, "This site has no signing key (MAPAPP_SIGNING_KEY).")
    etag, body, max_age, lang = offline_document()

    def build() -> Response:
        signature = memoized(
            "offline_signature",
            etag,
            lambda: key.sign(body(), signed_comment(f"rally-map-{lang}.html etag:{etag}")),
            4,
        )
        return Response(signature, mimetype="text/plain")

    # Weak: the signature says when it was made (each worker makes its own).
    return conditional(etag + "-sig", build, max_age, "text/plain", weak=True)


@bp.get("/rallies/<int:rally_id>.ics")
def rally_ics(rally_id: int) -> Response:
    session, now = db.session(), utcnow()
    found = public_rally(session, rally_id, now)
    if found is None:
        abort(404, "No such rally.")
    version = current_version(session, now)
    lang = current_language()
    # The rally's own public state: its sequence moves with every public change of it.
    state = f"{revision(found, version)}|{found.exact}|{found.changes_pending}"
    etag = etag_for("ics", str(found.id), state, lang, rally_url(0))
    response = conditional(
        etag,
        lambda: Response(calendar([found], rally_url, feed_notes(lang)), mimetype="text/calendar"),
        seconds_until_change(version, now, current_app.config["CACHE_SECONDS"]),
        "text/calendar",
    )
    response.headers.set("Content-Disposition", "attachment", filename=f"rally-{found.id}.ics")
    return response
