"""Cross-origin: partners' scripts read the public data; pages keep to themselves (CORP, COOP,
HSTS over HTTPS in production). In Chromium a partner page on another origin reads the GeoJSON."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import add_rally, make_app

from mapapp.web.security import CROSS_ORIGIN_ENDPOINTS


def public_data_urls(rally_id: int) -> list[str]:
    return [
        "/api/rallies.geojson?when=all",
        f"/api/rallies/{rally_id}",
        "/api/openapi.json",
        f"/oembed?url=http://localhost/rallies/{rally_id}",
        "/rallies.ics?when=all",
        "/rallies.csv",
        f"/rallies/{rally_id}.ics",
    ]


def test_public_data_may_be_read_by_any_site(client, app):
    rally_id = add_rally(app)
    urls = public_data_urls(rally_id)
    assert len(urls) == len(CROSS_ORIGIN_ENDPOINTS)
    for url in [*urls, "/api/rallies/424242"]:  # an error too: the partner reads why
        response = client.get(url, headers={"Origin": "https://news.example"})
        assert response.headers["Access-Control-Allow-Origin"] == "*", url
        assert response.headers["Access-Control-Expose-Headers"] == "ETag"
        assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
        assert "Access-Control-Allow-Credentials" not in response.headers
        assert "Set-Cookie" not in response.headers


def test_preflight_allows_conditional_requests(client, app):
    response = client.options(
        "/api/rallies.geojson",
        headers={
            "Origin": "https://news.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "If-None-Match" in response.headers["Access-Control-Allow-Headers"]
    assert "GET" in response.headers["Access-Control-Allow-Methods"]


@pytest.mark.parametrize(
    "url",
    ["/", "/rallies", "/submit", "/moderate/login", "/api/geocode?q=Minsk", "/static/app.css"],
)
def test_other_answers_are_for_this_site_only(client, url):
    response = client.get(url, headers={"Origin": "https://news.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    response.close()


def test_pages_keep_no_opener_and_the_embed_stays_frameable(client):
    assert client.get("/").headers["Cross-Origin-Opener-Policy"] == "same-origin"
    embed = client.get("/embed")
    assert "Cross-Origin-Opener-Policy" not in embed.headers
    assert embed.headers["Cross-Origin-Resource-Policy"] == "cross-origin"


@pytest.mark.parametrize(
    ("settings", "base_url", "sent"),
    [
        ({"BASE_URL": "https://rallies.example"}, "https://rallies.example", True),
        (
            {"BASE_URL": "https://rallies.example", "DEVELOPMENT": True},
            "https://rallies.example",
            False,
        ),
        ({"BASE_URL": "http://rallies.example"}, "http://rallies.example", False),
        ({}, "http://localhost", False),
    ],
)
def test_hsts_only_over_https_in_production(sqlite_url, settings, base_url, sent):
    app = make_app(sqlite_url, **settings)
    response = app.test_client().get("/", base_url=base_url)
    assert ("Strict-Transport-Security" in response.headers) is sent
    if sent:
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    app.extensions["mapapp.db"]["engine"].dispose()


PARTNER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Partner</title><link rel="icon" href="data:,"></head>
<body><h1>Partner's list</h1><ul id="rallies"></ul>
<script>
window.result = (async () => {
  const first = await fetch("%(site)s/api/rallies.geojson?when=all");
  const data = await first.json();
  const etag = first.headers.get("ETag");
  for (const f of data.features) {
    const li = document.createElement("li");
    li.textContent = f.properties.title;
    document.getElementById("rallies").appendChild(li);
  }
  const again = await fetch("%(site)s/api/rallies.geojson?when=all",
                            {headers: {"If-None-Match": etag}, cache: "no-store"});
  return {count: data.features.length, etag: etag, again: again.status};
})();
</script></body></html>"""


@pytest.fixture
def partner(live_server: str) -> Iterator[str]:
    """Another origin (localhost on another port) serving the partner's page."""
    body = (PARTNER_PAGE % {"site": live_server}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_port}/"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.browser
def test_a_partner_page_reads_the_geojson_and_its_etag(page, app, partner):
    add_rally(app, title="Пікет у Гродне")
    add_rally(app, title="Пікет у Брэсце")
    page.goto(partner)
    result = page.evaluate("window.result")
    assert result["count"] == 2
    assert result["etag"].strip('"')
    assert result["again"] == 304
    assert page.locator("#rallies li").all_inner_texts() == ["Пікет у Гродне", "Пікет у Брэсце"]
    assert page.errors == []
