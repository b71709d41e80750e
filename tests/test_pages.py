import html
import re
from urllib.parse import urlsplit

from conftest import add_rally

from mapapp.domain.models import Status


def test_map_page_is_a_self_hosted_leaflet_map(client, seeded_app):
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'class="folium-map"' in page
    assert "/vendor/leaflet/1.9.3/leaflet.js" in page
    assert "/static/vendor/supercluster/supercluster.min.js?v=" in page
    assert "RallyMap.init(" in page
    # nothing from another host (the language alternates are absolute, on this host)
    for tag in re.findall(r"<(?:script|link)\b[^>]*>", page):
        for url in re.findall(r'(?:src|href)="([^"]+)"', tag):
            assert urlsplit(url).netloc in ("", "localhost"), tag
    assert re.findall(r'<script\b[^>]*src="([^"]+)"', page) == [
        re.search(r'src="(/static/offline-status.js\?v=\w+)"', page).group(1),  # the web app
        "/vendor/leaflet/1.9.3/leaflet.js",
        re.search(r'src="(/static/vendor/supercluster/supercluster.min.js\?v=\w+)"', page).group(1),
        re.search(r'src="(/static/basemap.js\?v=\w+)"', page).group(1),
        re.search(r'src="(/static/map/\w+/map.js)"', page).group(1),
    ]


def test_vendor_files_are_served_with_long_cache(client):
    with client.get("/vendor/leaflet/1.9.3/leaflet.js") as response:
        assert response.status_code == 200
        assert b"Leaflet" in response.data[:400]
        assert response.cache_control.max_age >= 365 * 24 * 3600
    with client.get("/vendor/gesturehandling/1.2.1/leaflet-gesture-handling.min.css") as response:
        assert response.status_code == 200
    supercluster = re.search(
        r'src="(/static/vendor/supercluster/[^"]+)"', client.get("/").get_data(as_text=True)
    ).group(1)
    with client.get(html.unescape(supercluster)) as response:
        assert response.status_code == 200
        assert b"ISC License" in response.data[:2000]  # its licence travels with it
        assert response.cache_control.max_age >= 365 * 24 * 3600
    with client.get(
        "/vendor/leaflet/1.9.3/leaflet.js", headers={"Accept-Encoding": "gzip"}
    ) as zipped:
        import gzip

        assert zipped.headers["Content-Encoding"] == "gzip"
        assert b"Leaflet" in gzip.decompress(zipped.data)[:400]
        assert len(zipped.data) < 60_000
    assert client.get("/vendor/leaflet/0.0.1/leaflet.js").status_code == 404
    assert client.get("/vendor/jquery/1/jquery.js").status_code == 404


def test_map_page_csp_allows_only_its_own_scripts(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'sha256-" in csp
    assert "unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert "img-src 'self' data:;" in csp  # tiles come through the app by default
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"


def test_rallies_list_puts_the_main_rally_first(client, seeded_app):
    add_rally(seeded_app, title="Earlier gathering in Lida", town="Ліда")
    page = client.get("/rallies?lang=en").get_data(as_text=True)
    assert "Main rally" in page
    main = page.index("on October Square")  # the seed's texts in the page's language
    assert main < page.index("Earlier gathering in Lida")
    assert main < page.index("Soviet Square")
    # Works with JavaScript off: its one script is the offline web app's (mapapp/static/sw.js).
    assert re.findall(r"<script\b[^>]*>", page) == [
        re.search(r'<script src="/static/offline-status.js\?v=\w+"[^>]*>', page).group(0)
    ]


def test_rallies_list_shows_minsk_time(client, app):
    from datetime import UTC, datetime

    add_rally(app, title="Time check", starts_at=datetime(2099, 3, 1, 16, 0, tzinfo=UTC))
    page = client.get("/rallies?lang=en").get_data(as_text=True)
    assert "7:00" in page  # 16:00 UTC is 19:00 in Minsk
    assert "4:00" not in page


def test_rallies_list_hides_what_is_not_public(client, app):
    add_rally(app, title="Visible rally")
    add_rally(app, title="Pending rally", status=Status.PENDING.value)
    add_rally(app, title="Rejected rally", status=Status.REJECTED.value)
    add_rally(app, title="Cancelled rally", status=Status.CANCELLED.value)
    page = client.get("/rallies?lang=en").get_data(as_text=True)
    assert "Visible rally" in page
    assert "Pending rally" not in page
    assert "Rejected rally" not in page
    assert "Cancelled rally" in page and "Cancelled</strong>" in page


def test_rally_page(client, app):
    rally_id = add_rally(app, title="Пікет <b>у Гродне</b>", description="Першы\nДругі")
    response = client.get(f"/rallies/{rally_id}?lang=en")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Пікет &lt;b&gt;у Гродне&lt;/b&gt;" in page
    assert "<b>у Гродне</b>" not in page
    assert '<p dir="auto">Першы</p>' in page and '<p dir="auto">Другі</p>' in page


def test_rally_page_404_for_missing_and_pending(client, app):
    pending = add_rally(app, status=Status.PENDING.value)
    assert client.get(f"/rallies/{pending}").status_code == 404
    assert client.get("/rallies/999999").status_code == 404


def test_bad_filter_is_a_clear_400(client):
    response = client.get("/rallies?when=someday&lang=en")
    assert response.status_code == 400
    assert "when" in response.get_data(as_text=True)
    assert client.get("/?region=BY-XX").status_code == 400


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_reports_a_dead_database(app):
    from mapapp.domain.db import make_engine

    app.extensions["mapapp.db"]["engine"] = make_engine("sqlite:////nonexistent/dir/db.sqlite3")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "database unavailable"


def test_language_links_keep_the_language(client, seeded_app):
    page = client.get("/rallies?lang=ru").get_data(as_text=True)
    assert '<html lang="ru">' in page
    assert 'href="/?lang=ru"' in page
    assert '<link rel="alternate" hreflang="en" href="http://localhost/rallies?lang=en">' in page


def test_request_log_has_no_client_address(client, caplog):
    import logging

    from mapapp.web.logs import WerkzeugRequestLog

    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '203.0.113.9 - - [x] "GET / HTTP/1.1" 200 -',
        (),
        None,
    )
    WerkzeugRequestLog(client.application.url_map).filter(record)
    assert "203.0.113.9" not in record.getMessage()
    v6 = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, "2001:db8::1 - - [x] GET", (), None
    )
    WerkzeugRequestLog(client.application.url_map).filter(v6)
    assert "2001:db8" not in v6.getMessage()
    assert any(isinstance(f, WerkzeugRequestLog) for f in logging.getLogger("werkzeug").filters)


def test_robots_keeps_private_pages_out_of_search_engines(client):
    text = client.get("/robots.txt").get_data(as_text=True)
    assert "Disallow: /manage/" in text and "Disallow: /moderate" in text


def test_list_has_the_filters_as_a_plain_form(client, seeded_app):
    page = client.get("/rallies?region=BY-HR&when=all&lang=en").get_data(as_text=True)
    assert '<form method="get" action="/rallies"' in page
    assert '<option value="BY-HR" selected>Hrodna Region</option>' in page
    assert 'name="when" value="all" checked' in page
    assert '<input type="hidden" name="lang" value="en">' in page
    # only Hrodna region's rallies, under their region's heading
    assert "Hrodna: solidarity" in page and "Viciebsk: solidarity" not in page


def test_list_groups_a_day_by_region(client, seeded_app):
    page = client.get("/rallies?lang=en").get_data(as_text=True)
    day = page.split('id="day-1"')[1]
    regions = re.findall(r'<h3 id="day-1-region-\d+">([^<]+)</h3>', day)
    assert regions == sorted(regions) and len(regions) == 6  # Minsk City: the main rally, above
    assert day.index("Brest Region") < day.index("Brest: solidarity") < day.index("Homiel Region")


def test_map_page_offers_the_same_filters(client, seeded_app):
    page = client.get("/?region=BY-VI&lang=ru").get_data(as_text=True)
    assert '<details class="map-filters" open>' in page
    assert '<form method="get" action="/"' in page
    assert '<option value="BY-VI" selected>Витебская область</option>' in page


def test_rally_page_has_a_preview_for_messengers_and_share_links(client, app):
    rally_id = add_rally(app, title='Пікет "у Гродне" & <сход>', town="Гродна", geonameid=627904)
    page = client.get(f"/rallies/{rally_id}?lang=ru").get_data(as_text=True)
    url = f"http://localhost/rallies/{rally_id}?lang=ru"  # shared in the language it was read in
    assert f'<meta property="og:url" content="{url}">' in page
    assert (
        '<meta property="og:title" content="Пікет &#34;у Гродне&#34; &amp; &lt;сход&gt;">' in page
    )
    assert 'property="og:description" content="' in page and "Гродно" in page
    assert '<meta property="og:locale" content="ru_RU">' in page
    assert "https://t.me/share/url?url=http%3A%2F%2Flocalhost%2Frallies%2F" in page
    assert "%3Flang%3Dru&amp;text=" in page
    assert 'rel="noopener noreferrer"' in page
    assert f'data-copy="{url}"' in page


def test_cancelled_rally_says_so_in_its_preview(client, app):
    rally_id = add_rally(app, title="Сход", status="cancelled")
    page = client.get(f"/rallies/{rally_id}?lang=en").get_data(as_text=True)
    # The same sentence as every other output (mapapp.publishing.words).
    assert '<meta property="og:title" content="This rally is cancelled. Сход">' in page


def test_map_takes_a_centre_and_zoom(client):
    for query in ("lat=53.9&lon=27.56&zoom=12", "lat=52.1&lon=23.7", "zoom=8", "lat=&lon=&zoom="):
        assert client.get(f"/?{query}").status_code == 200, query
    # Fractional (as Leaflet has it, and as the page writes its first view), and out of the
    # map's range: brought into it (the place asked for, as near as the map goes).
    for query in ("zoom=6.5", "zoom=6.75", "lat=53.9&lon=27.56&zoom=17.25", "zoom=25", "zoom=0"):
        assert client.get(f"/?{query}").status_code == 200, query
        assert client.get(f"/embed?{query}").status_code == 200, query


def test_bad_centre_is_a_clear_400_in_the_page_language(client):
    cases = {
        "/?lang=be&zoom=abc": "Параметр «zoom» павінен быць лікам ад 5 да 19",
        "/?lang=ru&zoom=1e1": "Параметр «zoom» должен быть числом от 5 до 19",
        "/?lang=ru&lon=27": "Параметры «lat» и «lon» нужно задавать вместе",
        "/?lang=en&lat=-33.9&lon=151.2": "'lat' must be a number from 49 to 59",
    }
    for path, message in cases.items():
        response = client.get(path)
        assert response.status_code == 400, path
        assert message in html.unescape(response.get_data(as_text=True)), path


def test_favicon_ico_is_answered(client):
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"


def test_a_long_list_comes_in_pages(client, app):
    from mapapp.views.pages import PAGE_SIZE

    for i in range(PAGE_SIZE + 5):
        add_rally(app, title=f"Rally number {i:03d}")
    first = client.get("/rallies?lang=en&region=BY-HM").get_data(as_text=True)
    assert first.count('class="rally-title"') == PAGE_SIZE
    assert f"Rallies 1–{PAGE_SIZE} of {PAGE_SIZE + 5}" in first
    assert 'rel="next" href="/rallies?lang=en&amp;region=BY-HM&amp;page=2"' in first
    second = client.get("/rallies?lang=en&region=BY-HM&page=2").get_data(as_text=True)
    assert second.count('class="rally-title"') == 5 and 'rel="prev"' in second
    assert client.get("/rallies?page=3").status_code == 400
    assert client.get("/rallies?page=x").status_code == 400


def test_static_spellings_do_not_grow_a_cache(client):
    """Any number of spellings of a static file remember nothing per spelling."""
    from mapapp.web import assets

    assets._static_hashes()
    before = (assets._static_hashes.cache_info().currsize, assets._gzipped.cache_info().currsize)
    for n in range(1, 300):
        path = "./" * n + "app.css"
        response = client.get(f"/static/{path}?v=x", headers={"Accept-Encoding": "gzip"})
        assert response.status_code in (200, 404)
        response.close()
    assert assets._static_hashes.cache_info().currsize == before[0] == 1
    # one gzipped copy per real file at most, whatever the spelling
    assert assets._gzipped.cache_info().currsize <= before[1] + 1
    assert assets.content_hash("./app.css") is None
    assert assets.content_hash("app.css") is not None


def test_the_map_page_is_rendered_once_per_variant_and_a_message_never_kept(app):
    from flask import template_rendered

    rendered: list[str] = []

    def record(sender, template, context, **extra) -> None:  # noqa: ANN001, ANN003
        rendered.append(template.name)

    template_rendered.connect(record, app)
    try:
        client = app.test_client()
        first = client.get("/?lang=en")
        assert client.get("/?lang=en").data == first.data
        assert rendered.count("map.html") == 1  # the second visitor got the kept page
        assert client.get("/?lang=ru").data != first.data  # each language its own
        assert rendered.count("map.html") == 2
        # A message for one person (after a submission) is rendered for them alone.
        with client.session_transaction() as session:
            session["_flashes"] = [("message", "Дзякуй: акцыя адпраўлена")]
        assert "Дзякуй: акцыя адпраўлена" in client.get("/?lang=en").get_data(as_text=True)
        assert "Дзякуй" not in app.test_client().get("/?lang=en").get_data(as_text=True)
    finally:
        template_rendered.disconnect(record, app)


def test_the_maps_modules_are_fingerprinted_by_one_hash(client):
    """The map's script is ES modules importing each other by relative URLs: pages load them
    joined into one script (map.js) under their common hash, kept a year and sent gzipped;
    each module is served under that hash too."""
    from mapapp.web.assets import modules_version

    page = client.get("/").get_data(as_text=True)
    entry = re.search(r'<script type="module" src="(/static/map/(\w+)/map\.js)"></script>', page)
    assert entry and entry.group(2) == modules_version()
    # folium's script runs as a module too, after the map's script has defined RallyMap
    assert '<script type="module">\n' in page and "RallyMap.init(" in page
    with client.get(entry.group(1)) as response:
        assert response.status_code == 200
        assert response.mimetype in ("text/javascript", "application/javascript")
        assert response.cache_control.immutable and response.cache_control.max_age >= 3e7
        bundle = response.text
        etag = response.headers["ETag"]
    # One script, no imports left: every module the entry imports is in it, in the order a
    # browser runs them (the entry last).
    assert not re.search(r"^(import|export) ", bundle, re.M)
    with client.get(entry.group(1).replace("map.js", "main.js")) as response:
        imported = re.findall(r'^import .* from "\./([\w-]+\.js)";$', response.text, re.M)
    assert {"feed.js", "markers.js", "popups.js", "list.js", "keyboard.js"} <= set(imported)
    joined = re.findall(r"^/\* map/([\w-]+\.js) \*/$", bundle, re.M)
    assert set(imported) < set(joined) and joined[-1] == "main.js"
    assert "window.RallyMap = {" in bundle
    with client.get(entry.group(1), headers={"If-None-Match": etag}) as response:
        assert response.status_code == 304
    for name in [*imported, "map.js"]:
        url = entry.group(1).replace("map.js", name)
        with client.get(url, headers={"Accept-Encoding": "gzip"}) as response:
            assert response.status_code == 200 and response.cache_control.immutable, url
            assert response.headers["Content-Encoding"] == "gzip"
            assert "Accept-Encoding" in response.vary
    # Another hash (a page made before a deploy, or a worker still on the old code): the files
    # this server has, never kept by a cache under the other version's name.
    for name in ("main.js", "map.js"):
        with client.get(f"/static/map/000000000000/{name}") as response:
            assert response.status_code == 200 and not response.cache_control.immutable
            assert response.cache_control.no_store and not response.cache_control.public
    # The one script is preloaded from the head, not thirteen modules.
    preloaded = re.findall(r'<link rel="modulepreload" href="/static/map/\w+/([\w-]+\.js)">', page)
    assert preloaded == ["map.js"]
    assert client.get(f"/static/map/{entry.group(2)}/nothing.js").status_code == 404


def test_a_static_file_is_kept_a_year_only_under_its_own_hash(client):
    """A spelling the hashes do not know ("./app.css") without ?v= is no fingerprint."""
    for url, kept in (
        ("/static/./app.css", False),
        ("/static/app.css", False),
        (static_url_of(client, "app.css"), True),
    ):
        with client.get(url) as response:
            assert bool(response.cache_control.immutable) is kept, url


def static_url_of(client, name: str) -> str:  # noqa: ANN001
    with client.application.test_request_context():
        from mapapp.web.assets import static_url

        return static_url(name)


def test_the_modules_hash_moves_with_any_module(monkeypatch):
    from mapapp.web import assets

    hashes = assets._static_hashes()
    before = assets.modules_version.__wrapped__()
    changed = {**hashes, "map/star.js": "0" * 12}
    monkeypatch.setattr(assets, "_static_hashes", lambda: changed)
    assert assets.modules_version.__wrapped__() != before
    # Files outside static/map/ are not in it.
    monkeypatch.setattr(assets, "_static_hashes", lambda: {**hashes, "app.css": "0" * 12})
    assert assets.modules_version.__wrapped__() == before


def test_the_modules_hash_moves_with_the_way_they_are_joined(monkeypatch):
    """map.js is the modules as classic_script joins them: a release that joins them otherwise
    (the same modules) gets another URL, never a copy kept a year under the old one."""
    from mapapp.web import assets

    before = assets.modules_version.__wrapped__()
    source = assets.inspect.getsource
    monkeypatch.setattr(
        assets.inspect, "getsource", lambda thing: source(thing) + "# joined otherwise\n"
    )
    assert assets.modules_version.__wrapped__() != before


def test_security_txt_follows_rfc_9116(sqlite_url):
    from datetime import UTC, datetime, timedelta

    from conftest import make_app

    assert make_app(sqlite_url).test_client().get("/.well-known/security.txt").status_code == 404
    app = make_app(
        sqlite_url,
        SECURITY_CONTACT="mailto:security@rallies.example\nContact: https://evil.example",
        BASE_URL="https://rallies.example",
    )
    response = app.test_client().get(
        "/.well-known/security.txt", base_url="https://rallies.example"
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    fields = dict(line.split(": ", 1) for line in response.get_data(as_text=True).splitlines())
    assert fields["Contact"] == "mailto:security@rallies.example"  # one line, nothing added
    assert "evil" not in response.get_data(as_text=True)
    expires = datetime.strptime(fields["Expires"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert timedelta(days=150) < expires - datetime.now(UTC) < timedelta(days=365)
    assert fields["Preferred-Languages"] == "be, ru, en"
    assert fields["Canonical"] == "https://rallies.example/.well-known/security.txt"
