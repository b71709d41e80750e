"""Public pages compressed (mapapp/web/compression.py); nothing with a cookie or a secret."""

from __future__ import annotations

import gzip

import pytest
from conftest import add_rally


@pytest.mark.parametrize("path", ["/", "/rallies?when=all", "/rallies/{id}", "/embed", "/about"])
def test_public_pages_are_compressed_for_clients_that_take_it(app, client, path):
    rally_id = add_rally(app, title="Пікет у Гродне", town="Гродна", lat=53.68, lon=23.83)
    path = path.format(id=rally_id)
    plain = client.get(path)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    packed = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 2


def test_a_cached_page_answers_304_for_its_compressed_etag(client):
    packed = client.get("/rallies", headers={"Accept-Encoding": "gzip"})
    again = client.get(
        "/rallies", headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]}
    )
    assert again.status_code == 304
    plain = client.get("/rallies")
    assert plain.headers["ETag"] != packed.headers["ETag"]  # another representation


def test_nothing_with_a_cookie_or_a_form_token_is_compressed(app):
    client = app.test_client(use_cookies=False)
    # A form: its CSRF token comes with a new session cookie.
    form = client.get("/submit", headers={"Accept-Encoding": "gzip"})
    assert "Set-Cookie" in form.headers and "Content-Encoding" not in form.headers
    # A visitor with a cookie (a moderator, someone who submitted): never compressed.
    page = client.get("/rallies", headers={"Accept-Encoding": "gzip", "Cookie": "session=x"})
    assert page.status_code == 200 and "Content-Encoding" not in page.headers


def test_a_page_is_compressed_once_and_a_changed_page_again(app, client, monkeypatch):
    from flask_compress import flask_compress

    calls: list[str] = []
    real = flask_compress._compress_data

    def counting(app, data, algorithm):  # noqa: ANN001, ANN202
        calls.append(algorithm)
        return real(app, data, algorithm)

    monkeypatch.setattr(flask_compress, "_compress_data", counting)
    add_rally(app, title="Пікет у Гродне", town="Гродна", lat=53.68, lon=23.83)
    gz = {"Accept-Encoding": "gzip"}
    first = client.get("/rallies?when=all", headers=gz)
    assert client.get("/rallies?when=all", headers=gz).data == first.data
    assert calls == ["gzip"]  # the second answer reused the compressed bytes
    add_rally(app, title="Новы пікет у Віцебску", town="Віцебск", lat=55.19, lon=30.2)
    changed = client.get("/rallies?when=all", headers=gz)
    assert calls == ["gzip", "gzip"]
    assert "Новы пікет у Віцебску" in gzip.decompress(changed.data).decode()


def test_a_client_refusing_gzip_gets_plain_feeds_and_assets(client, app):
    """ "gzip;q=0" means "not gzip" (RFC 9110): the prepared feeds and the assets are sent
    plain then, as to a client naming no encoding; "*" takes gzip."""
    add_rally(app)
    for path in ("/api/rallies.geojson", "/api/rallies.geojson?fields=map", "/rallies.ics",
                 "/rallies.csv", "/static/app.css"):  # fmt: skip
        refused = client.get(path, headers={"Accept-Encoding": "gzip;q=0, identity"})
        plain = client.get(path)
        star = client.get(path, headers={"Accept-Encoding": "*"})
        assert refused.status_code == 200, path
        assert refused.content_encoding is None, path
        assert refused.data == plain.data, path
        assert star.content_encoding == "gzip", path
        for response in (refused, plain, star):
            response.close()  # an asset's open file


@pytest.mark.parametrize("path", ["/", "/rallies", "/about", "/api/rallies/{id}"])
def test_a_client_refusing_every_encoding_gets_plain_pages(client, app, path):
    """ "gzip;q=0" alone, or every encoding refused: Flask-Compress still picked the best rated
    one (gzip, br) though its rating is 0, and such a client could not read the page."""
    path = path.format(id=add_rally(app, description="Апісанне " * 200))
    plain = client.get(path)
    for refused in ("gzip;q=0", "gzip;q=0, br;q=0", "gzip;q=nan"):
        answer = client.get(path, headers={"Accept-Encoding": refused})
        assert answer.status_code == 200 and answer.content_encoding is None, refused
        assert answer.data == plain.data and "Accept-Encoding" in answer.headers["Vary"]
    # Rated above 0 among refused ones: that one.
    assert (
        client.get(path, headers={"Accept-Encoding": "gzip;q=0, br;q=0.5"}).content_encoding == "br"
    )
