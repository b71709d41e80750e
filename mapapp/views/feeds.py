"""Feeds of the rallies for calendar apps (iCalendar) and spreadsheets (CSV).

They take the same filters as the list and the GeoJSON, and are cached the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, abort, current_app, request, url_for

from mapapp import db
from mapapp.feeds import RallyUrl, calendar, csv_document
from mapapp.filters import parse_filter
from mapapp.geocode import gazetteer
from mapapp.i18n import current_language
from mapapp.models import Rally, utcnow
from mapapp.rallies import etag_for, list_etag, public_rallies, public_rally
from mapapp.signing import signed_comment, signing_key
from mapapp.views.caching import conditional, memoized

bp = Blueprint("feeds", __name__)


def rally_url(rally_id: int) -> str:
    return url_for("pages.rally", rally_id=rally_id, _external=True)


def feed_bytes(
    kind: str, render: Callable[[list[Rally], RallyUrl], bytes]
) -> tuple[str, Callable[[], bytes]]:
    """The ETag of this request's feed and a function that gives its body (built once)."""
    rally_filter = parse_filter(request.args, gazetteer())
    session = db.session()
    now = utcnow()
    etag = list_etag(session, rally_filter, now, kind)
    # The body links to rally pages: their host and ?lang= are part of what is cached.
    key = etag + rally_url(0)

    def body() -> bytes:
        return memoized(
            "feed", key, lambda: render(public_rallies(session, rally_filter, now), rally_url), 16
        )

    return etag, body


def feed(kind: str, mimetype: str, render: Callable[[list[Rally], RallyUrl], bytes]) -> Response:
    """The filtered public rallies in one format, with an ETag like the GeoJSON's."""
    etag, body = feed_bytes(kind, render)
    return conditional(etag, lambda: Response(body(), mimetype=mimetype))


@bp.get("/rallies.ics")
def rallies_ics() -> Response:
    # Served inline: calendar apps subscribe to this URL.
    return feed("ics", "text/calendar", calendar)


@bp.get("/rallies.ics.minisig")
def rallies_ics_signature() -> Response:
    """minisign's signature of the feed /rallies.ics gives for the same query (see /about)."""
    key = signing_key(current_app)
    if key is None:
        abort(404, "This site has no signing key (MAPAPP_SIGNING_KEY).")
    etag, body = feed_bytes("ics", calendar)
    signature = memoized(
        "feed_signature",
        etag + rally_url(0),
        lambda: key.sign(body(), signed_comment(f"rallies.ics etag:{etag}")),
        16,
    )
    return conditional(etag + "-sig", lambda: Response(signature, mimetype="text/plain"))


@bp.get("/rallies.csv")
def rallies_csv() -> Response:
    response = feed("csv", "text/csv", csv_document)
    response.headers.set("Content-Disposition", "attachment", filename="rallies.csv")
    return response


@bp.get("/offline.html")
def offline_map() -> Response:
    """The export-static page for this language and these filters, as a download.

    Built once per data version (and minute, for "upcoming") and base URL in each worker.
    """
    from mapapp.export import render_export

    rally_filter = parse_filter(request.args, gazetteer())
    lang = current_language()
    now = utcnow()
    site = url_for("pages.index", lang=None, _external=True).rstrip("/")
    etag = list_etag(db.session(), rally_filter, now, "offline", lang, site)
    body = memoized(
        "offline", etag, lambda: render_export(rally_filter, lang, site, made_at=now).encode(), 4
    )
    response = conditional(etag, lambda: Response(body, mimetype="text/html"))
    response.headers.set("Content-Disposition", "attachment", filename=f"rally-map-{lang}.html")
    return response


@bp.get("/rallies/<int:rally_id>.ics")
def rally_ics(rally_id: int) -> Response:
    found = public_rally(db.session(), rally_id)
    if found is None:
        abort(404, "No such rally.")
    etag = etag_for("ics", str(found.id), found.updated_at.isoformat())
    response = conditional(
        etag, lambda: Response(calendar([found], rally_url), mimetype="text/calendar")
    )
    response.headers.set("Content-Disposition", "attachment", filename=f"rally-{found.id}.ics")
    return response
