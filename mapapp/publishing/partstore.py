"""Every public rally's parts of the feeds, made once and shared by every worker and server.

A part (a GeoJSON Feature, the map feed's entry, a VEVENT, a CSV line; see
mapapp.publishing.parts) depends on the rally's published row, the side of its reveal time the
public is on, and its context: the format, the language, and for the calendar and the CSV the
address their links go to. Parts are kept in the table `published_part` beside
`published_rally`:

- made when a published row changes, in the transaction that changes it (`write_rallies`, run
  from a session hook installed by mapapp.web.caching), for every language, each declared
  address of the site, and both sides of a reveal time still to come: when the reveal time
  passes, the revealed parts are already there;
- found again only for the same row version (`revision`: its `updated_at`, which moves with
  every change of the row) and the same side of the reveal (`exact`);
- read by a worker that lacks them (`load`): a new worker, a respawned one, another server
  joins and concatenates ready bytes; whatever a worker still had to make itself (a
  mirror's address not declared, rows from before this table) it writes back (`save`), so the
  next worker reads it.

Rows of a rally taken down go with it (ON DELETE CASCADE).

The compressed chunks of whole documents (mapapp.publishing.parts) are shared the same way, in
`published_chunk`, by the digest of their content (`SharedChunks`): a worker that has just
started, or another server, reads the compressed bytes another compressed, and a document is
a join of ready bytes. A change makes only the chunks holding the changed rallies new (about
two a document); the first worker to build such a document compresses and saves them.
Chunks older than CHUNK_DAYS go when new ones are saved, and the oldest past CHUNK_ROWS (one
still used is made again once).

Whole gzipped documents are kept too (`published_document`, by kind and strong ETag), only of
the current data version and at most DOCUMENTS of them, DOCUMENT_BYTES in all: a worker that
has just started serves a document another built (the common filters: no filter, a region, a
`when`) without reading a rally; past the bound, documents are built from parts as before.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from mapapp.domain.models import (
    PublishedChunk,
    PublishedDocument,
    PublishedPart,
    PublishedRally,
    utcnow,
)
from mapapp.places.locale import LANGUAGES
from mapapp.publishing.csvtable import csv_row
from mapapp.publishing.geojson import feature_bytes, in_language
from mapapp.publishing.ics import event_bytes
from mapapp.publishing.mapfeed import MAP_PART, map_part
from mapapp.publishing.public import (
    COLUMN_NAMES,
    COLUMNS,
    KEY_COLUMNS,
    VERSION_READ,
    Entry,
    PublicRally,
    project,
    project_side,
    raw_revision,
    rendering_fingerprint,
)
from mapapp.publishing.words import feed_notes

TABLE = PublishedPart.__table__
CHUNKS = PublishedChunk.__table__
# Days a shared compressed chunk is kept after it was made.
CHUNK_DAYS = 30
# At most about this many chunks are kept (2.5 KB each on average at 100,000 rallies: some
# 600 MB; the common documents of one address need 20,000 there): past it, the oldest go.
# Each visitor's new filter saves the chunks no one had (its own runs of rallies): without a
# bound a flood at the site's build limit grew the table by about 2 MB a minute, kept 30 days.
# Looked at on one save in PRUNE_EVERY (a count over the table's index).
CHUNK_ROWS = 250_000
PRUNE_EVERY = 64
DOCUMENTS = PublishedDocument.__table__
# Whole documents kept for one data version, at most: how many, and their gzipped bytes.
DOCUMENT_COUNT = 64
DOCUMENT_BYTES = 192 * 2**20
# Ids asked for by IN at a time.
FETCH_IDS = 2000
# More missing parts than this are read by their context alone (a range of the primary key).
WHOLE_CONTEXT = 30_000


def context_name(context: tuple) -> str:
    """The context tuple a worker keeps a part under, as the table's `context` column, led by
    the release's rendering fingerprint: a deploy that writes parts differently reads none of
    the older release's (mapapp.publishing.public.rendering_fingerprint)."""
    return "|".join(
        (rendering_fingerprint(), *("" if item is None else str(item) for item in context))
    )


def encode(context: tuple, value: Any) -> bytes:
    """A part as the table keeps it. The map's entry is four values: joined by NUL (which
    JSON text and a day never hold), or as JSON when the town's name holds one."""
    if context[0] == MAP_PART:
        before, after, town, day = value
        if "\0" in town:
            return json.dumps([before.decode(), after.decode(), town, day]).encode()
        return b"\0".join((before, after, town.encode(), day.encode()))
    return value


def decode(context: tuple, data: bytes) -> Any:
    if context[0] == MAP_PART:
        data = bytes(data)
        if data.startswith(b"["):
            before, after, town, day = json.loads(data)
            return before.encode(), after.encode(), town, day
        before, after, town, day = data.split(b"\0")
        return before, after, town.decode(), day.decode()
    return bytes(data)


def rally_url(origin: str) -> Callable[[int], str]:
    """A rally page's address for a feed whose rally 0 is at `origin` (.../rallies/0?lang=be),
    as mapapp.views.feeds.rally_url gives it in a request to that address."""
    head, tail = origin.split("/rallies/0", 1)
    return lambda rally_id: f"{head}/rallies/{rally_id}{tail}"


def renderers(origins: Iterable[str]) -> list[tuple[tuple, Callable[[PublicRally], Any]]]:
    """Every context a change makes parts for, with its part's renderer: the GeoJSON without
    and with each language, the map's feed likewise, and the calendar (in each language) and
    the CSV for each of `origins` (a rally 0's page address, one per site address and
    language)."""
    made: list[tuple[tuple, Callable[[PublicRally], Any]]] = [
        (("geojson", ""), feature_bytes(None))
    ]
    made += [(("geojson", lang), feature_bytes(in_language(lang))) for lang in LANGUAGES]
    made += [
        ((MAP_PART, lang), lambda rally, lang=lang: map_part(rally, lang))
        for lang in (None, *LANGUAGES)
    ]
    for origin in origins:
        lang = origin.rsplit("lang=", 1)[-1]
        if lang not in LANGUAGES:
            continue
        url = rally_url(origin)
        made.append((("ics", lang, origin), event_bytes(url, feed_notes(lang))))
        made.append((("csv", lang, origin), csv_row(url, feed_notes(lang))))
    return made


def write_rallies(
    connection: Connection, ids: Iterable[int], now: datetime, origins: Iterable[str]
) -> int:
    """Make and store the parts of these published rallies (in the caller's transaction),
    replacing their older ones; returns how many were written."""
    ids = sorted(set(ids))
    if not ids:
        return 0
    made = renderers(origins)
    written = 0
    for start in range(0, len(ids), FETCH_IDS):
        chunk = ids[start : start + FETCH_IDS]
        connection.execute(delete(TABLE).where(TABLE.c.rally_id.in_(chunk)))
        rows = []
        query = select(*KEY_COLUMNS, *COLUMNS).where(PublishedRally.id.in_(chunk))
        for row in connection.execute(query):
            published = SimpleNamespace(
                **dict(zip(COLUMN_NAMES, row[len(KEY_COLUMNS) :], strict=True))
            )
            kept = raw_revision(row[1])
            states = [project(published, now)]
            if not states[0].exact:  # the reveal to come: its parts are made now too
                states.append(project_side(published, True))
            for rally in states:
                for context, render in made:
                    rows.append(
                        {
                            "context": context_name(context),
                            "exact": rally.exact,
                            "rally_id": rally.id,
                            "revision": kept,
                            "data": encode(context, render(rally)),
                        }
                    )
        if rows:
            connection.execute(TABLE.insert(), rows)
            written += len(rows)
    return written


def stale_rallies(connection: Connection) -> list[int]:
    """Ids of the published rallies whose parts this release has not made for their row
    version (a new release's rendering fingerprint, rows from before the table), by id."""
    name = context_name(("geojson", ""))
    made = set(
        connection.execute(
            select(TABLE.c.rally_id, TABLE.c.revision).where(TABLE.c.context == name)
        ).all()
    )
    rows = connection.execute(select(KEY_COLUMNS[0], KEY_COLUMNS[1]).order_by(KEY_COLUMNS[0]))
    return [rally_id for rally_id, raw in rows if (rally_id, raw_revision(raw)) not in made]


def load(connection: Connection, entries: Sequence[Entry], context: tuple) -> int:
    """Fill the entries' parts for `context` from the table where it holds them for the
    entry's row version and reveal side; returns how many were found.

    Up to WHOLE_CONTEXT entries are read by their key (context, reveal side, id: an index
    seek each, FETCH_IDS at a time; by `context` and the ids alone SQLite scanned the whole
    context for each batch); more by one range of the primary key, the whole context."""
    name = context_name(context)
    wanted = {entry.id: entry for entry in entries}
    if len(wanted) > WHOLE_CONTEXT:
        query = select(TABLE.c.rally_id, TABLE.c.exact, TABLE.c.revision, TABLE.c.data)
        batches: Iterable[Iterable[Sequence[Any]]] = [
            connection.execute(query.where(TABLE.c.context == name))
        ]
    else:
        batches = by_key(connection, name, entries)
    found = 0
    for rows in batches:
        for rally_id, exact, kept, data in rows:
            entry = wanted.get(rally_id)
            if entry is None or kept != entry.revision or bool(exact) != entry.exact:
                continue
            entry.parts[context] = decode(context, data)
            found += 1
    return found


def by_key(
    connection: Connection, name: str, entries: Sequence[Entry]
) -> Iterable[list[Sequence[Any]]]:
    """The rows of context `name` for these entries' ids and reveal sides, FETCH_IDS at a
    time, through the driver's own cursor in the connection's transaction: SQLAlchemy's
    compiling each batch's IN list and making a Row of each part took four fifths of a
    filter's first read (0.3 of 0.38 s of CPU for 12,000 parts at 100,000 rallies)."""
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    cursor = connection.connection.cursor()
    try:
        for exact in (False, True):
            ids = sorted(entry.id for entry in entries if entry.exact == exact)
            for start in range(0, len(ids), FETCH_IDS):
                batch = ids[start : start + FETCH_IDS]
                marks = ", ".join([mark] * len(batch))  # placeholders only: no value is in the SQL
                cursor.execute(
                    "SELECT rally_id, exact, revision, data FROM published_part"  # noqa: S608
                    f" WHERE context = {mark} AND exact = {mark} AND rally_id IN ({marks})",
                    (name, exact, *batch),
                )
                yield cursor.fetchall()
    finally:
        cursor.close()


def save(engine: Engine, items: Sequence[tuple[Entry, tuple]]) -> None:
    """Write parts a worker had to make itself (in a transaction of their own). One of an
    older row version than the table's may replace it (a slow worker): readers take a part
    only for their own row version, and a worker reading the newer one writes it again."""
    if not items:
        return
    rows = {}
    for entry, context in items:
        key = (context_name(context), entry.exact, entry.id)
        rows[key] = {
            "context": key[0],
            "exact": key[1],
            "rally_id": key[2],
            "revision": entry.revision,
            "data": encode(context, entry.parts[context]),
        }
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(TABLE)
    statement = statement.on_conflict_do_update(
        index_elements=[TABLE.c.context, TABLE.c.exact, TABLE.c.rally_id],
        set_={"revision": statement.excluded.revision, "data": statement.excluded.data},
        where=TABLE.c.revision != statement.excluded.revision,
    )
    values = list(rows.values())
    with engine.begin() as connection:
        # Only rallies still published: a part of one taken down meanwhile is left out.
        ids = {row["rally_id"] for row in values}
        alive = set()
        id_list = sorted(ids)
        for start in range(0, len(id_list), FETCH_IDS):
            chunk = id_list[start : start + FETCH_IDS]
            alive.update(
                connection.scalars(select(PublishedRally.id).where(PublishedRally.id.in_(chunk)))
            )
        values = [row for row in values if row["rally_id"] in alive]
        for start in range(0, len(values), FETCH_IDS):
            connection.execute(statement, values[start : start + FETCH_IDS])


class SharedChunks:
    """The compressed chunks every worker and server shares (a
    mapapp.publishing.parts.ChunkStore over `published_chunk`): read in `reader`'s connection
    (a request's snapshot; chunks are found by content, so any snapshot will do), written in
    a short transaction of their own on `engine`."""

    def __init__(
        self,
        reader: Callable[[], Connection],
        engine: Callable[[], Engine],
        touch: bool = False,
    ) -> None:
        self.reader, self.engine, self.touch = reader, engine, touch

    def load(self, digests: list[bytes]) -> dict[bytes, bytes]:
        """The chunks held for these 32-byte digests, by digest. With `touch` (the common
        documents' preparation), those found are marked as made now, at most once a day
        each: the chunks every common document uses are then the newest, and neither
        CHUNK_DAYS nor CHUNK_ROWS drops them while visitors' filters come and go."""
        found: dict[bytes, bytes] = {}
        connection = self.reader()
        for start in range(0, len(digests), FETCH_IDS):
            chunk = digests[start : start + FETCH_IDS]
            query = select(CHUNKS.c.digest, CHUNKS.c.data).where(CHUNKS.c.digest.in_(chunk))
            for name, data in connection.execute(query):
                found[bytes(name)] = bytes(data)
        if self.touch and found:
            self.mark_used(list(found))
        return found

    def mark_used(self, digests: list[bytes]) -> None:
        """Mark these chunks as made now, unless that was less than a day ago."""
        now = utcnow()
        with self.engine().begin() as writing:
            for start in range(0, len(digests), FETCH_IDS):
                writing.execute(
                    update(CHUNKS)
                    .where(CHUNKS.c.digest.in_(digests[start : start + FETCH_IDS]))
                    .where(CHUNKS.c.made_at < now - timedelta(days=1))
                    .values(made_at=now)
                )

    def save(self, chunks: dict[bytes, bytes]) -> None:
        """Keep these chunks (digest -> compressed bytes; one already there stays as it is,
        the same bytes for the same content), and drop those older than CHUNK_DAYS and, now
        and then, the oldest past CHUNK_ROWS (prune_chunks)."""
        engine = self.engine()
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        now = utcnow()
        rows = [{"digest": name, "data": data, "made_at": now} for name, data in chunks.items()]
        statement = dialect.insert(CHUNKS).on_conflict_do_nothing(index_elements=["digest"])
        with engine.begin() as connection:
            connection.execute(
                delete(CHUNKS).where(CHUNKS.c.made_at < now - timedelta(days=CHUNK_DAYS))
            )
            for start in range(0, len(rows), FETCH_IDS):
                connection.execute(statement, rows[start : start + FETCH_IDS])
            if random.randrange(PRUNE_EVERY) == 0:
                prune_chunks(connection)


def prune_chunks(connection: Connection, limit: int | None = None) -> int:
    """Drop the oldest chunks past `limit` (CHUNK_ROWS) rows, those made at the same moment
    as the last one kept staying too (one save's are made at one moment); returns how many
    went. One still used is compressed and saved again by the next document that needs it."""
    limit = CHUNK_ROWS if limit is None else limit
    if connection.scalar(select(func.count()).select_from(CHUNKS)) <= limit:
        return 0
    cutoff = connection.scalar(
        select(CHUNKS.c.made_at).order_by(CHUNKS.c.made_at.desc()).offset(limit - 1).limit(1)
    )
    return connection.execute(delete(CHUNKS).where(CHUNKS.c.made_at < cutoff)).rowcount


def load_document(connection: Connection, key: str) -> bytes | None:
    """The gzipped document kept under `key` ("<kind>:<strong ETag>"), or None."""
    found = connection.execute(select(DOCUMENTS.c.gz).where(DOCUMENTS.c.key == key)).first()
    return None if found is None else bytes(found[0])


def save_document(engine: Engine, key: str, version: str, gz: bytes, common: bool = False) -> bool:
    """Keep a gzipped document of data version `version` under `key`, dropping those of
    other versions, unless that version already holds DOCUMENT_COUNT documents or
    DOCUMENT_BYTES with it (random filters cannot fill the database), or unless a change
    has moved the data version's counter since `version` was read (a slow builder, or the
    preparation after a change, must not drop the newer version's documents); returns
    whether it was kept. One already kept stays: the same ETag is the same bytes.
    `common`: one of the common documents a preparation keeps (a bounded set, a few dozen a
    site address): kept past those bounds, so that visitors' filters asked for the moment a
    version appears cannot take every place before the preparation keeps them."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    with engine.begin() as connection:
        if not current_counter(connection, version):
            return False  # a change committed since it was read: the newer version's stay
        connection.execute(delete(DOCUMENTS).where(DOCUMENTS.c.version != version))
        count, size = connection.execute(
            select(func.count(), func.coalesce(func.sum(func.length(DOCUMENTS.c.gz)), 0)).where(
                DOCUMENTS.c.version == version
            )
        ).one()
        if not common and (count >= DOCUMENT_COUNT or size + len(gz) > DOCUMENT_BYTES):
            return False
        statement = dialect.insert(DOCUMENTS).on_conflict_do_nothing(index_elements=["key"])
        connection.execute(
            statement, {"key": key, "version": version, "gz": gz, "made_at": utcnow()}
        )
    return True


def current_counter(connection: Connection, version: str) -> bool:
    """Whether the data version's counter and epoch are still those of `version` (a
    mapapp.publishing.public.Version's key: fingerprint.epoch.counter.moment)."""
    row = connection.exec_driver_sql(VERSION_READ).first()
    counter = (row[0] if row else 0) or 0
    epoch = (row[1] if row else "") or ""
    head, kept_counter, _moment = version.rsplit(".", 2)
    kept_epoch = head.split(".", 1)[1] if "." in head else ""
    return (str(counter), epoch) == (kept_counter, kept_epoch)
