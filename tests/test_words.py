"""One place turns a status or change into words (mapapp.publishing.words), and every output
takes its sentence from there: ICS SUMMARY (the rally's file, the feed, the export's file;
read by icalendar and vobject), JSON-LD, OpenGraph, oEmbed, the share image and Telegram."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import vobject
from conftest import add_rally
from flask import Flask
from icalendar import Calendar

from mapapp.channels.telegram.outbox import message_text
from mapapp.domain import db, lifecycle
from mapapp.domain.models import Rally
from mapapp.places.locale import local_datetime
from mapapp.publishing import words
from mapapp.publishing.public import public_rally

START = datetime(datetime.now(UTC).year + 1, 6, 1, 16, 0, tzinfo=UTC)  # 19:00 in Minsk
EARLIER = START - timedelta(hours=2)


def change(app: Flask, rally_id: int, kind: str) -> None:
    with app.app_context():
        session = db.session(write=True)
        rally = session.get(Rally, rally_id)
        if kind == "rescheduled":
            lifecycle.edit(session, rally, {"starts_at": EARLIER}, "moderator:m")
        elif kind == "moved":
            lifecycle.edit(session, rally, {"place": "Іншая плошча", "lat": 53.91}, "moderator:m")
        elif kind == "danger":
            lifecycle.perform(session, rally, "organizer", "danger")
        elif kind == "cancelled":
            lifecycle.perform(session, rally, "moderator:m", "cancel")


def summaries(ics: bytes) -> list[str]:
    """Each VEVENT's SUMMARY, as icalendar and vobject read it (they must agree)."""
    first = [str(e["SUMMARY"]) for e in Calendar.from_ical(ics).walk("VEVENT")]
    second = [str(e.summary.value) for e in vobject.readOne(ics.decode()).vevent_list]
    assert first == second
    return first


def descriptions(ics: bytes) -> list[str]:
    first = [str(e["DESCRIPTION"]) for e in Calendar.from_ical(ics).walk("VEVENT")]
    second = [str(e.description.value) for e in vobject.readOne(ics.decode()).vevent_list]
    assert first == second
    return first


def meta(page: str, name: str) -> str:
    return re.search(rf'property="{name}" content="([^"]*)"', page).group(1)


@pytest.mark.parametrize("kind", ["danger", "cancelled", "moved", "rescheduled"])
def test_every_output_says_the_change_in_the_same_words(app: Flask, tmp_path, kind: str):
    client = app.test_client()
    rally_id = add_rally(app, title="Сход салідарнасці", starts_at=START)
    page = client.get(f"/rallies/{rally_id}?lang=en").get_data(as_text=True)
    image_before = meta(page, "og:image")
    png_before = client.get(image_before.removeprefix("http://localhost")).data
    change(app, rally_id, kind)
    with app.test_request_context():
        rally = public_rally(db.session(), rally_id)
        sentence = words.headline(rally, "en")
        telegram = message_text(rally, "en")
    assert sentence  # the change has words
    if kind == "rescheduled":  # with the old time
        assert sentence == f"The time has changed: it was {local_datetime(START, 'medium', 'en')}."
    lead = f"{sentence} Сход салідарнасці"

    # Calendars: the rally's own file, the feed and the export's file.
    assert summaries(client.get(f"/rallies/{rally_id}.ics?lang=en").data) == [lead]
    assert lead in summaries(client.get("/rallies.ics?lang=en&when=all").data)
    result = app.test_cli_runner().invoke(
        args=["export-static", str(tmp_path), "--lang", "en", "--when", "all"]
    )
    assert result.exit_code == 0, result.output
    assert summaries((tmp_path / "rallies.ics").read_bytes()) == [lead]

    # The rally page: OpenGraph and JSON-LD.
    page = client.get(f"/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert meta(page, "og:title") == lead.replace('"', "&#34;")
    assert meta(page, "og:description").startswith(sentence)
    event = json.loads(
        re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1)
    )
    assert event["name"] == lead and event["description"].startswith(sentence)
    expected = {
        "cancelled": "https://schema.org/EventCancelled",
        "rescheduled": "https://schema.org/EventRescheduled",
    }.get(kind, "https://schema.org/EventScheduled")
    assert event["eventStatus"] == expected
    if kind == "rescheduled":
        assert event["previousStartDate"].startswith(f"{START.year}-06-01T19:00")
        assert event["startDate"].startswith(f"{START.year}-06-01T17:00")

    # oEmbed.
    oembed = client.get(f"/oembed?url=http://localhost/rallies/{rally_id}?lang=en").get_json()
    assert oembed["title"] == lead

    # The share image: a new address, and a band that makes it differ.
    image_after = meta(page, "og:image")
    assert image_after != image_before
    assert client.get(image_after.removeprefix("http://localhost")).data != png_before

    # Telegram.
    assert sentence in telegram


def test_an_unrevealed_place_says_when_in_every_calendar(app: Flask, tmp_path):
    client = app.test_client()
    reveal = datetime.now(UTC) + timedelta(days=2)
    rally_id = add_rally(app, reveal_at=reveal, starts_at=reveal + timedelta(hours=2))
    with app.test_request_context():
        note = words.reveal_sentence(reveal, "en")
    assert descriptions(client.get(f"/rallies/{rally_id}.ics?lang=en").data)[0].startswith(note)
    result = app.test_cli_runner().invoke(args=["export-static", str(tmp_path), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert descriptions((tmp_path / "rallies.ics").read_bytes())[0].startswith(note)
    page = client.get(f"/rallies/{rally_id}?lang=en").get_data(as_text=True)
    assert note in meta(page, "og:description")


@pytest.mark.parametrize(
    ("lang", "subscribe", "note"),
    [
        (
            "be",
            "Падпісацца ў календары",
            "Тады ваш каляндар будзе сам правяраць гэтую акцыю і даведаецца",
        ),
        (
            "ru",
            "Подписаться в календаре",
            "Тогда ваш календарь будет сам проверять эту акцию и узнает",
        ),
        ("en", "Subscribe in your calendar", "Your calendar then checks this rally by itself"),
    ],
)
def test_a_rally_page_offers_a_subscription_to_its_own_calendar(app, lang, subscribe, note):
    """webcal:// to the rally's own .ics (the same document), explained beside it: calendar
    apps fetch it again and so learn of the reveal, a new time or a warning."""
    client = app.test_client()
    rally_id = add_rally(app)
    page = client.get(f"/rallies/{rally_id}?lang={lang}").get_data(as_text=True)
    link = re.search(r'<a href="(webcal://[^"]+)" class="subscribe-link">([^<]+)</a>', page)
    assert link and link.group(2) == subscribe
    assert note in page
    address = link.group(1).replace("&amp;", "&")
    assert address == f"webcal://localhost/rallies/{rally_id}.ics?lang={lang}"
    same = client.get(address.removeprefix("webcal://localhost"))
    assert same.status_code == 200 and same.mimetype == "text/calendar"
    assert same.data == client.get(f"/rallies/{rally_id}.ics?lang={lang}").data
    (event,) = Calendar.from_ical(same.data).walk("VEVENT")
    assert str(event["UID"]) == f"rally-{rally_id}@mapapp"


# Review 24b, finding 10: no space before : ; ? ! in be, ru or en (a French habit, not ours),
# in the catalogues nor on the pages their strings are joined into.
SPACE_BEFORE_MARK = re.compile(r"[^\s\d%(][ \u00a0]+[:;?!](?=[\s\"<]|$)")


@pytest.mark.parametrize("lang", ["be", "ru", "en"])
def test_no_space_before_a_colon_or_a_question_mark_in_the_catalogue(lang):
    from babel.messages.pofile import read_po

    path = f"mapapp/translations/{lang}/LC_MESSAGES/messages.po"
    with open(path, "rb") as file:
        catalogue = read_po(file)
    for message in list(catalogue)[1:]:  # the header is not text for people
        for text in message.string if isinstance(message.string, tuple) else [message.string]:
            assert not SPACE_BEFORE_MARK.search(text or ""), (lang, text)


@pytest.mark.parametrize("lang", ["be", "ru", "en"])
def test_no_space_before_a_colon_or_a_question_mark_on_the_pages(app, lang):
    add_rally(app, reveal_at=datetime(datetime.now(UTC).year + 1, 6, 1, 14, 0, tzinfo=UTC))
    client = app.test_client()
    for path in ("/", "/about", "/rallies", "/rallies/1", "/submit", "/embed/code"):
        page = client.get(f"{path}?lang={lang}").get_data(as_text=True)
        page = re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.S)
        text = re.sub(r"<[^>]+>", "", page)  # what a reader sees, tags joined as they render
        assert not SPACE_BEFORE_MARK.search(text), (path, lang, SPACE_BEFORE_MARK.search(text))
