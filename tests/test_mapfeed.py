"""The map's compact feed (/api/rallies.geojson?fields=map) and the details a popup loads."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

from conftest import add_rally
from flask import Flask
from test_public import EXACT, HRODNA_POINT, SECRET_PLACE, unrevealed_rally

from mapapp.domain import db, lifecycle
from mapapp.domain.geocoding import gazetteer
from mapapp.domain.seed import demo_rallies

XSS = "<img src=x onerror=alert(1)> ${alert(2)}"


def compact(client, query: str = "") -> dict:  # noqa: ANN001
    response = client.get("/api/rallies.geojson?fields=map" + (f"&{query}" if query else ""))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/geo+json"
    return response.get_json()


def test_a_feature_per_public_rally_with_status_day_and_point(client, app: Flask):
    starts = datetime(datetime.now(UTC).year + 1, 3, 14, 20, 30, tzinfo=UTC)  # 23:30 in Minsk
    shown = add_rally(
        app, title=XSS, place=XSS, description=XSS, lat=53.9036123, lon=27.5561987, starts_at=starts
    )
    danger = add_rally(app, town="Гродна", lat=53.6778, lon=23.8297, status="danger")
    pending = add_rally(app, title="Чакае", status="pending")
    document = compact(client, "lang=en")
    assert document["type"] == "FeatureCollection"
    features = {f["id"]: f for f in document["features"]}
    assert set(features) == {shown, danger}  # not the pending one
    assert pending not in features
    feature = features[shown]
    assert feature["type"] == "Feature"
    assert feature["geometry"] == {"type": "Point", "coordinates": [27.5562, 53.90361]}
    assert feature["properties"] == {
        "status": "approved",
        "featured": False,
        "town": feature["properties"]["town"],
        "day": f"{starts.year}-03-14",  # the day in Minsk
        "rev": 0,  # the public revision: moves with every public change
        "verification": "imported",  # how it was checked (issue 28): the marker's ring
    }
    assert document["towns"][feature["properties"]["town"]] == "Мінск"  # as written (no town id)
    assert f"March 14, {starts.year}" in document["day_names"][f"{starts.year}-03-14"]
    assert features[danger]["properties"]["status"] == "danger"
    assert document["towns"][features[danger]["properties"]["town"]] == "Гродна"


def test_no_title_description_or_place_text(client, app: Flask):
    add_rally(app, title="Загаловак-1", place="Месца-1", description="Апісанне-1")
    for query in ("", "lang=ru", "when=all"):
        body = client.get(f"/api/rallies.geojson?fields=map&{query}").get_data(as_text=True)
        # The text as a reader gets it too: the feed writes letters past ASCII as \uXXXX.
        read = json.dumps(json.loads(body), ensure_ascii=False)
        for text in ("Загаловак-1", "Месца-1", "Апісанне-1", "title", "place", "description"):
            assert text not in body and text not in read, (query, text)
        for feature in json.loads(body)["features"]:
            assert set(feature["properties"]) == {
                "status",
                "featured",
                "verification",
                "town",
                "day",
                "rev",
            }
    # the full feed is still the default, for partners
    full = client.get("/api/rallies.geojson").get_json()["features"][0]["properties"]
    assert full["title"] == "Загаловак-1" and full["place"] == "Месца-1"


def test_an_unrevealed_place_is_only_its_town(client, app: Flask):
    unrevealed_rally(app)
    body = client.get("/api/rallies.geojson?fields=map&lang=be").get_data(as_text=True)
    assert SECRET_PLACE not in body
    assert SECRET_PLACE not in json.dumps(json.loads(body), ensure_ascii=False)
    feature = json.loads(body)["features"][0]
    assert feature["geometry"]["coordinates"] == [HRODNA_POINT[1], HRODNA_POINT[0]]
    assert feature["geometry"]["coordinates"] != [EXACT[1], EXACT[0]]
    assert json.loads(body)["towns"] == ["Гродна"]


def test_written_in_ascii_in_every_language(client, app: Flask):
    """Nothing but ASCII in the map's feed, its towns and days in Cyrillic as \\uXXXX: a
    browser decodes such a document into a one-byte string and parses it faster (one letter
    past ASCII made all of it two-byte). The same JSON: the towns read back as written."""
    add_rally(app, town="Гродна", lat=53.6778, lon=23.8297, status="danger")
    add_rally(app, town="Мінск")
    for query in ("lang=be", "lang=ru", "lang=en", "", "when=all&lang=be"):
        for headers in ({}, {"Accept-Encoding": "gzip"}):
            response = client.get(f"/api/rallies.geojson?fields=map&{query}", headers=headers)
            body = response.data
            if response.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            assert body.isascii(), (query, body[:200])
    towns = compact(client, "lang=be")["towns"]
    assert set(towns) == {"Гродна", "Мінск"}
    assert any(not name.isascii() for name in compact(client, "lang=ru")["day_names"].values())


def test_cached_like_the_full_feed_by_etag_and_gzip(client, seeded_app: Flask):
    first = client.get("/api/rallies.geojson?fields=map&when=all")
    etag = first.headers["ETag"]
    assert etag != client.get("/api/rallies.geojson?when=all").headers["ETag"]
    assert first.cache_control.public and first.cache_control.max_age
    again = client.get("/api/rallies.geojson?fields=map&when=all", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    zipped = client.get(
        "/api/rallies.geojson?fields=map&when=all", headers={"Accept-Encoding": "gzip"}
    )
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(zipped.data)) == first.get_json()
    # a public change moves the data version, and with it the ETag
    add_rally(seeded_app, title="Новая")
    changed = client.get(
        "/api/rallies.geojson?fields=map&when=all", headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert len(changed.get_json()["features"]) == len(first.get_json()["features"]) + 1


def test_unknown_fields_is_a_400(client, app: Flask):
    response = client.get("/api/rallies.geojson?fields=everything")
    assert response.status_code == 400
    assert "fields" in response.get_json()["message"]


def test_smaller_than_the_full_feed_within_the_budget(client, app: Flask):
    """Issue 13's budget: at most 25 bytes a rally gzipped (bench/browser.py prints it at
    10,000); the tables of towns and days weigh more a rally in a short feed."""
    with app.app_context():
        session = db.session()
        lifecycle.publish_many(session, demo_rallies(gazetteer(), 2000, seed=3), actor="test")
        session.commit()
    gz = {"Accept-Encoding": "gzip"}
    full = client.get("/api/rallies.geojson?when=all&lang=be", headers=gz).data
    mine = client.get("/api/rallies.geojson?fields=map&when=all&lang=be", headers=gz).data
    assert len(json.loads(gzip.decompress(mine))["features"]) == 2000
    assert len(mine) / 2000 <= 25
    assert len(mine) < len(full) / 2


def test_a_rallys_details_in_a_language(client, app: Flask):
    rally_id = add_rally(
        app,
        title=XSS,
        town="Гродна",
        geonameid=627904,
        starts_at=datetime(datetime.now(UTC).year + 1, 6, 1, 16, 0, tzinfo=UTC),
    )
    plain = client.get(f"/api/rallies/{rally_id}").get_json()
    assert plain["title"] == XSS and plain["town"] == "Гродна" and "starts_text" not in plain
    english = client.get(f"/api/rallies/{rally_id}?lang=en")
    assert english.get_json()["town"] == "Hrodna"
    assert english.get_json()["starts_text"].endswith("7:00\u202fPM")  # Minsk time
    assert english.headers["ETag"] != client.get(f"/api/rallies/{rally_id}").headers["ETag"]
    again = client.get(
        f"/api/rallies/{rally_id}?lang=en", headers={"If-None-Match": english.headers["ETag"]}
    )
    assert again.status_code == 304
    assert client.get(f"/api/rallies/{rally_id}?lang=xx").status_code == 400
    unrevealed = unrevealed_rally(app, reveal_in=timedelta(days=3))
    detail = client.get(f"/api/rallies/{unrevealed}?lang=en").get_json()
    assert detail["place"] is None and SECRET_PLACE not in json.dumps(detail, ensure_ascii=False)
    assert detail["place_text"].startswith("The exact place will be announced at")
