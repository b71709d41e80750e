"""The one public projection of a rally, and the one data version public caches are keyed by.

Every public output (pages, list, map feed, API, GeoJSON, ICS, CSV, oEmbed, OpenGraph,
embed, static export, outside channels) reads rallies through `public_rally` or
`public_rallies`, as `PublicRally` values. What they hide:

- anything not approved: they read `published_rally`, the last version a moderator
  approved, never the working copy (`rally`), so an edit waiting for moderation, a pending,
  rejected or withdrawn rally cannot show;
- anything private: no contact, token, reject reason, audit entry or creation time;
- the exact place until its reveal time: `place` is None, and `lat`/`lon` are the town's
  point from the gazetteer (or the coordinates rounded to 0.1 degrees, about 10 km, when
  the town is not in it). At the reveal time the place appears by itself: the data version
  (below) moves then, so no cache keeps the town-only answer.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from sys import getsizeof
from types import SimpleNamespace
from typing import Any

from flask import current_app
from sqlalchemy import Connection, func, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from mapapp.domain.db import driver_error
from mapapp.domain.filters import ONGOING, RallyFilter
from mapapp.domain.geocoding import gazetteer
from mapapp.domain.models import PublishedRally, UTCDateTime, utcnow
from mapapp.domain.seed import seed_texts
from mapapp.paths import DATA_DIR, PACKAGE_DIR, TEMPLATES_DIR

# The id column is a 32-bit INTEGER on PostgreSQL; SQLite cannot even bind an id past 2**63.
MAX_ID = 2**31 - 1
# Without a gazetteer town, an unrevealed rally is shown this coarsely (degrees).
COARSE_DECIMALS = 1


@dataclass(frozen=True)
class PublicRally:
    """What anyone may see of a rally: the only rally object a public output gets.

    Times are aware UTC. `status` is approved, cancelled, danger or moved. `place` is None
    until the place is revealed (`exact` False), and `lat`/`lon` are then the town's point.

    `sequence` is the rally's public revision: it moves with every public change of it, the
    reveal at its time included (see `public_revision`), and `updated_at` is when it last
    moved (the reveal time, once the place is revealed by it). Every output derives from
    them: ICS SEQUENCE, LAST-MODIFIED and DTSTAMP, the API's sequence and updated_at, the
    rally's ETags, its share image's URL and the open pages' re-checks (`revision`).
    """

    id: int
    title: str
    description: str
    status: str
    featured: bool
    starts_at: datetime
    ends_at: datetime | None
    updated_at: datetime
    sequence: int
    town: str
    region: str
    geonameid: int | None
    place: str | None
    lat: float
    lon: float
    exact: bool
    reveal_at: datetime | None
    changes_pending: bool
    checked_by: int = 0  # how many moderators approved this version (0: imported)
    organizer_known: bool = False  # its organizer was known to the moderators
    previous_starts_at: datetime | None = None  # before the last time change

    @property
    def verification(self) -> str:
        """How the rally was checked, defined here once for every output (in words:
        mapapp.publishing.words.verification_sentence)."""
        return verification(self)


def localised(rally: PublicRally, lang: str) -> PublicRally:
    """The rally as a page in `lang` shows it: the seed rallies' texts (the main rally on
    October Square and the regional ones) in that language while they are the seed's own
    (`mapapp.domain.seed.seed_texts`); an organizer's text as it was written."""
    texts = seed_texts(rally.geonameid, rally.title, rally.place, rally.description, lang)
    if all(texts[field] == getattr(rally, field) for field in texts):
        return rally
    return replace(rally, **texts)


# The verification grades, most checked first: two or more different moderators approved
# the published version (MAPAPP_APPROVALS); one did, for an organizer the moderators know
# (checked outside the site; such an organizer's rallies need one approval fewer); one did
# (before two-person approval, or with MAPAPP_APPROVALS=1); the operator imported it
# (import-rallies, the seed rallies).
VERIFICATIONS = ("moderators", "known-organizer", "moderator", "imported")


def verification(rally: Any) -> str:
    """The grade of a PublicRally (or anything with `checked_by` and `organizer_known`)."""
    checked_by = getattr(rally, "checked_by", 0) or 0
    if checked_by >= 2:
        return "moderators"
    if checked_by == 1:
        return "known-organizer" if getattr(rally, "organizer_known", False) else "moderator"
    return "imported"


def revealed(reveal_at: datetime | None, now: datetime) -> bool:
    return reveal_at is None or reveal_at <= now


def town_point(geonameid: int | None, lat: float, lon: float) -> tuple[float, float]:
    """Where an unrevealed rally is drawn: its town's point, or a coarse one."""
    town = gazetteer().by_id(geonameid) if geonameid is not None else None
    if town is not None:
        return town.lat, town.lon
    return round(lat, COARSE_DECIMALS), round(lon, COARSE_DECIMALS)


def town_region(geonameid: int | None, region: str) -> str:
    """An unrevealed rally's region: its town's (rows stored before the town's region was
    kept may hold the pin's, which near a border tells which side the place is on)."""
    town = gazetteer().by_id(geonameid) if geonameid is not None else None
    return town.region if town is not None and town.region else region


def public_revision(stored: int, reveal_at: datetime | None, exact: bool) -> int:
    """The public revision of a row whose lifecycle sequence is `stored`: twice it, plus one
    once a reveal time has passed. Every public change raises `stored` by one, so the
    revision rises with it (by one or two, never back, even when a later change moves the
    reveal time into the future again), and it rises by one at the reveal, with no write."""
    return 2 * (stored or 0) + (1 if exact and reveal_at is not None else 0)


def project(row: PublishedRally, now: datetime) -> PublicRally:
    """The public view of a published row at `now` (the reveal rule applied)."""
    return project_side(row, revealed(row.reveal_at, now))


def project_side(row: PublishedRally, exact: bool) -> PublicRally:
    """The public view of a published row before (`exact` False) or after its reveal time."""
    updated_at = row.updated_at
    if exact and row.reveal_at is not None and row.reveal_at > updated_at:
        updated_at = row.reveal_at  # the reveal is the last public change
    lat, lon = (row.lat, row.lon) if exact else town_point(row.geonameid, row.lat, row.lon)
    region = row.region if exact else town_region(row.geonameid, row.region)
    return PublicRally(
        id=row.id,
        title=row.title,
        description=row.description,
        status=row.status,
        featured=row.featured,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        updated_at=updated_at,
        sequence=public_revision(row.sequence, row.reveal_at, exact),
        town=row.town,
        region=region,
        geonameid=row.geonameid,
        place=row.place if exact else None,
        lat=lat,
        lon=lon,
        exact=exact,
        reveal_at=row.reveal_at,
        changes_pending=row.changes_pending,
        checked_by=row.checked_by or 0,
        organizer_known=bool(row.organizer_known),
        previous_starts_at=row.previous_starts_at,
    )


def public_rally(db: Session, rally_id: int, now: datetime | None = None) -> PublicRally | None:
    """One public rally by id, or None (not public, or no such id: a 404 for the caller)."""
    if not 0 < rally_id <= MAX_ID:
        return None  # a made-up id from a URL is "no such rally", not a database error
    row = db.get(PublishedRally, rally_id)
    return project(row, now or utcnow()) if row is not None else None


def public_rallies(
    db: Session,
    rally_filter: RallyFilter,
    now: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[PublicRally]:
    """The public rallies the filter selects, in its order; a page of them with `limit`."""
    entries = public_entries(db, rally_filter, now, limit, offset)
    read_rallies(db, entries)
    return [entry.rally for entry in entries]


class Entry:
    """A public rally as this process last projected it, with its serialised parts.

    `parts` maps a context (a format and what else its text depends on: the language, the
    site's address) to that format's bytes for this rally (see mapapp.publishing.parts), or to what a
    format keeps to make them (mapapp.publishing.mapfeed: the town's name and the day).
    """

    __slots__ = ("_rally", "parts", "used", "id", "revision", "exact", "reveal_at", "_token")

    def __init__(self, rally: PublicRally | None, used: int) -> None:
        self._rally = rally
        self.parts: dict[tuple, Any] = {}
        self._token: bytes | None = None
        self.used = used
        if rally is not None:
            self.id, self.exact, self.reveal_at = rally.id, rally.exact, rally.reveal_at
            self.revision = raw_revision(rally.updated_at)

    @classmethod
    def unread(
        cls, rally_id: int, revision: str, reveal_at: datetime | None, now: datetime, used: int
    ) -> Entry:
        """An entry known by its row version alone: its parts may come from
        mapapp.publishing.partstore without the row being read (`read_rallies` reads it)."""
        # Made a hundred thousand times for a worker's first whole document: no __init__.
        entry = cls.__new__(cls)
        entry._rally, entry.parts, entry.used, entry._token = None, {}, used, None
        entry.id, entry.revision, entry.reveal_at = rally_id, revision, reveal_at
        entry.exact = reveal_at is None or reveal_at <= now  # revealed()
        return entry

    @property
    def token(self) -> bytes:
        """What fixes this entry's parts in any context besides the context itself: its id,
        row version and reveal side, as b"id:version:side;" (what the shared parts' table
        finds a part by: mapapp.publishing.partstore). A document's gzip chunks are named by
        these (mapapp.publishing.parts.gzipped), so kept chunks are found without the text."""
        found = self._token
        if found is None:
            found = self._token = b"%d:%s:%d;" % (self.id, self.revision.encode(), self.exact)
        return found

    @property
    def rally(self) -> PublicRally:
        if self._rally is None:
            raise LookupError(f"rally {self.id} not read yet (read_rallies)")
        return self._rally


def raw_revision(raw: Any) -> str:
    """A row version (`updated_at` as the driver gives it, see KEY_COLUMNS) as text: the
    same for every process and server reading the same row."""
    if isinstance(raw, datetime):
        return (raw.astimezone(UTC) if raw.tzinfo else raw).isoformat(" ")
    return str(raw)


def read_rallies(db: Session, entries: Sequence[Entry]) -> None:
    """Read and project the rows of the entries not read yet (in the caller's snapshot, the
    one their row versions were read in)."""
    wanted = {entry.id: entry for entry in entries if entry._rally is None}
    ids = list(wanted)
    for start in range(0, len(ids), FETCH_IDS):
        chunk = ids[start : start + FETCH_IDS]
        query = select(*KEY_COLUMNS, *COLUMNS).where(PublishedRally.id.in_(chunk))
        for row in db.connection().execute(query):
            entry = wanted[row[0]]
            values = row[len(KEY_COLUMNS) :]
            # In a request's snapshot the row is the version its entry was found by (outside
            # one, a command's, it may be newer: then the newer one is shown).
            row_values = SimpleNamespace(**dict(zip(COLUMN_NAMES, values, strict=True)))
            entry._rally = project_side(row_values, entry.exact)


class EntryCache:
    """Per process: a published row's version, (id, updated_at, changes_pending) as read raw
    from the database, to its Entry.

    Every change of a published row moves its `updated_at` (lifecycle sets it, and the
    column's onupdate does for any other UPDATE made through SQLAlchemy) except the
    organizer's "changes pending" mark, which is in the key too: an entry is found again only
    for the version of the row it was made from. The one thing the row does not hold,
    whether the reveal time has passed, is checked on every read. Old entries go after a
    few reads: at most about twice as many entries as the largest read (the number of
    public rallies) are kept, and after a build at most ENTRY_BUDGET bytes of them (`trim`).
    A database changed behind the app's back (SQL by hand, a restore) needs a restart, as
    docs/operators.md says.
    """

    KEEP_READS = 16
    FLOOR = 4096
    # The bytes of parts kept on the entries (all contexts together), at most, counted at
    # their real size (`part_size`): past it the parts of the context least recently grown
    # are dropped from every entry (read again from mapapp.publishing.partstore when next
    # needed). At 10,000 rallies a calendar's parts are about 8 MiB, a GeoJSON's 4; at
    # 100,000 ten times that. Parts are read only to compress a chunk no worker has
    # compressed yet (mapapp.publishing.parts.gzipped): after a change, those around the
    # changed rallies.
    PART_BUDGET = 32 * 2**20
    # The bytes of the entries themselves kept once a build is done (`trim`), at their real
    # size (`entry_size`: the entry, its key, its parts' dict, its rally when read; the parts
    # are PART_BUDGET's): a document of every rally makes an entry for each (about 600 bytes
    # each at 100,000 rallies, 60 MiB), which the next such build in this process would find
    # again, but which a worker asked for one `when=all` holds for nothing else (a preparation
    # of the common documents keeps none: mapapp.web.caching.prepare_documents). Past it the
    # least recently used go; a later build makes them again from the rows' versions it reads
    # anyway (about 0.16 s more for a document of every rally at 100,000: docs/benchmarks.md,
    # "The preparer's entries and parts within their budgets").
    ENTRY_BUDGET = 16 * 2**20

    def __init__(self) -> None:
        self.entries: dict[tuple, Entry] = {}
        self.reads = 0
        self.largest = 0
        self.lock = threading.Lock()
        self.held: dict[tuple, int] = {}  # context -> bytes of its parts kept, oldest first

    def kept(self, context: tuple, added: int) -> None:
        """Count `added` bytes of parts of `context` now kept on entries, and keep the total
        within PART_BUDGET, but for `context`'s own (a build is reading them): the parts of
        the contexts least recently grown go first."""
        with self.lock:
            self.held[context] = self.held.pop(context, 0) + added
            self._drop(keep=1)

    def trim(self, entries: bool = True) -> None:
        """Once a build is done: keep the parts within PART_BUDGET, dropping those of the
        last context too when it alone is past it (a whole calendar at 100,000 rallies), and
        with `entries` the entries within ENTRY_BUDGET (the least recently used go, with their
        parts). A preparation of the common documents (mapapp.web.caching.prepare_documents)
        passes `entries=False` and keeps none once its last document is built (`clear`): each
        of its 26 documents reads every rally's entry, and made again for each, they doubled
        its time at 100,000 rallies."""
        with self.lock:
            self._drop(keep=0)
            if entries:
                self._within_entry_budget()

    def clear(self) -> None:
        """Keep no entry and no part (a preparation's end: mapapp.web.caching.prepare_documents)."""
        with self.lock:
            self.entries = {}
            self.held = {}

    def _drop(self, keep: int) -> None:
        total = sum(self.held.values())
        while total > self.PART_BUDGET and len(self.held) > keep:
            oldest = next(iter(self.held))
            total -= self.held.pop(oldest)
            for entry in list(self.entries.values()):
                entry.parts.pop(oldest, None)

    def _within_entry_budget(self) -> None:
        # Counted after every build: a few milliseconds for the entries a budget holds (about
        # 27,000 at 600 bytes), 14 ms for 100,000.
        entries = list(self.entries.items())
        sizes = [entry_size(entry) for _, entry in entries]
        if sum(sizes) <= self.ENTRY_BUDGET:
            return
        used = [entry.used for _, entry in entries]
        order = sorted(range(len(entries)), key=used.__getitem__, reverse=True)
        kept: dict[tuple, Entry] = {}
        total = 0
        for index in order:
            total += sizes[index]
            if total > self.ENTRY_BUDGET:
                break
            kept[entries[index][0]] = entries[index][1]
        # In their old order (dicts keep it): `evict` and the next reads find them alike.
        self.entries = {key: entry for key, entry in entries if key in kept}
        # The parts of the entries gone went with them: counted again from those kept.
        held: dict[tuple, int] = dict.fromkeys(self.held, 0)
        for entry in self.entries.values():
            for context, part in entry.parts.items():
                held[context] = held.get(context, 0) + part_size(part)
        self.held = {context: size for context, size in held.items() if size}

    def evict(self) -> None:
        if len(self.entries) <= max(self.FLOOR, 2 * self.largest):
            return
        with self.lock:
            oldest = self.reads - self.KEEP_READS
            kept = {key: e for key, e in list(self.entries.items()) if e.used > oldest}
            if len(kept) > max(self.FLOOR, 2 * self.largest):
                kept = {key: e for key, e in kept.items() if e.used == self.reads}
            self.entries = kept


# A row's version, read without conversion (the cache key), and every column of it.
KEY_COLUMNS = tuple(
    type_coerce(column, NullType()).label(f"key_{column.key}")
    for column in (PublishedRally.id, PublishedRally.updated_at, PublishedRally.changes_pending)
)
COLUMNS = tuple(PublishedRally.__table__.columns)
COLUMN_NAMES = tuple(column.key for column in COLUMNS)
# Rows fetched by id at a time (SQLite allows 32,766 bound values).
FETCH_IDS = 5000


def entry_cache() -> EntryCache:
    """This process's EntryCache."""
    return current_app.extensions.setdefault("mapapp.public_entries", EntryCache())


def part_size(value: Any) -> int:
    """The bytes a kept part holds (bytes, or the map feed's tuple of texts and bytes: the
    tuple and each item), as sys.getsizeof counts them; the slot of the entry's parts' dict
    it takes is the entry's (`entry_size`)."""
    if type(value) is tuple:
        return getsizeof(value) + sum(map(getsizeof, value))
    return getsizeof(value)


# The least an entry holds besides its parts' dict and its rally (sys.getsizeof, 64-bit
# CPython 3.11): the Entry (slots), its key (a tuple of the id, the raw row version as text
# or a datetime, the pending mark), the row version's text, the token once made, the entries'
# dict's slot (tests/test_partstore.py compares `entry_size` with the real size).
ENTRY_BYTES = 360
# A rally read whole (PublicRally: its fields' objects beside its texts, whose own sizes are
# added: `entry_size`).
RALLY_BYTES = 700


def entry_size(entry: Entry) -> int:
    """About the bytes an entry holds besides its parts' values (PART_BUDGET's), counted as
    sys.getsizeof would: ENTRY_BYTES, its parts' dict (a dict never shrinks: one that held
    many contexts stays as large once they are dropped), its rally when read."""
    size = ENTRY_BYTES + getsizeof(entry.parts)
    rally = entry._rally
    if rally is not None:
        size += RALLY_BYTES + getsizeof(rally.title) + getsizeof(rally.description)
        size += getsizeof(rally.place) if rally.place is not None else 0
    return size


def public_entries(
    db: Session,
    rally_filter: RallyFilter,
    now: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Entry]:
    """The public rallies the filter selects, in its order, as cached entries.

    One SQLAlchemy Core read of the selected rows' versions (three columns, see EntryCache);
    only rows this process has not seen (new or changed since) are then read whole,
    converted and projected. The others reuse their entry, and with it the serialised parts
    made for earlier documents.
    """
    now = now or utcnow()
    query = rally_filter.apply(select(*KEY_COLUMNS), now, PublishedRally)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    # Plain tuples from the driver's cursor: hashed and compared in C (a Row compares in
    # Python), and fetched without SQLAlchemy's row objects (the columns have no result
    # processing: KEY_COLUMNS), a third of the time at 100,000 rows.
    result = db.connection().execute(query)
    cursor = result.cursor
    rows = [tuple(row) for row in cursor.fetchall()] if cursor is not None else []
    result.close()
    cache = entry_cache()
    cache.reads += 1
    read = cache.reads
    cache.largest = max(cache.largest, len(rows))
    found = cache.entries
    entries: list[Entry] = []
    missing = []
    for row in rows:
        entry = found.get(row)
        if entry is not None:
            reveal_at = entry.reveal_at
            if entry.exact == (reveal_at is None or reveal_at <= now):
                entry.used = read
                entries.append(entry)
                continue
        missing.append((len(entries), row))
        entries.append(None)  # type: ignore[arg-type]
    if missing:
        # The rows are read whole only when a part is not in mapapp.publishing.partstore
        # (read_rallies): here only their reveal times, the one thing their parts depend on
        # beside the row version.
        reveal_at = PublishedRally.reveal_at
        query = select(PublishedRally.id, reveal_at).where(reveal_at.is_not(None))
        reveals = {row[0]: row[1] for row in db.connection().execute(query)}
        for index, row in missing:
            entry = Entry.unread(row[0], raw_revision(row[1]), reveals.get(row[0]), now, read)
            found[row] = entries[index] = entry
    cache.evict()
    return entries


def count_public(db: Session, rally_filter: RallyFilter, now: datetime | None = None) -> int:
    query = rally_filter.apply(select(PublishedRally.id), now or utcnow(), PublishedRally)
    return db.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


# The data version's one row, read on the database driver's own cursor (see current_version).
VERSION_READ = "SELECT version, epoch FROM data_version WHERE id = 1"  # models.DataVersion

# What public bytes depend on besides the data: the code that renders them, the words and
# names it uses, the pages' templates. Files by pattern, from the package's own directory
# (mapapp.paths): the same in a checkout and a wheel.
RENDERING_SOURCES = (
    (PACKAGE_DIR / "places", "*.py"),
    (PACKAGE_DIR / "publishing", "*.py"),
    (PACKAGE_DIR / "translations", "*/LC_MESSAGES/messages.po"),
    (DATA_DIR, "places.json"),
    (TEMPLATES_DIR, "*.html"),
)


@cache
def rendering_fingerprint() -> str:
    """12 hex digits that change whenever a deploy changes how public outputs are written
    (RENDERING_SOURCES), read once a process.

    It leads the data version's key, so every ETag, every kept document and every shared
    part (mapapp.publishing.partstore) of an older release is left alone by a newer one: a
    deploy that adds a CSV column or rewords a warning never serves bytes the older code
    made, and no browser gets a 304 for them."""
    digest = hashlib.sha256()
    for directory, pattern in RENDERING_SOURCES:
        for path in sorted(directory.glob(pattern)):
            digest.update(str(path.relative_to(directory)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class Version:
    """The public data version at a moment: `key` for caches, `until` when it next moves
    by itself (a reveal time, or an upcoming rally turning past), or None; `since` the
    boundary it last moved at by itself."""

    key: str
    until: datetime | None
    since: datetime | None = None  # the last boundary passed, or None
    epoch: str = ""  # new at every restore (DataVersion.epoch)


def current_version(db: Session | Connection, now: datetime | None = None) -> Version:
    """The data version: one primary-key read, plus the clock's part.

    The counter (DataVersion) moves with every public change. Between changes, what the
    public sees still moves at known times: a reveal time passing, a rally turning from
    upcoming to past. These boundaries are read once per counter value and process (four
    indexed min/max reads); the key holds the last boundary passed, so every worker gives
    the same key for the same public state, and a cache turns over at each boundary.
    `db`: a session, or a connection (mapapp.domain.db.reader: a 304 needs no session).
    """
    now = now or utcnow()
    connection = db.connection() if isinstance(db, Session) else db
    # The driver's cursor, not a statement of SQLAlchemy's: the ORM's or Core's work per
    # statement would be a third of a 304's cost. In the connection's transaction (begun
    # here if need be), so the rows read after it are of the same snapshot.
    if not connection.in_transaction():
        connection.begin()
    cursor = connection.connection.cursor()
    try:
        cursor.execute(VERSION_READ)
        row = cursor.fetchone()
    except connection.dialect.loaded_dbapi.Error as error:
        raise driver_error(connection, error, cursor) from error
    finally:
        cursor.close()
    counter = (row[0] if row else 0) or 0
    epoch = (row[1] if row else "") or ""
    cache: dict[tuple[int, str], Version] = current_app.extensions.setdefault("mapapp.versions", {})
    version = cache.get((counter, epoch))
    if (
        version is None
        or (version.until is not None and now >= version.until)
        or (version.since is not None and now < version.since)
    ):
        last, until = _boundaries(connection, now)
        moment = last.strftime("%Y%m%d%H%M%S") if last else 0
        key = f"{rendering_fingerprint()}.{epoch}.{counter}.{moment}"
        version = Version(key, until, last, epoch)
        if len(cache) > 8:
            cache.clear()
        cache[(counter, epoch)] = version
    return version


def _boundaries(db: Connection, now: datetime) -> tuple[datetime | None, datetime | None]:
    """The last moment at or before `now`, and the first after it, when the public view
    moves by itself."""
    cutoff = now - ONGOING
    reveal = PublishedRally.reveal_at
    starts = PublishedRally.starts_at
    last_reveal, next_reveal = db.execute(
        select(
            select(func.max(reveal)).where(reveal <= now).scalar_subquery(),
            select(func.min(reveal)).where(reveal > now).scalar_subquery(),
        )
    ).one()
    last_start, next_start = db.execute(
        select(
            select(func.max(starts)).where(starts < cutoff).scalar_subquery(),
            select(func.min(starts)).where(starts >= cutoff).scalar_subquery(),
        )
    ).one()
    utc = UTCDateTime()

    def aware(value: datetime | str | None) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite hands scalar subqueries back as text
            value = datetime.fromisoformat(value)
        return utc.process_result_value(value, db.dialect)

    lasts = [t for t in (aware(last_reveal), _plus(aware(last_start))) if t is not None]
    nexts = [t for t in (aware(next_reveal), _plus(aware(next_start))) if t is not None]
    return (max(lasts) if lasts else None), (min(nexts) if nexts else None)


def _plus(value: datetime | None) -> datetime | None:
    return value + ONGOING if value is not None else None


def data_version(db: Session, now: datetime | None = None) -> str:
    """The key of every public cache: moves when, and only when, what the public sees moves."""
    return current_version(db, now).key


def seconds_until_change(version: Version, now: datetime, longest: int) -> int:
    """A cache lifetime: at most `longest` seconds, and never past the next boundary."""
    if version.until is None:
        return longest
    return max(0, min(longest, int((version.until - now).total_seconds())))


def revision(rally: PublicRally, version: Version) -> str:
    """The rally's public revision as a token for ETags, URLs and open pages' re-checks:
    its sequence and the data version's epoch (so no token repeats across a restore)."""
    return f"{rally.sequence}-{version.epoch}" if version.epoch else str(rally.sequence)


def etag_for(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def list_etag(db: Session, rally_filter: RallyFilter, now: datetime, *parts: str) -> str:
    """The ETag of a filtered list of public rallies (GeoJSON, feeds): `parts` tell formats apart.

    Keyed by the data version, which moves with every public change and at each moment the
    public view moves by itself (a reveal time, an upcoming rally turning past).
    """
    return etag_for(data_version(db, now), rally_filter.key(), *parts)
