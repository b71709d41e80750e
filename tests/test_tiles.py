"""Tiles through the app: cached, from a fake tile server on 127.0.0.1; grey when it is down."""

import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import make_app

from mapapp.web.tiles import GREY_TILE

PNG = GREY_TILE.replace(b"IEND", b"IEND")  # any PNG will do


@pytest.fixture
def tile_server():
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append((self.path, self.headers.get("User-Agent"), self.headers.get("Referer")))
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()
    server.server_close()


def test_tiles_come_through_the_app_and_are_kept(sqlite_url, tile_server, tmp_path):
    url, hits = tile_server
    app = make_app(sqlite_url, TILE_URL=url + "/{z}/{x}/{y}.png")
    app.instance_path = str(tmp_path)
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert '"/tiles/{z}/{x}/{y}.png"' in page and url not in page
    first = client.get("/tiles/6/36/20.png")
    assert first.status_code == 200 and first.data == PNG
    # Never kept by a browser ("near me": a phone's cache would show where its owner was),
    # kept a week by nginx in front.
    assert first.headers["Cache-Control"] == "no-store"
    assert first.headers["X-Accel-Expires"] == str(7 * 24 * 3600)
    second = client.get("/tiles/6/36/20.png")
    assert second.data == PNG
    first.close()
    second.close()
    assert [h[0] for h in hits] == ["/6/36/20.png"]  # asked once, then from disk
    assert hits[0][1].startswith("mapapp")  # a real User-Agent, no Referer, no visitor's address
    assert hits[0][2] is None


def test_grey_tile_when_the_tile_server_is_down(sqlite_url, tmp_path):
    app = make_app(sqlite_url, TILE_URL="http://127.0.0.1:9/{z}/{x}/{y}.png")
    app.instance_path = str(tmp_path)
    response = app.test_client().get("/tiles/6/36/20.png")
    assert response.status_code == 200 and response.data == GREY_TILE
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Accel-Expires"] == "0"  # nor by nginx: the real one may come


def test_tile_numbers_are_checked(sqlite_url, tile_server):
    url, hits = tile_server
    client = make_app(sqlite_url, TILE_URL=url + "/{z}/{x}/{y}.png").test_client()
    assert client.get("/tiles/20/0/0.png").status_code == 404
    assert client.get("/tiles/2/4/0.png").status_code == 404
    assert client.get("/tiles/a/b/c.png").status_code == 404
    assert hits == []


def test_without_the_proxy_browsers_use_the_tile_server(sqlite_url):
    app = make_app(sqlite_url, TILE_PROXY=False)
    client = app.test_client()
    response = client.get("/")
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in response.get_data(as_text=True)
    assert (
        "img-src 'self' data: https://tile.openstreetmap.org"
        in response.headers["Content-Security-Policy"]
    )
    assert client.get("/tiles/6/36/20.png").status_code == 404


# What the fake tile server sends: a PNG signature, and not the grey tile.
FETCHED = b"\x89PNG\r\n\x1a\n a fetched tile"


def tile_at(z: int, lat: float, lon: float) -> str:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"/tiles/{z}/{x}/{y}.png"


@pytest.fixture
def refusing_tile_server():
    """A tile server that counts requests and refuses (403) the tiles listed in `refused`."""
    hits: list[str] = []
    refused: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            if self.path in refused:
                self.send_error(403)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(FETCHED)

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", hits, refused
    server.shutdown()
    server.server_close()


def tile_app(sqlite_url, url, tmp_path, **extra):
    app = make_app(sqlite_url, TILE_URL=url + "/{z}/{x}/{y}.png", **extra)
    app.instance_path = str(tmp_path)
    return app


def test_tiles_outside_belarus_are_never_fetched(sqlite_url, refusing_tile_server, tmp_path):
    url, hits, _ = refusing_tile_server
    client = tile_app(sqlite_url, url, tmp_path).test_client()
    for lat, lon in ((48.85, 2.35), (40.7, -74.0), (59.9, 30.3), (55.75, 37.6)):  # Paris... Moscow
        answer = client.get(tile_at(12, lat, lon))
        assert answer.status_code == 200 and answer.data == GREY_TILE
        assert answer.headers["X-Accel-Expires"] == str(7 * 24 * 3600)  # it will stay grey
        answer.close()
    assert hits == []
    assert client.get("/tiles/20/0/0.png").status_code == 404  # past the deepest zoom
    # Belarus and its border areas are fetched, and the world at low zoom.
    for path in (tile_at(12, 53.9, 27.56), tile_at(12, 51.3, 23.2), tile_at(3, 40.7, -74.0)):
        client.get(path).close()
    assert len(hits) == 3


def test_fetches_from_the_tile_server_are_limited_for_the_whole_site(
    sqlite_url, refusing_tile_server, tmp_path
):
    url, hits, _ = refusing_tile_server
    app = tile_app(sqlite_url, url, tmp_path, TILE_FETCH_LIMIT="5 per minute")
    client = app.test_client()
    z, base = 14, tile_at(14, 53.9, 27.56).split("/")
    x, y = int(base[3]), int(base[4].split(".")[0])
    answers = [client.get(f"/tiles/{z}/{x + i}/{y}.png") for i in range(8)]
    assert [a.data == FETCHED for a in answers] == [True] * 5 + [False] * 3
    assert all(a.headers["X-Accel-Expires"] == "0" for a in answers[5:])  # grey, for now
    for answer in answers:
        answer.close()
    assert len(hits) == 5
    # The count is shared through the limits' storage (the database here): another worker
    # gets no more.
    other = tile_app(sqlite_url, url, tmp_path, TILE_FETCH_LIMIT="5 per minute").test_client()
    other.get(f"/tiles/{z}/{x + 20}/{y}.png").close()
    assert len(hits) == 5


def test_disk_budget(sqlite_url, refusing_tile_server, tmp_path):
    url, hits, _ = refusing_tile_server
    client = tile_app(sqlite_url, url, tmp_path, TILE_CACHE_MB=0).test_client()
    path = tile_at(13, 53.9, 27.56)
    first = client.get(path)
    assert first.status_code == 200 and first.data == FETCHED  # passed on...
    first.close()
    assert not (tmp_path / "tiles").exists() or not any((tmp_path / "tiles").rglob("*.png"))
    client.get(path).close()
    assert len(hits) == 2  # ...but not kept


def test_one_refused_tile_does_not_grey_out_the_others(sqlite_url, refusing_tile_server, tmp_path):
    url, hits, refused = refusing_tile_server
    client = tile_app(sqlite_url, url, tmp_path).test_client()
    bad, good = tile_at(15, 53.9, 27.56), tile_at(15, 52.1, 23.7)
    refused.add(bad.removeprefix("/tiles"))
    assert client.get(bad).data == GREY_TILE
    answer = client.get(good)
    assert answer.data == FETCHED  # the next tile is still fetched
    answer.close()
    assert client.get(bad).data == GREY_TILE
    assert hits == [bad.removeprefix("/tiles"), good.removeprefix("/tiles")]  # not asked again
