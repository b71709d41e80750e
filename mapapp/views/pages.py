"""Pages for people: the map, the list of rallies, a rally's page."""

from __future__ import annotations

from datetime import timedelta
from itertools import groupby

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_date, lazy_gettext

from mapapp.domain import db
from mapapp.domain.filters import BadFilter, parse_filter, parse_view
from mapapp.domain.geocoding import gazetteer
from mapapp.domain.models import utcnow
from mapapp.places.locale import MINSK
from mapapp.publishing import jsonld, words
from mapapp.publishing.public import (
    PublicRally,
    count_public,
    current_version,
    etag_for,
    localised,
    public_rallies,
    public_rally,
    revision,
    seconds_until_change,
)
from mapapp.publishing.signing import signing_key
from mapapp.web.caching import conditional, memoized, page_once
from mapapp.web.i18n import current_language, region_name, town_name
from mapapp.web.mapshells import EARLY_FEED_HASH, early_feed, filter_focus, map_shell
from mapapp.web.urls import canonical_url, external_url, page_address

bp = Blueprint("pages", __name__)
# For templates: the fixed sentences of urgent statuses and of a place not yet revealed.


@bp.get("/")
def index() -> Response | str:
    # A bad filter or centre is a 400 here, not a silently empty map.
    rally_filter = parse_filter(request.args, gazetteer())
    parse_view(request.args)
    shell = map_shell()
    g.csp_script_hashes = (*shell.script_hashes, EARLY_FEED_HASH)

    def render() -> str:
        return render_template(
            "map.html",
            shell=shell,
            early_feed=early_feed(rally_filter),
            rally_filter=rally_filter,
            map_focus=filter_focus(rally_filter),
            map_focus_town=rally_filter.city_id is not None,
            filter_towns=gazetteer().town_names(current_language()),
        )

    if flash_waiting():
        return render()  # a message for one person ("submitted"): not kept
    response = Response(page_once("map", render), mimetype="text/html")
    response.vary.add("Cookie")  # with a session cookie, a flash may be on the page
    return response


def flash_waiting() -> bool:
    """A message waits for this visitor ("submitted"), who has a session cookie. Without
    one there is no session to open (and no "Vary: Cookie" added by opening it)."""
    return current_app.config["SESSION_COOKIE_NAME"] in request.cookies and "_flashes" in session


@bp.get("/about")
def about() -> str:
    """What the map is, the offline copy, and the public key that checks signed copies."""
    return render_template("about.html", key=signing_key(current_app))


@bp.get("/verify")
def verify() -> str:
    """Check a copy (the offline map, a feed) and its .minisig in the browser, with this site's
    key: the file goes nowhere (WebCrypto's Ed25519 and mapapp/static/verify.js)."""
    return render_template("verify.html", key=signing_key(current_app))


@bp.get("/.well-known/security.txt")
def security_txt() -> Response:
    """RFC 9116: where to report a vulnerability (MAPAPP_SECURITY_CONTACT), until when this
    says so (a rolling half-year, from the start of today so a day's answers are the same),
    in which languages, and (with MAPAPP_BASE_URL) where this file is canonically."""
    # One line: a setting with a line break cannot add fields of its own.
    contact = (current_app.config["SECURITY_CONTACT"] or "").strip().split("\n")[0].strip()
    if not contact:
        abort(404)
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    lines = [
        f"Contact: {contact}",
        f"Expires: {(today + timedelta(days=182)).strftime('%Y-%m-%dT%H:%M:%SZ')}",
        "Preferred-Languages: be, ru, en",
    ]
    if current_app.config["BASE_URL"]:
        lines.append(
            f"Canonical: {current_app.config['BASE_URL'].rstrip('/')}/.well-known/security.txt"
        )
    response = Response("\n".join(lines) + "\n", mimetype="text/plain")
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


@bp.get("/robots.txt")
def robots() -> Response:
    # Manage links and moderation are private; everything else may be indexed. Under a path
    # prefix the paths carry it (a proxy may serve this file at the host's root).
    manage = request.script_root + "/manage/"
    disallow = [manage, url_for("moderate.queue", lang=None), url_for("submit.done", lang=None)]
    text = "User-agent: *\n" + "".join(f"Disallow: {path}\n" for path in disallow)
    return Response(text, mimetype="text/plain")


@bp.get("/rallies")
def rallies() -> Response | str:
    rally_filter = parse_filter(request.args, gazetteer())
    now = utcnow()
    if flash_waiting():
        return rallies_page(rally_filter, now)  # a message for one person: not cached
    # Cached like the feeds, by the data version: a page of 200 is built once per change.
    # Its links (the share image's absolute one, every path's prefix) follow the address it
    # was asked at, so that address is in the key: a mirror or a prefix gets its own page.
    version = current_version(db.reader(), now)
    etag = etag_for(version.key, "rallies-page", current_language(), page_address())
    response = conditional(
        etag,
        lambda: Response(
            memoized("rallies_page", etag, lambda: rallies_page(rally_filter, now), 32),
            mimetype="text/html",
        ),
        seconds_until_change(version, now, current_app.config["CACHE_SECONDS"]),
        "text/html",
    )
    response.vary.add("Cookie")  # with a session cookie, a flash may be on the page
    return response


def rallies_page(rally_filter, now) -> str:  # noqa: ANN001
    db_session = db.session()
    total = count_public(db_session, rally_filter, now)
    page, pages = page_number(request.args.get("page"), total)
    shown = public_rallies(db_session, rally_filter, now, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    shown = [localised(r, current_language()) for r in shown]  # the seed's texts in the language
    # Upcoming: the main rally first, whatever its date; then day by day.
    featured = [r for r in shown if r.featured] if rally_filter.when == "upcoming" else []
    rest = [r for r in shown if r not in featured]
    by_day = [
        (format_date(day, "full"), by_region(list(items)))
        for day, items in groupby(rest, key=lambda r: r.starts_at.astimezone(MINSK).date())
    ]
    return render_template(
        "rallies.html",
        rally_filter=rally_filter,
        total=total,
        featured=featured,
        by_day=by_day,
        filter_towns=gazetteer().town_names(current_language()),
        page=page,
        pages=pages,
        first=(page - 1) * PAGE_SIZE + 1,
        last=(page - 1) * PAGE_SIZE + len(shown),
    )


# A phone on a slow connection should not have to load thousands of rallies at once.
PAGE_SIZE = 200


def page_number(raw: str | None, total: int) -> tuple[int, int]:
    """The page asked for (1 if none) and the number of pages; a bad one is a 400."""
    pages = max(1, -(-total // PAGE_SIZE))
    if not raw:
        return 1, pages
    # ASCII digits only: "²".isdigit() is True but int("²") raises (a 500 before).
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not 1 <= int(raw) <= pages:
        raise BadFilter(lazy_gettext("'page' must be a number from 1 to %(pages)s", pages=pages))
    return int(raw), pages


def by_region(rallies: list[PublicRally]) -> list[tuple[str, list[PublicRally]]]:
    """One day's rallies grouped by region (in the page's language), each by time."""
    named = sorted(rallies, key=lambda r: (region_name(r.region), r.starts_at))
    return [
        (name, list(items)) for name, items in groupby(named, key=lambda r: region_name(r.region))
    ]


@bp.get("/rallies/<int:rally_id>")
def rally(rally_id: int) -> str:
    session, now = db.session(), utcnow()
    found = public_rally(session, rally_id, now)
    if found is None:
        abort(404)
    shell = map_shell("single")
    g.csp_script_hashes = shell.script_hashes
    lang = current_language()
    found = localised(found, lang)  # the main rally's title and place in the page's language
    # The image's address moves with the rally's public revision: previews fetch it anew.
    image = external_url(
        "share.rally_image",
        rally_id=found.id,
        language=lang,
        v=revision(found, current_version(session, now)),
    )
    event = jsonld.rally_event(
        found,
        url=canonical_url(url_for("pages.rally", rally_id=found.id)),
        image=image,
        town=town_name(found, lang),
        region=region_name(found.region, lang),
        place=found.place,
        headline=words.headline(found, lang),
    )
    # A subscription to the rally's own .ics (the same document): calendar apps fetch it
    # again by themselves, so they learn of the reveal, a new time or a warning.
    calendar = external_url("feeds.rally_ics", rally_id=found.id)
    subscribe = "webcal://" + calendar.split("://", 1)[1]
    return render_template(
        "rally.html",
        rally=found,
        shell=shell,
        share_image=image,
        event_json_ld=event,
        subscribe_url=subscribe,
    )
