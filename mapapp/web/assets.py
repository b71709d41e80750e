"""Static files, all served by the app itself: no CDN, nothing from another host.

Leaflet and Leaflet.GestureHandling come from their xstatic packages on PyPI; supercluster
(the map's clusters) is vendored from npm under static/vendor/supercluster (no PyPI package
carries it). Every URL carries a version or a content hash, so browsers may keep files
for a year.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import inspect
import os
from functools import cache
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, request, send_from_directory, url_for
from werkzeug.security import safe_join

from mapapp.paths import BASEMAP, DATA_DIR, MODULES, STATIC_DIR, SUPERCLUSTER, VENDOR
from mapapp.publishing.export import classic_script
from mapapp.web.compression import takes_gzip

YEAR = 365 * 24 * 3600
# Text files are sent gzipped when the browser takes it: Leaflet shrinks from 147 KB to 42 KB,
# which matters on a slow phone connection.
COMPRESSIBLE = (".js", ".css", ".svg", ".json", ".map")

bp = Blueprint("assets", __name__)


def _long_lived(response: Response) -> Response:
    # send_file's default is "no-cache", which would make browsers and nginx ask every time.
    response.cache_control.no_cache = None
    response.cache_control.max_age = YEAR
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


@bp.get("/vendor/<name>/<version>/<path:filename>")
def vendor(name: str, version: str, filename: str) -> Response:
    package = VENDOR.get(name)
    if package is None or version != package.VERSION:
        abort(404)
    return _long_lived(send_asset(package.BASE_DIR, filename))


@bp.get("/basemap/<version>.json")
def basemap(version: str) -> Response:
    if version != basemap_version():
        abort(404)
    return _long_lived(send_asset(DATA_DIR, BASEMAP))


@cache
def basemap_version() -> str:
    return hashlib.sha256((DATA_DIR / BASEMAP).read_bytes()).hexdigest()[:12]


def basemap_url() -> str:
    """The basemap's data, at a URL that changes with it (browsers keep it a year)."""
    return url_for("assets.basemap", version=basemap_version())


@bp.get("/favicon.ico")
def favicon() -> Response:
    # Browsers ask for it whatever the page says: answer rather than log a 404.
    return send_asset(STATIC_DIR, "favicon.svg", max_age=86400)


@bp.get("/static/<path:filename>")
def static(filename: str) -> Response:
    response = send_asset(STATIC_DIR, filename, max_age=300)
    version = request.args.get("v")
    if version is not None and version == content_hash(filename):
        _long_lived(response)
    return response


# The map's modules import each other by relative URLs ("./feed.js"), which a per-file
# ?v=<hash> cannot reach: the import would ask for the unversioned file. So they are served
# under one hash over them all, /static/map/<hash>/feed.js: every import is then as
# fingerprinted (and kept a year) as the entry. Simpler than an import map: nothing to write
# into every page and its CSP, and it works in every browser that runs modules. Another hash
# (an old page after a deploy, or a new page reaching a worker that still runs the old code)
# gets the files as they are here, but never kept by a cache: modules that import each other
# must come from one version, and nginx or a CDN must not keep this server's files under the
# other version's name.
#
# Pages load the modules joined into one script, BUNDLE (/static/map/<hash>/map.js): the same
# code in the order a browser runs the modules (export.classic_script, as the offline copy has
# it). Thirteen requests were one (on HTTP/1.1 a browser opens six connections to a host: the
# rest waited their turn behind Leaflet and the feed), and the browser links one script, not
# thirteen modules. The modules themselves are still served, for their own URLs.
BUNDLE = "map.js"


@bp.get(f"/static/{MODULES}/<version>/<name>")
def module(version: str, name: str) -> Response:
    response = send_bundle() if name == BUNDLE else send_asset(STATIC_DIR / MODULES, name)
    if version == modules_version():
        _long_lived(response)
    else:
        response.cache_control.no_store = True
        response.cache_control.public = False
        response.cache_control.max_age = None
    return response


@cache
def modules_version() -> str:
    """One hash over the map's modules (their names and contents) and the way BUNDLE joins
    them (classic_script's own code)."""
    digest = hashlib.sha256()
    for name, file_hash in _static_hashes().items():
        if name.startswith(MODULES + "/"):
            digest.update(f"{name} {file_hash}\n".encode())
    with contextlib.suppress(OSError):  # no source (a frozen build): the modules' hashes alone
        digest.update(inspect.getsource(classic_script).encode())
    return digest.hexdigest()[:12]


def module_urls() -> list[str]:
    """What pages preload (<link rel="modulepreload">): the map's script, BUNDLE."""
    return [module_url(BUNDLE)]


@cache
def _bundle() -> bytes:
    return classic_script(STATIC_DIR / MODULES).encode()


@cache
def _bundle_gzipped() -> bytes:
    return gzip.compress(_bundle(), compresslevel=9, mtime=0)


def send_bundle() -> Response:
    """BUNDLE, gzipped when the browser takes it, with an ETag of its version."""
    zipped = takes_gzip()
    response = Response(_bundle_gzipped() if zipped else _bundle(), mimetype="text/javascript")
    response.vary.add("Accept-Encoding")
    if zipped:
        response.content_encoding = "gzip"
    response.set_etag(modules_version() + ("-gz" if zipped else ""))
    return response.make_conditional(request)


def module_url(name: str) -> str:
    """The URL of one of the map's modules (static/map/NAME), by their common hash."""
    return url_for("assets.module", version=modules_version(), name=name)


def send_asset(directory: str | Path, filename: str, max_age: int | None = None) -> Response:
    response = send_from_directory(directory, filename, max_age=max_age)
    if not filename.endswith(COMPRESSIBLE):
        return response
    response.vary.add("Accept-Encoding")
    if response.status_code == 200 and takes_gzip():
        path = safe_join(str(directory), filename)
        response.close()  # the file send_from_directory opened
        response.direct_passthrough = False
        # Keyed by the real path: "./app.css", "a/../app.css"... are one entry, so the cache
        # is bounded by the files that exist, not by the spellings people send.
        response.set_data(_gzipped(os.path.realpath(path)))
        response.content_encoding = "gzip"
        if response.get_etag()[0]:
            response.set_etag(response.get_etag()[0] + "-gz")
    return response


@cache
def _gzipped(path: str) -> bytes:
    with open(path, "rb") as source:
        return gzip.compress(source.read(), compresslevel=9, mtime=0)


@cache
def _static_hashes() -> dict[str, str]:
    """Every file under static/ by its path there ("app.css"), with its content hash."""
    return {
        path.relative_to(STATIC_DIR).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        for path in sorted(STATIC_DIR.rglob("*"))
        if path.is_file()
    }


def content_hash(filename: str) -> str | None:
    """The 12-hex-digit content hash of a file under static/, None if there is no such file.

    Only the files' own names are known: any other spelling ("./app.css") gets None, and
    nothing is remembered per spelling (a cache keyed by the URL grows without bound).
    """
    return _static_hashes().get(filename)


def vendor_url(name: str, filename: str) -> str:
    return url_for("assets.vendor", name=name, version=VENDOR[name].VERSION, filename=filename)


def static_url(filename: str) -> str:
    return url_for("assets.static", filename=filename, v=content_hash(filename))


def map_assets() -> dict[str, str]:
    """The URLs maps.rally_map needs."""
    return {
        "leaflet_js": vendor_url("leaflet", "leaflet.js"),
        "leaflet_css": vendor_url("leaflet", "leaflet.css"),
        "supercluster_js": static_url(SUPERCLUSTER),
        "gesturehandling_js": vendor_url("gesturehandling", "leaflet-gesture-handling.min.js"),
        "gesturehandling_css": vendor_url("gesturehandling", "leaflet-gesture-handling.min.css"),
        "basemap_js": static_url("basemap.js"),
        # The map's modules joined (BUNDLE), loaded as a module: mapshell.map_parts says so.
        "rallymap_js": module_url(BUNDLE),
    }


def init_app(app: Flask) -> None:
    if app.debug:
        _static_hashes.cache_clear()
        basemap_version.cache_clear()
        modules_version.cache_clear()
        _gzipped.cache_clear()
        _bundle.cache_clear()
        _bundle_gzipped.cache_clear()
    app.register_blueprint(bp)
    app.jinja_env.globals["static_url"] = static_url
