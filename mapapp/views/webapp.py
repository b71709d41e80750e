"""The installable web app: its manifest and its service worker (mapapp/static/sw.js).

The worker is served from the site's root (under its path prefix), so its scope is the whole
site; its own CSP lets it load only this site's scripts (the vendored Workbox) and fetch only
from this site. What it stores and for how long is in the script itself.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask.globals import request_ctx
from flask_babel import gettext

from mapapp.paths import STATIC_DIR
from mapapp.web.assets import static_url
from mapapp.web.forms import csrf
from mapapp.web.i18n import current_language

bp = Blueprint("webapp", __name__)

THEME_COLOR = "#a4161a"  # the favicon's red
# The worker's own policy: scripts and fetches from this site only, nothing framed or shown.
WORKER_CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self'"


@bp.after_app_request
def personal_pages_are_not_kept(response: Response) -> Response:
    """A page that showed a message for one person ("your rally was submitted") is never
    stored, by the service worker or any cache: a phone may be checked."""
    if getattr(request_ctx, "flashes", None):
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/sw.js")
def service_worker() -> Response:
    response = Response((STATIC_DIR / "sw.js").read_bytes(), mimetype="text/javascript")
    # Browsers look for a new worker at each visit; a cache in between must ask too.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Content-Security-Policy"] = WORKER_CSP
    return response


@bp.get("/offline")
def not_saved() -> Response:
    """What the service worker shows for a page asked for with no network that it never
    saved (a rally page not opened before): our own page in the visitor's language, not the
    browser's error page, with the ways to the map it kept and the offline copy. The worker
    keeps one in each language (sw.js: FALLBACK)."""
    response = Response(render_template("not_saved.html"))
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.post("/forget")
@csrf.exempt  # no form: the browser's own Sec-Fetch-Site says the page is ours
def forget() -> Response:
    """The "forget this site on this phone" button of /about: the browser clears this site's
    HTTP cache, cookies and storage (Clear-Site-Data), which a page's script cannot reach: the pages
    and feeds it kept there would show at a checkpoint which rallies were looked at.

    Only from this site's own pages (Sec-Fetch-Site: same-origin), else a 403: another
    site must not wipe a visitor's offline copy before a network cut.
    """
    if request.headers.get("Sec-Fetch-Site") != "same-origin":
        abort(403, description="only this site's own pages can ask to forget it")
    response = Response(status=204)
    # Cookies too: the session holds a just-made manage link, sealed, for 15 minutes
    # (views/submit.py), and a moderator's log-in.
    response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    """The web app manifest in the request's language (what a phone shows when installing)."""
    lang = current_language()
    scope = request.script_root + "/"
    icons = [
        {"src": static_url(f"icons/icon-{size}.png"), "sizes": f"{size}x{size}",
         "type": "image/png", "purpose": "any"}
        for size in (192, 512)
    ] + [
        {"src": static_url(f"icons/maskable-{size}.png"), "sizes": f"{size}x{size}",
         "type": "image/png", "purpose": "maskable"}
        for size in (192, 512)
    ]  # fmt: skip
    document = {
        "id": scope,
        "name": gettext("Rally map of Belarus"),
        "short_name": gettext("Rally map"),
        "description": gettext(
            "Where and when people in Belarus gather in solidarity with political prisoners: a map and a list of rallies."
        ),
        "lang": lang,
        "start_url": url_for("pages.index", lang=lang),
        "scope": scope,
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": THEME_COLOR,
        "icons": icons,
    }
    body = json.dumps(document, ensure_ascii=False, indent=1)
    response = Response(body, mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.vary.add("Accept-Language")
    return response
