"""Response headers that keep pages to their own host and out of other sites' frames.

Every page refuses to be framed, except views marked @frameable (the partner map at
/embed): those may be framed by any site, or only by MAPAPP_EMBED_ORIGINS.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, g, request

from mapapp.tiles import browser_tile_url

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
            "frame-src 'self'",  # the embed code page previews /embed
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors()}",
        ]
    )


def set_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # Nothing about which page a visitor read goes to another host.
    headers.setdefault("Referrer-Policy", "same-origin")
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
