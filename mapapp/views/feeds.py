"""Feeds of the rallies for calendar apps (iCalendar) and spreadsheets (CSV).

They take the same filters as the list and the GeoJSON, and are cached the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, abort, current_app, request
from flask_babel import force_locale, gettext

from mapapp.domain import db, news
from mapapp.domain.filters import one_of, parse_filter
from mapapp.domain.geocoding import gazetteer
from mapapp.domain.models import utcnow
from mapapp.places.locale import LANGUAGES
from mapapp.publishing import atom
from mapapp.publishing.csvtable import CSV_LAYOUT, csv_row
from mapapp.publishing.ics import Notes, RallyUrl, calendar, calendar_layout, event_bytes
from mapapp.publishing.parts import Layout, rally_parts
from mapapp.publishing.public import (
    PublicRally,
    current_version,
    etag_for,
    public_entries,
    public_rally,
    read_rallies,
    revision,
    seconds_until_change,
)
from mapapp.publishing.signing import signed_comment, signing_key
from mapapp.publishing.words import feed_notes
from mapapp.web.caching import (
    Prepared,
    conditional,
    memoized,
    prepared,
    prepared_parts,
    prepared_response,
    remember_origin,
    shared_document,
)
from mapapp.web.i18n import current_language
from mapapp.web.urls import external_url

bp = Blueprint("feeds", __name__)


@bp.before_request
def known_language() -> None:
    """?lang= is be, ru or en (or empty: Accept-Language), as on the API: another is a 400
    (the OpenAPI document declares it), not a feed in the default language."""
    asked = request.args.get("lang")
    if asked and asked not in LANGUAGES:
        raise one_of("lang", LANGUAGES)


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
CSV: Format = (lambda: CSV_LAYOUT, csv_row)


def feed_bytes(kind: str, form: Format) -> tuple[str, Callable[[], Prepared], int]:
    """This request's feed: its ETag, a function giving its body (gzipped, built once per
    ETag; the plain bytes on demand), and how long it may be kept (seconds: never past the next reveal or
    "upcoming" boundary)."""
    rally_filter = parse_filter(request.args, gazetteer())
    now = utcnow()
    version = current_version(db.reader(), now)
    lang = current_language()  # the warnings' language

    # The body links to rally pages: their origin, prefix and ?lang= are part of its ETag,
    # and of what each rally's part depends on. Always with the feed's language, also when
    # the address has none (a subscription to /rallies.ics, its language the Accept-Language
    # one): its pages open in the language its events are written in, and it is the same
    # document as /rallies.ics?lang=<that language>, whose parts are kept for every worker
    # and which is prepared after each change (asked without ?lang= it was joined from parts
    # no one had made: 1.7 s at 10,000 rallies, each worker).
    def linked(rally_id: int) -> str:
        return external_url("pages.rally", rally_id=rally_id, lang=lang)

    origin = linked(0)
    remember_origin(origin)
    etag = etag_for(version.key, rally_filter.key(), kind, lang, origin)
    layout, part = form

    def body() -> Prepared:
        return shared_document(
            "feed",
            etag,
            version.key,
            lambda: prepared(
                "feed",
                etag,
                layout(),
                public_entries(db.session(), rally_filter, now),
                (kind, lang, origin),
                part(linked, feed_notes(lang)),
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
            lambda: key.sign(
                body().plain(),
                signed_comment(
                    f"rallies.ics etag:{etag}",
                    selection=parse_filter(request.args, gazetteer()).args(),
                    made_at=utcnow(),
                ),
            ),
            16,
        )
        return Response(signature, mimetype="text/plain")

    # Weak: the signature says when it was made (each worker makes its own).
    return conditional(etag + "-sig", build, max_age, "text/plain", weak=True)


def atom_authority() -> str:
    """The host name in the Atom ids: MAPAPP_BASE_URL's (the canonical site mints them; a
    mirror's feed gives the same ids), or localhost without one."""
    return urlsplit(current_app.config.get("BASE_URL") or "").hostname or "localhost"


@bp.get("/rallies.atom")
def rallies_atom() -> Response:
    """The filtered public rallies as Atom: an entry a rally, one more an urgent change."""
    rally_filter = parse_filter(request.args, gazetteer())
    now = utcnow()
    version = current_version(db.reader(), now)
    lang = current_language()
    args = {**rally_filter.args(), "lang": lang}
    query = urlencode(sorted(rally_filter.args().items()))
    with force_locale(lang):
        info = atom.FeedInfo(
            lang=lang,
            title=gettext("Rally map of Belarus"),
            subtitle=gettext("Rallies for political prisoners"),
            authority=atom_authority(),
            feed_path=f"?{query}" if query else "",
            self_url=external_url("feeds.rallies_atom", **args),
            html_url=external_url("pages.rallies", **args),
            site_url=external_url("pages.index", lang=lang),
        )
    origin = rally_url(0)
    etag = etag_for(version.key, rally_filter.key(), "atom", lang, origin, info.authority)
    context = ("atom", lang, origin, info.authority)

    def build() -> Prepared:
        session = db.session()
        entries = public_entries(session, rally_filter, now)
        # The feed's `updated` needs every rally's times: Atom's parts are not in the shared
        # store (mapapp.publishing.partstore), so its rows are read.
        read_rallies(session, entries)
        ids = [entry.id for entry in entries]
        # Only rallies new or changed since this process rendered them need their key and news.
        todo = [entry.rally.id for entry in entries if context not in entry.parts]
        keys = news.feed_keys(session, todo)
        urgent = news.urgent_news(session, ids)

        def part(rally: PublicRally) -> bytes:
            return atom.rally_entries(
                rally, keys.get(rally.id, ""), urgent.get(rally.id, []), rally_url(rally.id), info
            )

        updated = atom.feed_updated(
            [entry.rally for entry in entries], lambda r: urgent.get(r.id, [])
        )
        # Rallies taken down in the last GONE_DAYS: deletion markers in every feed (which
        # filters a rally matched is not kept; a marker for an entry never seen is ignored).
        gone = news.gone_since(session, now - timedelta(days=news.GONE_DAYS))
        return prepared_parts(
            "feed",
            etag,
            atom.feed_layout(info, updated, gone),
            rally_parts(entries, context, part),
        )

    max_age = seconds_until_change(version, now, current_app.config["CACHE_SECONDS"])
    return prepared_response(
        etag,
        lambda: shared_document("feed", etag, version.key, build, 16),
        max_age,
        "application/atom+xml",
    )


@bp.get("/rallies.csv")
def rallies_csv() -> Response:
    response = feed("csv", "text/csv", CSV)
    response.headers.set("Content-Disposition", "attachment", filename="rallies.csv")
    return response


# The offline copy says when it was made, to the start of a window of this many seconds, so
# that every worker builds the same bytes for a window and its signature (from any worker)
# verifies the file (from any other).
OFFLINE_WINDOW = 600


def offline_document() -> tuple[str, Callable[[], bytes], int, str, datetime]:
    """This request's offline copy: its ETag, a function giving its bytes (built once per ETag
    in each worker, the same in every worker), how long it may be kept (seconds), and its
    language, and the moment it says it was made."""
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
    max_age = min(max_age, start + OFFLINE_WINDOW - int(now.timestamp()))
    return etag, body, max_age, lang, made_at


@bp.get("/offline.html")
def offline_map() -> Response:
    """The export-static page for this language and these filters, as a download."""
    etag, body, max_age, lang, _made_at = offline_document()
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
    etag, body, max_age, lang, made_at = offline_document()

    def build() -> Response:
        signature = memoized(
            "offline_signature",
            etag,
            lambda: key.sign(
                body(),
                signed_comment(
                    f"rally-map-{lang}.html etag:{etag}",
                    selection=parse_filter(request.args, gazetteer()).args(),
                    made_at=made_at,
                ),
            ),
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
