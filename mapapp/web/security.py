"""Response headers that keep pages to their own host and out of other sites' frames.

Every page refuses to be framed, except views marked @frameable (the partner map at
/embed): those may be framed by any site, or only by MAPAPP_EMBED_ORIGINS. The public data
(CROSS_ORIGIN_ENDPOINTS) may be read by any site's scripts; everything else only by this site.
Over HTTPS in production pages also send HSTS.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, g, has_request_context, request

from mapapp.web.tiles import browser_tile_url
from mapapp.web.urls import current_origin

# What EMBED_ORIGINS may hold: origins only, so a typo cannot add or break a CSP directive.
ORIGIN = re.compile(r"https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d{1,5})?")


def tile_source(tile_url: str) -> str:
    """The CSP source for the tile server: its origin, '{s}' subdomains as a wildcard."""
    parts = urlsplit(tile_url)
    if not parts.netloc:
        return "'self'"
    return f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"


def frameable(view: Callable[..., Any]) -> Callable[..., Any]:
    """Lets other sites show this view in a frame (CSP frame-ancestors, no X-Frame-Options)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        # Set before the view runs, so its error pages (a bad filter) show inside the frame too.
        g.frameable = True
        return view(*args, **kwargs)

    return wrapped


def frame_ancestors() -> str:
    """Who may frame this response: nobody, unless its view is @frameable."""
    if not g.get("frameable"):
        return "'none'"
    origins = current_app.config["EMBED_ORIGINS"]
    # 'self': the embed code page shows a preview of /embed whatever the list says.
    return f"'self' {' '.join(origins.split())}" if origins else "*"


def content_security_policy(script_hashes: tuple[str, ...] = ()) -> str:
    scripts = " ".join(["'self'", *(f"'{h}'" for h in script_hashes)])
    tiles = tile_source(browser_tile_url(current_app))
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {scripts}",
            # Leaflet and folium position the map with inline styles.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:" + ("" if tiles == "'self'" else f" {tiles}"),
            "connect-src 'self'",
            "font-src 'self'",
            # The web app's manifest and service worker (mapapp.views.webapp), this site's only.
            "manifest-src 'self'",
            "worker-src 'self'",
            "frame-src 'self'",  # the embed code page previews /embed
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors()}",
        ]
    )


# Public, cookie-free data: any site's scripts may read it (partners' maps and lists). Named
# by endpoint, not by a decorator on the view, so that the preflight (OPTIONS, answered by
# Flask without calling the view) and error answers get the same headers.
CROSS_ORIGIN_ENDPOINTS = frozenset(
    {
        "api.rallies_geojson",
        "api.rally_json",
        "api.openapi_json",
        "embed.oembed",
        "feeds.rallies_ics",
        "feeds.rallies_csv",
        "feeds.rally_ics",
    }
)
HSTS_SECONDS = 365 * 24 * 3600


def cross_origin_headers(response: Response) -> None:
    """CORS for the public data, and who may load each response (CORP)."""
    headers = response.headers
    if request.url_rule is not None and request.url_rule.endpoint in CROSS_ORIGIN_ENDPOINTS:
        headers["Access-Control-Allow-Origin"] = "*"
        headers["Access-Control-Expose-Headers"] = "ETag"
        headers.setdefault("Cross-Origin-Resource-Policy", "cross-origin")
        if request.method == "OPTIONS":
            headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
            # Conditional requests: a partner's poll costs a 304.
            headers["Access-Control-Allow-Headers"] = "If-None-Match, If-Modified-Since"
            headers["Access-Control-Max-Age"] = "86400"
    elif g.get("frameable"):
        # Partners' pages may frame /embed even when they require CORP of what they embed.
        headers.setdefault("Cross-Origin-Resource-Policy", "cross-origin")
    else:
        headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")


# Paths whose URL is a secret: the organizer's manage link, and every page and form under it
# (the stub, the edit, cancel and danger forms, their error pages). No other route takes a
# secret in its path or query (tests/test_safe_forms.py walks the routes to hold that).
SECRET_PATHS = ("/manage/",)


def secret_url() -> bool:
    """The page's own URL is a secret (under the site's path prefix: request.path is below it)."""
    return has_request_context() and request.path.startswith(SECRET_PATHS)


def referrer_policy() -> str:
    """The one rule for the Referrer-Policy header and base.html's <meta name="referrer">
    (a meta overrides the header, so both must say the same). Nothing about which page a
    visitor read goes to another host; from a page whose URL is a secret not even to this one:
    every stylesheet, script, tile and form post would carry the token in its Referer, into the
    logs of every proxy on the way (nginx's error lines quote it)."""
    return "no-referrer" if secret_url() else "same-origin"


def https_production() -> bool:
    """Served over HTTPS in production: MAPAPP_BASE_URL is https and this is not development."""
    base = current_app.config["BASE_URL"] or ""
    return base.startswith("https://") and not current_app.config["DEVELOPMENT"]


def set_headers(response: Response) -> Response:
    headers = response.headers
    cross_origin_headers(response)
    if response.mimetype == "text/html" and not g.get("frameable"):
        # Pages keep no handle on windows of other sites they open, nor those on them.
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if https_production() and current_origin().startswith("https://"):
        headers.setdefault("Strict-Transport-Security", f"max-age={HSTS_SECONDS}")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers["Referrer-Policy"] = referrer_policy()
    if not g.get("frameable"):
        # For browsers without CSP frame-ancestors; it has no way to name several sites.
        headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), interest-cohort=()")
    if "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = content_security_policy(g.get("csp_script_hashes", ()))
    return response


def check_embed_origins(origins: str | None) -> None:
    for origin in (origins or "").split():
        if not ORIGIN.fullmatch(origin):
            raise ValueError(
                f"MAPAPP_EMBED_ORIGINS: {origin!r} is not an origin such as "
                "https://news.example (scheme and host, an optional port, no path)"
            )


def refuse_cross_site_posts() -> None:
    """A form another site made a browser send is refused (Sec-Fetch-Site, set by the
    browser itself; a browser without it is left to the CSRF token)."""
    if request.method == "POST" and request.headers.get("Sec-Fetch-Site") == "cross-site":
        abort(403)


def init_app(app: Flask) -> None:
    check_embed_origins(app.config["EMBED_ORIGINS"])
    app.before_request(refuse_cross_site_posts)
    app.after_request(set_headers)
    app.add_template_global(referrer_policy)
