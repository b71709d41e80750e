"""The one public projection (reveal times) and the one data version caches are keyed by."""

from __future__ import annotations

import json
import math
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import add_rally
from flask import Flask
from sqlalchemy import event

from mapapp.domain import db, lifecycle
from mapapp.domain.models import Rally
from mapapp.publishing.public import data_version, public_rally
from mapapp.web.caching import memoized

HRODNA = 627904  # geonameid; the town's point in the gazetteer
HRODNA_POINT = (53.6758, 23.82887)
SECRET_PLACE = "Сакрэтны сквер за тэатрам"
EXACT = (53.70213, 23.86431)  # about 4 km from the town's point
# Rules whose arguments are not a rally id, and why the guard does not request them.
NOT_RALLY_DATA = {
    "assets.vendor": "Leaflet's files",
    "assets.static": "the app's own files",
    "assets.module": "the map's own scripts",
    "tiles.tile": "map images (a proxy)",
    "submit.manage": "the organizer's own page, behind the secret link",
    "assets.basemap": "the shipped outline and town names",
    "share.site_image": "the site's share picture",
    # A PNG: text cannot be searched in it; it is drawn from the same PublicRally (the
    # town's point and no place until the reveal), see mapapp/views/share.py.
    "share.rally_image": "a picture drawn from the public projection",
    # Found by a random token; tests/test_activitypub.py sweeps every ActivityPub document
    # and delivery with the same unrevealed rally (ActivityPub is off here).
    "activitypub.note": "an urgent change's Note, by its random token",
}


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    (lat1, lon1), (lat2, lon2) = (map(math.radians, a)), (map(math.radians, b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 6371 * 2 * math.asin(math.sqrt(h))


def unrevealed_rally(app: Flask, reveal_in: timedelta = timedelta(days=30)) -> int:
    starts = datetime.now(UTC) + reveal_in + timedelta(hours=2)
    return add_rally(
        app,
        title="Пікет у Гродне",
        town="Гродна",
        geonameid=HRODNA,
        region="BY-HR",
        place=SECRET_PLACE,
        lat=EXACT[0],
        lon=EXACT[1],
        starts_at=starts,
        reveal_at=datetime.now(UTC) + reveal_in,
    )


def too_close(text: str) -> list[tuple[float, float]]:
    """Every point (two numbers one after the other, in either order: [lon, lat], lat=&lon=,
    GEO:lat;lon) in the text nearer the exact place than the town's point is."""
    numbers = [float(n) for n in re.findall(r"-?\d{1,3}\.\d+", text)]
    limit = km(HRODNA_POINT, EXACT) - 0.05
    points = [(a, b) for a, b in zip(numbers, numbers[1:], strict=False) if 51 < a < 57]
    points += [(b, a) for a, b in zip(numbers, numbers[1:], strict=False) if 51 < b < 57]
    return [p for p in points if 23 < p[1] < 33 and km(p, EXACT) < limit]


def assert_hidden(text: str, where: str) -> None:
    assert SECRET_PLACE not in text, where
    assert "Сакрэтны" not in text, where
    assert not too_close(text), (where, too_close(text)[:3])


def test_unrevealed_place_is_in_no_public_output(app: Flask, tmp_path: Path):
    """The guard: every GET rule of the app, in every language and `when`, and the static
    export, with one unrevealed rally: no place text, no coordinate nearer than its town."""
    rally_id = unrevealed_rally(app)
    client = app.test_client()
    requested, skipped = [], set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        if rule.arguments - {"rally_id"}:
            skipped.add(rule.endpoint)
            continue
        path = rule.rule.replace("<int:rally_id>", str(rally_id))
        extra = (
            [f"url=http://localhost/rallies/{rally_id}"] if rule.endpoint == "embed.oembed" else []
        )
        for query in ("", "lang=en", "when=all", "lang=ru&when=all&city=Гродна"):
            url = path + "?" + "&".join([*extra, query] if query else extra)
            response = client.get(url, buffered=True)
            assert response.status_code < 500, url
            text = response.get_data(as_text=True)
            if response.is_json:  # \u escapes would hide the place from a text search
                text = json.dumps(response.get_json(), ensure_ascii=False)
            assert_hidden(text, url)
            requested.append(url)
    assert skipped == set(NOT_RALLY_DATA)
    # The rally is there, in its town, with the sentence instead of the place.
    page = client.get(f"/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert "The exact place will be announced at" in page and "Пікет у Гродне" in page
    feature = client.get("/api/rallies.geojson?lang=be").get_json()["features"][0]
    assert feature["geometry"]["coordinates"] == [HRODNA_POINT[1], HRODNA_POINT[0]]
    assert feature["properties"]["place"] is None and feature["properties"]["exact"] is False
    assert feature["properties"]["place_text"].startswith("Дакладнае месца будзе абвешчана")
    ics = client.get(f"/rallies/{rally_id}.ics").get_data(as_text=True)
    assert "LOCATION:Гродна" in ics and "GEO:" not in ics
    # The static export, too.
    result = app.test_cli_runner().invoke(args=["export-static", str(tmp_path), "--when", "all"])
    assert result.exit_code == 0, result.output
    assert_hidden((tmp_path / "index.html").read_text(encoding="utf-8"), "export-static")
    assert len(requested) > 60


def test_moderators_see_the_exact_place(client, app: Flask, monkeypatch):
    from test_moderate import PASSWORD, log_in

    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    app.test_cli_runner().invoke(args=["create-moderator", "alesia"])
    rally_id = unrevealed_rally(app)
    log_in(client)
    assert SECRET_PLACE in client.get(f"/moderate/rallies/{rally_id}").get_data(as_text=True)


def test_place_appears_by_itself_at_the_reveal_time(client, app: Flask):
    rally_id = unrevealed_rally(app, reveal_in=timedelta(seconds=3))
    before = client.get("/api/rallies.geojson")
    assert SECRET_PLACE not in before.get_data(as_text=True)
    assert before.cache_control.max_age <= 3  # no cache keeps the town-only answer past it
    time.sleep(3.2)
    after = client.get("/api/rallies.geojson", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.get_json()["features"][0]["properties"]["place"] == SECRET_PLACE
    assert client.get(f"/api/rallies/{rally_id}").get_json()["lat"] == EXACT[0]


def test_import_takes_reveal_at(app: Flask, tmp_path: Path):
    year = datetime.now(UTC).year + 1  # a pending or approved rally within the rules' year
    rows = tmp_path / "rallies.csv"
    rows.write_text(
        "title,city,place,starts_at,description,lat,lon,status,contact,reveal_at\n"
        f"Пікет,Гродна,{SECRET_PLACE},{year}-05-01T19:00,,53.70213,23.86431,approved,,"
        f"{year}-05-01T17:00\n"
        f"Другі,Гродна,Плошча,{year}-05-01T19:00,,,,approved,,\n",
        encoding="utf-8",
    )
    result = app.test_cli_runner().invoke(args=["import-rallies", str(rows)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        first, second = db.session().query(Rally).order_by(Rally.id).all()
        assert first.reveal_at == datetime(year, 5, 1, 14, 0, tzinfo=UTC)  # 17:00 in Minsk
        assert second.reveal_at is None
    assert SECRET_PLACE not in app.test_client().get("/rallies.csv?when=all").get_data(as_text=True)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "title,city,place,starts_at,description,lat,lon,status,contact,reveal_at\n"
        f"Пікет,Гродна,,{year}-05-01T19:00,,,,approved,,tomorrow\n",
        encoding="utf-8",
    )
    refused = app.test_cli_runner().invoke(args=["import-rallies", str(bad)])
    assert refused.exit_code != 0 and "line 2: reveal_at" in refused.output


def test_organizer_chooses_the_reveal_time_on_the_manage_page(client, app: Flask):
    from test_submit import csrf, form

    starts_at = datetime(datetime.now(UTC).year + 1, 6, 1, 16, 0, tzinfo=UTC)
    rally_id = add_rally(
        app, manage_token_hash=lifecycle.hash_token("tok"), place=SECRET_PLACE,
        starts_at=starts_at, reveal_at=starts_at - timedelta(hours=6),
    )  # fmt: skip
    assert client.get(f"/api/rallies/{rally_id}").get_json()["place"] is None
    with app.app_context():
        starts = db.session().get(Rally, rally_id).starts_at.astimezone(lifecycle_minsk())
    data = {
        **form(client),
        "csrf_token": csrf(client, "/manage/tok"),
        "place": SECRET_PLACE,
        "date": starts.strftime("%Y-%m-%d"),
        "time": starts.strftime("%H:%M"),
        "reveal": "2",
    }
    assert client.post("/manage/tok/edit", data=data).status_code == 303
    public = client.get(f"/api/rallies/{rally_id}").get_json()
    assert public["place"] is None and public["exact"] is False  # at once, no moderation
    assert public["reveal_at"].endswith(f"{(starts - timedelta(hours=2)):%H:%M}:00+03:00")
    # The page shows the choice made ("2 hours before"), not a fixed time, so moving the
    # start moves the reveal with it.
    page = client.get("/manage/tok").get_data(as_text=True)
    assert re.search(r'<option selected value="2">|<option value="2" selected>', page), page
    later = starts + timedelta(hours=3)
    moved = {**data, "csrf_token": csrf(client, "/manage/tok"), "time": later.strftime("%H:%M")}
    moved["date"] = later.strftime("%Y-%m-%d")
    assert client.post("/manage/tok/edit", data=moved).status_code == 303
    with app.app_context():
        stored = db.session().get(Rally, rally_id)
        assert stored.starts_at - stored.reveal_at == timedelta(hours=2)


def test_a_reveal_time_not_offered_comes_back_as_itself(app: Flask):
    from mapapp.places.locale import MINSK
    from mapapp.web.forms import RallyForm

    with app.test_request_context():
        form = RallyForm(formdata=None)
        starts = datetime(2030, 5, 1, 19, 0, tzinfo=MINSK)
        form.date.data, form.time.data = starts.date(), starts.time()
        form.show_reveal(starts - timedelta(hours=3, minutes=30))
        assert form.reveal.data == "at"
        assert form.reveal_date.data == starts.date()
        assert form.reveal_time.data.strftime("%H:%M") == "15:30"
        form.show_reveal(starts - timedelta(hours=24))
        assert form.reveal.data == "24"


def lifecycle_minsk():  # noqa: ANN201
    from mapapp.places.locale import MINSK

    return MINSK


# Issue 13: one cheap data version.


def test_pending_changes_do_not_move_the_public_etag(client, app: Flask):
    add_rally(app, title="Public one")
    etag = client.get("/api/rallies.geojson").headers["ETag"]
    ics_etag = client.get("/rallies.ics").headers["ETag"]
    from test_submit import submit

    link = submit(client, title="A new pending submission")
    assert client.get("/api/rallies.geojson").headers["ETag"] == etag
    path = link.replace("http://localhost", "")
    from test_submit import csrf, form

    client.post(path + "/edit", data={**form(client), "csrf_token": csrf(client, path)})
    assert client.get("/api/rallies.geojson").headers["ETag"] == etag
    assert client.get("/rallies.ics").headers["ETag"] == ics_etag
    with app.app_context():
        session = db.session()
        pending = session.query(Rally).filter_by(status="pending").one()
        lifecycle.approve(session, pending, "moderator:m")
    assert client.get("/api/rallies.geojson").headers["ETag"] != etag


def test_a_304_costs_one_primary_key_read(client, app: Flask):
    add_rally(app)
    first = client.get("/api/rallies.geojson")
    client.get("/api/rallies.geojson")  # the boundaries of this version are now known
    statements: list[str] = []
    engine = app.extensions["mapapp.db"]["engine"]

    def count(statement: str) -> None:
        if not statement.startswith(("BEGIN", "ROLLBACK")):  # a transaction's ends, not reads
            statements.append(statement)

    # What SQLite itself is asked: the version is read on the driver's cursor, not through
    # SQLAlchemy's statement events.
    def trace(dbapi_connection, *_args) -> None:  # noqa: ANN001, ANN002
        dbapi_connection.set_trace_callback(count)

    event.listen(engine, "checkout", trace)
    try:
        again = client.get("/api/rallies.geojson", headers={"If-None-Match": first.headers["ETag"]})
    finally:
        event.remove(engine, "checkout", trace)
    assert again.status_code == 304
    assert len(statements) == 1 and "data_version" in statements[0], statements
    assert "count(" not in statements[0].lower() and "max(" not in statements[0].lower()


def test_every_public_change_moves_the_version_and_nothing_else_does(app: Flask):
    rally_id = add_rally(app, contact="a@example.org")
    with app.test_request_context():
        session = db.session(write=True)
        rally = session.get(Rally, rally_id)
        versions = [data_version(session)]
        lifecycle.edit(session, rally, {"contact": "b@example.org"}, "organizer")  # private
        lifecycle.purge_contacts(session, 0, now=datetime(2200, 1, 1, tzinfo=UTC))
        assert data_version(session) == versions[-1]
        for step in (
            lambda: lifecycle.perform(session, rally, "organizer", "danger"),
            lambda: lifecycle.perform(session, rally, "moderator:m", "clear_danger"),
            lambda: lifecycle.edit(session, rally, {"title": "Edited title"}, "moderator:m"),
            lambda: lifecycle.perform(session, rally, "moderator:m", "cancel"),
            lambda: lifecycle.perform(session, rally, "moderator:m", "reject", "spam"),
        ):
            step()
            versions.append(data_version(session))
        assert len(set(versions)) == len(versions)
        assert public_rally(session, rally_id) is None


def test_version_moves_when_an_upcoming_rally_turns_past(app: Flask):
    starts = datetime(2030, 1, 1, 12, tzinfo=UTC)
    add_rally(app, starts_at=starts)
    with app.app_context():
        session = db.session()
        before = data_version(session, now=starts + timedelta(hours=2))
        same = data_version(session, now=starts + timedelta(hours=2, minutes=30))
        after = data_version(session, now=starts + timedelta(hours=3, minutes=1))
    assert before == same != after


def test_memoized_is_safe_across_threads(app: Flask):
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        with app.app_context():
            try:
                for n in range(300):
                    memoized("race", f"{offset}-{n}", lambda n=n: n, entries=3)
            except BaseException as error:  # noqa: BLE001 - any error fails the test
                errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(app.extensions["mapapp.race_cache"]) <= 3


@pytest.mark.parametrize("path", ["/api/rallies.geojson", "/api/rallies/{id}"])
def test_urgent_status_cache_lifetime_fits_a_minute(client, app: Flask, path: str):
    rally_id = add_rally(app)
    response = client.get(path.format(id=rally_id))
    assert response.cache_control.public and response.cache_control.max_age <= 60


# Every answer that conditional() makes a 304 of, with what a phone sends.
REVALIDATED = [
    "/api/rallies.geojson?when=all",
    "/api/rallies.geojson?when=all&fields=map&lang=be",
    "/api/rallies.geojson.minisig?when=all",
    "/api/rallies/{id}?lang=ru",
    "/rallies.ics",
    "/rallies.ics.minisig",
    "/rallies.csv",
    "/rallies",
    "/offline.html",
    "/offline.html.minisig",
    "/rallies/{id}.ics",
]
# What a 304 leaves out because it has no body (RFC 9110, 15.4.5); everything else it says
# replaces what a cache holds of the 200.
BODY_HEADERS = {"Content-Type", "Content-Length", "Content-Encoding", "Date"}


@pytest.mark.parametrize("path", REVALIDATED)
def test_a_304_carries_the_headers_of_the_200(sqlite_url: str, path: str):
    from conftest import make_app
    from test_signing import SECRET

    app = make_app(sqlite_url, SIGNING_KEY=SECRET)
    path = path.format(id=add_rally(app))
    client = app.test_client()
    asked = {"Accept-Encoding": "gzip, br", "Accept-Language": "ru"}
    full = client.get(path, headers=asked)
    assert full.status_code == 200, full.data
    again = client.get(path, headers={**asked, "If-None-Match": full.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""

    def kept(response) -> dict[str, str]:  # noqa: ANN001
        return {k: v for k, v in response.headers.items() if k not in BODY_HEADERS}

    # Before: a 304 was typed text/html, so it said "Vary: Accept-Language" where the
    # feed's 200 does not (a cache splits the feed by language from then on) and sent a
    # page's Cross-Origin-Opener-Policy.
    assert kept(again) == kept(full)
    app.extensions["mapapp.db"]["engine"].dispose()


def test_the_version_and_the_rows_read_after_it_are_one_snapshot(db_app: Flask):
    """A request reads the data version, then the rows: a change committed in between by
    another server is in neither, or a document would be kept under the older version's
    ETag with the newer rows (two workers, two documents, one strong ETag)."""
    from mapapp.domain.filters import parse_filter
    from mapapp.publishing.public import current_version, public_entries, read_rallies

    add_rally(db_app, title="first")
    with db_app.test_request_context("/api/rallies.geojson?when=all"):
        version = current_version(db.reader())
        with db_app.app_context():  # another request, as another server would
            add_rally(db_app, title="second")
            assert current_version(db.reader()).key != version.key
        entries = public_entries(db.session(), parse_filter({"when": "all"}))
        read_rallies(db.session(), entries)
        assert [entry.rally.title for entry in entries] == ["first"]
        assert current_version(db.session()).key == version.key


@pytest.mark.parametrize("path", ["/", "/embed", "/rallies"])
def test_a_page_made_once_says_the_same_the_second_time(client, app: Flask, path: str):
    """Pages kept per variant (page_once, memoized) are not rendered the second time: what
    rendering adds on the way (opening the session adds "Vary: Cookie") must not differ."""
    add_rally(app)
    asked = {"Accept-Encoding": "gzip", "Accept-Language": "be"}
    first, second = client.get(path, headers=asked), client.get(path, headers=asked)
    assert first.status_code == second.status_code == 200
    assert first.data == second.data
    assert {k: v for k, v in first.headers.items() if k != "Date"} == {
        k: v for k, v in second.headers.items() if k != "Date"
    }
    if path != "/embed":  # the embed sets no cookie, so shows no flash
        assert "Cookie" in first.headers["Vary"]


def test_a_get_requests_session_refuses_to_write_unless_asked(app: Flask):
    """A GET's session runs on the reading connection, whose transaction its commit does not
    end: a write there would be lost without a word. It is refused; session(write=True)
    moves the session to the writer and the write is kept."""
    rally_id = add_rally(app, title="before")
    with app.test_request_context("/rallies"):
        session = db.session()
        session.get(Rally, rally_id).title = "lost?"
        with pytest.raises(db.ReadOnlySessionError):
            session.commit()
        session.rollback()
    with app.test_request_context("/rallies"):
        session = db.session()
        rally = session.get(Rally, rally_id)
        assert db.session(write=True) is session
        rally.title = "kept"
        session.commit()
    with app.app_context():
        assert db.session().get(Rally, rally_id).title == "kept"


def test_a_get_requests_reader_refuses_any_write_on_postgresql():
    """Not only the ORM's: an UPDATE statement on the reading connection (whose transaction
    nobody commits) is refused by PostgreSQL itself, not lost without a word. (SQLite has no
    read-only transactions; there the ORM guard above covers sessions.)"""
    from conftest import fresh_postgres, make_app
    from sqlalchemy import update
    from sqlalchemy.exc import InternalError

    app = make_app(fresh_postgres())
    rally_id = add_rally(app, title="before")
    with app.test_request_context("/rallies"):
        statement = update(Rally).where(Rally.id == rally_id).values(title="lost?")
        with pytest.raises(InternalError, match="read-only transaction"):
            db.reader().execute(statement)
    with app.test_request_context("/rallies", method="POST"):  # a writer's is not read-only
        db.session().execute(statement)
        db.session().commit()
    with app.app_context():
        assert db.session().get(Rally, rally_id).title == "lost?"
    app.extensions["mapapp.db"]["engine"].dispose()
