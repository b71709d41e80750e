"""Static files, all served by the app itself: no CDN, nothing from another host.

Leaflet, Leaflet.markercluster and Leaflet.GestureHandling come from their xstatic
packages on PyPI. Every URL carries a version or a content hash, so browsers may keep
files for a year.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import xstatic.pkg.leaflet
import xstatic.pkg.leaflet_gesturehandling
import xstatic.pkg.leaflet_markercluster
from flask import Blueprint, Flask, Response, abort, request, send_from_directory, url_for

VENDOR = {
    "leaflet": xstatic.pkg.leaflet,
    "markercluster": xstatic.pkg.leaflet_markercluster,
    "gesturehandling": xstatic.pkg.leaflet_gesturehandling,
}
STATIC_DIR = Path(__file__).parent / "static"
YEAR = 365 * 24 * 3600

bp = Blueprint("assets", __name__)


def _long_lived(response: Response) -> Response:
    response.cache_control.max_age = YEAR
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


@bp.get("/vendor/<name>/<version>/<path:filename>")
def vendor(name: str, version: str, filename: str) -> Response:
    package = VENDOR.get(name)
    if package is None or version != package.VERSION:
        abort(404)
    return _long_lived(send_from_directory(package.BASE_DIR, filename))


@bp.get("/static/<path:filename>")
def static(filename: str) -> Response:
    response = send_from_directory(STATIC_DIR, filename, max_age=300)
    if request.args.get("v") == content_hash(filename):
        _long_lived(response)
    return response


@cache
def content_hash(filename: str) -> str | None:
    path = (STATIC_DIR / filename).resolve()
    if not path.is_relative_to(STATIC_DIR) or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def vendor_url(name: str, filename: str) -> str:
    return url_for("assets.vendor", name=name, version=VENDOR[name].VERSION, filename=filename)


def static_url(filename: str) -> str:
    return url_for("assets.static", filename=filename, v=content_hash(filename))


def map_assets() -> dict[str, str]:
    """The URLs maps.rally_map needs."""
    return {
        "leaflet_js": vendor_url("leaflet", "leaflet.js"),
        "leaflet_css": vendor_url("leaflet", "leaflet.css"),
        "markercluster_js": vendor_url("markercluster", "leaflet.markercluster.js"),
        "markercluster_css": vendor_url("markercluster", "MarkerCluster.css"),
        "markercluster_default_css": vendor_url("markercluster", "MarkerCluster.Default.css"),
        "gesturehandling_js": vendor_url("gesturehandling", "leaflet-gesture-handling.min.js"),
        "gesturehandling_css": vendor_url("gesturehandling", "leaflet-gesture-handling.min.css"),
        "rallymap_js": static_url("rallymap.js"),
    }


def init_app(app: Flask) -> None:
    if app.debug:
        content_hash.cache_clear()
    app.register_blueprint(bp)
    app.jinja_env.globals["static_url"] = static_url
