"""Response headers that keep pages to their own host and out of other sites' frames."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g

from mapapp.tiles import browser_tile_url


def tile_source(tile_url: str) -> str:
    """The CSP source for the tile server: its origin, '{s}' subdomains as a wildcard."""
    parts = urlsplit(tile_url)
    if not parts.netloc:
        return "'self'"
    return f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"


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
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def set_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # Nothing about which page a visitor read goes to another host.
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), interest-cohort=()")
    if "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = content_security_policy(g.get("csp_script_hashes", ()))
    return response


def init_app(app: Flask) -> None:
    app.after_request(set_headers)
