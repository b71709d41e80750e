"""Feeds rebuilt from per-rally parts (mapapp.publishing.parts): what a rebuild after a change shows.

Each process keeps every rally's serialised part (GeoJSON Feature, VEVENT, CSV row) and the
gzip of unchanged chunks; these tests change rallies between requests and check that the
next answer in every format and language holds the change, and only what is public.
"""

from __future__ import annotations

import gzip
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from conftest import add_rally
from icalendar import Calendar
from test_public import SECRET_PLACE, unrevealed_rally

from mapapp.domain import db, lifecycle
from mapapp.domain.models import Rally
from mapapp.publishing.ics import calendar, minsk_timezone
from mapapp.publishing.parts import ChunkCache, Layout, document
from mapapp.publishing.public import PublicRally

# Every format a feed of many rallies is served in, each in every language it has.
FORMATS = [
    "/api/rallies.geojson?when=all",
    "/api/rallies.geojson?when=all&lang=be",
    "/api/rallies.geojson?when=all&lang=ru",
    "/api/rallies.geojson?when=all&lang=en",
    "/rallies.ics?when=all&lang=be",
    "/rallies.ics?when=all&lang=ru",
    "/rallies.ics?when=all&lang=en",
    "/rallies.csv?when=all",
    "/rallies.csv?when=all&lang=en",
]
GZIP = {"Accept-Encoding": "gzip"}


def text(client, path: str) -> str:  # noqa: ANN001
    """The feed as a client that takes gzip gets it, checked against the plain one."""
    packed = client.get(path, headers=GZIP)
    assert packed.status_code == 200, path
    assert packed.headers["Content-Encoding"] == "gzip"
    plain = client.get(path)
    assert gzip.decompress(packed.data) == plain.data, path
    body = plain.get_data(as_text=True)
    if path.startswith("/api/"):  # as JSON reads it: no \u escape hides a text
        body = json.dumps(json.loads(body), ensure_ascii=False)
    # iCalendar folds long lines and escapes commas
    return body.replace("\r\n ", "").replace("\\,", ",")


def warm(client) -> None:  # noqa: ANN001
    for path in FORMATS:
        text(client, path)


@pytest.mark.parametrize("path", FORMATS)
def test_an_edit_of_one_rally_replaces_its_cached_part(client, app, path):
    others = [add_rally(app, title=f"Іншы пікет нумар {n}") for n in range(3)]
    rally_id = add_rally(app, title="Стары загаловак пікета")
    warm(client)
    assert "Стары загаловак пікета" in text(client, path)
    with app.app_context():
        session = db.session()
        rally = session.get(Rally, rally_id)
        lifecycle.edit(session, rally, {"title": "Новы загаловак пікета"}, "moderator:t")
    after = text(client, path)
    assert "Новы загаловак пікета" in after
    assert "Стары загаловак пікета" not in after
    for n in range(len(others)):  # the unchanged rallies' parts are still there
        assert f"Іншы пікет нумар {n}" in after


@pytest.mark.parametrize("path", FORMATS)
def test_a_new_cancelled_and_taken_down_rally_show_in_the_next_answer(client, app, path):
    kept = add_rally(app, title="Пікет, які застаецца")
    gone = add_rally(app, title="Пікет, які знікне")
    warm(client)
    added = add_rally(app, title="Пікет, які дадалі")
    with app.app_context():
        session = db.session()
        lifecycle.perform(session, session.get(Rally, gone), "moderator:t", "reject", "спам")
        lifecycle.perform(session, session.get(Rally, kept), "moderator:t", "cancel")
    after = text(client, path)
    assert "Пікет, які дадалі" in after and "Пікет, які знікне" not in after
    assert "Пікет, які застаецца" in after
    if "/rallies.ics" in path:
        assert "STATUS:CANCELLED" in after
    elif "geojson" in path:
        statuses = {f["id"]: f["properties"]["status"] for f in json.loads(after)["features"]}
        assert statuses[kept] == "cancelled" and added in statuses and gone not in statuses
    else:
        assert ",cancelled," in after


def later(monkeypatch, delta: timedelta) -> None:
    """Every request from now on sees the clock `delta` ahead."""
    from mapapp.publishing import public
    from mapapp.views import api, feeds

    def ahead() -> datetime:
        return datetime.now(UTC) + delta

    for module in (public, api, feeds):
        monkeypatch.setattr(module, "utcnow", ahead)


@pytest.mark.parametrize("path", FORMATS)
def test_cached_parts_keep_an_unrevealed_place_hidden_until_its_time(
    client, app, monkeypatch, path
):
    unrevealed_rally(app, reveal_in=timedelta(days=1))
    with app.app_context():  # a private field on the working copy, never public
        session = db.session()
        session.query(Rally).one().contact = "+375 29 000-00-00 private"
        session.commit()
    warm(client)
    before = text(client, path)
    assert "Пікет у Гродне" in before
    assert SECRET_PLACE not in before and "private" not in before
    # The same published row a day later: the place is public now, and the part changes.
    later(monkeypatch, timedelta(days=1, minutes=1))
    after = text(client, path)
    assert SECRET_PLACE in after and "private" not in after


def test_each_site_address_gets_its_own_links(client, app):
    rally_id = add_rally(app)
    here = text(client, "/rallies.ics?when=all")
    there = client.get("/rallies.ics?when=all", base_url="http://127.0.0.1:8080")
    assert f"http://localhost/rallies/{rally_id}" in here
    mirrored = there.get_data(as_text=True).replace("\r\n ", "")
    assert f"http://127.0.0.1:8080/rallies/{rally_id}" in mirrored
    assert "http://localhost/" not in mirrored
    assert f"/rallies/{rally_id}?lang=en" in text(client, "/rallies.csv?when=all&lang=en")


def test_the_parts_make_the_calendar_icalendar_writes(app):
    """The feed is icalendar's own text: the joined VEVENTs are what Calendar.to_ical gives."""
    now = datetime(2030, 5, 1, 12, tzinfo=UTC)
    rallies = [
        PublicRally(
            n,
            f"Пікет {n}; з коскамі, і \\ рысай",
            "Апісанне\nу два радкі " * 9,
            "approved",
            n == 1,
            now + timedelta(days=n),
            None,
            now,
            n,
            "Мінск",
            "BY-HM",
            625144,
            "Плошча",
            53.9,
            27.56,
            True,
            None,
            False,
        )  # fmt: skip
        for n in range(1, 4)
    ]
    url = "http://localhost/rallies/{}".format
    whole = Calendar()
    whole.add("prodid", "-//mapapp//Rally map of Belarus//EN")
    whole.add("version", "2.0")
    whole.add("calscale", "GREGORIAN")
    whole.add_component(minsk_timezone())
    from mapapp.publishing.ics import rally_event

    for rally in rallies:
        whole.add_component(rally_event(rally, url(rally.id)))
    assert calendar(rallies, url) == whole.to_ical()


def test_gzip_of_chunks_reads_as_one_stream_and_recompresses_little():
    rng = random.Random(13)
    parts = [
        json.dumps({"id": n, "title": "пікет " * rng.randint(1, 30)}, ensure_ascii=False).encode()
        for n in range(3000)
    ]
    layout = Layout(b'{"features":[', b",", b"]}")
    cache = ChunkCache()
    plain, packed = document(layout, parts, cache)
    assert plain == layout.head + b",".join(parts) + layout.tail
    assert gzip.decompress(packed) == plain
    assert len(packed) < len(plain) / 3
    made = len(cache.chunks)
    # One rally changed, one added, one gone: a few chunks are new, the rest are reused.
    parts[1500] = b'{"id":1500,"title":"changed"}'
    parts.insert(700, b'{"id":9999,"title":"new"}')
    del parts[2500]
    plain, packed = document(layout, parts, cache)
    assert gzip.decompress(packed) == plain == layout.head + b",".join(parts) + layout.tail
    assert len(cache.chunks) - made <= 9  # three changes, each at most three chunks
    # Empty and single documents too.
    for few in ([], [b"1"]):
        plain, packed = document(layout, few, ChunkCache())
        assert gzip.decompress(packed) == plain


def test_a_chunk_kept_from_one_document_is_right_in_another():
    """Two documents (two filters) can hold the same run of chunks at different places: the
    compressed chunk kept from one must decompress right in the other, whatever the
    separator (one of several bytes showed it: the dictionary held a separator that the
    other document did not have before that chunk, a CRC error)."""
    import zlib

    def part(n: int) -> bytes:
        return b'{"type":"Feature","id":%d,"properties":{"town":"Minsk"}}' % n

    # Parts that end a chunk (see CHUNK_PARTS) and parts that do not.
    cut = [part(n) for n in range(100_000) if zlib.adler32(part(n)) % 64 == 0][:3]
    rest = [part(n) for n in range(100_000, 100_100) if zlib.adler32(part(n)) % 64 != 0]
    for sep in (b",", b",\n  "):
        layout = Layout(b'{"features":[\n', sep, b"]}")
        whole = rest[:5] + cut[:2] + rest[5:10] + [cut[2]] + rest[10:15]
        # The same chunks from cut[1] on, first in the document: a filter took the others.
        later = whole[whole.index(cut[1]) :]
        cache = ChunkCache()
        for parts in (whole, later):
            plain, packed = document(layout, parts, cache)
            assert gzip.decompress(packed) == plain == layout.head + sep.join(parts) + layout.tail


class DictStore:
    """A ChunkStore in a dict, counting what it is asked for and given."""

    def __init__(self) -> None:
        self.chunks: dict[bytes, bytes] = {}
        self.loads = self.saves = 0

    def load(self, digests: list[bytes]) -> dict[bytes, bytes]:
        self.loads += 1
        return {name: self.chunks[name] for name in digests if name in self.chunks}

    def save(self, chunks: dict[bytes, bytes]) -> None:
        self.saves += 1
        assert not set(chunks) & set(self.chunks)  # only what the store did not hold
        self.chunks.update(chunks)


def test_a_process_with_an_empty_cache_joins_the_shared_chunks(monkeypatch):
    """A new worker (an empty ChunkCache) over the shared store makes the same bytes as the
    worker that compressed them, compressing nothing; a subsequence of the parts (a filter)
    reuses the chunks of its run and decodes right; a document kept whole in the process's
    cache asks the store for nothing."""
    from mapapp.publishing import parts as module

    rng = random.Random(5)
    parts = [
        json.dumps({"id": n, "title": "пікет " * rng.randint(1, 30)}, ensure_ascii=False).encode()
        for n in range(3000)
    ]
    layout = Layout(b'{"features":[', b",", b"]}")
    store = DictStore()
    plain, packed = document(layout, parts, ChunkCache(), store)
    assert gzip.decompress(packed) == plain
    assert store.saves == 1 and store.chunks

    made: list[bytes] = []
    original = module.deflate
    monkeypatch.setattr(module, "deflate", lambda data, *a: made.append(data) or original(data, *a))
    cache = ChunkCache()
    assert document(layout, parts, cache, store) == (plain, packed)
    assert made == [] and store.saves == 1
    loads = store.loads
    assert document(layout, parts, cache, store) == (plain, packed)
    assert store.loads == loads  # all from the process's own cache

    # A filter's run of the same parts: only its first chunks and its end are new.
    run = parts[1000:2500]
    plain, packed = document(layout, run, ChunkCache(), store)
    assert gzip.decompress(packed) == plain == layout.head + b",".join(run) + layout.tail
    assert len(b"".join(made)) < len(plain) / 4
    # The same text twice in one document compresses once.
    made.clear()
    twice = [b'{"id":1}'] * 600
    plain, packed = document(layout, twice, ChunkCache(), DictStore())
    assert gzip.decompress(packed) == plain


def test_the_gzip_chunk_cache_keeps_no_text_and_stays_within_its_bytes():
    """The kept chunks are found by a digest: no key holds a part's text (ten times the
    compressed size, and not always shared with anything else: the map feed's parts are made
    for each filter), and however many filters' documents are made, the compressed bytes and
    keys kept stay within the budget."""
    budget = 200_000
    cache = ChunkCache(budget)
    layout = Layout(b"[", b",", b"]")
    for document_number in range(40):  # forty filters' documents, 50 KB of text each
        parts = [b'{"id":%d,"town":"%d"}' % (n, document_number) for n in range(2000)]
        plain, packed = document(layout, parts, cache)
        assert gzip.decompress(packed) == plain
        assert all(isinstance(key, bytes) and len(key) == 32 for key in cache.chunks)
        held = sum(len(made) + ChunkCache.OVERHEAD for made in cache.chunks.values())
        assert held == cache.size <= budget
    assert len(cache.chunks) > 1


def test_named_parts_are_read_only_for_the_chunks_to_compress():
    """Parts named by what fixes their bytes (an entry's id, row version and reveal side,
    Entry.token) make a gzip stream that reads as the plain text; a new process (an empty
    cache) over the shared store reads no part at all, and the CRC of the whole comes from
    the chunks'; after a change only the parts of the chunks around it (and their
    dictionaries) are read, and only those chunks compressed; a filter's run of the same
    parts reads only the chunks at its ends."""
    from mapapp.publishing import parts as module
    from mapapp.publishing.parts import gzipped

    rng = random.Random(7)
    parts = [
        json.dumps({"id": n, "title": "пікет " * rng.randint(1, 30)}, ensure_ascii=False).encode()
        for n in range(3000)
    ]
    names = [b"%d:1:1;" % n for n in range(3000)]
    asked: list[int] = []

    def reader(source: list[bytes]):  # noqa: ANN202
        def read(indices: list[int]) -> list[bytes]:
            asked.extend(indices)
            return [source[i] for i in indices]

        return read

    layout = Layout(b'{"features":[', b",", b"]}")
    plain = layout.head + b",".join(parts) + layout.tail
    store = DictStore()
    packed = gzipped(layout, reader(parts), ChunkCache(), store, names, b"geojson|")
    assert gzip.decompress(packed) == plain
    assert sorted(asked) == list(range(3000))
    asked.clear()
    made: list[bytes] = []
    original = module.deflate
    monkeypatch_deflate = lambda data, *a: made.append(data) or original(data, *a)  # noqa: E731
    module.deflate, saved = monkeypatch_deflate, original
    try:
        cache = ChunkCache()
        assert gzipped(layout, reader(parts), cache, store, names, b"geojson|") == packed
        assert asked == [] and made == []
        # Another scope (format, language, address) shares nothing.
        other = gzipped(layout, reader(parts), ChunkCache(), store, names, b"ics|")
        assert gzip.decompress(other) == plain and len(asked) == 3000
        asked.clear()
        made.clear()
        # One rally changed: its name changes with its row version.
        parts[1500] = b'{"id":1500,"title":"changed"}'
        names[1500] = b"1500:2:1;"
        plain = layout.head + b",".join(parts) + layout.tail
        packed = gzipped(layout, reader(parts), cache, store, names, b"geojson|")
        assert gzip.decompress(packed) == plain
        assert 1500 in asked and 0 < len(asked) <= 3 * module.MAX_CHUNK_PARTS
        assert 0 < len(b"".join(made)) < len(plain) / 10
        asked.clear()
        run = list(range(1000, 2500))
        packed = gzipped(
            layout,
            lambda indices: reader(parts)([run[i] for i in indices]),
            cache,
            store,
            [names[i] for i in run],
            b"geojson|",
        )
        assert gzip.decompress(packed) == layout.head + b",".join(parts[1000:2500]) + layout.tail
        assert len(asked) < 1500 / 3
    finally:
        module.deflate = saved


def test_old_entries_are_dropped(client, app, monkeypatch):
    """The per-rally cache holds about what is public, not every version ever seen."""
    from mapapp.publishing.public import EntryCache

    monkeypatch.setattr(EntryCache, "FLOOR", 4)
    rally_id = add_rally(app, title="Пікет нумар 0")
    for n in range(1, 20):
        with app.app_context():
            session = db.session()
            rally = session.get(Rally, rally_id)
            lifecycle.edit(session, rally, {"title": f"Пікет нумар {n}"}, "moderator:t")
        assert f"Пікет нумар {n}" in text(client, "/rallies.csv?when=all")
    assert len(app.extensions["mapapp.public_entries"].entries) <= 4


def test_feeds_and_list_pages_are_cacheable_by_a_cdn(client, app):
    add_rally(app)
    for path in ("/api/rallies.geojson", "/rallies.ics", "/rallies.csv", "/rallies"):
        first = client.get(path, headers=GZIP)
        assert not first.headers["ETag"].startswith("W/"), path  # strong
        control = first.cache_control
        assert control.public and control.max_age == app.config["CACHE_SECONDS"], path
        assert control.stale_while_revalidate == app.config["CACHE_SECONDS"], path
        assert "Set-Cookie" not in first.headers, path
        again = client.get(path, headers={**GZIP, "If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.data == b"", path


@pytest.mark.parametrize("path", FORMATS)
def test_an_edit_waiting_for_a_moderator_is_in_no_cached_part(client, app, path):
    rally_id = add_rally(app, title="Ухвалены загаловак")
    warm(client)
    etag = client.get(path, headers=GZIP).headers["ETag"]
    with app.app_context():
        session = db.session()
        rally = session.get(Rally, rally_id)
        lifecycle.edit(session, rally, {"title": "Загаловак, які чакае"}, "organizer")
    after = text(client, path)
    assert "Ухвалены загаловак" in after and "Загаловак, які чакае" not in after
    # The version moved ("changes pending" is public), so the ETag did too.
    assert client.get(path, headers={**GZIP, "If-None-Match": etag}).status_code == 200
    with app.app_context():
        session = db.session()
        lifecycle.approve(session, session.get(Rally, rally_id), "moderator:t")
    approved = text(client, path)
    assert "Загаловак, які чакае" in approved and "Ухвалены загаловак" not in approved


def test_every_process_makes_the_same_gzip_bytes():
    """A strong ETag promises the same bytes from every worker: the cut points and the
    compression depend on the parts alone, not on the process's hash seed."""
    import os
    import subprocess
    import sys

    script = (
        "import hashlib\n"
        "from mapapp.publishing.parts import ChunkCache, Layout, document\n"
        'parts = [(\'{"id":%d,"title":"пікет %d"}\' % (n, n * 7)).encode() for n in range(3000)]\n'
        "print(hashlib.sha256(document(Layout(b'[', b',', b']'), parts, ChunkCache())[1]).hexdigest())\n"
    )
    digests = {
        subprocess.run(  # noqa: S603
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(digests) == 1


@pytest.mark.parametrize("lang", [None, "be", "en"])
def test_the_map_feed_from_parts_is_map_collection_byte_for_byte(client, app, lang):
    """/api/rallies.geojson?fields=map is rebuilt from kept parts: the bytes are those of
    mapapp.publishing.mapfeed.map_collection, before and after changes that move the towns' indexes."""
    from mapapp.domain.filters import RallyFilter
    from mapapp.publishing.mapfeed import map_collection
    from mapapp.publishing.public import public_rallies

    query = f"/api/rallies.geojson?when=all&fields=map{f'&lang={lang}' if lang else ''}"

    def same() -> None:
        served = client.get(query, headers=GZIP)
        with app.app_context():
            rallies = public_rallies(db.session(), RallyFilter("all"))
            assert gzip.decompress(served.data) == map_collection(rallies, lang)
        assert client.get(query).data == gzip.decompress(served.data)

    soon = datetime(datetime.now(UTC).year + 1, 3, 1, 16, tzinfo=UTC)
    first = add_rally(app, town="Гродна", geonameid=627904, starts_at=soon)
    add_rally(app, town="Мінск", starts_at=soon + timedelta(days=1))
    same()
    # A rally in a third town first in the order: every town's index moves by one.
    add_rally(app, town="Брэст", starts_at=soon - timedelta(days=1))
    same()
    with app.app_context():
        session = db.session()
        lifecycle.perform(session, session.get(Rally, first), "moderator:t", "cancel")
    same()
    unrevealed_rally(app)
    same()


def test_what_a_rally_keeps_does_not_grow_with_the_filters_asked_for(client, app):
    """Each filter puts the towns in another order, so a rally's town index differs from
    one map document to the next: what its entry keeps must not grow with them (a part per
    index let visitors asking for many ?from= dates grow every worker by hundreds of MiB),
    and every document is still map_collection's."""
    from mapapp.domain.filters import RallyFilter
    from mapapp.publishing.mapfeed import map_collection
    from mapapp.publishing.public import public_rallies

    soon = datetime(datetime.now(UTC).year + 1, 3, 1, 16, tzinfo=UTC)
    towns = ["Гродна", "Мінск", "Брэст", "Віцебск", "Гомель", "Магілёў"]
    for day in range(12):
        add_rally(app, town=towns[day % 6], starts_at=soon + timedelta(days=day))
    kept = None
    for day in range(12):
        since = (soon + timedelta(days=day)).date()
        served = client.get(f"/api/rallies.geojson?when=all&fields=map&lang=be&from={since}")
        with app.app_context():
            rallies = public_rallies(db.session(), RallyFilter("all", date_from=since))
            assert len(rallies) == 12 - day
            assert served.data == map_collection(rallies, "be")
        entries = app.extensions["mapapp.public_entries"].entries.values()
        counts = {len(entry.parts) for entry in entries}
        kept = kept or counts
        assert counts == kept, since
