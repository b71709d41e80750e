from datetime import UTC, datetime, timedelta

import pytest
from conftest import add_rally
from flask import Flask

from mapapp.domain.models import Status


def test_geojson_has_one_point_per_public_rally_with_its_id(client, seeded_app):
    response = client.get("/api/rallies.geojson")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    data = response.get_json()
    assert data["type"] == "FeatureCollection"
    features = data["features"]
    assert len(features) == 13
    for feature in features:
        assert feature["geometry"]["type"] == "Point"
        assert feature["properties"]["id"] == feature["id"]
        lon, lat = feature["geometry"]["coordinates"]
        assert 51.2 < lat < 56.2 and 23.1 < lon < 32.8
    october = [f for f in features if f["properties"]["featured"]]
    assert len(october) == 1
    assert october[0]["geometry"]["coordinates"] == [27.5617, 53.9022]
    assert october[0]["properties"]["starts_at"].endswith("T19:00:00+03:00")
    assert "-10-21T" in october[0]["properties"]["starts_at"]


def test_geojson_never_carries_contact_or_token(client, app):
    add_rally(app, contact="secret-organizer@example.org", manage_token_hash="f" * 64)
    body = client.get("/api/rallies.geojson").get_data(as_text=True)
    assert "secret-organizer" not in body
    assert "f" * 64 not in body


def test_geojson_leaves_out_pending_and_rejected(client, app):
    shown = add_rally(app, title="shown")
    add_rally(app, title="pending", status=Status.PENDING.value)
    add_rally(app, title="rejected", status=Status.REJECTED.value)
    cancelled = add_rally(app, title="cancelled", status=Status.CANCELLED.value)
    ids = {f["id"] for f in client.get("/api/rallies.geojson").get_json()["features"]}
    assert ids == {shown, cancelled}


def test_when_filter_splits_upcoming_and_past(client, app):
    now = datetime.now(UTC)
    future = add_rally(app, starts_at=now + timedelta(days=3))
    past = add_rally(app, starts_at=now - timedelta(days=3))
    ongoing = add_rally(app, starts_at=now - timedelta(hours=1))

    def ids(query: str) -> set[int]:
        features = client.get(f"/api/rallies.geojson{query}").get_json()["features"]
        return {f["id"] for f in features}

    assert ids("") == {future, ongoing}
    assert ids("?when=past") == {past}
    assert ids("?when=all") == {future, past, ongoing}


def test_region_and_city_filters(client, app):
    minsk = add_rally(app, geonameid=625144)
    hrodna = add_rally(app, town="Гродна", region="BY-HR", lat=53.6778, lon=23.8297)

    def ids(query: str) -> list[int]:
        return [f["id"] for f in client.get(f"/api/rallies.geojson?{query}").get_json()["features"]]

    assert ids("region=BY-HR") == [hrodna]
    assert ids("region=by-hm") == [minsk]
    # any spelling the gazetteer knows finds the town
    assert ids("city=мінск") == ids("city=Minsk") == ids("city=Минск") == [minsk]
    assert ids("city=Гродна") == [hrodna]


def test_bad_filter_is_json_400(client):
    response = client.get("/api/rallies.geojson?from=yesterday")
    assert response.status_code == 400
    assert "from" in response.get_json()["message"]


def test_etag_gives_304_until_data_changes(client, app):
    rally_id = add_rally(app, title="before")
    # when=all: its ETag does not move with the clock, so a minute boundary can't flake this
    first = client.get("/api/rallies.geojson?when=all")
    etag = first.headers["ETag"]
    assert first.cache_control.max_age == app.config["CACHE_SECONDS"]
    again = client.get("/api/rallies.geojson?when=all", headers={"If-None-Match": etag})
    assert again.status_code == 304
    # If-None-Match compares weakly (RFC 9110, 13.1.2): a CDN that compressed the feed hands
    # the tag back weak, in a list or not.
    for held in (f"W/{etag}", f'"other", W/{etag}'):
        weak = client.get("/api/rallies.geojson?when=all", headers={"If-None-Match": held})
        assert weak.status_code == 304 and weak.headers["ETag"] == etag

    from mapapp.domain import db, lifecycle
    from mapapp.domain.models import Rally

    with app.app_context():
        session = db.session()
        lifecycle.perform(session, session.get(Rally, rally_id), "moderator:test", "cancel")
    changed = client.get("/api/rallies.geojson?when=all", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.get_json()["features"][0]["properties"]["status"] == "cancelled"


def test_rally_json(client, app):
    rally_id = add_rally(app, title="JSON rally", contact="hidden@example.org")
    data = client.get(f"/api/rallies/{rally_id}").get_json()
    assert data["id"] == rally_id and data["title"] == "JSON rally"
    assert "contact" not in data and "hidden@example.org" not in str(data)
    missing = client.get("/api/rallies/424242")
    assert missing.status_code == 404
    assert missing.get_json()["status"] == 404


def test_geojson_is_gzipped_for_clients_that_accept_it(client, seeded_app):
    import gzip
    import json

    plain = client.get("/api/rallies.geojson?when=all")
    zipped = client.get("/api/rallies.geojson?when=all", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert json.loads(gzip.decompress(zipped.data)) == plain.get_json()
    assert len(zipped.data) < len(plain.data) / 3
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    again = client.get(
        "/api/rallies.geojson?when=all",
        headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]},
    )
    assert again.status_code == 304


def test_an_id_too_large_for_the_database_is_404(client):
    for path in ("/api/rallies/", "/rallies/"):
        assert client.get(f"{path}{2**64}").status_code == 404
        assert client.get(f"{path}{2**40}").status_code == 404


def test_method_not_allowed_says_which_are(client):
    for path in ("/api/rallies.geojson", "/rallies", "/rallies.ics"):
        response = client.post(path)
        assert response.status_code == 405
        assert set(response.headers["Allow"].split(", ")) >= {"GET", "HEAD"}, path
    assert client.post("/api/rallies.geojson").get_json()["status"] == 405


def test_unknown_lang_is_a_400_for_machine_clients(client):
    for path in ("/api/rallies.geojson", "/api/geocode?q=Minsk", "/api/reverse?lat=53.9&lon=27.5"):
        sep = "&" if "?" in path else "?"
        response = client.get(f"{path}{sep}lang=de")
        assert response.status_code == 400, path
        assert "lang" in response.get_json()["message"]
        assert client.get(f"{path}{sep}lang=ru").status_code == 200, path
        assert client.get(f"{path}{sep}lang=").status_code == 200, path


def test_far_dates_are_a_400_not_an_overflow(client):
    for query in ("from=0001-01-01", "to=9999-12-31", "from=1899-12-31"):
        for path in ("/api/rallies.geojson", "/rallies.csv", "/rallies"):
            assert client.get(f"{path}?{query}").status_code == 400, (path, query)
    assert client.get("/api/rallies.geojson?from=1900-01-01&to=2999-12-31").status_code == 200


@pytest.mark.parametrize("city", ["Minsk%00", "%01", "Min%0Ask", "%E2%80%AEMinsk"])
def test_a_town_with_control_characters_is_a_400(db_app: Flask, city: str):
    """No town name has them, and PostgreSQL refuses a NUL in a query (a 500 before). The
    map page says so itself rather than asking for a feed that fails."""
    db_app.test_cli_runner().invoke(args=["init-db"])
    client = db_app.test_client()
    for path in ("/api/rallies.geojson", "/rallies.csv", "/rallies.ics", "/rallies", "/", "/embed"):
        response = client.get(f"{path}?city={city}&lang=en")
        assert response.status_code == 400, (path, city)
        assert "'city' contains characters" in response.get_data(as_text=True), path


def test_featured_filter_in_the_api_and_the_list(client, seeded_app):
    every = client.get("/api/rallies.geojson")
    featured = client.get("/api/rallies.geojson?featured=1")
    assert len(every.get_json()["features"]) == 13
    [main] = featured.get_json()["features"]
    assert main["properties"]["featured"] is True
    assert "Кастрычніцкай плошчы" in main["properties"]["title"]
    assert every.headers["ETag"] != featured.headers["ETag"]
    assert len(client.get("/api/rallies.geojson?featured=0").get_json()["features"]) == 13
    bad = client.get("/api/rallies.geojson?featured=yes")
    assert bad.status_code == 400
    assert bad.get_json()["message"] == "'featured' must be one of: 0, 1"
    listing = client.get("/rallies?featured=1&lang=en").get_data(as_text=True)
    assert listing.count('class="rally-title"') == 1


def test_the_openapi_documents_city_pattern_is_what_the_server_refuses(client):
    """Schema-valid towns are taken and schema-breaking ones refused, whatever white space
    the server trims (a tab first was trimmed to a valid town against the document)."""
    import re
    from urllib.parse import quote

    from mapapp.publishing import openapi

    parameters = openapi.document("/")["paths"]["/api/rallies.geojson"]["get"]["parameters"]
    city = next(p for p in parameters if p.get("name") == "city" or "$ref" in p)
    if "$ref" in city:  # a shared parameter
        name = city["$ref"].rsplit("/", 1)[1]
        city = openapi.document("/")["components"]["parameters"][name]
    pattern = city["schema"]["pattern"]
    for char in ("\t", "\x00", "\x1f", "\x85", "\u202e", "\u2066", "\u200b", "é", " ", "\u00ad"):
        value = f"{char}Minsk"
        valid = re.fullmatch(pattern, value) is not None
        status = client.get(f"/api/rallies.geojson?city={quote(value)}").status_code
        assert status == (200 if valid else 400), (repr(char), status)
