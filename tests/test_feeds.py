"""The iCalendar and CSV feeds: filters, what is public, escaping, caching."""

import csv
import gzip
import io
from datetime import UTC, datetime, timedelta

import pytest
from conftest import add_rally
from icalendar import Calendar

from mapapp.domain import db, lifecycle
from mapapp.domain.models import PublishedRally, Rally, Status
from mapapp.publishing.csvtable import csv_cell


def events(response) -> list:  # noqa: ANN001
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.data).walk("VEVENT")


def event_ids(client, query: str = "") -> set[int]:  # noqa: ANN001
    found = events(client.get(f"/rallies.ics{query}"))
    return {int(str(event["UID"]).removeprefix("rally-").split("@")[0]) for event in found}


def csv_rows(response) -> list[dict[str, str]]:  # noqa: ANN001
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, for Excel
    return list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))


def test_ics_round_trips_the_october_square_rally(client, seeded_app):
    response = client.get("/rallies.ics?when=all")
    calendar = Calendar.from_ical(response.data)
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Minsk"]
    found = events(response)
    assert len(found) == 13
    october = next(e for e in found if "Кастрычніцкай плошчы" in str(e["SUMMARY"]))
    start = october.decoded("DTSTART")
    assert (start.month, start.day, start.hour, start.minute) == (10, 21, 19, 0)
    assert str(start.tzinfo) == "Europe/Minsk"
    assert october["DTSTART"].params["TZID"] == "Europe/Minsk"
    assert start.astimezone(UTC).hour == 16
    assert october.decoded("DTEND") - start == timedelta(hours=2)
    assert str(october["LOCATION"]) == "Кастрычніцкая плошча, Мінск"
    assert (october["GEO"].latitude, october["GEO"].longitude) == (53.9022, 27.5617)
    assert str(october["STATUS"]) == "CONFIRMED"
    rally_id = int(str(october["UID"]).removeprefix("rally-").removesuffix("@mapapp"))
    # In the feed's language (Belarusian when nothing is asked), as its text is.
    assert str(october["URL"]) == f"http://localhost/rallies/{rally_id}?lang=be"
    assert "DTSTAMP" in october and october["SEQUENCE"] == 0
    # UIDs do not depend on the host the feed was fetched from
    other_host = client.get("/rallies.ics?when=all", base_url="http://127.0.0.1:8080")
    assert {str(e["UID"]) for e in events(other_host)} == {str(e["UID"]) for e in found}


def test_ics_escapes_user_text(client, app):
    title = 'Comma, semicolon; backslash \\ quote " and\nnewline'
    description = "Line one\nLine two; with, commas \\n not a newline"
    rally_id = add_rally(app, title=title, description=description, place="Плошча; 1, \\")
    response = client.get(f"/rallies/{rally_id}.ics")
    (event,) = events(response)
    assert str(event["SUMMARY"]) == title
    assert str(event["DESCRIPTION"]).startswith(description + "\n\n")
    assert str(event["LOCATION"]) == "Плошча; 1, \\, Мінск"
    # no user text can start a property of its own
    assert b"\nnewline" not in response.data and b"\r\nLine two" not in response.data


def test_single_rally_ics(client, app):
    starts = datetime(2099, 5, 1, 15, 30, tzinfo=UTC)
    rally_id = add_rally(app, starts_at=starts, ends_at=starts + timedelta(minutes=45))
    response = client.get(f"/rallies/{rally_id}.ics")
    assert response.headers["Content-Disposition"] == f"attachment; filename=rally-{rally_id}.ics"
    (event,) = events(response)
    assert str(event["UID"]) == f"rally-{rally_id}@mapapp"
    assert event.decoded("DTSTART").isoformat() == "2099-05-01T18:30:00+03:00"
    assert event.decoded("DTEND").isoformat() == "2099-05-01T19:15:00+03:00"


def test_cancelled_rally_is_cancelled_in_the_calendar(client, app):
    rally_id = add_rally(app, status=Status.CANCELLED.value)
    (event,) = events(client.get("/rallies.ics"))
    assert str(event["STATUS"]) == "CANCELLED"
    (single,) = events(client.get(f"/rallies/{rally_id}.ics"))
    assert str(single["STATUS"]) == "CANCELLED"


@pytest.mark.parametrize("status", [Status.PENDING.value, Status.REJECTED.value])
def test_feeds_leave_out_what_is_not_public(client, app, status):
    shown = add_rally(app, title="Shown rally")
    hidden = add_rally(app, title="Hidden rally", status=status)
    assert event_ids(client, "?when=all") == {shown}
    assert [row["id"] for row in csv_rows(client.get("/rallies.csv?when=all"))] == [str(shown)]
    missing = client.get(f"/rallies/{hidden}.ics")
    assert missing.status_code == 404
    assert missing.get_json()["status"] == 404


def test_feeds_never_carry_the_contact(client, app):
    rally_id = add_rally(app, contact="secret-organizer@example.org", manage_token_hash="f" * 64)
    for path in ("/rallies.ics", "/rallies.csv", f"/rallies/{rally_id}.ics"):
        body = client.get(path).get_data(as_text=True)
        assert str(rally_id) in body
        assert "secret-organizer" not in body and "f" * 64 not in body, path


def test_region_filter(client, seeded_app):
    ids = event_ids(client, "?when=all&region=BY-HR")
    with seeded_app.app_context():
        regions = {db.session().get(Rally, i).region for i in ids}
    assert regions == {"BY-HR"} and len(ids) >= 2  # Hrodna and Lida
    rows = csv_rows(client.get("/rallies.csv?when=all&region=by-hr"))
    assert {row["region"] for row in rows} == {"BY-HR"}
    assert {int(row["id"]) for row in rows} == ids


def test_upcoming_and_past_make_all(client, app):
    now = datetime.now(UTC)
    future = add_rally(app, starts_at=now + timedelta(days=3))
    past = add_rally(app, starts_at=now - timedelta(days=30))
    ongoing = add_rally(app, starts_at=now - timedelta(hours=1))
    upcoming, old, every = (event_ids(client, q) for q in ("", "?when=past", "?when=all"))
    assert upcoming == {future, ongoing} and old == {past}
    assert upcoming | old == every and not upcoming & old

    def csv_ids(query: str) -> set[int]:
        return {int(row["id"]) for row in csv_rows(client.get(f"/rallies.csv{query}"))}

    assert csv_ids("") | csv_ids("?when=past") == csv_ids("?when=all") == every


def test_bad_filter_is_json_400(client):
    for path in ("/rallies.ics?when=tomorrow", "/rallies.csv?region=BY-XX", "/rallies.ics?to=x"):
        response = client.get(path)
        assert response.status_code == 400, path
        assert response.get_json()["status"] == 400


def test_csv_columns_and_values(client, seeded_app):
    response = client.get("/rallies.csv?when=all")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == "attachment; filename=rallies.csv"
    rows = csv_rows(response)
    assert list(rows[0]) == [
        "id", "title", "town", "place", "region", "starts_at", "status", "lat", "lon", "url",
        "reveal_at", "verification", "notice",
    ]  # fmt: skip
    october = next(row for row in rows if row["place"] == "Кастрычніцкая плошча")
    assert october["verification"] == "imported"  # the seed rallies
    assert october["starts_at"].endswith("-10-21T19:00:00+03:00")
    assert (october["lat"], october["lon"]) == ("53.9022", "27.5617")
    assert october["url"] == f"http://localhost/rallies/{october['id']}?lang=be"
    assert october["status"] == "approved"


def test_csv_neutralises_formulas(client, app):
    dangerous = {
        '=HYPERLINK("http://evil.example","click")': "title",
        "+1+cmd|' /C calc'!A0": "place",
        "-2+3": "title",
        "@SUM(1+1)*cmd|' /C calc'!A0": "place",
        "\t=1+1": "title",
        "\r=1+1": "place",
    }
    for text, field in dangerous.items():
        add_rally(app, **{field: text, "description": "=not in the csv"})
    safe = add_rally(app, title='Safe, with "quotes" and a = inside', place="Плошча")
    rows = csv_rows(client.get("/rallies.csv"))
    cells = [row["title"] for row in rows] + [row["place"] for row in rows]
    for text in dangerous:
        assert "'" + text in cells, text
    for cell in [value for row in rows for value in row.values()]:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    (safe_row,) = (row for row in rows if row["id"] == str(safe))
    assert safe_row["title"] == 'Safe, with "quotes" and a = inside'


def test_csv_cell():
    assert csv_cell("=1") == "'=1" and csv_cell("a=1") == "a=1"
    assert csv_cell(-1.5) == -1.5  # numbers are ours, not user text


# when=all: its ETag does not move with the clock, so a minute boundary can't flake this
@pytest.mark.parametrize(
    "path", ["/rallies.ics?when=all", "/rallies.csv?when=all", "/rallies/{id}.ics"]
)
def test_etag_gives_304_until_data_changes(client, app, path):
    rally_id = add_rally(app, title="before")
    path = path.format(id=rally_id)
    first = client.get(path)
    etag = first.headers["ETag"]
    assert first.cache_control.public
    assert first.cache_control.max_age == app.config["CACHE_SECONDS"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.data
    with app.app_context():
        session = db.session()
        lifecycle.edit(session, session.get(Rally, rally_id), {"title": "after"}, "moderator:t")
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert "after" in changed.get_data(as_text=True)
    assert changed.headers["ETag"] != etag


def test_etag_depends_on_the_filter(client, app):
    add_rally(app)
    assert (
        client.get("/rallies.ics").headers["ETag"]
        != client.get("/rallies.ics?when=all").headers["ETag"]
        != client.get("/rallies.csv?when=all").headers["ETag"]
    )


def test_feed_links_on_the_pages_carry_the_filters(client, app):
    rally_id = add_rally(app)
    page = client.get("/rallies?when=all&region=BY-HM").get_data(as_text=True)
    assert 'href="/rallies.ics?when=all&amp;region=BY-HM"' in page
    assert 'href="/rallies.csv?when=all&amp;region=BY-HM"' in page
    plain = client.get("/rallies").get_data(as_text=True)
    assert 'href="/rallies.ics"' in plain and 'href="/rallies.csv"' in plain
    rally_page = client.get(f"/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert f'href="/rallies/{rally_id}.ics?lang=en"' in rally_page
    assert "Add to calendar (.ics)" in rally_page


def test_feeds_on_each_database(db_app):
    assert db_app.test_cli_runner().invoke(args=["init-db"]).exit_code == 0
    client = db_app.test_client()
    found = events(client.get("/rallies.ics?when=all&region=BY-HM"))
    (october,) = found
    assert october.decoded("DTSTART").astimezone(UTC).hour == 16
    rows = csv_rows(client.get("/rallies.csv?when=all&city=Minsk"))
    assert [row["starts_at"][10:] for row in rows] == ["T19:00:00+03:00"]
    etag = client.get("/rallies.csv?when=all").headers["ETag"]
    assert client.get("/rallies.csv?when=all", headers={"If-None-Match": etag}).status_code == 304


def test_feeds_keep_the_language(client, app):
    rally_id = add_rally(app)
    page = client.get("/rallies?lang=ru&when=all").get_data(as_text=True)
    assert 'href="/rallies.ics?when=all&amp;lang=ru"' in page
    assert 'href="/rallies.csv?when=all&amp;lang=ru"' in page
    rally_page = client.get(f"/rallies/{rally_id}?lang=ru").get_data(as_text=True)
    assert f'href="/rallies/{rally_id}.ics?lang=ru"' in rally_page
    # and the links inside open the rally page in that language
    (event,) = events(client.get("/rallies.ics?lang=ru"))
    assert str(event["URL"]) == f"http://localhost/rallies/{rally_id}?lang=ru"
    (row,) = csv_rows(client.get("/rallies.csv?lang=ru"))
    assert row["url"] == f"http://localhost/rallies/{rally_id}?lang=ru"


@pytest.mark.parametrize("path", ["/rallies.ics", "/rallies/{id}.ics", "/rallies.csv"])
def test_feeds_in_the_language_of_the_header_vary_on_it(client, app, path):
    """A calendar's warnings are in the request's language: a cache that keeps one copy for
    every language (nginx's micro-cache did) hands one reader's warning to all the others."""
    path = path.format(id=add_rally(app, status=Status.DANGER.value))
    warnings = {"ru": "Опасность: на месте милиция", "en": "Danger: police are at the place"}
    for lang, warning in warnings.items():
        response = client.get(path, headers={"Accept-Language": lang})
        assert "Accept-Language" in response.headers["Vary"]
        if path.endswith(".ics"):
            assert warning in response.get_data(as_text=True).replace("\r\n ", "")
        # a revalidation says the same (RFC 9110, 15.4.5)
        again = client.get(
            path, headers={"Accept-Language": lang, "If-None-Match": response.headers["ETag"]}
        )
        assert again.status_code == 304 and "Accept-Language" in again.headers["Vary"]
    # ?lang= names the language: the header plays no part
    assert "Accept-Language" not in client.get(f"{path}?lang=en").headers["Vary"]


def _utc_starts(ics: bytes) -> dict[str, tuple[datetime, datetime]]:
    """Each event's start in UTC as icalendar and as vobject read it, by title."""
    import vobject

    by_icalendar = {
        str(e["SUMMARY"]): e.decoded("DTSTART").astimezone(UTC)
        for e in Calendar.from_ical(ics).walk("VEVENT")
    }
    parsed = vobject.readOne(ics.decode())
    by_vobject = {
        e.summary.value: e.dtstart.value.astimezone(UTC) for e in parsed.contents.get("vevent", [])
    }
    return {title: (by_icalendar[title], by_vobject[title]) for title in by_icalendar}


def test_every_parser_reads_the_same_times(client, app):
    # 19 December 2010 20:00 in Minsk was 18:00 UTC (winter time, +02); since 2011 Minsk is +03.
    old = datetime(2010, 12, 19, 18, 0, tzinfo=UTC)
    summer_2010 = datetime(2010, 7, 3, 16, 0, tzinfo=UTC)
    new = datetime(2027, 1, 10, 16, 0, tzinfo=UTC)
    add_rally(app, title="Плошча 2010", starts_at=old)
    add_rally(app, title="Лета 2010", starts_at=summer_2010)
    add_rally(app, title="Зіма 2027", starts_at=new)
    response = client.get("/rallies.ics?when=all")
    starts = _utc_starts(response.data)
    assert starts["Плошча 2010"] == (old, old)
    assert starts["Лета 2010"] == (summer_2010, summer_2010)
    assert starts["Зіма 2027"] == (new, new)
    text = response.get_data(as_text=True)
    assert "DTSTART;TZID=Europe/Minsk:20270110T190000" in text  # local time, as people read it
    assert "DTSTART:20101219T180000Z" in text  # before 2011: UTC, read alike everywhere
    zone = Calendar.from_ical(response.data).walk("VTIMEZONE")
    assert len(zone) == 1 and [c.name for c in zone[0].subcomponents] == ["STANDARD"]
    assert "COMMENT" not in zone[0] and "RDATE" not in zone[0].subcomponents[0]
    assert zone[0].subcomponents[0].decoded("TZOFFSETTO") == timedelta(hours=3)


def test_an_empty_feed_is_still_a_calendar(client, app):
    import vobject

    response = client.get("/rallies.ics?from=2999-01-01")
    assert response.status_code == 200
    parsed = Calendar.from_ical(response.data)
    assert parsed.walk("VEVENT") == [] and len(parsed.subcomponents) == 1  # the VTIMEZONE
    assert vobject.readOne(response.get_data(as_text=True)).name == "VCALENDAR"


def test_calendars_get_sequence_and_last_modified(client, app):
    changed = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
    rally_id = add_rally(app, title="Перанесены сход", sequence=3)
    with app.app_context():
        session = db.session()
        for table in (Rally.__table__, PublishedRally.__table__):  # what the public reads
            session.execute(table.update().where(table.c.id == rally_id).values(updated_at=changed))
        session.commit()
    (event,) = events(client.get(f"/rallies/{rally_id}.ics"))
    assert event["SEQUENCE"] == 6  # the public revision: twice the stored sequence (no reveal)
    assert event.decoded("LAST-MODIFIED") == changed == event.decoded("DTSTAMP")


def test_feeds_are_gzipped_for_clients_that_take_it(client, app):
    add_rally(app, title="Пікет у Гродне")
    plain = client.get("/rallies.ics?when=all")
    packed = client.get("/rallies.ics?when=all", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data)
    assert "Accept-Encoding" in packed.headers["Vary"]
    # Another representation, another strong ETag; each revalidates to a bodiless 304.
    assert packed.headers["ETag"] != plain.headers["ETag"]
    again = client.get(
        "/rallies.ics?when=all",
        headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]},
    )
    assert again.status_code == 304 and again.data == b""
    csv_packed = client.get("/rallies.csv", headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(csv_packed.data) == client.get("/rallies.csv").data


def test_a_new_filter_waits_its_turn_to_be_built_and_cached_feeds_still_answer(
    client, app, monkeypatch
):
    """Each new ?to= is a new list to build: builds take turns, so a crowd of new filters
    cannot take every thread of a worker; past the wait it is a 503 with Retry-After."""
    from mapapp.web import caching

    add_rally(app)
    assert client.get("/rallies.ics?when=all").status_code == 200  # built and kept
    monkeypatch.setattr(caching, "BUILD_WAIT", 0.1)
    assert caching.build_gate("feed").acquire(timeout=1)  # another request is building
    try:
        busy = client.get("/rallies.ics?when=all&to=2099-01-01")
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == str(caching.RETRY_AFTER)
        assert client.get("/rallies.ics?when=all").status_code == 200
        # The map's data is another kind: it is built meanwhile.
        assert client.get("/api/rallies.geojson?when=all&to=2099-01-01").status_code == 200
    finally:
        caching.build_gate("feed").release()
    assert client.get("/rallies.ics?when=all&to=2099-01-01").status_code == 200


def test_csv_says_each_status_and_change_in_words(client, app):
    later = datetime.now(UTC) + timedelta(days=2)
    ids = {
        "danger": add_rally(app, title="Небяспека"),
        "cancel": add_rally(app, title="Адмена"),
        "hidden": add_rally(
            app, title="Схавана", reveal_at=later, starts_at=later + timedelta(hours=2)
        ),
        "plain": add_rally(app, title="Звычайная"),
    }
    with app.app_context():
        session = db.session(write=True)
        lifecycle.perform(session, session.get(Rally, ids["danger"]), "moderator:m", "danger")
        lifecycle.perform(session, session.get(Rally, ids["cancel"]), "moderator:m", "cancel")
    for lang, said in (
        ("en", {"danger": "Danger: police are at the place. Do not come.",
                "cancel": "This rally is cancelled.", "plain": ""}),
        ("ru", {"danger": "Опасность", "cancel": "отменена", "plain": ""}),
    ):  # fmt: skip
        rows = {row["id"]: row for row in csv_rows(client.get(f"/rallies.csv?lang={lang}"))}
        for key, words in said.items():
            notice = rows[str(ids[key])]["notice"]
            assert (words in notice) if words else notice == "", (lang, key, notice)
        assert rows[str(ids["hidden"])]["place"] == ""
        assert rows[str(ids["hidden"])]["notice"].startswith(
            "The exact place will be announced at " if lang == "en" else "Точное место будет"
        )
