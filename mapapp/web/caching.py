"""HTTP caching shared by the machine-readable lists: the GeoJSON and the feeds."""

from __future__ import annotations

import gzip
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar
from urllib.parse import parse_qsl, urlsplit

from flask import Flask, Response, after_this_request, current_app, g, has_request_context, request
from sqlalchemy import event, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException, ServiceUnavailable, TooManyRequests

from mapapp.domain import db
from mapapp.domain.models import PublishedRally, utcnow
from mapapp.places.locale import LANGUAGES
from mapapp.publishing import partstore
from mapapp.publishing.parts import ChunkCache, Layout, gzipped, rally_parts
from mapapp.publishing.public import (
    Entry,
    PublicRally,
    current_version,
    entry_cache,
    part_size,
    read_rallies,
)
from mapapp.web import heap, preparer
from mapapp.web.compression import takes_gzip
from mapapp.web.limits import may_build

T = TypeVar("T")


def conditional(
    etag: str, build: Callable[[], Response], max_age: int | None, mimetype: str, weak: bool = False
) -> Response:
    """A 304 when the client already holds `etag`, else `build()`; both cacheable publicly.

    The body is built only when it is needed: a calendar app polling a feed mostly gets 304s.
    `max_age` (seconds) is at most MAPAPP_CACHE_SECONDS (None: that); callers pass less when
    the data version moves sooner by itself (mapapp.publishing.public.seconds_until_change), so no cache
    keeps an answer fresh past a reveal time. `stale-while-revalidate` is MAPAPP_CACHE_SECONDS.
    `mimetype` is what `build()` gives: a 304 carries no body, but the headers added on the
    way out (Vary, the isolation headers of pages) follow it, and a cache replaces its copy's
    headers with a 304's (RFC 9110, 15.4.5): they must be the 200's.
    `weak`: the same ETag stands for the same content, not the same bytes (a signature says
    when it was made, and two workers make it at different seconds).
    """
    # If-None-Match compares weakly (RFC 9110, 13.1.2): W/"x" holds "x". A CDN that
    # compresses hands the tag back weak; compared strongly, its copy was never a 304.
    held = request.if_none_match.contains_weak(etag)
    response = Response(status=304, mimetype=mimetype) if held else build()
    longest = current_app.config["CACHE_SECONDS"]
    age = longest if max_age is None else min(max_age, longest)
    # Set as text: the cache_control object would serialise the header on each change.
    # Strong unless told: the same bytes for the same ETag.
    response.headers["ETag"] = f'W/"{etag}"' if weak else f'"{etag}"'
    # A CDN may answer from its copy for that long past max-age while it revalidates in the
    # background: under load one visitor in many waits for the app, none gets old data
    # for longer than max-age plus this.
    response.headers["Cache-Control"] = f"public, max-age={age}, stale-while-revalidate={longest}"
    return response


_memo_lock = threading.Lock()
# One big build of a kind at a time in a process: a visitor asking for a new filter
# combination (each new ?to= is one) waits for the build of that kind before it, and past
# BUILD_WAIT seconds gets a 503 with Retry-After, so a handful of such requests cannot take
# every thread and the memory of a worker while cached answers (and pages) go on being
# served. Kinds (the GeoJSON, the feeds, the list pages...) do not wait for each other: a
# new worker's first calendar (seconds at 100,000 rallies) does not hold up the map's data.
_build_gates: dict[str, threading.BoundedSemaphore] = {}
_building = threading.local()
BUILD_WAIT = 10.0  # seconds
RETRY_AFTER = 5  # seconds


@dataclass(frozen=True)
class Prepared:
    """A document kept gzipped (what every browser takes); `plain()` gives it unzipped."""

    name: str  # the kind of document and its ETag, for the plain bytes' own small cache
    key: str
    gz: bytes

    def plain(self) -> bytes:
        """The document unzipped, for the rare client without gzip (and signatures)."""
        return memoized(
            f"{self.name}_plain", self.key, lambda: gzip.decompress(self.gz), 2, counted=False
        )


def weight(value: object) -> int:
    """Bytes held by a memoized value: its length when it is bytes or text (or the sum for a
    tuple of them, the gzip of a Prepared), else 0 (counted by `entries` alone)."""
    if isinstance(value, bytes | str):
        return len(value)
    if isinstance(value, tuple):
        return sum(weight(item) for item in value)
    if isinstance(value, Prepared):
        return len(value.gz)
    return 0


# What one process keeps of each kind of memoized result at most (bytes), whatever `entries`
# says: 10,000 rallies are about 0.4 MiB of gzipped GeoJSON, 3.5 MiB unzipped.
MEMO_BUDGET = 64 * 2**20
# What one process keeps of all kinds together at most (bytes): the least recently kept
# result of any kind goes first. Documents are shared in the database
# (mapapp.publishing.partstore), so one dropped here is read again whole, not rebuilt.
MEMO_TOTAL = 64 * 2**20


def build_gate(name: str) -> threading.BoundedSemaphore:
    """The gate builds of memoized results called `name` take turns at, in this process."""
    with _memo_lock:
        return _build_gates.setdefault(name, threading.BoundedSemaphore(1))


BUILD_RETRY_AFTER = 60  # seconds: a client past its builds waits for the next window


def count_build() -> None:
    """Count one costly build against the client's and the site's limits
    (mapapp.web.limits.may_build): past them, a 429 with Retry-After."""
    if not may_build():
        raise TooManyRequests(
            "Very many people are asking for new lists and copies at once: try again in a minute."
            if g.get("site_busy")  # the whole site's builds are spent, not this client's
            else "Too many new lists, images or copies asked for: try again in a minute.",
            retry_after=BUILD_RETRY_AFTER,
        )


def memoized(
    name: str, key: str, build: Callable[[], T], entries: int = 64, counted: bool = True
) -> T:
    """The newest few results of `build` in this process, by key (an ETag, say).

    A list of 10,000 rallies takes a few tenths of a second to build as GeoJSON and
    seconds as iCalendar: each worker builds it once per data version, not once a visitor.
    Builds of one `name` take turns (see BUILD_WAIT); a request that cannot get its turn
    in time is a 503 with Retry-After. At most `entries` results are kept, and at most MEMO_BUDGET bytes of
    them (see `weight`): the oldest go first, the newest always stays; and at most MEMO_TOTAL
    bytes of all kinds together (`within_total`).
    A build (not a kept answer) is `counted` against the client's and the site's limits of
    costly work (mapapp.web.limits.may_build): past them, a 429 with Retry-After.
    """
    cache: dict[str, T] = current_app.extensions.setdefault(f"mapapp.{name}_cache", {})
    found = cache.get(key)
    if found is not None:
        return found
    if getattr(_building, "active", False):  # a build inside a build (a signature's document)
        value = build()
    else:
        if counted:
            count_build()
        gate = build_gate(name)
        if not gate.acquire(timeout=BUILD_WAIT):
            raise ServiceUnavailable(
                "Busy building another list: try again in a few seconds.",
                retry_after=RETRY_AFTER,
            )
        _building.active = True
        try:
            found = cache.get(key)  # built by the thread we waited for
            value = found if found is not None else build()
        finally:
            _building.active = False
            gate.release()
        if found is None:
            give_back_heap()
    if g.get("prepared_ahead"):
        # A preparation's document (prepare_documents) is kept in the shared store, where
        # every worker reads it whole, this one too: kept here as well, the 26 common
        # documents filled MEMO_TOTAL (64 MiB at 100,000 rallies) in each worker that
        # prepared after a boundary (docs/benchmarks.md, "session 9").
        return value
    # The eviction and the insert under the lock, so another thread's eviction cannot race
    # ours (a KeyError before).
    with _memo_lock:
        cache.pop(key, None)
        held = sum(weight(kept) for kept in cache.values()) + weight(value)
        while cache and (len(cache) >= entries or held > MEMO_BUDGET):
            held -= weight(cache.pop(next(iter(cache))))  # the oldest
        cache[key] = value
        within_total(name, key, value)
    return value


def give_back_heap() -> None:
    """After a build: give the C heap's free pages back to the system (mapapp.web.heap.trim)
    once the answer is sent, or at once outside a visitor's request (a preparation builds the
    common documents one after another). A build at 100,000 rallies frees tens of MB of small
    blocks that glibc keeps otherwise, spread over the threads' arenas: 21-56 MiB of a
    worker's 229-277 after random filters (docs/benchmarks.md, "session 9"). Once a request,
    whatever it built."""
    if has_request_context() and not g.get("prepared_ahead"):
        if g.get("heap_trim"):
            return
        try:

            @after_this_request
            def when_sent(response: Response) -> Response:
                response.call_on_close(heap.trim)
                return response

        except (AssertionError, RuntimeError):  # the request's answer is already made
            pass
        else:
            g.setdefault("heap_trim", True)
            return
    heap.trim()


def within_total(name: str, key: str, value: object) -> None:
    """Note `value`, just kept under `key` in the memoized results called `name`, and drop
    the least recently kept results of every kind until all of them hold at most MEMO_TOTAL
    bytes (the newest always stays). Called under _memo_lock."""
    app = current_app
    order: dict[tuple[str, str], int] = app.extensions.setdefault("mapapp.memo_order", {})
    order.pop((name, key), None)
    order[(name, key)] = weight(value)

    def cache_of(kind: str) -> dict:
        return app.extensions.get(f"mapapp.{kind}_cache", {})

    for gone in [item for item in order if item[1] not in cache_of(item[0])]:
        del order[gone]  # dropped by its own kind's bounds
    total = sum(order.values())
    while total > MEMO_TOTAL and len(order) > 1:
        oldest = next(iter(order))
        total -= order.pop(oldest)
        cache_of(oldest[0]).pop(oldest[1], None)


class AlreadyKept(Exception):  # noqa: N818 - not an error: nothing to do
    """Raised in a preparation (prepare_documents) for a document another process has kept:
    it is not read (at 100,000 rallies the 26 common documents are tens of MB, which every
    worker would read after every boundary and hold in its memo); a visitor's request reads it."""


def shared_document(
    name: str, key: str, version: str, build: Callable[[], Prepared], entries: int = 64
) -> Prepared:
    """`memoized(name, key, ...)` of a document every worker and server shares: one built
    by another process for the same strong ETag `key` (data version `version`, a
    mapapp.publishing.public.Version's key) is read whole from the database
    (mapapp.publishing.partstore.load_document); one built here is kept there for the others
    (within partstore's bounds; a failure to keep it only logs)."""

    def found_or_built() -> Prepared:
        stored = f"{name}:{key}"
        connection = db.session().connection()
        if (
            g.get("prepared_ahead")
            and connection.execute(
                select(partstore.DOCUMENTS.c.key).where(partstore.DOCUMENTS.c.key == stored)
            ).first()
        ):
            raise AlreadyKept(stored)
        found = partstore.load_document(connection, stored)
        if found is not None:
            return Prepared(name, key, found)
        # Only a build is counted (mapapp.web.limits.may_build), not the read of a document
        # another process kept: with the site's builds spent by a flood of new filters, every
        # worker that had not yet read the common documents of a new data version answered
        # the map's feed with a 429. Nor a common document's build (a few dozen addresses, the
        # same the preparation makes): in the seconds before the preparation keeps it, the
        # map's own feed is never refused because others spent the site's builds.
        if not is_common_request():
            count_build()
        made = build()
        if current_version(db.session()).key != version:
            # The version moved by itself while it was built (a boundary passed): kept, it
            # would drop the newer version's documents, which the preparer may have just kept
            # (save_document tells a change's newer version by its counter only).
            return made
        try:
            partstore.save_document(
                db.writing_engine(), stored, version, made.gz, bool(g.get("prepared_ahead"))
            )
        except SQLAlchemyError:
            current_app.logger.warning("could not keep the document %s", stored)
        return made

    return memoized(name, key, found_or_built, entries, counted=False)


def prepared(
    name: str,
    key: str,
    layout: Layout,
    entries: list[Entry],
    context: tuple,
    render: Callable[[PublicRally], bytes],
) -> Prepared:
    """A document of per-rally parts (mapapp.publishing.parts), gzipped: only the parts of rallies new
    or changed since this process last rendered them in `context` are rendered, and only the
    chunks holding them compressed. `name` and `key` (its ETag) name it for `plain()`."""
    load, save = shared_parts()

    def read(indices: list[int]) -> list[bytes]:
        return rally_parts([entries[i] for i in indices], context, render, load, save)

    chunks = current_app.extensions.setdefault("mapapp.gzip_chunks", ChunkCache())
    names = [entry.token for entry in entries]
    scope = partstore.context_name(context).encode()
    made = gzipped(layout, read, chunks, shared_chunks(), names, scope)
    entry_cache().trim(entries=not g.get("prepared_ahead"))
    return Prepared(name, key, made)


def shared_parts() -> tuple[
    Callable[[list[Entry], tuple], object], Callable[[list[Entry], tuple], object]
]:
    """This request's way to the parts every worker and server shares
    (mapapp.publishing.partstore): `load` fills the entries' missing parts of a context from
    the table (in the request's read snapshot), `save` writes back the parts this worker had
    to make itself, in a short transaction of its own (a failure only logs: the answer stands).
    """

    def load(entries: list[Entry], context: tuple) -> object:
        session = db.session()
        found = partstore.load(session.connection(), entries, context)
        if found:
            kept(entries, context)
        # The rest are made here: their rows are read (once) in the same snapshot.
        read_rallies(session, [entry for entry in entries if context not in entry.parts])
        return found

    def save(entries: list[Entry], context: tuple) -> object:
        kept(entries, context)
        try:
            partstore.save(db.writing_engine(), [(entry, context) for entry in entries])
        except SQLAlchemyError:
            current_app.logger.warning("could not keep %d parts of %s", len(entries), context[0])
        return None

    return load, save


def kept(entries: list[Entry], context: tuple) -> None:
    """Count the parts of `context` these entries now keep against the process's budget
    (mapapp.publishing.public.EntryCache.PART_BUDGET)."""
    parts = [entry.parts.get(context) for entry in entries]
    held = sum(map(part_size, filter(None, parts)))
    entry_cache().kept(context, held)


# Addresses of a rally 0's page (…/rallies/0?lang=be) feeds were asked for in this process
# beyond the declared ones, which a change makes parts for too (at most this many).
SEEN_ORIGINS = 16


def remember_origin(origin: str) -> None:
    """Note a feed's links' address (mapapp.views.feeds), so that changes made in this
    process make its parts too (a development server's, or a mirror's under its own prefix)."""
    seen: dict[str, None] = current_app.extensions.setdefault("mapapp.feed_origins", {})
    if origin not in seen and len(seen) < SEEN_ORIGINS:
        seen[origin] = None


def feed_origins(app: Flask) -> list[str]:
    """Every address of a rally 0's page the calendar and CSV feeds link to, one per site
    address (MAPAPP_BASE_URL, each of MAPAPP_HOSTS under its prefix, MAPAPP_ONION_URL) and
    language, and those this process served feeds for."""
    found = app.extensions["mapapp.urls"]
    sites = []
    if found.base:
        prefix = urlsplit(found.base).path
        sites.append(found.base)
        sites += [origin + prefix for origin in found.origins.values()]
    if found.onion:
        sites.append(found.onion)
    origins = {f"{site}/rallies/0?lang={lang}": None for site in sites for lang in LANGUAGES}
    origins.update(app.extensions.get("mapapp.feed_origins", {}))
    return list(origins)


def install_part_store(app: Flask) -> None:
    """Make the shared parts of every published rally a writing session changes, in the
    transaction that changes it (mapapp.publishing.partstore), whatever made the change:
    a moderator, the organizer, an import, the seed, demo data."""
    maker = app.extensions["mapapp.db"]["sessionmaker"]

    @event.listens_for(maker, "after_flush")
    def note_changes(session: Session, _context: object) -> None:
        changed = session.info.setdefault("mapapp.published_changed", set())
        for item in (*session.new, *session.dirty):
            if isinstance(item, PublishedRally):
                changed.add(item.id)

    @event.listens_for(maker, "before_commit")
    def make_parts(session: Session) -> None:
        if not session.info.get("mapapp.published_changed"):
            return
        session.flush()
        changed = session.info.pop("mapapp.published_changed", set())
        partstore.write_rallies(session.connection(), changed, utcnow(), feed_origins(app))

        session.info["mapapp.prepare_documents"] = True

    @event.listens_for(maker, "after_commit")
    def prepare_after(session: Session) -> None:
        if session.info.pop("mapapp.prepare_documents", False) and app.config.get(
            "PREPARE_DOCUMENTS"
        ):
            prepare_soon(app)

    @app.before_request
    def first_request() -> None:
        state = _preparing(app)
        if not state.serving:  # once a process: it serves visitors, so it keeps a boundary
            state.serving = True
            if app.config.get("PREPARE_DOCUMENTS"):  # read off the request path
                state.starting = threading.Thread(
                    target=_at_first_request, args=(app,), daemon=True
                )
                state.starting.start()

    @app.after_request
    def watch_boundary(response: Response) -> Response:
        # A change made by another process (another worker or server, an import, the
        # Telegram worker) may bring a boundary sooner than the one this worker waits for: a
        # request that read the new data version (mapapp.publishing.public.current_version
        # keeps the versions it read) shows it, and the timer is set anew off the request
        # path, once for each such moment. Only a sooner one: a timer whose boundary has just
        # passed (waiting its random spread) must fire. No database read here: a 304 stays as
        # cheap as /healthz.
        versions = app.extensions.get("mapapp.versions")
        state = _preparing(app)
        if versions and state.serving and app.config.get("PREPARE_DOCUMENTS"):
            now = utcnow()
            # list(): one C-level copy, safe beside another thread adding a version.
            coming = [v.until for v in list(versions.values()) if v.until and v.until > now]
            soonest, waiting = min(coming, default=None), state.boundary
            sooner = soonest is not None and (waiting is None or soonest < waiting)
            if sooner and soonest != state.watched and not state.rescheduling:
                state.watched = soonest
                state.rescheduling = True
                threading.Thread(target=_reschedule, args=(app, state), daemon=True).start()
        return response

    @event.listens_for(maker, "after_soft_rollback")
    def forget_changes(session: Session, _previous: object) -> None:
        session.info.pop("mapapp.published_changed", None)
        session.info.pop("mapapp.prepare_documents", None)


# The common documents: what the map page, calendar apps and spreadsheets ask for most, with
# no filter (`when` at its default) in each language, and the same of every date
# (`when=all`: at 100,000 rallies a worker's first build of one, from shared chunks, took
# 0.6-1.3 s of CPU, more than the first answer's target of 1 s). The GeoJSON is the same at
# every site address; the calendar and the CSV link to the address they are asked at.
_GEOJSON = (
    "/api/rallies.geojson",
    *(f"/api/rallies.geojson?lang={lang}" for lang in LANGUAGES),
    *(f"/api/rallies.geojson?fields=map&lang={lang}" for lang in LANGUAGES),
)
_FEEDS = tuple(f"/rallies.{kind}?lang={lang}" for kind in ("ics", "csv") for lang in LANGUAGES)


def _query_set(query: str) -> frozenset[tuple[str, str]]:
    return frozenset(parse_qsl(query, keep_blank_values=True))


def is_common_request() -> bool:
    """Whether this request asks for one of the common documents (COMMON_GEOJSON,
    COMMON_FEEDS, or a feed of them without ?lang=), its query's parameters in any order."""
    asked = (request.path, _query_set(request.query_string.decode("latin-1")))
    return asked in _COMMON_QUERIES


def _every_date(path: str) -> str:
    return path.replace("?", "?when=all&") if "?" in path else path + "?when=all"


COMMON_GEOJSON = _GEOJSON + tuple(_every_date(path) for path in _GEOJSON)
COMMON_FEEDS = _FEEDS + tuple(_every_date(path) for path in _FEEDS)
# A feed asked without ?lang= (what partners subscribe to) is the document of the language it
# negotiates (mapapp.views.feeds.feed_bytes), one of COMMON_FEEDS: never refused by the build
# limits either, or a subscription got a 429 in the seconds before a new version's was kept.
_NEGOTIATED_FEEDS = tuple(
    path for kind in ("ics", "csv") for path in (f"/rallies.{kind}", f"/rallies.{kind}?when=all")
)
_COMMON_QUERIES = frozenset(
    (path.partition("?")[0], _query_set(path.partition("?")[2]))
    for path in COMMON_GEOJSON + COMMON_FEEDS + _NEGOTIATED_FEEDS
)


@dataclass
class _Preparing:
    """One app's preparer: at most one thread at a time, run again when a change came
    meanwhile (so the last change's version is always prepared); and in a process that
    serves visitors, one timer for the next moment the data version moves by itself
    (`keep_next_boundary`)."""

    lock: threading.Lock
    thread: threading.Thread | None = None
    again: bool = False
    not_before: float = 0.0  # time.monotonic() before which the thread does not start a run
    serving: bool = False  # a request has been served: a worker, not a command
    timer: threading.Timer | None = None  # the one waiting for `boundary`
    boundary: datetime | None = None
    last_boundary: float = float("-inf")  # time.monotonic() of the last run a boundary started
    rescheduling: bool = False  # a thread is setting the timer anew (watch_boundary)
    watched: datetime | None = None  # the last boundary watch_boundary set the timer anew for
    starting: threading.Thread | None = None  # the first request's look (_at_first_request)


# Outside a request (an import, demo data) changes come in a stream of commits: the
# preparation waits until none has come for this long (seconds), and runs once for them all.
QUIET = 1.0

# The data version also moves by itself (mapapp.publishing.public.Version.until: a reveal
# time, an upcoming rally turning past). A worker prepares the new version's documents
# this long after such a boundary at the earliest: a random part of SPREAD seconds, each
# process its own, so that one usually builds and keeps them while the others, a little
# later, find them kept and leave them alone (AlreadyKept; in prepare_documents' random
# order they share what is left); and at most one such run every BOUNDARY_GAP seconds (boundaries closer together are
# prepared at once, with the later one). A boundary further than HORIZON is looked at again
# then (the clocks of a long wait drift; a change meanwhile reschedules it anyway).
SPREAD = 3.0
BOUNDARY_GAP = 60.0
HORIZON = timedelta(hours=24)


def _preparing(app: Flask) -> _Preparing:
    with _memo_lock:
        return app.extensions.setdefault("mapapp.preparing", _Preparing(threading.Lock()))


def prepare_soon(app: Flask) -> None:
    """Prepare the common documents of the data version a change has just committed, in a
    thread of this process, off the request path: in a request, once its response has been
    sent (a moderator's answer never waits for it); elsewhere (a command, the channels'
    workers) once no other change has come for QUIET seconds (an import's batches are
    prepared once, after the last). A change while a preparation runs makes it run once more after."""
    if has_request_context():
        try:

            @after_this_request
            def when_sent(response: Response) -> Response:
                response.call_on_close(lambda: _start(app))
                return response

        except (AssertionError, RuntimeError):  # the request's answer is already made
            _start(app)
        return
    _start(app, QUIET)


def _start(app: Flask, quiet: float = 0.0) -> None:
    state = _preparing(app)
    with state.lock:
        state.not_before = time.monotonic() + quiet
        if state.thread is not None and state.thread.is_alive():
            state.again = True
            return
        state.again = False
        # Not a daemon in a command: one that changed rallies (an import) exits once the
        # documents of its last change are kept for the workers. A daemon in a worker: its
        # stop (gunicorn's graceful stop, a reload) must not wait for a preparation, whose
        # child ends with it (mapapp.web.preparer).
        state.thread = threading.Thread(
            target=_run, args=(app, state), name="mapapp-prepare", daemon=state.serving
        )
        state.thread.start()


def _run(app: Flask, state: _Preparing) -> None:
    while True:
        while (wait := state.not_before - time.monotonic()) > 0:
            time.sleep(wait)
        try:
            if state.serving and app.config.get("PREPARE_IN_CHILD"):
                preparer.prepare_in_child(app)
            else:
                prepare_documents(app)
        except Exception:  # noqa: BLE001 - a failed preparation only logs: requests build
            app.logger.exception("could not prepare the common documents")
        with state.lock:
            if not state.again:
                state.thread = None
                break
            state.again = False
    keep_next_boundary(app)


def keep_next_boundary(app: Flask) -> None:
    """Wait (a daemon timer of this process) for the moment the current data version next
    moves by itself, and prepare the new version's common documents shortly after it, as
    `prepare_soon` does after a change: at 100,000 rallies the first visitors after a
    reveal or a rally turning past would otherwise wait 0.6-3.3 s for a `when=all` document
    built from parts. Called after each preparation and at a process's first request (a
    worker may never see a change); only in a process that serves requests (a command's
    preparation leaves no timer) and with PREPARE_DOCUMENTS. A newer boundary replaces the
    timer of an older one; a daemon, so it keeps no process alive."""
    state = _preparing(app)
    if not (state.serving and app.config.get("PREPARE_DOCUMENTS")):
        return
    try:
        with app.app_context():
            until = current_version(db.session()).until
    except Exception:  # noqa: BLE001 - then the first visitors after it build, as before
        app.logger.exception("could not read the next moment the data version moves")
        return
    now = utcnow()
    with state.lock:
        if state.boundary == until and state.timer is not None and state.timer.is_alive():
            return
        if state.timer is not None:
            state.timer.cancel()
        state.boundary, state.timer = until, None
        if until is None:
            return
        wait = (min(until, now + HORIZON) - now).total_seconds()
        wait = max(wait, state.last_boundary + BOUNDARY_GAP - time.monotonic())
        state.timer = threading.Timer(
            max(wait, 0.0) + random.uniform(0, SPREAD), _at_boundary, (app, state, until)
        )
        state.timer.daemon = True
        state.timer.start()


def _at_first_request(app: Flask) -> None:
    """A worker that has just started (a deploy, a reload, a respawn): it waits for the next
    moment the data version moves, and prepares the current version's common documents if
    no process has kept them all, as when the worker that was preparing them was stopped or
    killed mid-way (its child ends with it)."""
    keep_next_boundary(app)
    try:
        with app.app_context():
            session = db.session()
            version = current_version(session).key
            kept = session.scalar(
                select(func.count())
                .select_from(partstore.DOCUMENTS)
                .where(partstore.DOCUMENTS.c.version == version)
            )
    except Exception:  # noqa: BLE001 - then the first visitors build, as before
        app.logger.exception("could not read which common documents are kept")
        return
    if kept < len(common_addresses(app)):
        _start(app)


def _reschedule(app: Flask, state: _Preparing) -> None:
    try:
        keep_next_boundary(app)
    finally:
        state.rescheduling = False


def _at_boundary(app: Flask, state: _Preparing, until: datetime) -> None:
    """The timer's end: prepare once the boundary has passed (the run then waits for the
    next one), otherwise (the horizon, a clock running behind) look again."""
    with state.lock:
        if state.timer is threading.current_thread():
            state.timer = None
        early = utcnow() < until
        if not early:
            state.last_boundary = time.monotonic()
    if early:
        keep_next_boundary(app)
    else:
        _start(app)


def wait_prepared(app: Flask, timeout: float = 60.0) -> None:
    """Wait (at most `timeout` seconds) until no preparation of this app runs, nor the first
    request's look for one, nor a timer being set anew (tests, benches: an engine disposed
    under a thread that still reads would leave that thread's connection open)."""
    state = _preparing(app)
    deadline = time.monotonic() + timeout
    if state.starting is not None:
        state.starting.join(timeout)
    while state.rescheduling and time.monotonic() < deadline:
        time.sleep(0.01)
    with state.lock:
        thread = state.thread
    if thread is not None:
        thread.join(max(deadline - time.monotonic(), 0.0))


def common_addresses(app: Flask) -> list[tuple[str, str]]:
    """(site address, path) of every common document: COMMON_GEOJSON once, COMMON_FEEDS at
    each site address the feeds link to (mapapp.web.caching.feed_origins; without a declared
    one, http://localhost)."""
    sites = list(dict.fromkeys(origin.split("/rallies/0", 1)[0] for origin in feed_origins(app)))
    sites = sites or ["http://localhost"]
    found = [(sites[0], path) for path in COMMON_GEOJSON]
    return found + [(site, path) for site in sites for path in COMMON_FEEDS]


def prepare_parts(app: Flask, batch: int = 1000) -> int:
    """Make the shared parts of every published rally this release lacks
    (mapapp.publishing.partstore.stale_rallies), `batch` rallies a transaction; returns how
    many rallies. For `flask prepare-parts` after a deploy: a new release's rendering
    fingerprint makes every part new, and without this the first requests would make them."""
    engine = app.extensions["mapapp.db"]["writer"]
    with engine.connect() as connection:
        stale = partstore.stale_rallies(connection)
    origins = feed_origins(app)
    for start in range(0, len(stale), batch):
        with engine.begin() as connection:
            partstore.write_rallies(connection, stale[start : start + batch], utcnow(), origins)
    return len(stale)


def prepare_documents(app: Flask, keep_going: Callable[[], bool] | None = None) -> int:
    """Build the common documents (common_addresses) of the current data version as their
    views would for a visitor, and keep them for every worker and server
    (`shared_document`); returns how many were answered. Each is built in a request context
    of its own, so its data version and its rallies are read in one snapshot: the document is
    kept under the version it was built from (and, if a newer change has committed since, not
    kept: mapapp.publishing.partstore.save_document). Not counted against build limits.
    `keep_going`, asked before each document: False stops the preparation there.

    In a random order: every worker prepares after a boundary (keep_next_boundary), and in
    one order the later ones caught up with the first and built what it was building (at
    10,000 rallies 8 of 26 built twice); in orders of their own they share the building."""
    done = 0
    addresses = common_addresses(app)
    try:
        for site, path in random.sample(addresses, len(addresses)):
            if keep_going is not None and not keep_going():
                break  # a child whose worker is gone (mapapp.web.preparer.parent_alive)
            headers = {"Accept-Encoding": "gzip"}
            # An app context of its own (its own `g`, database session and snapshot), even
            # inside a command's.
            with app.app_context(), app.test_request_context(path, base_url=site, headers=headers):
                g.prepared_ahead = True  # not a visitor's build (mapapp.web.limits.may_build)
                try:
                    response = app.make_response(app.dispatch_request())
                except HTTPException as refused:  # busy past BUILD_WAIT: that one is left out
                    app.logger.warning("could not prepare %s: %s", path, refused.code)
                    continue
                except AlreadyKept:
                    done += 1
                    continue
                response.close()
                done += response.status_code == 200
    finally:
        # None of its entries kept once the last document is built (each of them read every
        # rally's): the documents are kept for every worker, this one reads them whole, and
        # the few thousand a budget would keep, spread over the heap, held most of its pages.
        entries = app.extensions.get("mapapp.public_entries")
        if entries is not None:
            entries.clear()
    return done


class _LoggedChunks(partstore.SharedChunks):
    def save(self, chunks: dict[bytes, bytes]) -> None:
        try:
            super().save(chunks)
        except SQLAlchemyError:
            current_app.logger.warning("could not keep %d compressed chunks", len(chunks))

    def mark_used(self, digests: list[bytes]) -> None:
        try:
            super().mark_used(digests)
        except SQLAlchemyError:
            current_app.logger.warning("could not mark %d compressed chunks used", len(digests))


def shared_chunks() -> partstore.SharedChunks:
    """This request's way to the compressed chunks every worker and server shares: read in
    the request's snapshot, written in a short transaction of their own (a failure only
    logs: the answer stands). The preparation of the common documents keeps the chunks it
    reads from going first (partstore.SharedChunks' `touch`)."""
    return _LoggedChunks(
        lambda: db.session().connection(),
        db.writing_engine,
        touch=bool(has_request_context() and g.get("prepared_ahead")),
    )


def prepared_parts(name: str, key: str, layout: Layout, parts: list[bytes]) -> Prepared:
    """A document of the given parts, gzipped from this process's kept chunks."""
    chunks = current_app.extensions.setdefault("mapapp.gzip_chunks", ChunkCache())
    made = gzipped(layout, parts, chunks, shared_chunks())
    # The parts read for them and the entries (mapapp.publishing.public.EntryCache): a
    # preparation's entries once it is done (prepare_documents).
    entry_cache().trim(entries=not g.get("prepared_ahead"))
    return Prepared(name, key, made)


def page_once(name: str, render: Callable[[], str]) -> str:
    """A page that holds no rally data, rendered once per language, address (origin and
    prefix) and query string in each worker, not once a visitor (the map's shell, the embed).

    Rendering the map page's template costs a few milliseconds, several times the health
    check; a crowd arriving from one link asks for the same few variants. At most 64 variants
    of each page are kept, so odd query strings cost a render, never memory.
    """
    from mapapp.publishing.public import etag_for
    from mapapp.web.i18n import current_language
    from mapapp.web.urls import site_key

    key = etag_for(name, current_language(), site_key(), request.full_path)
    # The page's bytes are the same for the same key: their compressed copy is found by it,
    # not by a digest of them (mapapp.web.compression.body_key).
    g.body_key = key
    # A page asked for with no query string but its language is one of a few per worker: not
    # counted, so a fresh worker serves the map page while a flood has spent the site's builds.
    langs = request.args.getlist("lang")
    plain = set(request.args) <= {"lang"} and len(langs) <= 1 and set(langs) <= set(LANGUAGES)
    return memoized(f"page_{name}", key, render, 64, counted=not plain)


def prepared_response(
    etag: str, document: Callable[[], Prepared], max_age: int, mimetype: str
) -> Response:
    """A prepared document as a conditional response: gzipped for a client that takes it (another
    representation, so another strong ETag, `-gz`), plain otherwise; `Vary: Accept-Encoding`.

    `document` is called only when the body is needed (not for a 304); `max_age` is in seconds.
    """
    gzipped = takes_gzip()

    def build() -> Response:
        if not gzipped:
            return Response(document().plain(), mimetype=mimetype)
        response = Response(document().gz, mimetype=mimetype)
        response.content_encoding = "gzip"
        return response

    response = conditional(etag + ("-gz" if gzipped else ""), build, max_age, mimetype)
    response.vary.add("Accept-Encoding")
    return response
