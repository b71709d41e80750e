"""Map tiles through the app (MAPAPP_TILE_PROXY, on by default).

Visitors' browsers then ask only this site for tiles: the tile server never learns who
looks at which street, a blocked tile server does not blank the map, and pages make no
request to another host at all. Tiles are kept on disk in instance/tiles and in
browsers for a week. When the tile server cannot be reached, a plain grey tile is sent
(and not kept), so the map still works, with markers on grey.
"""

from __future__ import annotations

import os
import tempfile
import time
import urllib.request
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    has_request_context,
    request,
    send_file,
)

bp = Blueprint("tiles", __name__)

MAX_ZOOM = 19
KEEP_SECONDS = 30 * 24 * 3600  # on disk
BROWSER_SECONDS = 7 * 24 * 3600
RETRY_AFTER_FAILURE = 60  # seconds without asking a tile server that just failed
# A plain light grey tile, 512 px so that it stays sharp on phone screens (1.5 KB).
GREY_TILE = (Path(__file__).parent / "static" / "grey-tile.png").read_bytes()


def proxied(app: Flask) -> bool:
    return bool(app.config["TILE_PROXY"]) and app.config["TILE_URL"].startswith(
        ("http://", "https://")
    )


def browser_tile_url(app: Flask) -> str:
    """The tile URL template pages give Leaflet, under this request's path prefix if any."""
    root = request.script_root if has_request_context() else ""
    if proxied(app):
        return root + "/tiles/{z}/{x}/{y}.png"
    url = app.config["TILE_URL"]
    # A path on this site (tests serve tiles themselves) moves under the prefix too.
    return root + url if url.startswith("/") and not url.startswith("//") else url


def _tile_dir() -> Path:
    return Path(current_app.instance_path) / "tiles"


def _upstream(z: int, x: int, y: int) -> bytes | None:
    state = current_app.extensions["mapapp.tiles"]
    if time.monotonic() - state.get("failed_at", -RETRY_AFTER_FAILURE) < RETRY_AFTER_FAILURE:
        return None
    url = current_app.config["TILE_URL"].format(z=z, x=x, y=y, s="abc"[(x + y) % 3], r="")
    # proxied() allows only http(s) URLs, set by the operator
    request = urllib.request.Request(  # noqa: S310
        url, headers={"User-Agent": current_app.config["TILE_USER_AGENT"]}
    )
    try:
        with urllib.request.urlopen(request, timeout=4) as answer:  # noqa: S310 - operator's URL
            body = answer.read(2_000_000)
            if answer.status != 200 or not body.startswith((b"\x89PNG", b"\xff\xd8", b"RIFF")):
                raise ValueError("not an image")
            return body
    except Exception:  # noqa: BLE001 - any failure: grey tile now, try again in a minute
        state["failed_at"] = time.monotonic()
        return None


@bp.get("/tiles/<int:z>/<int:x>/<int:y>.png")
def tile(z: int, x: int, y: int) -> Response:
    if not proxied(current_app) or z > MAX_ZOOM or x >= 2**z or y >= 2**z:
        abort(404)
    path = _tile_dir() / str(z) / str(x) / f"{y}.png"
    if not (path.exists() and time.time() - path.stat().st_mtime < KEEP_SECONDS):
        body = _upstream(z, x, y)
        if body is None:
            response = Response(GREY_TILE, mimetype="image/png")
            response.headers["Cache-Control"] = "no-store"
            return response
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: another worker never reads half a tile.
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as out:
            out.write(body)
        os.replace(out.name, path)
    response = send_file(path, mimetype="image/png", max_age=BROWSER_SECONDS)
    response.cache_control.public = True
    return response


def init_app(app: Flask) -> None:
    app.extensions["mapapp.tiles"] = {}
    app.register_blueprint(bp)
