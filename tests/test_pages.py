import html
import re
from urllib.parse import urlsplit

from conftest import add_rally

from mapapp.models import Status

# The test client's host is "localhost": an absolute URL there (oEmbed discovery) is our own.
EXTERNAL = re.compile(r"<(?:script|link)\b[^>]*(?:src|href)=\"(?:https?:)?//(?!localhost/)", re.I)


def test_map_page_is_a_self_hosted_leaflet_map(client, seeded_app):
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'class="folium-map"' in page
    assert "/vendor/leaflet/1.9.3/leaflet.js" in page
    assert "/vendor/markercluster/" in page
    assert "RallyMap.init(" in page
    # nothing but tiles from another host; <link rel=alternate> are same-host links
    assert not EXTERNAL.search(page)
    for tag in re.findall(r"<(?:script|link)\b[^>]*>", page):
        for url in re.findall(r'(?:src|href)="([^"]+)"', tag):
            assert urlsplit(url).netloc in ("", "localhost"), tag


def test_vendor_files_are_served_with_long_cache(client):
    with client.get("/vendor/leaflet/1.9.3/leaflet.js") as response:
        assert response.status_code == 200
        assert b"Leaflet" in response.data[:400]
        assert response.cache_control.max_age >= 365 * 24 * 3600
    with client.get("/vendor/markercluster/1.4.1/MarkerCluster.css") as response:
        assert response.status_code == 200
    assert client.get("/vendor/leaflet/0.0.1/leaflet.js").status_code == 404
    assert client.get("/vendor/jquery/1/jquery.js").status_code == 404


def test_map_page_csp_allows_only_its_own_scripts(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'sha256-" in csp
    assert "unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert "img-src 'self' data: https://tile.openstreetmap.org" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"


def test_rallies_list_puts_the_main_rally_first(client, seeded_app):
    add_rally(seeded_app, title="Earlier gathering in Lida", town="Ліда")
    page = client.get("/rallies?lang=en").get_data(as_text=True)
    assert "Main rally" in page
    main = page.index("Кастрычніцкай плошчы")
    assert main < page.index("Earlier gathering in Lida")
    assert main < page.index("Савецкая плошча")
    assert "<script" not in page  # works with JavaScript off


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
    assert "<p>Першы</p>" in page and "<p>Другі</p>" in page


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
    from mapapp.db import make_engine

    app.extensions["mapapp.db"]["engine"] = make_engine("sqlite:////nonexistent/dir/db.sqlite3")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "database unavailable"


def test_language_links_keep_the_language(client, seeded_app):
    page = client.get("/rallies?lang=ru").get_data(as_text=True)
    assert '<html lang="ru">' in page
    assert 'href="/?lang=ru"' in page
    assert 'hreflang="en" href="/rallies?lang=en"' in page


def test_request_log_has_no_client_address(client, caplog):
    import logging

    from mapapp.logs import DropClientAddress

    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '203.0.113.9 - - [x] "GET / HTTP/1.1" 200 -',
        (),
        None,
    )
    DropClientAddress().filter(record)
    assert "203.0.113.9" not in record.getMessage()
    v6 = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, "2001:db8::1 - - [x] GET", (), None
    )
    DropClientAddress().filter(v6)
    assert "2001:db8" not in v6.getMessage()
    assert any(isinstance(f, DropClientAddress) for f in logging.getLogger("werkzeug").filters)


def test_map_takes_a_centre_and_zoom(client):
    for query in ("lat=53.9&lon=27.56&zoom=12", "lat=52.1&lon=23.7", "zoom=8", "lat=&lon=&zoom="):
        assert client.get(f"/?{query}").status_code == 200, query


def test_bad_centre_is_a_clear_400_in_the_page_language(client):
    cases = {
        "/?lang=be&zoom=25": "Параметр «zoom» павінен быць цэлым лікам ад 5 да 19",
        "/?lang=ru&lon=27": "Параметры «lat» и «lon» нужно задавать вместе",
        "/?lang=en&lat=-33.9&lon=151.2": "'lat' must be a number from 49 to 59",
    }
    for path, message in cases.items():
        response = client.get(path)
        assert response.status_code == 400, path
        assert message in html.unescape(response.get_data(as_text=True)), path
