"""Tiles through the app: cached, from a fake tile server on 127.0.0.1; grey when it is down."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import make_app

from mapapp.tiles import GREY_TILE

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
    assert first.cache_control.max_age == 7 * 24 * 3600
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
