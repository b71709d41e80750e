"""Parts shared by every worker and server (mapapp.publishing.partstore).

A new app instance on the same database stands for a new gunicorn worker, a respawned one
or a second server: it must serve the same bytes as the warm one without making any part
itself, also right after a change made through another instance and after a reveal time.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import add_rally, fresh_postgres, make_app
from flask import Flask, has_request_context
from sqlalchemy import bindparam, func, select, text
from test_public import SECRET_PLACE, unrevealed_rally

from mapapp.domain import db, lifecycle
from mapapp.domain.filters import RallyFilter
from mapapp.domain.models import PublishedChunk, PublishedDocument, PublishedPart, Rally, utcnow
from mapapp.publishing import csvtable, geojson, ics, mapfeed, parts, partstore, public
from mapapp.publishing.public import EntryCache, entry_cache, part_size
from mapapp.web import caching, preparer

BASE = "http://localhost"
FEEDS = [
    "/api/rallies.geojson?when=all",
    "/api/rallies.geojson?when=all&lang=ru",
    "/api/rallies.geojson?when=all&fields=map",
    "/api/rallies.geojson?when=all&fields=map&lang=be",
    "/api/rallies.geojson?when=upcoming&region=BY-HR&fields=map&lang=en",
    "/rallies.ics?when=all&lang=be",
    "/rallies.ics?when=all&lang=en&region=BY-HM",
    "/rallies.csv?when=all&lang=ru",
]
GZIP = {"Accept-Encoding": "gzip"}


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, sqlite_url: str) -> str:  # noqa: ANN001
    return sqlite_url if request.param == "sqlite" else fresh_postgres()


@pytest.fixture
def builds(monkeypatch) -> list[str]:  # noqa: ANN001
    """Every part made from a rally (any format), by name, from the moment it is asked for."""
    made: list[str] = []

    def counting(module: object, name: str) -> None:
        original = getattr(module, name)

        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            made.append(name)
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    counting(geojson, "feature")
    counting(mapfeed, "map_feature")
    counting(ics, "rally_event")
    counting(csvtable, "_csv_line")
    return made


def answers(app: Flask) -> dict[str, bytes]:
    client = app.test_client()
    found = {}
    for path in FEEDS:
        for headers in ({}, GZIP):
            response = client.get(path, headers=headers)
            assert response.status_code == 200, path
            found[path + str(headers)] = response.data
    return found


def forget_documents(app: Flask) -> None:
    """Drop the whole documents kept for every worker (as for filters no one asked before):
    what the next worker answers is then joined from the parts and chunks."""
    with app.app_context(), db.writing_engine().begin() as connection:
        connection.execute(PublishedDocument.__table__.delete())


def some_rallies(app: Flask) -> list[int]:
    start = datetime(datetime.now(UTC).year + 1, 3, 1, 15, tzinfo=UTC)
    ids = [
        add_rally(app, title=f"Пікет {n}", starts_at=start + timedelta(days=n)) for n in range(6)
    ]
    ids.append(add_rally(app, title="Danger", status="danger"))
    ids.append(unrevealed_rally(app, timedelta(days=2)))
    return ids


def test_a_new_worker_serves_the_same_bytes_without_making_parts(database, builds) -> None:
    first = make_app(database, BASE_URL=BASE)
    ids = some_rallies(first)
    warm = answers(first)
    with first.app_context():
        stored = db.session().scalar(select(func.count()).select_from(PublishedPart))
    # Every language and format, both sides of the reveal of the unrevealed one.
    assert stored >= len(ids) * 14
    builds.clear()
    forget_documents(first)

    second = make_app(database, BASE_URL=BASE)  # a new worker, or another server
    assert answers(second) == warm
    assert builds == []

    # A change through the first: the second's next answer holds it, still made of no part
    # of its own (the change made them, in its transaction).
    with first.app_context():
        session = db.session(write=True)
        rally = session.get(Rally, ids[0])
        lifecycle.edit(session, rally, {"title": "Зменены загаловак"}, actor="moderator:test")
        lifecycle.perform(session, session.get(Rally, ids[1]), "moderator:test", "cancel")
    builds.clear()  # the change made its parts: every worker reads them
    forget_documents(first)
    client = second.test_client()
    assert "Зменены загаловак".encode() in client.get("/rallies.csv?when=all&lang=ru").data
    assert "Зменены загаловак" in client.get("/api/rallies.geojson?when=all").get_data(True)
    assert b"STATUS:CANCELLED" in client.get("/rallies.ics?when=all&lang=be").data
    assert builds == []
    for app in (first, second):
        app.extensions["mapapp.db"]["engine"].dispose()


def test_a_new_release_serves_nothing_an_older_one_made(database, builds, monkeypatch) -> None:
    """A deploy that writes outputs differently (here: a CSV row with a word changed) must
    serve no document, part or ETag of the release before it, on the same data version."""
    old = make_app(database, BASE_URL=BASE)
    some_rallies(old)
    client = old.test_client()
    etags = {path: client.get(path).headers["ETag"] for path in FEEDS}
    assert b"NEW RELEASE" not in client.get("/rallies.csv?when=all&lang=ru").data
    builds.clear()

    public.rendering_fingerprint.cache_clear()
    monkeypatch.setattr(public, "RENDERING_SOURCES", ())  # another release's fingerprint
    line = csvtable._csv_line
    monkeypatch.setattr(
        csvtable, "_csv_line", lambda values: line(values)[:-2] + b",NEW RELEASE\r\n"
    )
    new = make_app(database, BASE_URL=BASE)  # the new release's worker, same database
    client = new.test_client()
    assert b"NEW RELEASE" in client.get("/rallies.csv?when=all&lang=ru").data
    for path, etag in etags.items():
        response = client.get(path, headers={"If-None-Match": etag})
        assert response.status_code == 200 and response.headers["ETag"] != etag, path
    assert builds  # made anew, not read from the older release's parts
    public.rendering_fingerprint.cache_clear()
    for app in (old, new):
        app.extensions["mapapp.db"]["engine"].dispose()


def test_the_reveal_is_served_from_parts_made_before_it(database, builds, monkeypatch) -> None:
    first = make_app(database, BASE_URL=BASE)
    some_rallies(first)
    before = first.test_client().get("/rallies.csv?when=all&lang=be").data
    assert SECRET_PLACE.encode() not in before
    builds.clear()
    later = datetime.now(UTC) + timedelta(days=3)  # past the reveal time
    for module in ("mapapp.views.feeds", "mapapp.views.api"):
        monkeypatch.setattr(f"{module}.utcnow", lambda: later)
    second = make_app(database, BASE_URL=BASE)
    client = second.test_client()
    assert SECRET_PLACE.encode() in client.get("/rallies.csv?when=all&lang=be").data
    assert SECRET_PLACE.encode() in client.get("/rallies.ics?when=all&lang=en").data
    assert SECRET_PLACE in client.get("/api/rallies.geojson?when=all&lang=be").get_data(True)
    assert builds == []
    for app in (first, second):
        app.extensions["mapapp.db"]["engine"].dispose()


def test_parts_a_worker_made_are_kept_for_the_next(database, builds) -> None:
    """Without a declared address the feeds' links follow the request's: the first worker
    asked makes those parts and writes them back; the next one reads them."""
    first = make_app(database)
    some_rallies(first)
    builds.clear()
    warm = answers(first)
    assert "rally_event" in builds  # no change had made the calendar for this address
    builds.clear()
    forget_documents(first)
    second = make_app(database)
    assert answers(second) == warm
    assert builds == []
    for app in (first, second):
        app.extensions["mapapp.db"]["engine"].dispose()


def test_a_rally_taken_down_leaves_no_parts(app) -> None:
    rally_id = add_rally(app)
    with app.app_context():
        session = db.session(write=True)
        count = select(func.count()).where(PublishedPart.rally_id == rally_id)
        assert session.scalar(count) > 0
        lifecycle.perform(
            session, session.get(Rally, rally_id), "moderator:test", "reject", reason="test"
        )
        assert session.scalar(count) == 0


def test_a_worker_keeps_parts_within_its_budget(app, monkeypatch) -> None:
    """However many languages, formats and filters are asked for, a worker keeps at most
    PART_BUDGET bytes of parts (the rest is read again from the table when a chunk must be
    compressed), and answers alike."""
    for n in range(20):
        add_rally(app, title=f"Пікет {n} " + "x" * 150)
    client = app.test_client()
    first = {path: client.get(path).data for path in FEEDS}
    monkeypatch.setattr(EntryCache, "PART_BUDGET", 12_000)
    fresh = make_app(app.config["DATABASE_URL"])
    client = fresh.test_client()
    for path in FEEDS + FEEDS:
        forget_documents(app)
        fresh.extensions.pop("mapapp.geojson_cache", None)
        fresh.extensions.pop("mapapp.feed_cache", None)
        assert client.get(path).data == first[path]
        with fresh.app_context():
            cache = entry_cache()
            held = {}
            for entry in cache.entries.values():
                for context, part in entry.parts.items():
                    held[context] = held.get(context, 0) + part_size(part)
            # A strict bound: past it even the parts the last build read go (at 100,000
            # rallies one calendar's parts are more than the budget).
            assert sum(held.values()) <= 12_000
            assert len(held) < 5  # of the seven contexts asked for
    fresh.extensions["mapapp.db"]["engine"].dispose()


def test_backup_and_restore_keep_the_parts(app, tmp_path) -> None:
    from mapapp.domain.backup import backup, restore

    add_rally(app)
    with app.app_context():
        engine = db.engine()
        count = select(func.count()).select_from(PublishedPart)
        with engine.connect() as connection:
            kept = connection.scalar(count)
        assert kept > 0
        backup(engine, tmp_path / "copy.sqlite3")
        with engine.begin() as connection:
            connection.execute(PublishedPart.__table__.delete())
        restore(engine, tmp_path / "copy.sqlite3")
        with engine.connect() as connection:
            assert connection.scalar(count) == kept


@pytest.fixture
def compressions(monkeypatch) -> list[int]:  # noqa: ANN001
    """The size of every text compressed into a chunk of a document, from now on."""
    made: list[int] = []
    original = parts.deflate

    def counting(data: bytes, before: bytes = b"", level: int = parts.LEVEL) -> bytes:
        made.append(len(data))
        return original(data, before, level)

    monkeypatch.setattr(parts, "deflate", counting)
    return made


def test_a_new_worker_compresses_nothing_another_compressed(database, compressions) -> None:
    first = make_app(database, BASE_URL=BASE)
    ids = some_rallies(first)
    warm = answers(first)
    assert compressions  # the first worker compressed its documents' chunks...
    with first.app_context():
        stored = db.session().scalar(select(func.count()).select_from(PublishedChunk))
    assert stored > 0  # ... and shared them
    compressions.clear()
    forget_documents(first)

    second = make_app(database, BASE_URL=BASE)  # a new worker, or another server
    assert answers(second) == warm  # the same gzip bytes, joined from the shared chunks
    assert compressions == []
    for key, body in warm.items():  # each gzip decodes to the plain answer
        if key.endswith(str(GZIP)):
            assert gzip.decompress(body) == warm[key.removesuffix(str(GZIP)) + "{}"]

    # After a change through the first, one worker compresses the chunks the change made
    # new; a third worker then compresses none and serves the same bytes as the second.
    with first.app_context():
        session = db.session(write=True)
        rally = session.get(Rally, ids[0])
        lifecycle.edit(session, rally, {"title": "Зменены загаловак"}, actor="moderator:test")
    compressions.clear()
    forget_documents(first)
    after = answers(second)
    assert compressions
    zipped = [gzip.decompress(body) for key, body in after.items() if key.endswith(str(GZIP))]
    assert any("Зменены загаловак".encode() in body for body in zipped)
    compressions.clear()
    forget_documents(first)
    third = make_app(database, BASE_URL=BASE)
    assert answers(third) == after
    assert compressions == []
    for app in (first, second, third):
        app.extensions["mapapp.db"]["engine"].dispose()


def test_old_chunks_go_when_new_ones_are_saved(app) -> None:
    with app.app_context():
        store = partstore.SharedChunks(lambda: db.session().connection(), db.writing_engine)
        store.save({b"a" * 32: b"old"})
        with db.writing_engine().begin() as connection:
            connection.execute(
                PublishedChunk.__table__.update().values(
                    made_at=datetime.now(UTC) - timedelta(days=partstore.CHUNK_DAYS + 1)
                )
            )
        store.save({b"b" * 32: b"new", b"a" * 32: b"again"})
        assert store.load([b"a" * 32, b"b" * 32, b"c" * 32]) == {
            b"a" * 32: b"again",
            b"b" * 32: b"new",
        }
        store.save({b"b" * 32: b"other"})  # one already kept stays as it is
        assert store.load([b"b" * 32]) == {b"b" * 32: b"new"}


def test_the_chunks_kept_are_bounded(database, monkeypatch) -> None:
    """Random filters save chunks no one had; past CHUNK_ROWS the oldest go (looked at on
    one save in PRUNE_EVERY), so a flood of new filters cannot fill the database's disk."""
    monkeypatch.setattr(partstore, "CHUNK_ROWS", 6)
    monkeypatch.setattr(partstore, "PRUNE_EVERY", 1)
    app = make_app(database)
    with app.app_context():
        store = partstore.SharedChunks(lambda: db.session().connection(), db.writing_engine)
        for n in range(10):
            store.save({bytes([n]) * 32: b"x", bytes([n + 100]) * 32: b"y"})
            time.sleep(0.002)  # each save at a moment of its own
        with db.writing_engine().connect() as connection:
            left = connection.scalar(select(func.count()).select_from(PublishedChunk))
        assert left == 6
        # The newest stay: the last three saves' chunks.
        assert len(store.load([bytes([n]) * 32 for n in range(10)])) == 3
    app.extensions["mapapp.db"]["engine"].dispose()


def test_the_preparation_keeps_the_chunks_it_reads_newest(app) -> None:
    """The chunks the common documents are joined from are marked as new when a preparation
    reads them (at most once a day each), so CHUNK_ROWS and CHUNK_DAYS drop visitors'
    filters' chunks before them; a visitor's read marks nothing."""
    some_rallies(app)
    assert caching.prepare_documents(app) > 0

    def forget_all() -> None:  # a new worker: nothing in memory, no whole document kept
        for name in [n for n in app.extensions if n.endswith("_cache") or "chunks" in n]:
            app.extensions.pop(name)
        with app.app_context(), db.writing_engine().begin() as connection:
            connection.execute(PublishedDocument.__table__.delete())

    def fresh() -> int:
        with app.app_context():
            return db.session().scalar(
                select(func.count())
                .select_from(PublishedChunk)
                .where(PublishedChunk.made_at > datetime.now(UTC) - timedelta(days=1))
            )

    with app.app_context(), db.writing_engine().begin() as connection:
        old = datetime.now(UTC) - timedelta(days=3)
        connection.execute(PublishedChunk.__table__.update().values(made_at=old))
    forget_all()
    assert app.test_client().get("/api/rallies.geojson", headers=GZIP).status_code == 200
    assert fresh() == 0  # a visitor read the common document's chunks: none marked
    forget_all()
    assert caching.prepare_documents(app) > 0
    assert fresh() > 0  # the preparation read them: marked as new


@pytest.fixture
def part_reads(monkeypatch) -> list[str]:  # noqa: ANN001
    """Every read of rallies' parts from the shared store, by context, from now on."""
    read: list[str] = []
    original = partstore.load

    def counting(connection, entries, context):  # noqa: ANN001, ANN202
        read.append(context[0])
        return original(connection, entries, context)

    monkeypatch.setattr(partstore, "load", counting)
    return read


def test_a_new_worker_serves_a_document_another_built_whole(database, part_reads) -> None:
    first = make_app(database, BASE_URL=BASE)
    ids = some_rallies(first)
    warm = answers(first)
    with first.app_context():
        kept = db.session().scalar(select(func.count()).select_from(PublishedDocument))
    assert kept == len(FEEDS)  # each document once (its plain form is its gzip's text)

    second = make_app(database, BASE_URL=BASE)  # a new worker, or another server
    # Built from the rallies' parts, the new worker would read them: it reads no part.
    second.extensions["mapapp.public_entries"] = EntryCache()
    part_reads.clear()
    assert answers(second) == warm
    assert part_reads == []

    # A change through the first moves the data version: the documents of the old one go
    # when the next is kept, and the next answer holds the change.
    with first.app_context():
        session = db.session(write=True)
        rally = session.get(Rally, ids[0])
        lifecycle.edit(session, rally, {"title": "Зменены загаловак"}, actor="moderator:test")
    after = answers(second)
    assert "Зменены загаловак".encode() in after["/rallies.csv?when=all&lang=ru{}"]
    part_reads.clear()
    assert answers(make_app(database, BASE_URL=BASE)) == after
    assert part_reads == []
    with first.app_context():
        versions = db.session().scalars(select(PublishedDocument.version).distinct()).all()
    assert len(versions) == 1
    for app in (first, second):
        app.extensions["mapapp.db"]["engine"].dispose()


def test_random_filters_keep_a_bounded_number_of_documents(app, monkeypatch) -> None:
    monkeypatch.setattr(partstore, "DOCUMENT_COUNT", 3)
    some_rallies(app)
    client = app.test_client()
    for day in range(1, 8):
        response = client.get(f"/rallies.csv?when=all&lang=be&from=2020-01-0{day}")
        assert response.status_code == 200
    with app.app_context():
        kept = db.session().scalar(select(func.count()).select_from(PublishedDocument))
    assert kept == 3


# The common documents a change prepares (mapapp.web.caching.COMMON_GEOJSON and COMMON_FEEDS).
COMMON = [
    "/api/rallies.geojson",
    "/api/rallies.geojson?lang=ru",
    "/api/rallies.geojson?fields=map&lang=be",
    "/rallies.ics?lang=be",
    "/rallies.ics?lang=en",
    "/rallies.csv?lang=ru",
    "/api/rallies.geojson?when=all&fields=map&lang=be",
    "/rallies.ics?when=all&lang=be",
]


def fresh_worker_answers(database: str, builds: list, part_reads: list) -> dict[str, bytes]:
    """A new app instance's first answers of the common documents (gzipped), asserting it
    built none of them: no part made, none read (it read each stored document whole)."""
    second = make_app(database, BASE_URL=BASE)  # a new worker, or another server
    second.extensions["mapapp.public_entries"] = EntryCache()
    builds.clear()
    part_reads.clear()
    client = second.test_client()
    found = {}
    for path in COMMON:
        response = client.get(path, headers=GZIP)
        assert response.status_code == 200, path
        found[path] = gzip.decompress(response.data)
    assert builds == []
    assert part_reads == []
    second.extensions["mapapp.db"]["engine"].dispose()
    return found


def test_a_change_prepares_the_common_documents_for_every_worker(
    database, builds, part_reads
) -> None:
    first = make_app(database, BASE_URL=BASE, PREPARE_DOCUMENTS=True)
    ids = some_rallies(first)
    caching.wait_prepared(first)
    # A change outside a request (a command, the channels' workers): a thread prepares the
    # new version's common documents, so another worker's next answer reads them whole.
    with first.app_context():
        session = db.session(write=True)
        rally = session.get(Rally, ids[0])
        lifecycle.edit(session, rally, {"title": "Зменены загаловак"}, actor="moderator:test")
    caching.wait_prepared(first)
    after = fresh_worker_answers(database, builds, part_reads)
    assert "Зменены загаловак".encode() in after["/rallies.csv?lang=ru"]
    assert "Зменены загаловак".encode() in after["/api/rallies.geojson"]
    with first.app_context():
        kept = db.session().execute(select(PublishedDocument.version)).scalars().all()
        version = public.data_version(db.session())
    assert set(kept) == {version}  # the version the change made, and only it
    assert len(kept) >= len(caching.COMMON_GEOJSON) + len(caching.COMMON_FEEDS)
    first.extensions["mapapp.db"]["engine"].dispose()


def test_a_moderators_change_prepares_them_after_its_answer(
    app, builds, part_reads, monkeypatch
) -> None:
    from test_moderate import PASSWORD, csrf, log_in

    app.config["PREPARE_DOCUMENTS"] = True
    ids = some_rallies(app)
    caching.wait_prepared(app)
    monkeypatch.setenv("MAPAPP_MODERATOR_PASSWORD", PASSWORD)
    assert app.test_cli_runner().invoke(args=["create-moderator", "alesia"]).exit_code == 0
    client = app.test_client()
    log_in(client)
    started = []
    original = caching._start

    def start(app: Flask) -> None:
        started.append(has_request_context())  # False: the answer has been sent
        original(app)

    monkeypatch.setattr(caching, "_start", start)
    token = csrf(client, f"/moderate/rallies/{ids[1]}")
    response = client.post(f"/moderate/rallies/{ids[1]}/cancel", data={"csrf_token": token})
    assert response.status_code == 303
    assert started == []  # not while the answer is made...
    response.close()  # ...but once the server has sent it (WSGI's close)
    caching.wait_prepared(app)
    assert started == [False]
    database = str(app.extensions["mapapp.db"]["engine"].url)
    after = fresh_worker_answers(database, builds, part_reads)
    assert b"STATUS:CANCELLED" in after["/rallies.ics?lang=be"]


def test_a_serving_worker_prepares_in_a_child_process(
    database, builds, part_reads, monkeypatch
) -> None:
    """A worker that serves requests prepares the common documents in a short-lived child
    process (PREPARE_IN_CHILD, on by default), so its own heap never holds a preparation:
    here the worker's own prepare_documents fails if called, and the documents of the new
    version are kept all the same, built with the worker's settings (its test_config's
    BASE_URL, given on the child's stdin) by a process that has exited."""
    site = "http://map.example.by"
    first = make_app(database, BASE_URL=site, PREPARE_DOCUMENTS=True)
    assert first.config["PREPARE_IN_CHILD"]
    ids = some_rallies(first)
    caching.wait_prepared(first)
    assert first.test_client().get("/healthz").status_code == 200  # now it serves visitors
    called = []
    monkeypatch.setattr(caching, "prepare_documents", lambda app: called.append(app))
    with first.app_context():
        session = db.session(write=True)
        rally = session.get(Rally, ids[0])
        lifecycle.edit(session, rally, {"title": "У дзіцяці"}, actor="moderator:test")
    caching.wait_prepared(first)
    assert called == []
    with first.app_context():
        version = public.data_version(db.session())
        kept = dict(
            db.session().execute(select(PublishedDocument.key, PublishedDocument.version)).all()
        )
    assert set(kept.values()) == {version}
    assert len(kept) >= len(caching.COMMON_GEOJSON) + len(caching.COMMON_FEEDS)
    second = make_app(database, BASE_URL=site)
    second.extensions["mapapp.public_entries"] = EntryCache()
    builds.clear()
    part_reads.clear()
    calendar = second.test_client().get("/rallies.ics?lang=be", base_url=site)
    assert "У дзіцяці".encode() in calendar.data
    assert f"{site}/rallies/{ids[0]}".encode() in calendar.data.replace(b"\r\n ", b"")
    assert builds == [] and part_reads == []  # read whole: the child kept it
    caching.wait_prepared(first)
    state = caching._preparing(first)
    if state.timer is not None:
        state.timer.cancel()
    for app in (first, second):
        app.extensions["mapapp.db"]["engine"].dispose()


def test_one_preparing_child_a_database_at_a_time(database) -> None:
    """The workers of every server of a database prepare in children one at a time (on
    SQLite a lock on a file beside the database, on PostgreSQL an advisory lock): while
    another worker's child holds it, a worker's preparation waits, and it runs once the lock
    is let go; past its timeout it gives up waiting."""
    import fcntl
    import threading

    app = make_app(database)
    some_rallies(app)
    done: list[int] = []
    engine = app.extensions["mapapp.db"]["engine"]
    if engine.dialect.name == "postgresql":
        holder = engine.connect()
        holder.scalar(text(f"SELECT pg_advisory_lock({preparer.ADVISORY_KEY})"))
        holder.commit()

        def release() -> None:
            holder.scalar(text(f"SELECT pg_advisory_unlock({preparer.ADVISORY_KEY})"))
            holder.close()
    else:
        holder = open(preparer.preparing_lock(app), "a+b")  # noqa: SIM115
        fcntl.flock(holder, fcntl.LOCK_EX)

        def release() -> None:
            fcntl.flock(holder, fcntl.LOCK_UN)
            holder.close()

    with pytest.raises(RuntimeError, match="held the lock too long"):
        preparer.prepare_in_child(app, timeout=1)
    waiting = threading.Thread(target=lambda: done.append(preparer.prepare_in_child(app)))
    waiting.start()
    waiting.join(12)  # a child alone prepares these in 2-4 s
    assert waiting.is_alive() and done == []
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(PublishedDocument)) == 0
    release()
    waiting.join(120)
    assert done == [len(caching.COMMON_GEOJSON) + len(caching.COMMON_FEEDS)]
    engine.dispose()


def test_a_child_whose_worker_is_gone_stops(app, monkeypatch) -> None:
    """A preparing child checks before each document that the worker that started it still
    runs: orphaned (its worker killed), it stops instead of running on without its time
    limit, its log and its lock; and a worker that exits ends its running children."""
    some_rallies(app)
    monkeypatch.setenv(preparer.PARENT, str(os.getppid()))
    assert preparer.parent_alive()
    monkeypatch.setenv(preparer.PARENT, "1")  # not this process's parent
    assert not preparer.parent_alive()
    assert caching.prepare_documents(app, preparer.parent_alive) == 0
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    preparer._running.add(child)
    preparer._end_children()
    assert child.wait(10) != 0
    preparer._running.discard(child)


def test_a_worker_that_starts_prepares_what_no_one_kept(database, builds, part_reads) -> None:
    """A worker that has just started (a deploy, a reload, a respawn) prepares the current
    version's common documents when no process kept them all, as when the worker preparing
    them was stopped mid-way (its child ends with it): another worker's answers then read
    them whole. The lock file of the database's preparing child is its owner's alone."""
    first = make_app(database, BASE_URL=BASE)
    some_rallies(first)  # no preparation: PREPARE_DOCUMENTS is off while they are made
    worker = make_app(database, BASE_URL=BASE, PREPARE_DOCUMENTS=True)
    with worker.app_context():
        assert db.session().scalar(select(func.count()).select_from(PublishedDocument)) == 0
    assert worker.test_client().get("/healthz").status_code == 200  # its first request
    common = len(caching.COMMON_GEOJSON) + len(caching.COMMON_FEEDS)
    deadline = time.monotonic() + 120
    while True:  # prepared off the request path, in a child
        with worker.app_context():
            kept = db.session().scalar(select(func.count()).select_from(PublishedDocument))
        if kept >= common:
            break
        assert time.monotonic() < deadline, f"{kept} of {common} documents kept"
        time.sleep(0.2)
    caching.wait_prepared(worker, 120)
    fresh_worker_answers(database, builds, part_reads)  # asserts nothing built, nothing read
    caching.wait_prepared(worker)
    lock = preparer.preparing_lock(worker)
    if lock is not None:
        assert lock.exists() and lock.stat().st_mode & 0o077 == 0
    state = caching._preparing(worker)
    if state.timer is not None:
        state.timer.cancel()
    for app in (first, worker):
        app.extensions["mapapp.db"]["engine"].dispose()


def test_a_failed_child_only_logs(app, monkeypatch, caplog) -> None:
    """A child that cannot prepare (here: a database it cannot open) is logged by the worker
    as a failed preparation; the worker goes on serving, and visitors' requests build."""
    app.config.update(PREPARE_DOCUMENTS=True, DATABASE_URL="sqlite:////nonexistent/dir/x.db")
    with pytest.raises(RuntimeError, match="exited with"):
        preparer.prepare_in_child(app)
    state = caching._preparing(app)
    state.serving = True
    caching._start(app)
    caching.wait_prepared(app)
    assert "could not prepare the common documents" in caplog.text
    assert app.test_client().get("/api/rallies.geojson").status_code == 200


def test_a_subscription_without_a_language_reads_the_prepared_document(
    database, builds, part_reads
) -> None:
    """/rallies.ics and /rallies.csv with no ?lang= (what /rallies links to, what partners'
    subscriptions use) are the documents of the language the request negotiates: a new
    worker reads the one the preparation kept, whole, and the rallies' links carry that
    language (they were joined from parts no one had made: 1.7 s at 10,000 rallies)."""
    first = make_app(database, BASE_URL=BASE)
    ids = some_rallies(first)
    caching.prepare_documents(first)
    second = make_app(database, BASE_URL=BASE)
    second.extensions["mapapp.public_entries"] = EntryCache()
    builds.clear()
    part_reads.clear()
    client = second.test_client()
    for lang in ("ru", "en"):
        for path in ("/rallies.ics", "/rallies.csv?when=all"):
            asked = client.get(path, headers={**GZIP, "Accept-Language": lang})
            named = client.get(path + ("&" if "?" in path else "?") + f"lang={lang}", headers=GZIP)
            assert asked.status_code == 200 and asked.data == named.data, (path, lang)
            assert asked.headers["ETag"] == named.headers["ETag"]
            body = gzip.decompress(asked.data).replace(b"\r\n ", b"")
            assert f"{BASE}/rallies/{ids[0]}?lang={lang}".encode() in body
    assert builds == [] and part_reads == []
    for app in (first, second):
        app.extensions["mapapp.db"]["engine"].dispose()


def test_a_document_of_an_older_version_is_not_kept(app) -> None:
    """A document built from a snapshot older than the last change is not kept, and the newer
    version's documents stay."""
    ids = some_rallies(app)
    with app.app_context():
        older = public.data_version(db.session())
    with app.app_context():
        session = db.session(write=True)
        lifecycle.perform(session, session.get(Rally, ids[1]), "moderator:test", "cancel")
    with app.app_context():
        newer = public.data_version(db.session())
        engine = db.writing_engine()
        assert partstore.save_document(engine, "feed:new", newer, b"new")
        assert not partstore.save_document(engine, "feed:old", older, b"old")
    with app.app_context():
        kept = db.session().execute(select(PublishedDocument.key)).scalars().all()
    assert kept == ["feed:new"]


def test_a_worker_prepares_the_documents_of_a_version_that_moves_by_itself(
    database, builds, part_reads
) -> None:
    """The data version also moves with no change at all: here a reveal time passing. A
    worker that has served one request keeps a timer for that moment and prepares the new
    version's common documents shortly after it, with no request and no change, so another
    worker's first answers after it read them whole (mapapp.web.caching.keep_next_boundary)."""
    first = make_app(database, BASE_URL=BASE)
    add_rally(first)
    revealed = datetime.now(UTC) + timedelta(seconds=6)
    unrevealed_rally(first, revealed - datetime.now(UTC))
    watcher = make_app(database)  # reads the table and the version; serves no request
    with watcher.app_context():
        before = public.data_version(db.session())
    first.config["PREPARE_DOCUMENTS"] = True
    # One request: the worker learns when the version next moves (nothing prepared yet).
    assert first.test_client().get("/api/rallies.geojson").status_code == 200
    assert datetime.now(UTC) < revealed, "too slow a machine for this test's margin"
    # Nothing asked from here on. Past the reveal (and the worker's random delay, and its
    # preparation on a loaded machine), the new version's common documents are kept.
    common = len(caching.COMMON_GEOJSON) + len(caching.COMMON_FEEDS)
    deadline = time.monotonic() + 6 + 90
    while True:
        with watcher.app_context():
            version = public.data_version(db.session())
            kept = db.session().scalar(
                select(func.count()).where(PublishedDocument.version == version)
            )
        if version != before and kept >= common:
            break
        assert time.monotonic() < deadline, f"{kept} of {common} documents kept for {version}"
        time.sleep(0.2)
    caching.wait_prepared(first)
    after = fresh_worker_answers(database, builds, part_reads)
    assert SECRET_PLACE.encode() in after["/api/rallies.geojson"]
    assert SECRET_PLACE.encode() in after["/rallies.ics?when=all&lang=be"]
    # The preparation waits for the next moment (the rally turning past, hours ahead).
    state = caching._preparing(first)
    assert state.timer is not None and state.boundary > datetime.now(UTC) + timedelta(hours=4)
    state.timer.cancel()
    caching.wait_prepared(first)
    for app in (first, watcher):
        app.extensions["mapapp.db"]["engine"].dispose()


def test_a_worker_learns_a_sooner_boundary_another_process_brought(database) -> None:
    """A boundary brought by a change made elsewhere (another worker or server, an import, the
    Telegram worker: processes whose preparation keeps no timer for this one) is learnt by a
    worker at its next request that reads the new data version, and its timer is set for it;
    without that, no worker would prepare at that moment, and at 100,000 rallies the first
    visitors after a reveal would wait seconds for each `when=all` document."""
    worker = make_app(database, BASE_URL=BASE, PREPARE_DOCUMENTS=True)
    add_rally(worker)  # starts next June: the worker's first boundary
    caching.wait_prepared(worker, 120)  # its own change's preparation, done before it serves
    state = caching._preparing(worker)
    client = worker.test_client()

    def boundary_after_a_request() -> datetime | None:
        assert client.get("/api/rallies.geojson?when=all").status_code == 200
        deadline = time.monotonic() + 20
        while state.rescheduling or state.timer is None:
            assert time.monotonic() < deadline, "no timer set"
            time.sleep(0.05)
        return state.boundary

    first = boundary_after_a_request()
    assert first is not None and first > datetime.now(UTC) + timedelta(days=30)
    other = make_app(database, BASE_URL=BASE)  # another process, serving no request
    unrevealed_rally(other, timedelta(hours=1))
    expected = datetime.now(UTC) + timedelta(hours=1)
    deadline = time.monotonic() + 20
    while abs((boundary_after_a_request() - expected).total_seconds()) > 5:
        assert time.monotonic() < deadline, f"still waiting for {state.boundary}"
        time.sleep(0.1)
    # A later boundary does not replace a sooner one the worker waits for.
    add_rally(other, starts_at=datetime.now(UTC) + timedelta(days=3))
    assert abs((boundary_after_a_request() - expected).total_seconds()) <= 5
    caching.wait_prepared(worker)
    state.timer.cancel()
    for app in (worker, other):
        app.extensions["mapapp.db"]["engine"].dispose()


def test_a_preparation_leaves_alone_what_another_process_kept(app, monkeypatch) -> None:
    """After a boundary every worker prepares: those after the first find its documents
    kept and neither read them nor build them again."""
    some_rallies(app)
    common = len(caching.COMMON_GEOJSON) + len(caching.COMMON_FEEDS)
    assert caching.prepare_documents(app) == common
    other = make_app(app.config["DATABASE_URL"])
    loads = []
    monkeypatch.setattr(partstore, "load_document", lambda *found: loads.append(found))
    assert caching.prepare_documents(other) == common
    assert loads == []
    assert not [kept for name, kept in other.extensions.items() if name.endswith("_cache") and kept]
    other.extensions["mapapp.db"]["engine"].dispose()


def test_a_preparation_keeps_its_documents_for_every_worker_not_in_its_own_memory(
    app, builds, part_reads
) -> None:
    """The documents a preparation builds are kept in the shared store, where every worker
    reads them whole; the preparer does not keep them among its memoized results too (at
    100,000 rallies they filled MEMO_TOTAL, 64 MiB, in each worker that prepared after a
    boundary): its next visitor's answer is read whole, not built again."""
    some_rallies(app)
    common = len(caching.COMMON_GEOJSON) + len(caching.COMMON_FEEDS)
    assert caching.prepare_documents(app) == common
    assert not [kept for name, kept in app.extensions.items() if name.endswith("_cache") and kept]
    builds.clear()
    part_reads.clear()
    response = app.test_client().get("/rallies.ics?lang=be", headers=GZIP)
    assert response.status_code == 200
    assert b"BEGIN:VCALENDAR" in gzip.decompress(response.data)
    assert builds == [] and part_reads == []
    assert [name for name, kept in app.extensions.items() if name.endswith("_cache") and kept]


def test_one_boundary_timer_only_in_a_worker_that_prepares(app, monkeypatch) -> None:
    """The timer for the next boundary: none in a process that has served no request (a
    command: no timer keeps it alive or prepares there) or with PREPARE_DOCUMENTS off; a daemon;
    one at a time, a nearer boundary's replacing it after the change's preparation; and no
    sooner than BOUNDARY_GAP after the last boundary's run."""
    unrevealed_rally(app, timedelta(hours=1))
    state = caching._preparing(app)
    caching.keep_next_boundary(app)
    assert state.timer is None  # a command
    state.serving = True
    caching.keep_next_boundary(app)
    assert state.timer is None  # PREPARE_DOCUMENTS off
    app.config["PREPARE_DOCUMENTS"] = True
    caching.keep_next_boundary(app)
    older = state.timer
    assert older is not None and older.daemon and older.is_alive()
    assert 3600 - 60 < older.interval < 3600 + caching.SPREAD
    caching.keep_next_boundary(app)  # the same boundary: the same timer
    assert state.timer is older
    unrevealed_rally(app, timedelta(minutes=30))  # a change: prepared, then a nearer boundary
    caching.wait_prepared(app)
    older.join(5)
    assert not older.is_alive()
    assert state.timer is not None and state.timer is not older
    assert 1800 - 60 < state.timer.interval < 1800 + caching.SPREAD
    monkeypatch.setattr(caching, "BOUNDARY_GAP", 7200.0)
    state.last_boundary = time.monotonic()  # a boundary's run has just started
    state.boundary = None
    caching.keep_next_boundary(app)
    assert 7200 - 60 < state.timer.interval < 7200 + caching.SPREAD
    state.timer.cancel()


def test_a_document_built_across_a_boundary_does_not_drop_the_newer_ones(app) -> None:
    """A document of a version that moved by itself while it was built (a reveal time passed)
    is not kept: keeping it would drop the documents the preparer kept for the newer one."""
    add_rally(app)
    unrevealed_rally(app, timedelta(seconds=2))
    with app.app_context():
        older = public.data_version(db.session())
    deadline = time.monotonic() + 30
    while True:
        with app.app_context():
            newer = public.data_version(db.session())
        if newer != older:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    with app.app_context():
        assert partstore.save_document(db.writing_engine(), "feed:new", newer, b"new")
    with app.test_request_context("/"):
        made = caching.Prepared("feed", "old", gzip.compress(b"old"))
        assert caching.shared_document("feed", "old", older, lambda: made) is made
    with app.app_context():
        kept = db.session().execute(select(PublishedDocument.key)).scalars().all()
    assert kept == ["feed:new"]


def test_prepare_parts_makes_a_new_releases_parts_and_documents(
    database, builds, part_reads
) -> None:
    first = make_app(database, BASE_URL=BASE)
    some_rallies(first)
    # As after a deploy: no part or document of this release yet.
    with first.app_context(), db.writing_engine().begin() as connection:
        connection.execute(PublishedPart.__table__.delete())
        connection.execute(PublishedDocument.__table__.delete())
    result = first.test_cli_runner().invoke(args=["prepare-parts"])
    assert result.exit_code == 0, result.output
    assert "Parts made for 8 rallies" in result.output
    fresh_worker_answers(database, builds, part_reads)
    # Run again, it finds nothing to make.
    result = first.test_cli_runner().invoke(args=["prepare-parts"])
    assert "Parts made for 0 rallies" in result.output
    first.extensions["mapapp.db"]["engine"].dispose()


def test_a_worker_keeps_its_memoized_documents_of_all_kinds_within_one_budget(
    app, monkeypatch
) -> None:
    """Random filters over every kind of document (GeoJSON, the map's feed, calendars, CSV,
    their plain forms) keep at most MEMO_TOTAL bytes of memoized results in a worker, all
    kinds together, and every answer stays what it was."""
    some_rallies(app)
    client = app.test_client()
    paths = [
        f"{path}&from=2020-01-{day:02d}" for day in range(1, 11) for path in FEEDS[:1] + FEEDS[5:]
    ]
    first = {path: client.get(path).data for path in paths}
    largest = max(len(gzip.compress(data)) for data in first.values())
    monkeypatch.setattr(caching, "MEMO_TOTAL", 3 * largest)
    fresh = make_app(app.config["DATABASE_URL"])
    client = fresh.test_client()
    for path in paths:
        for headers in ({}, GZIP):
            response = client.get(path, headers=headers)
            plain = gzip.decompress(response.data) if headers else response.data
            assert plain == first[path]
            held = [
                caching.weight(value)
                for name, kept in fresh.extensions.items()
                if name.startswith("mapapp.") and name.endswith("_cache")
                for value in kept.values()
            ]
            assert sum(held) <= 3 * largest + max(held)
    fresh.extensions["mapapp.db"]["engine"].dispose()


def test_a_busy_document_is_left_out_and_the_others_are_prepared(app, monkeypatch) -> None:
    """A document whose build gate stays busy past BUILD_WAIT (a visitor's build of that
    kind) is left out of the preparation; the others are still prepared."""
    import threading

    some_rallies(app)
    busy = threading.BoundedSemaphore(1)
    busy.acquire()
    gate = caching.build_gate
    monkeypatch.setattr(caching, "BUILD_WAIT", 0.01)
    monkeypatch.setattr(caching, "build_gate", lambda name: busy if name == "feed" else gate(name))
    assert caching.prepare_documents(app) == len(caching.COMMON_GEOJSON)
    with app.app_context():
        kept = db.session().execute(select(PublishedDocument.key)).scalars().all()
    assert sorted(key.split(":")[0] for key in kept) == ["geojson"] * len(caching.COMMON_GEOJSON)


def test_a_worker_keeps_its_gzip_chunks_within_their_bytes_after_many_filters(
    app, monkeypatch
) -> None:
    """Random filters over every feed (each a document no one asked before) keep a worker's
    compressed chunks within the chunk cache's budget, found by 32-byte digests that hold no
    part's text alive; and every answer, made from kept or shared chunks, stays right."""
    import random

    for n in range(40):
        add_rally(
            app,
            title=f"Пікет {n} " + "x" * 200,
            starts_at=datetime(2030, 1, 1, 12, tzinfo=UTC) + timedelta(days=n),
        )
    client = app.test_client()
    rng = random.Random(3)
    paths = [
        f"{rng.choice(FEEDS)}&from=2030-01-{rng.randint(1, 20):02d}&to=2030-02-{day:02d}"
        for day in range(1, 25)
    ]
    first = {path: client.get(path).data for path in paths}
    monkeypatch.setattr(parts.ChunkCache, "__init__", _small_chunk_cache)
    fresh = make_app(app.config["DATABASE_URL"])
    client = fresh.test_client()
    for path in paths:
        forget_documents(app)
        fresh.extensions.pop("mapapp.geojson_cache", None)
        fresh.extensions.pop("mapapp.feed_cache", None)
        assert gzip.decompress(client.get(path, headers=GZIP).data) == first[path]
        kept = fresh.extensions["mapapp.gzip_chunks"]
        assert all(isinstance(key, bytes) and len(key) == 32 for key in kept.chunks)
        held = sum(len(made) + kept.OVERHEAD for made in kept.chunks.values())
        assert held == kept.size <= 4_000
    fresh.extensions["mapapp.db"]["engine"].dispose()


def _small_chunk_cache(self: parts.ChunkCache, budget: int = 0) -> None:
    import threading

    self.budget, self.size, self.chunks, self.lock = 4_000, 0, {}, threading.Lock()


def test_a_new_worker_joins_whole_documents_from_shared_chunks_reading_no_part(
    database, builds, part_reads
) -> None:
    """With no whole document kept (a filter no one kept, a version no one prepared), a new
    worker joins the GeoJSON, the calendar and the CSV from the chunks another compressed:
    the same bytes, gzipped and plain, and no part made or read (the chunks are named by the
    rallies' id, row version and reveal side, their CRCs combined); after a change it reads
    only parts of the chunks around the changed rally."""
    first = make_app(database, BASE_URL=BASE)
    ids = some_rallies(first)
    paths = [path for path in FEEDS if "fields=map" not in path]  # the map's feed: by text
    client = first.test_client()
    warm = {path: client.get(path, headers=GZIP).data for path in paths}
    forget_documents(first)
    second = make_app(database, BASE_URL=BASE)
    builds.clear()
    part_reads.clear()
    client = second.test_client()
    for path in paths:
        assert client.get(path, headers=GZIP).data == warm[path], path
    assert builds == [] and part_reads == []
    for path in paths:
        assert client.get(path).data == gzip.decompress(warm[path])

    with first.app_context():
        session = db.session(write=True)
        lifecycle.edit(session, session.get(Rally, ids[0]), {"title": "Новы"}, "moderator:test")
    forget_documents(first)
    third = make_app(database, BASE_URL=BASE)
    builds.clear()
    answer = third.test_client().get("/rallies.csv?when=all&lang=ru", headers=GZIP)
    assert "Новы".encode() in gzip.decompress(answer.data)
    assert builds == [] and part_reads == ["csv"]
    for app in (first, second, third):
        app.extensions["mapapp.db"]["engine"].dispose()


def test_a_filters_parts_are_read_by_key_in_batches_on_each_side_of_a_reveal(
    database, monkeypatch
) -> None:
    """partstore.load reads a filter's parts FETCH_IDS at a time on the driver's cursor: every
    batch and both sides of a reveal time are found, and a part of another row version or
    another side is not taken."""
    app = make_app(database, BASE_URL=BASE)
    ids = some_rallies(app)
    monkeypatch.setattr(partstore, "FETCH_IDS", 3)  # several batches a side
    table = PublishedPart.__table__
    context = ("geojson", "")
    with app.app_context():
        session = db.session()
        entries = public.public_entries(session, RallyFilter(when="all"))
        assert {entry.id for entry in entries} == set(ids)
        assert {entry.exact for entry in entries} == {True, False}  # the unrevealed one
        assert partstore.load(session.connection(), entries, context) == len(entries)
        rows = session.execute(
            select(table.c.rally_id, table.c.exact, table.c.data).where(
                table.c.context == partstore.context_name(context)
            )
        )
        kept = {(rally_id, bool(exact)): bytes(data) for rally_id, exact, data in rows}
        for entry in entries:
            assert entry.parts[context] == kept[entry.id, entry.exact]
        assert b"Danger" in b"".join(entry.parts[context] for entry in entries)
        # Another row version, or the side before a reveal a revealed rally never had:
        # nothing is taken.
        now = utcnow()
        shown = next(entry for entry in entries if entry.exact)
        stale = public.Entry.unread(shown.id, "older", None, now, 0)
        hidden = public.Entry.unread(shown.id, shown.revision, now + timedelta(days=1), now, 0)
        assert not hidden.exact
        assert partstore.load(session.connection(), [stale, hidden], context) == 0
        assert stale.parts == hidden.parts == {}
    app.extensions["mapapp.db"]["engine"].dispose()


def test_bulk_commands_leave_postgresql_statistics_to_plan_reads_from() -> None:
    """`prepare-parts` (a deploy's), `demo-data` and `import-rallies` analyze the tables they
    filled on PostgreSQL: on tables never analyzed (autovacuum off, not yet come round after
    the load, or a restored copy) PostgreSQL read a batch of 2,000 rallies' parts by a bitmap
    of their whole context, 1.1 s a batch at 100,000 rallies, and a worker's first calendar
    of a region took 8-13 s right after a start (mapapp.domain.db.analyze)."""
    app = make_app(fresh_postgres(), BASE_URL=BASE)

    def analyzed() -> set[str]:
        """The bulk tables analyzed by a command (autovacuum's own runs are not counted)."""
        with app.app_context(), db.writing_engine().connect() as connection:
            query = text(
                "SELECT relname FROM pg_stat_user_tables"
                " WHERE relname IN :names AND last_analyze IS NOT NULL"
            ).bindparams(bindparam("names", expanding=True))
            return set(connection.scalars(query, {"names": list(db.BULK_TABLES)}))

    some_rallies(app)  # through the app, as a moderator's changes: nothing analyzed
    assert analyzed() == set()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["prepare-parts"])
    assert result.exit_code == 0, result.output
    assert analyzed() == set(db.BULK_TABLES)
    for command in (["demo-data", "--count", "20", "--seed", "1"], ["import-rallies", "-"]):
        with app.app_context(), db.writing_engine().begin() as connection:
            connection.execute(text("SELECT pg_stat_reset()"))
        assert analyzed() == set()
        rows = "title,city,place,starts_at,description,lat,lon,status,contact\n"
        next_year = datetime.now(UTC).year + 1
        rows += f"Пікет,Гродна,Савецкая плошча,{next_year}-05-01T12:00,,,,approved,\n"
        result = runner.invoke(args=command, input=rows)
        assert result.exit_code == 0, result.output
        assert analyzed() == set(db.BULK_TABLES), command
    app.extensions["mapapp.db"]["engine"].dispose()


def real_sizes(cache: EntryCache) -> tuple[int, int]:
    """What the entries hold besides their parts' values, and those values, in bytes as
    sys.getsizeof counts each object once (the contexts, shared by every entry, left out)."""
    import sys

    seen: set[int] = set()
    for entry in cache.entries.values():
        seen.update(id(context) for context in entry.parts)
    parts = entries = 0
    for key, entry in cache.entries.items():
        for part in entry.parts.values():
            for item in (part, *part) if type(part) is tuple else (part,):
                if id(item) not in seen:
                    seen.add(id(item))
                    parts += sys.getsizeof(item)
        stack: list[object] = [entry, key, entry.parts]
        while stack:
            item = stack.pop()
            if id(item) in seen or item is None or isinstance(item, bool | type):
                continue
            seen.add(id(item))
            entries += sys.getsizeof(item)
            if isinstance(item, tuple):
                stack.extend(item)
            elif isinstance(item, public.Entry):
                stack += [getattr(item, name, None) for name in public.Entry.__slots__]
            elif isinstance(item, public.PublicRally):
                stack += list(vars(item).values())
    # The entries' dict's slots, shared out.
    return entries + sys.getsizeof(cache.entries), parts


def test_a_preparation_leaves_the_worker_within_its_budgets_at_real_size(app, monkeypatch) -> None:
    """A preparation of the common documents (a document of every rally among them) makes an
    entry and reads parts for every rally; once done, the worker keeps none (at 100,000
    rallies it held every entry, 37 MiB, and their parts' dicts and parts, 45-51 MiB where
    PART_BUDGET counted 30); after a visitor's document of every rally it keeps at most
    ENTRY_BUDGET bytes of entries and PART_BUDGET bytes of parts, at their real size, the
    estimates within a fifth of it; and answers alike."""
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo-data", "--count", "150", "--seed", "3"]).exit_code == 0
    common = len(caching.COMMON_GEOJSON) + len(caching.COMMON_FEEDS)
    # Without a limit first: what the estimates say against the real sizes.
    roomy = make_app(app.config["DATABASE_URL"])
    for site, path in caching.common_addresses(roomy):  # as visitors
        assert roomy.test_client().get(path, base_url=site).status_code == 200
    with roomy.app_context():
        cache = entry_cache()
        assert len(cache.entries) >= 100
        entries, held = real_sizes(cache)
        counted = sum(public.entry_size(entry) for entry in cache.entries.values())
        assert abs(counted - entries) <= entries / 5, (counted, entries)
        assert abs(sum(cache.held.values()) - held) <= held / 5, (cache.held, held)
        # and entries just made, known by their row versions alone (no part, no rally read)
        fresh = roomy.extensions["mapapp.public_entries"] = EntryCache()
        for entry in public.public_entries(db.session(), RallyFilter(when="all")):
            assert entry.token  # made by every document's build
        assert len(fresh.entries) == len(cache.entries)
        made, _ = real_sizes(fresh)
        counted = sum(public.entry_size(entry) for entry in fresh.entries.values())
        assert abs(counted - made) <= made / 5, (counted, made)
    roomy.extensions["mapapp.db"]["engine"].dispose()
    # With budgets of a third of that: kept within them, at real size.
    monkeypatch.setattr(EntryCache, "ENTRY_BUDGET", entries // 3)
    monkeypatch.setattr(EntryCache, "PART_BUDGET", held // 3)

    def forget_chunks() -> None:
        forget_documents(app)
        with app.app_context(), db.writing_engine().begin() as connection:
            connection.execute(PublishedChunk.__table__.delete())  # every part read again

    forget_chunks()
    assert caching.prepare_documents(app) == common
    with app.app_context():
        cache = entry_cache()
        # The preparer keeps none: its documents are read whole by every worker, itself too.
        assert cache.entries == {} and cache.held == {}
    # A visitor's documents of every rally, built from parts.
    forget_chunks()
    client = app.test_client()
    kept = {path: client.get(path).data for path in ("/rallies.csv?when=all", "/rallies.ics")}
    with app.app_context():
        cache = entry_cache()
        entries_now, held_now = real_sizes(cache)
        # Within the budgets as counted, and at real size within the estimates' fifth.
        counted = sum(public.entry_size(entry) for entry in cache.entries.values())
        assert counted <= entries // 3 and sum(cache.held.values()) <= held // 3
        assert 0 < entries_now <= 1.2 * (entries // 3)
        assert held_now <= 1.2 * (held // 3)
        assert sum(cache.held.values()) == sum(
            part_size(part) for entry in cache.entries.values() for part in entry.parts.values()
        )
    roomy = make_app(app.config["DATABASE_URL"])
    forget_documents(app)
    for path, body in kept.items():
        assert roomy.test_client().get(path).data == body
    roomy.extensions["mapapp.db"]["engine"].dispose()


def test_visitors_filters_cannot_take_the_common_documents_places(app, monkeypatch) -> None:
    """Random filters asked for the moment a data version appears (before its preparation
    has run) fill DOCUMENT_COUNT; the common documents the preparation makes are kept anyway
    (review of issue 27: a flood right after a change left none of them kept)."""
    monkeypatch.setattr(partstore, "DOCUMENT_COUNT", 3)
    some_rallies(app)
    client = app.test_client()
    for day in range(1, 6):
        assert client.get(f"/rallies.csv?when=all&lang=be&from=2020-01-0{day}").status_code == 200
    common = len(caching.common_addresses(app))
    assert caching.prepare_documents(app) == common
    with app.app_context():
        kept = db.session().scalar(select(func.count()).select_from(PublishedDocument))
    assert kept == 3 + common
