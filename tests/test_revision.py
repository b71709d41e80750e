"""A rally's public revision: every public change moves it, the reveal at its time included,
and every output derives from it (ICS SEQUENCE, LAST-MODIFIED and DTSTAMP, the API's
sequence and updated_at, the rally's ETags, its share image's address)."""

import csv
import io
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import vobject
from conftest import add_rally
from flask import Flask
from icalendar import Calendar

from mapapp.domain import db, lifecycle
from mapapp.domain.models import Rally

# Every output a client keeps a copy of, for one rally (and the lists it is in).
OUTPUTS = (
    "/api/rallies/{id}",
    "/api/rallies/{id}?lang=en",
    "/rallies/{id}.ics",
    "/api/rallies.geojson",
    "/api/rallies.geojson?fields=map",
    "/rallies.ics",
    "/rallies.csv",
    "/rallies",
)


def snapshot(client, rally_id: int) -> dict:
    """What each output says of the rally's revision."""
    kept = {}
    for path in OUTPUTS:
        url = path.format(id=rally_id)
        response = client.get(url)
        assert response.status_code == 200, url
        kept[url] = response.headers["ETag"]
    ics = client.get(f"/rallies/{rally_id}.ics").data
    event = Calendar.from_ical(ics).walk("VEVENT")[0]
    other = vobject.readOne(ics.decode()).vevent  # a second reader of the same file
    assert int(other.sequence.value) == int(event["SEQUENCE"])
    kept["SEQUENCE"] = int(event["SEQUENCE"])
    kept["LAST-MODIFIED"] = event.decoded("LAST-MODIFIED")
    kept["DTSTAMP"] = event.decoded("DTSTAMP")
    kept["LOCATION"] = str(other.location.value)
    kept["SUMMARY"] = str(event["SUMMARY"])
    in_english = Calendar.from_ical(client.get(f"/rallies/{rally_id}.ics?lang=en").data)
    kept["SUMMARY en"] = str(in_english.walk("VEVENT")[0]["SUMMARY"])
    table = csv.DictReader(io.StringIO(client.get("/rallies.csv?lang=en").data.decode("utf-8-sig")))
    kept["notice"] = next(row["notice"] for row in table if row["id"] == str(rally_id))
    detail = client.get(f"/api/rallies/{rally_id}").get_json()
    kept["sequence"], kept["updated_at"] = detail["sequence"], detail["updated_at"]
    page = client.get(f"/rallies/{rally_id}").get_data(as_text=True)
    kept["image"] = re.search(r'property="og:image" content="([^"]+)"', page).group(1)
    return kept


def assert_moved(before: dict, after: dict) -> None:
    for key, value in before.items():
        if key.startswith("/") or key == "image":
            assert after[key] != value, key
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert after["sequence"] > before["sequence"] and after["sequence"] == after["SEQUENCE"]
    assert after["LAST-MODIFIED"] > before["LAST-MODIFIED"]
    assert after["DTSTAMP"] == after["LAST-MODIFIED"]
    assert after["updated_at"] > before["updated_at"]


def test_the_reveal_at_its_time_moves_every_output(app: Flask):
    client = app.test_client()
    reveal = datetime.now(UTC) + timedelta(seconds=2)
    rally_id = add_rally(
        app, place="Плошча Сакрэтная", reveal_at=reveal, starts_at=reveal + timedelta(hours=3)
    )
    before = snapshot(client, rally_id)
    assert "Сакрэтная" not in before["LOCATION"]
    time.sleep(max(0.0, (reveal - datetime.now(UTC)).total_seconds()) + 0.3)
    after = snapshot(client, rally_id)
    assert "Плошча Сакрэтная" in after["LOCATION"]
    # Calendars show only the title: the reveal leads it, as danger and cancel do.
    assert before["SUMMARY en"] == "Пікет салідарнасці"
    assert after["SUMMARY en"] == "The place is announced. Пікет салідарнасці"
    assert after["SUMMARY"] == "Месца абвешчана. Пікет салідарнасці"
    assert before["notice"].startswith("The exact place will be announced at ")
    assert after["notice"] == "The place is announced."
    assert_moved(before, after)
    # When it last changed is the reveal: no write happened at it.
    assert after["LAST-MODIFIED"] == reveal.replace(microsecond=0)
    for url, etag in before.items():
        if url.startswith("/"):
            assert client.get(url, headers={"If-None-Match": etag}).status_code == 200, url


@pytest.mark.parametrize(
    "change",
    [
        ("moderator:m", "danger"),
        ("moderator:m", "cancel"),
        ("move", {"place": "Новае месца", "lat": 53.91, "lon": 27.57}),
        ("reschedule", {"starts_at": datetime(datetime.now(UTC).year + 1, 6, 1, 14, tzinfo=UTC)}),
        ("organizer-edit", {"title": "Чакае мадэратара"}),  # the "changes pending" note
        ("reveal", datetime.now(UTC) + timedelta(days=3)),  # a hidden place shown sooner
    ],
    ids=["danger", "cancel", "moved", "rescheduled", "changes-pending", "reveal-sooner"],
)
def test_every_public_change_moves_every_output(app: Flask, change):
    client = app.test_client()
    hidden = {"reveal_at": datetime.now(UTC) + timedelta(days=5)} if change[0] == "reveal" else {}
    rally_id = add_rally(app, **hidden)
    before = snapshot(client, rally_id)
    time.sleep(0.01)  # LAST-MODIFIED has whole seconds: compare the API's too
    with app.app_context():
        session = db.session(write=True)
        rally = session.get(Rally, rally_id)
        kind, what = change
        if kind == "move" or kind == "reschedule":
            lifecycle.edit(session, rally, what, "moderator:m")
        elif kind == "organizer-edit":
            lifecycle.edit(session, rally, what, "organizer")
        elif kind == "reveal":
            lifecycle.set_reveal(session, rally, what, "moderator:m")
        else:
            lifecycle.perform(session, rally, kind, what)
    time.sleep(1.0)
    after = snapshot(client, rally_id)
    for key, value in before.items():
        if key.startswith("/") or key == "image":
            assert after[key] != value, key
    assert after["SEQUENCE"] > before["SEQUENCE"] and after["sequence"] == after["SEQUENCE"]
    assert after["updated_at"] > before["updated_at"]
