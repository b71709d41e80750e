"""Map tiles through the app (MAPAPP_TILE_PROXY, on by default).

Visitors' browsers then ask only this site for tiles: the tile server never learns who
looks at which street, a blocked tile server does not blank the map, and pages make no
request to another host at all. Tiles are kept on disk in instance/tiles and by nginx in
front for a week, never in browsers' HTTP caches (_unkept: "near me"). When the tile server cannot be reached, a plain grey tile is sent
(and not kept), so the map still works, with markers on grey.

Bounded, so that nobody can make the app bulk-download from the tile server (which its
usage policy forbids) or fill the disk: only Belarus and a margin around it (a grey tile
elsewhere, nothing fetched), zoom 0 to 19, at most MAPAPP_TILE_FETCH_LIMIT fetches from
the tile server for the whole site (counted where the rate limits are: Redis or the
database), and at most MAPAPP_TILE_CACHE_MB on disk (beyond it tiles are passed on, not
kept). A tile the server refuses is not asked for again for a minute; only a server that
cannot be reached at all pauses every fetch, for a few seconds.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
import time
import urllib.error
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
from limits import parse

from mapapp.paths import PACKAGE_DIR
from mapapp.web.limits import limiter

bp = Blueprint("tiles", __name__)

MAX_ZOOM = 19
KEEP_SECONDS = 30 * 24 * 3600  # on disk
BROWSER_SECONDS = 7 * 24 * 3600  # in nginx in front (X-Accel-Expires); never in browsers
TILE_RETRY_SECONDS = 60  # a tile the server refused (or sent broken) is not asked for again
SERVER_RETRY_SECONDS = 5  # every fetch pauses when the server cannot be reached at all
REFUSED_TILES_KEPT = 10_000  # the per-tile backoff's memory is bounded too
DISK_RESCAN_SECONDS = 300  # how often a worker re-measures the tile directory
# Belarus and about 150 km around it: the only area tiles are fetched for (above zoom 5,
# where the whole world is 1,365 tiles).
AREA = ((49.9, 21.0), (57.5, 34.9))
FREE_ZOOM = 5
log = logging.getLogger(__name__)
# A plain light grey tile, 512 px so that it stays sharp on phone screens (1.5 KB).
GREY_TILE = (PACKAGE_DIR / "static" / "grey-tile.png").read_bytes()


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


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(south, west, north, east) of a Web Mercator tile, in degrees."""
    n = 2**z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return lat(y + 1), x / n * 360 - 180, lat(y), (x + 1) / n * 360 - 180


def in_area(z: int, x: int, y: int) -> bool:
    """Whether the tile shows part of Belarus or its margin (every tile up to FREE_ZOOM)."""
    if z <= FREE_ZOOM:
        return True
    south, west, north, east = tile_bounds(z, x, y)
    (area_south, area_west), (area_north, area_east) = AREA
    return south < area_north and north > area_south and west < area_east and east > area_west


def _state() -> dict:
    return current_app.extensions["mapapp.tiles"]


def _may_fetch() -> bool:
    """One fetch from the tile server, counted for the whole site (all workers)."""
    limit = parse(current_app.config["TILE_FETCH_LIMIT"])
    try:
        return limiter.limiter.hit(limit, "tile-server")
    except Exception:  # noqa: BLE001 - no counter at all: fetch nothing rather than everything
        log.warning("The tile fetch counter is unavailable; sending grey tiles")
        return False


def _upstream(z: int, x: int, y: int) -> bytes | None:
    state = _state()
    now = time.monotonic()
    if now < state.get("server_down_until", 0.0):
        return None
    refused = state.setdefault("refused", {})
    if now < refused.get((z, x, y), 0.0):
        return None
    if not _may_fetch():
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
    except (urllib.error.HTTPError, ValueError):
        # The server answered, but not with this tile: leave this tile alone for a while.
        if len(refused) >= REFUSED_TILES_KEPT:
            refused.clear()
        refused[(z, x, y)] = now + TILE_RETRY_SECONDS
    except Exception:  # noqa: BLE001 - unreachable (refused connection, timeout, DNS)
        state["server_down_until"] = now + SERVER_RETRY_SECONDS
    return None


def _disk_bytes(directory: Path) -> int:
    """The tile directory's size as this worker knows it (re-measured every few minutes)."""
    state = _state()
    now = time.monotonic()
    if now - state.get("disk_measured_at", -DISK_RESCAN_SECONDS) >= DISK_RESCAN_SECONDS:
        total = 0
        for root, _dirs, files in os.walk(directory):
            for name in files:
                with contextlib.suppress(OSError):  # a tile being replaced right now
                    total += os.stat(os.path.join(root, name)).st_size
        state["disk_bytes"], state["disk_measured_at"] = total, now
    return state["disk_bytes"]


def _keep(path: Path, body: bytes) -> bool:
    """Write the tile to disk if the budget allows; whether it was written."""
    budget = current_app.config["TILE_CACHE_MB"] * 1024 * 1024
    if _disk_bytes(_tile_dir()) + len(body) > budget:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: another worker never reads half a tile.
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as out:
        out.write(body)
    os.replace(out.name, path)
    _state()["disk_bytes"] += len(body)
    return True


def _unkept(response: Response, nginx_seconds: int) -> Response:
    """No browser keeps a tile in its HTTP cache (`no-store`): the tiles of a view made from
    the visitor's own position ("Near me") would stay on the phone's disk, and a seized phone's
    cache would show where its owner was. The page cannot ask for those tiles differently
    (anything that told them apart would tell the server which requests come from a position),
    so no tile is kept; the offline web app (sw.js) keeps the tiles of other views in its own
    cache. nginx in front still keeps them `nginx_seconds` (X-Accel-Expires, which nginx takes
    over Cache-Control and never passes on; 0: not at all): they are the same for everyone."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Expires"] = str(nginx_seconds)
    return response


def _grey(seconds: int | None = None) -> Response:
    # Without `seconds`: the real tile may come next time, so not even nginx keeps it.
    return _unkept(Response(GREY_TILE, mimetype="image/png"), seconds or 0)


@bp.get("/tiles/<int:z>/<int:x>/<int:y>.png")
def tile(z: int, x: int, y: int) -> Response:
    if not proxied(current_app) or z > MAX_ZOOM or x >= 2**z or y >= 2**z:
        abort(404)
    if not in_area(z, x, y):
        return _grey(BROWSER_SECONDS)  # never fetched: the map shows only Belarus
    path = _tile_dir() / str(z) / str(x) / f"{y}.png"
    if not (path.exists() and time.time() - path.stat().st_mtime < KEEP_SECONDS):
        body = _upstream(z, x, y)
        if body is None:
            return _grey()
        if not _keep(path, body):
            return _unkept(Response(body, mimetype="image/png"), BROWSER_SECONDS)
    return _unkept(send_file(path, mimetype="image/png"), BROWSER_SECONDS)


def init_app(app: Flask) -> None:
    app.extensions["mapapp.tiles"] = {}
    app.register_blueprint(bp)
