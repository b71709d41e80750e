"""The Atom feed: what feed readers get, entries updated in place, urgent news of their own,
filters, escaping, caching, ids that never repeat after a restore, discovery links."""

import gzip
import re
import time
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import feedparser
import pytest
from conftest import add_rally
from sqlalchemy import select

from mapapp.domain import db, lifecycle
from mapapp.domain.models import Rally
from mapapp.publishing.atom import timestamp

ATOM = "{http://www.w3.org/2005/Atom}"
# RFC 3339 as the W3C feed validator reads it.
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
# RFC 4151: tag:authority,date:specific
TAG = re.compile(r"^tag:[a-z0-9.-]+,\d{4}(-\d{2}(-\d{2})?)?:[\w\-./?=&%:~!$'()*+,;@]+$")


def parse(response):  # noqa: ANN001, ANN201
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    found = feedparser.parse(response.data)
    assert not found.bozo, found.get("bozo_exception")
    assert found.version == "atom10"
    return found


def strict_checks(data: bytes, self_url: str) -> list[ElementTree.Element]:
    """What the W3C feed validator requires of an Atom feed, checked on the XML itself:
    the feed's and each entry's id, title and updated (RFC 3339, ids tag: URIs and
    unique), a self link with the address the feed was fetched at, an author, xml:lang."""
    root = ElementTree.fromstring(data)  # noqa: S314 - our own feed
    assert root.tag == f"{ATOM}feed"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") in ("be", "ru", "en")
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{name}")) == 1
    assert TAG.match(root.findtext(f"{ATOM}id"))
    assert RFC3339.match(root.findtext(f"{ATOM}updated"))
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert links["self"] == self_url
    assert root.find(f"{ATOM}author/{ATOM}name").text
    entries = root.findall(f"{ATOM}entry")
    ids = [entry.findtext(f"{ATOM}id") for entry in entries]
    assert len(ids) == len(set(ids))
    updated = []
    for entry in entries:
        assert TAG.match(entry.findtext(f"{ATOM}id")), entry.findtext(f"{ATOM}id")
        assert entry.findtext(f"{ATOM}title")
        assert RFC3339.match(entry.findtext(f"{ATOM}updated"))
        assert entry.find(f"{ATOM}link[@rel='alternate']").get("href").startswith("http://")
        assert entry.findtext(f"{ATOM}summary")  # an alternate link wants a summary or content
        updated.append(entry.findtext(f"{ATOM}updated"))
    if entries:
        assert root.findtext(f"{ATOM}updated") == max(updated)
    return entries


def moderate(app, rally_id: int, action: str) -> None:  # noqa: ANN001
    with app.app_context():
        session = db.session(write=True)
        lifecycle.perform(session, session.get(Rally, rally_id), "moderator:test", action)


def moderator_edit(app, rally_id: int, **fields) -> None:  # noqa: ANN001, ANN003
    with app.app_context():
        session = db.session(write=True)
        lifecycle.edit(session, session.get(Rally, rally_id), fields, "moderator:test")


def test_feed_readers_get_one_entry_a_rally_with_its_page(client, seeded_app):
    response = client.get("/rallies.atom?when=all&lang=en")
    found = parse(response)
    assert found.feed.title == "Rally map of Belarus"
    assert found.feed.language == "en"
    assert len(found.entries) == 13  # the seed rallies, no urgent news
    october = next(e for e in found.entries if "October Square" in e.title or "Кастр" in e.title)
    assert re.match(r"http://localhost/rallies/\d+\?lang=en$", october.link)
    assert "7:00" in october.summary  # Minsk time: 19:00
    strict_checks(response.data, "http://localhost/rallies.atom?when=all&lang=en")
    # The ids do not depend on the host the feed was fetched from.
    mirror = parse(client.get("/rallies.atom?when=all&lang=en", base_url="http://127.0.0.1:8080"))
    assert {e.id for e in mirror.entries} == {e.id for e in found.entries}


def test_the_filters_are_the_other_feeds(client, app):
    minsk = add_rally(app, title="In Minsk")
    brest = add_rally(app, title="In Brest", town="Брэст", region="BY-BR", lat=52.0976, lon=23.7341)
    past = add_rally(app, title="Long ago", starts_at=datetime(2021, 3, 1, 16, tzinfo=UTC))

    def titles(query: str) -> set[str]:
        return {e.title for e in parse(client.get(f"/rallies.atom?{query}")).entries}

    assert titles("") == {"In Minsk", "In Brest"}
    assert titles("region=BY-BR") == {"In Brest"}
    assert titles("city=Брэст") == {"In Brest"}
    assert titles("when=past") == {"Long ago"}
    assert titles("when=all&from=2021-01-01&to=2021-12-31") == {"Long ago"}
    assert client.get("/rallies.atom?region=XX").status_code == 400
    assert client.get("/rallies.atom?region=XX").is_json  # a machine's answer
    assert minsk and brest and past
    # The language: the warnings and the feed's head are in it.
    ru = parse(client.get("/rallies.atom?lang=ru"))
    assert ru.feed.title == "Карта акций в Беларуси" and ru.feed.language == "ru"


def test_a_change_updates_the_entry_and_an_urgent_one_adds_a_short_entry(client, app):
    rally_id = add_rally(app, title="Пікет")
    before = parse(client.get("/rallies.atom?lang=en")).entries
    assert len(before) == 1
    [entry] = before

    moderator_edit(app, rally_id, title="Пікет салідарнасці")  # not urgent: updated in place
    [edited] = parse(client.get("/rallies.atom?lang=en")).entries
    assert edited.id == entry.id and edited.title == "Пікет салідарнасці"
    assert edited.updated_parsed >= entry.updated_parsed and edited.updated != entry.updated

    moderate(app, rally_id, "danger")
    found = parse(client.get("/rallies.atom?lang=en")).entries
    assert len(found) == 2
    main, danger = found
    assert main.id == entry.id
    assert main.title.startswith("Danger: police are at the place. Do not come.")
    assert danger.id.startswith(entry.id + "-danger-")
    assert danger.title == "Danger: police are at the place. Do not come. Пікет салідарнасці"
    assert danger.link == main.link

    moderate(app, rally_id, "cancel")
    kinds = [e.id.removeprefix(entry.id) for e in parse(client.get("/rallies.atom")).entries]
    assert kinds[0] == "" and [k.split("-")[1] for k in kinds[1:]] == ["cancelled", "danger"]
    cancelled = parse(client.get("/rallies.atom?lang=ru")).entries[1]
    assert cancelled.title.startswith("Эта акция отменена.")


def test_a_new_time_and_a_new_place_are_news(client, app):
    start = datetime(datetime.now(UTC).year + 1, 6, 1, 16, 0, tzinfo=UTC)
    rally_id = add_rally(app, title="Пікет", starts_at=start)
    moderator_edit(app, rally_id, starts_at=start - timedelta(hours=2))
    found = parse(client.get("/rallies.atom?lang=en")).entries
    assert [e.id.split("-")[-2] for e in found[1:]] == ["rescheduled"]
    assert "The time has changed: June 1" in found[1].title
    title = found[1].title.replace("\u202f", " ")  # CLDR's narrow space before PM
    assert "5:00 PM (was June 1" in title and "7:00 PM)" in title

    moderator_edit(app, rally_id, place="Кастрычніцкая плошча", lat=53.9022, lon=27.5617)
    found = parse(client.get("/rallies.atom?lang=en")).entries
    assert [e.id.split("-")[-2] for e in found[1:]] == ["moved", "rescheduled"]
    assert found[1].title.startswith("The place has changed")
    assert "Кастрычніцкая плошча" in found[0].summary


def test_seed_rallies_rescheduled_are_news_too(client, seeded_app):
    with seeded_app.app_context():
        session = db.session(write=True)
        rally = session.scalars(select(Rally).where(Rally.featured.is_(True))).first()
        rally_id, start = rally.id, rally.starts_at
    moderator_edit(seeded_app, rally_id, starts_at=start + timedelta(hours=1))
    found = parse(client.get("/rallies.atom?lang=en")).entries
    assert [e.title for e in found if "The time has changed" in e.title]


def test_the_place_stays_out_until_its_reveal_which_is_news(client, app):
    reveal = datetime.now(UTC) + timedelta(seconds=2)
    add_rally(app, title="Хутка", place="Сакрэтнае месца", reveal_at=reveal)
    response = client.get("/rallies.atom?lang=en")
    assert "Сакрэтнае" not in response.get_data(as_text=True)
    [entry] = parse(response).entries
    assert "The exact place will be announced at" in entry.summary
    time.sleep(max(0.0, (reveal - datetime.now(UTC)).total_seconds()) + 0.1)  # the time passes
    revealed = client.get(
        "/rallies.atom?lang=en", headers={"If-None-Match": response.headers["ETag"]}
    )
    found = parse(revealed).entries  # not a 304: the data version moved by itself
    assert found[0].id == entry.id and "Сакрэтнае месца" in found[0].summary
    assert found[1].id.startswith(entry.id + "-revealed-")
    assert found[1].title == "The exact place is announced: Сакрэтнае месца. Хутка"
    # The reveal is the rally's last public change.
    assert found[0].updated == timestamp(reveal) == found[1].updated


def test_nothing_private_or_unapproved(client, app):
    add_rally(app, title="Pending one", status="pending")
    add_rally(app, title="Rejected one", status="rejected")
    public = add_rally(app, title="Public", contact="organizer@example.org")
    with app.app_context():  # an organizer's edit waiting for a moderator
        session = db.session(write=True)
        lifecycle.edit(session, session.get(Rally, public), {"title": "Unreviewed"}, "organizer")
    text = client.get("/rallies.atom?when=all").get_data(as_text=True)
    for secret in ("Pending one", "Rejected one", "organizer@example.org", "Unreviewed"):
        assert secret not in text
    assert "Public" in text


@pytest.mark.parametrize(
    "title",
    [
        '<script>alert(1)</script> & "quotes"',
        "]]><x>",
        "bell\x07 and \x00 nul",
        "\ufffe not a character",
    ],
)
def test_user_text_is_escaped_xml(client, app, title):
    add_rally(app, title="x", description="y")
    with app.app_context():  # past the rules' checks, as SQL by hand would
        session = db.session(write=True)
        from mapapp.domain.models import PublishedRally

        for row in session.scalars(select(PublishedRally)):
            row.title = title
            row.description = title
        lifecycle.bump_version(session)
        session.commit()
    response = client.get("/rallies.atom")
    entries = strict_checks(response.data, "http://localhost/rallies.atom?lang=be")
    [entry] = parse(response).entries
    assert entry.title == re.sub("[\x00-\x08\ufffe]", "", title).strip()
    assert entries[0].findtext(f"{ATOM}title").strip() == entry.title
    assert b"<script>" not in response.data and b"<x>" not in response.data


def test_cached_by_etag_like_the_other_feeds(client, app):
    rally_id = add_rally(app)
    first = client.get("/rallies.atom", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in first.headers["Vary"]
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    plain = client.get("/rallies.atom")
    assert gzip.decompress(first.data) == plain.data
    assert plain.headers["ETag"] != first.headers["ETag"]
    again = client.get("/rallies.atom", headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304 and not again.data
    moderate(app, rally_id, "danger")
    changed = client.get("/rallies.atom", headers={"If-None-Match": plain.headers["ETag"]})
    assert changed.status_code == 200 and len(parse(changed).entries) == 2
    # Another language, another feed and ETag.
    assert client.get("/rallies.atom?lang=en").headers["ETag"] != changed.headers["ETag"]


def test_an_empty_feed_is_valid(client, app):
    response = client.get("/rallies.atom?lang=en")
    assert parse(response).entries == []
    strict_checks(response.data, "http://localhost/rallies.atom?lang=en")


def test_ids_never_repeat_after_a_restore(db_app, tmp_path):
    client = db_app.test_client()
    add_rally(db_app, title="Kept")
    path = tmp_path / "copy.backup"
    assert db_app.test_cli_runner().invoke(args=["backup", str(path)]).exit_code == 0
    gone = add_rally(db_app, title="Made after the copy")
    moderate(db_app, gone, "danger")
    seen = {e.id for e in parse(client.get("/rallies.atom")).entries}
    result = db_app.test_cli_runner().invoke(args=["restore", "--yes", str(path)])
    assert result.exit_code == 0, result.output
    # The site restarts after a restore (docs/operators.md): a new app on the same database.
    from conftest import make_app

    restarted = make_app(db_app.config["DATABASE_URL"])
    try:
        again = add_rally(restarted, title="A different rally")
        assert again > gone  # a restore raises the floor under new ids (mapapp.domain.backup)...
        moderate(restarted, again, "danger")
        found = parse(restarted.test_client().get("/rallies.atom")).entries
        new = {e.id for e in found if e.title.endswith("A different rally")}
        assert len(new) == 2 and not new & seen  # ...and the feed ids never repeat either
        kept = {e.id for e in found if e.title == "Kept"}
        assert kept <= seen and len(kept) == 1  # a restored rally keeps its id
    finally:
        restarted.extensions["mapapp.db"]["engine"].dispose()


TOMBSTONE = "{http://purl.org/atompub/tombstones/1.0}deleted-entry"


def test_a_rally_taken_down_leaves_deletion_markers_for_30_days(client, app, monkeypatch):
    """Readers kept a taken-down rally's entries for ever: RFC 6721 `at:deleted-entry`
    markers, with only the entries' ids and when, in every feed for 30 days."""
    from mapapp.domain import news

    kept = add_rally(app, title="Kept")
    gone = add_rally(app, title="Secret title", description="Secret text", region="BY-BR")
    moderate(app, gone, "danger")
    before = parse(client.get("/rallies.atom?lang=en"))
    gone_ids = {e.id for e in before.entries if "Secret title" in e.title}
    assert len(gone_ids) == 2  # its entry and its danger warning's
    moderate(app, gone, "reject")
    for path in ("/rallies.atom?lang=en", "/rallies.atom?region=BY-HM&lang=en"):
        response = client.get(path)
        found = parse(response)  # feedparser reads the feed and ignores the markers
        assert {e.title for e in found.entries} == {"Kept"}
        strict_checks(response.data, f"http://localhost{path}")
        root = ElementTree.fromstring(response.data)  # noqa: S314 - our own feed
        markers = root.findall(TOMBSTONE)
        assert {m.get("ref") for m in markers} == gone_ids
        for marker in markers:
            assert set(marker.attrib) == {"ref", "when"} and len(marker) == 0
            assert RFC3339.match(marker.get("when"))
            when = datetime.fromisoformat(marker.get("when"))
            assert abs(when - datetime.now(UTC)) < timedelta(minutes=1)
        assert b"Secret" not in response.data and b"BY-BR" not in response.data
    # 30 days on, the markers are gone.
    later = datetime.now(UTC) + timedelta(days=news.GONE_DAYS, minutes=1)
    monkeypatch.setattr("mapapp.views.feeds.utcnow", lambda: later)
    add_rally(app, title="Later")  # a new data version: the feed is built again
    response = client.get("/rallies.atom?lang=en")
    assert ElementTree.fromstring(response.data).findall(TOMBSTONE) == []  # noqa: S314
    assert {e.title for e in parse(response).entries} == {"Kept", "Later"}
    assert kept


def test_map_list_and_rally_pages_point_to_the_feed(client, app):
    rally_id = add_rally(app)
    link = re.compile(r'<link rel="alternate" type="application/atom\+xml" [^>]*href="([^"]+)"')
    assert link.findall(client.get("/?region=BY-HM&lang=ru").get_data(as_text=True)) == [
        "/rallies.atom?region=BY-HM&amp;lang=ru"
    ]
    assert link.findall(client.get("/rallies?when=past").get_data(as_text=True)) == [
        "/rallies.atom?when=past"
    ]
    assert link.findall(client.get(f"/rallies/{rally_id}").get_data(as_text=True)) == [
        "/rallies.atom"
    ]
    assert 'href="/rallies.atom?when=past" type="application/atom+xml"' in client.get(
        "/rallies?when=past"
    ).get_data(as_text=True)


def test_the_rally_entry_leads_with_the_words_of_every_output(client, app):
    # The rally's own entry says what the calendars, JSON-LD and Telegram say: a time change
    # with the old time, and a cancelled rally's place is no longer "to be announced".
    start = datetime(datetime.now(UTC).year + 1, 6, 1, 16, 0, tzinfo=UTC)
    later = datetime.now(UTC) + timedelta(days=30)
    rally_id = add_rally(app, title="Пікет", starts_at=start, place="Сакрэт", reveal_at=later)
    moderator_edit(app, rally_id, starts_at=start - timedelta(days=1))  # an earlier day
    [entry, news] = parse(client.get("/rallies.atom?lang=en")).entries
    assert entry.title.startswith(f"The time has changed: it was Jun 1, {start.year}, 7:00")
    assert entry.title.endswith(" Пікет")
    assert "The exact place will be announced at" in entry.summary
    with app.app_context():
        session = db.session(write=True)
        lifecycle.perform(session, session.get(Rally, rally_id), "moderator:m", "cancel")
    entry = parse(client.get("/rallies.atom?lang=en")).entries[0]
    assert entry.title == "This rally is cancelled. Пікет"
    assert "will be announced" not in entry.summary
