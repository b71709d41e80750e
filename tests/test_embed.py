"""Partner sites embed the map: /embed (frameable, no cookies), its code page, oEmbed."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import add_rally, make_app

from mapapp import create_app
from mapapp.domain.models import Status


def frame_ancestors(response) -> str:  # noqa: ANN001
    policy = response.headers["Content-Security-Policy"]
    return re.search(r"frame-ancestors ([^;]+)", policy).group(1)


def map_config(page: str) -> dict:
    return json.loads(re.search(r"RallyMap\.init\(map_\w+, (\{.*\})\);", page).group(1))


def text(response) -> str:  # noqa: ANN001
    return html.unescape(response.get_data(as_text=True))


def test_embed_may_be_framed_by_any_site_and_other_pages_by_none(client):
    embed = client.get("/embed?lang=be")
    assert embed.status_code == 200
    assert frame_ancestors(embed) == "*"
    assert "X-Frame-Options" not in embed.headers
    for path in ("/", "/rallies", "/embed/code", "/submit", "/oembed?url=http://localhost/"):
        response = client.get(path)
        assert frame_ancestors(response) == "'none'", path
        assert response.headers["X-Frame-Options"] == "DENY", path


def test_embed_origins_limit_who_may_frame_the_embed(sqlite_url):
    app = make_app(sqlite_url, EMBED_ORIGINS="https://news.example  https://blog.example:8443")
    client = app.test_client()
    embed = client.get("/embed")
    # 'self': the code page's preview frames /embed whatever the list says
    assert frame_ancestors(embed) == "'self' https://news.example https://blog.example:8443"
    assert "X-Frame-Options" not in embed.headers
    assert frame_ancestors(client.get("/")) == "'none'"
    app.extensions["mapapp.db"]["engine"].dispose()


def test_embed_origins_come_from_the_environment(monkeypatch, sqlite_url):
    monkeypatch.setenv("MAPAPP_EMBED_ORIGINS", "https://news.example")
    app = create_app({"DATABASE_URL": sqlite_url})
    assert app.config["EMBED_ORIGINS"] == "https://news.example"


@pytest.mark.parametrize(
    "origins",
    [
        "https://news.example/page",  # a path
        "news.example",  # no scheme
        "https://a.example,https://b.example",  # commas
        "https://news.example; script-src *",  # would add a directive
        "*",
    ],
)
def test_embed_origins_must_be_origins(sqlite_url, origins):
    with pytest.raises(ValueError, match="MAPAPP_EMBED_ORIGINS"):
        create_app({"DATABASE_URL": sqlite_url, "EMBED_ORIGINS": origins})


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("", {}),
        ("?lang=ru", {}),
        ("?lang=en&list=1&featured=1&lat=53.9&lon=27.56&zoom=12", {}),
        ("", {"Accept-Language": "ru"}),
    ],
)
def test_embed_sets_no_cookie(client, seeded_app, query, headers):
    response = client.get("/embed" + query, headers=headers)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    # the session was not even read: a CDN need not keep a copy per cookie
    assert "Cookie" not in response.headers.get("Vary", "")
    assert client.get_cookie("session") is None


def test_embed_error_page_sets_no_cookie_either(client):
    response = client.get("/embed?when=someday&lang=ru")
    assert response.status_code == 400
    assert "Set-Cookie" not in response.headers
    assert frame_ancestors(response) == "*"  # the message shows inside the partner's frame


def test_embed_may_be_kept_a_minute_and_its_data_half_a_minute(client, seeded_app):
    response = client.get("/embed?lang=be")
    assert response.cache_control.public
    assert response.cache_control.max_age == 60
    data = client.get("/api/rallies.geojson?lang=be")
    assert data.cache_control.max_age == 30 and data.headers["ETag"]


def test_embed_is_the_map_without_the_site_around_it(client):
    response = client.get("/embed?lang=en&region=BY-HM&featured=1&height=300")
    page = response.get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "<title>Rally map of Belarus</title>" in page
    assert 'class="folium-map"' in page
    assert "<form" not in page and "site-nav" not in page and "topbar" not in page
    assert 'id="rally-list"' not in page  # no list unless asked for
    link = re.search(r'<a href="([^"]+)" target="_blank" rel="noopener">Open the full map', page)
    # the full map at the same filters; height is only for the snippet
    assert html.unescape(link.group(1)) == "/?lang=en&region=BY-HM&featured=1"
    config = map_config(page)
    assert config["mode"] == "embed"
    assert config["labels"]["newTab"] == "(opens in a new tab)"


def test_embed_list_option(client):
    page = client.get("/embed?lang=en&list=1").get_data(as_text=True)
    assert '<ol id="rally-list" class="rally-list"></ol>' in page
    assert "Rallies on the map" in page


def test_embed_map_leaves_page_scrolling_alone_in_its_language(client):
    page = client.get("/embed?lang=ru").get_data(as_text=True)
    assert "/vendor/gesturehandling/1.2.1/leaflet-gesture-handling.min.js" in page
    assert "/vendor/gesturehandling/1.2.1/leaflet-gesture-handling.min.css" in page
    assert '"gestureHandling": true' in page
    for words in (
        "Чтобы переместить карту, проведите по ней двумя пальцами",
        "Чтобы изменить масштаб, прокручивайте карту, удерживая клавишу Ctrl",
        "Чтобы изменить масштаб, прокручивайте карту, удерживая клавишу ⌘",
    ):
        assert json.dumps(words) in page
    with client.get("/vendor/gesturehandling/1.2.1/leaflet-gesture-handling.min.js") as script:
        assert script.status_code == 200
    # the site's own map page keeps the usual scroll-to-zoom
    assert "gestureHandling" not in client.get("/?lang=ru").get_data(as_text=True)


def test_centre_and_zoom_are_taken(client):
    for query in ("lat=53.9&lon=27.56&zoom=12", "lat=52.1&lon=23.7", "zoom=8", "lat=&lon=&zoom="):
        assert client.get(f"/embed?{query}").status_code == 200, query


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("lat=abc&lon=27", "'lat' must be a number from 49 to 59"),
        ("lat=53.9", "'lat' and 'lon' must be given together"),
        ("lat=-33.9&lon=151.2", "'lat' must be a number from 49 to 59"),
        ("lat=53.9&lon=nan", "'lon' must be a number from 21 to 35"),
        ("zoom=abc", "'zoom' must be a number from 5 to 19"),
        ("zoom=inf", "'zoom' must be a number from 5 to 19"),
        ("list=yes", "'list' must be one of: 0, 1"),
        ("featured=2", "'featured' must be one of: 0, 1"),
        ("height=50", "'height' must be a whole number from 200 to 2000"),
        ("when=someday", "'when' must be one of: upcoming, past, all"),
    ],
)
def test_bad_embed_parameters_are_a_clear_400(client, query, message):
    response = client.get(f"/embed?lang=en&{query}")
    assert response.status_code == 400
    assert message in text(response)


def snippet_of(page: str) -> str:
    found = re.search(r'<textarea id="embed-snippet"[^>]*>(.*?)</textarea>', page)
    return html.unescape(found.group(1))


def test_code_page_gives_a_snippet_and_a_preview(client):
    response = client.get(
        "/embed/code?lang=en&embed_lang=ru&when=all&region=BY-HR&featured=1&list=1&height=640"
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="en">' in page  # the page in its own language, the map in the chosen one
    assert snippet_of(page) == (
        '<iframe src="http://localhost/embed?lang=ru&amp;when=all&amp;region=BY-HR&amp;featured=1'
        '&amp;list=1" title="Карта акций в Беларуси" loading="lazy" '
        'style="width:100%;height:640px;border:0" referrerpolicy="no-referrer"></iframe>'
    )
    preview = re.search(r'<iframe class="embed-preview" src="([^"]+)" title="([^"]+)"', page)
    src = html.unescape(preview.group(1))
    assert src == "/embed?lang=ru&when=all&region=BY-HR&featured=1&list=1"
    assert preview.group(2) == "Preview of the embedded map"
    # a plain GET form that keeps the page's language and shows what was chosen
    assert '<form method="get" action="/embed/code"' in page
    assert '<input type="hidden" name="lang" value="en">' in page
    assert '<option value="ru" lang="ru" selected>' in page
    assert '<option value="BY-HR" selected>' in page
    assert 'name="featured" value="1" checked' in page and 'name="list" value="1" checked' in page
    assert 'value="640"' in page
    # the Copy button's script is a file: the CSP allows no inline script here
    assert "<script>" not in page and "embedcode.js" in page
    assert "script-src 'self';" in response.headers["Content-Security-Policy"]
    assert "frame-src 'self'" in response.headers["Content-Security-Policy"]


def test_code_page_defaults(client):
    page = client.get("/embed/code?lang=be").get_data(as_text=True)
    assert snippet_of(page) == (
        '<iframe src="http://localhost/embed?lang=be" title="Мапа акцый у Беларусі" loading="lazy" '
        'style="width:100%;height:500px;border:0" referrerpolicy="no-referrer"></iframe>'
    )
    assert client.get("/embed/code?embed_lang=de").status_code == 400
    assert client.get("/embed/code?height=1").status_code == 400


def test_code_page_is_linked_from_the_footer(client):
    page = client.get("/rallies?lang=ru").get_data(as_text=True)
    assert '<a href="/embed/code?lang=ru">Встроить карту на свой сайт</a>' in page


def oembed(client, url: str, **args):  # noqa: ANN001, ANN003, ANN201
    return client.get("/oembed", query_string={"url": url, **args})


def src_of(snippet: str) -> str:
    return html.unescape(re.search(r'src="([^"]+)"', snippet).group(1))


def test_oembed_for_the_map(client):
    response = oembed(client, "http://localhost/?lang=en&region=BY-HR&list=1", format="json")
    assert response.status_code == 200
    data = response.get_json()
    assert data["version"] == "1.0" and data["type"] == "rich"
    assert data["title"] == data["provider_name"] == "Rally map of Belarus"
    assert data["provider_url"] == "http://localhost/"
    assert (data["width"], data["height"]) == (800, 500)
    assert src_of(data["html"]) == "http://localhost/embed?lang=en&region=BY-HR&list=1"
    assert 'title="Rally map of Belarus"' in data["html"]
    assert 'loading="lazy"' in data["html"]
    assert response.cache_control.public and response.cache_control.max_age == 60


def test_oembed_for_an_embed_url_keeps_to_the_size_asked(client):
    url = "http://localhost/embed?lang=be&featured=1&height=700"
    data = oembed(client, url).get_json()
    assert data["height"] == 700 and data["title"] == "Мапа акцый у Беларусі"
    assert src_of(data["html"]) == "http://localhost/embed?lang=be&featured=1"
    data = oembed(client, url, maxwidth="600", maxheight="400").get_json()
    assert (data["width"], data["height"]) == (600, 400)
    assert "height:400px" in data["html"] and "max-width:600px" in data["html"]


def test_oembed_for_a_rally(client, app):
    rally_id = add_rally(app, title='Пікет "<у Гродне>"', town="Гродна", lat=53.6778, lon=23.8297)
    data = oembed(client, f"http://localhost/rallies/{rally_id}?lang=ru").get_json()
    assert data["title"] == 'Пікет "<у Гродне>"'
    assert data["provider_name"] == "Карта акций в Беларуси"
    assert "<у" not in data["html"]  # the organizer's text is escaped in the html
    assert 'title="Пікет &#34;&lt;у Гродне&gt;&#34;"' in data["html"]
    assert src_of(data["html"]) == (
        "http://localhost/embed?lang=ru&when=all&lat=53.677800&lon=23.829700&zoom=15"
    )
    # without ?lang the answer is in Belarusian, the site's default
    assert "lang=be" in oembed(client, f"http://localhost/rallies/{rally_id}").get_json()["html"]


def test_oembed_answers_only_for_this_site(client, app):
    pending = add_rally(app, status=Status.PENDING.value)
    for url in (
        "http://elsewhere.example/",
        "https://evil.example/embed",
        "http://localhost.evil.example/",
        f"http://localhost/rallies/{pending}",
        "http://localhost/rallies/999999",
        "http://localhost/submit",
        "http://localhost/no-such-page",
        "javascript:alert(1)",
        "/rallies/1",
    ):
        response = oembed(client, url)
        assert response.status_code == 404, url
        assert response.is_json


def test_oembed_errors(client):
    assert oembed(client, "http://localhost/", format="xml").status_code == 501
    assert oembed(client, "http://localhost/", format="yaml").status_code == 400
    assert client.get("/oembed").status_code == 400
    bad_filter = oembed(client, "http://localhost/?when=someday")
    assert bad_filter.status_code == 400
    assert bad_filter.get_json()["message"] == "'when' must be one of: upcoming, past, all"
    assert oembed(client, "http://localhost/", maxwidth="wide").status_code == 400


def test_map_and_rally_pages_link_their_oembed(client, app):
    rally_id = add_rally(app)
    for path in ("/?lang=ru", f"/rallies/{rally_id}"):
        page = client.get(path).get_data(as_text=True)
        href = html.unescape(
            re.search(
                r'<link rel="alternate" type="application/json\+oembed" href="([^"]+)">', page
            ).group(1)
        )
        parts = urlsplit(href)
        assert (parts.netloc, parts.path) == ("localhost", "/oembed")
        assert parse_qs(parts.query) == {"url": [f"http://localhost{path}"], "format": ["json"]}
        assert client.get(href).status_code == 200
