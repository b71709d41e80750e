"""Whole documents (GeoJSON, iCalendar, CSV) joined from per-rally parts, and their gzip.

After a public change most rallies are as they were: their serialised parts (a GeoJSON
Feature, a VEVENT, a CSV row) are kept on their mapapp.publishing.public.Entry and reused, so a
rebuild serialises only the rallies that changed. The gzip of a document is made the same
way: the parts are cut into chunks at points that depend on the parts' content alone (so
a changed, added or removed rally changes the chunk it is in, and the cut points stay put
elsewhere), each chunk is compressed into raw deflate ended by a sync flush, with the chunk
before it as its dictionary (as pigz does), and the compressed chunks are joined behind one
gzip header. Unchanged chunks (with unchanged chunks before them) come from a cache. Every
process makes the same bytes for the same parts, as a strong ETag promises.

Pure apart from the caches handed in; no Flask.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from mapapp.publishing.public import Entry, PublicRally

# A chunk ends after a part whose Adler-32 is 0 modulo this (about this many parts a chunk,
# a few tens of KiB; not Python's hash(), which differs from process to process)...
CHUNK_PARTS = 64
# ... or at this many parts, whatever the hashes say.
MAX_CHUNK_PARTS = 4 * CHUNK_PARTS
# zlib's default: chunks are compressed once, so the better ratio costs nothing later.
LEVEL = 6
# deflate's window (bytes): how far back a compressed piece may refer.
WINDOW = 32 * 1024
# The gzip header (RFC 1952): deflate, no name, mtime 0, OS unknown; and the empty last block
# that ends a deflate stream made of sync-flushed pieces.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
LAST_BLOCK = b"\x03\x00"


@dataclass(frozen=True)
class Layout:
    """How a document is made of parts: `head`, the parts with `sep` between them, `tail`."""

    head: bytes
    sep: bytes
    tail: bytes


def rally_parts(
    entries: Sequence[Entry],
    context: tuple,
    render: Callable[[PublicRally], bytes],
    load: Callable[[list[Entry], tuple], object] | None = None,
    save: Callable[[list[Entry], tuple], object] | None = None,
    sums: list[bytes] | None = None,
) -> list[bytes]:
    """Each entry's part for `context`, rendered (and kept on the entry) when missing.

    `context` must name everything the part depends on besides the rally: the format, the
    language, the site's address the links use. The rally itself is the entry's.
    `load(missing, context)` may first fill the missing parts from a shared store
    (mapapp.publishing.partstore); the entries whose part was rendered here go to `save`.
    With `sums` (a list), each part's `part_sum` is appended to it, kept on the entry beside
    the part, so a document's chunks are found again without reading their text (`gzipped`).
    """
    if load is not None:
        missing = [entry for entry in entries if context not in entry.parts]
        if missing:
            load(missing, context)
    parts, made = [], []
    for entry in entries:
        part = entry.parts.get(context)
        if part is None:
            part = entry.parts[context] = render(entry.rally)
            entry.sums.pop(context, None)
            made.append(entry)
        parts.append(part)
        if sums is not None:
            found = entry.sums.get(context)
            if found is None:
                found = entry.sums[context] = part_sum(part)
            sums.append(found)
    if save is not None and made:
        save(made, context)
    return parts


def part_sum(part: bytes) -> bytes:
    """A 16-byte digest of one part: what a chunk of kept parts is named by (`gzipped`)."""
    return hashlib.blake2b(part, digest_size=16, person=b"mapapp-part-v1").digest()


def chunks(parts: Sequence[bytes], sums: Sequence[bytes] | None = None) -> list[range]:
    """Where the parts are cut (content-defined points, see CHUNK_PARTS): the index ranges of
    the chunks. With `sums` (each part's `part_sum`) a chunk ends after a part whose sum's
    first byte is 0 modulo CHUNK_PARTS, which reads no text; else after one whose Adler-32 is."""
    cut, start = [], 0
    if sums is not None:
        ends = (found[0] % CHUNK_PARTS == 0 for found in sums)
    else:
        ends = (zlib.adler32(part) % CHUNK_PARTS == 0 for part in parts)
    for index, end in enumerate(ends):
        if end or index + 1 - start >= MAX_CHUNK_PARTS:
            cut.append(range(start, index + 1))
            start = index + 1
    if start < len(parts):
        cut.append(range(start, len(parts)))
    return cut


def deflate(data: bytes, before: bytes = b"", level: int = LEVEL) -> bytes:
    """Raw deflate of `data` ending on a byte boundary and not final: such pieces can be
    joined one after another into one stream. `before` is (the end of) what comes before
    `data` in that stream: the compressor may refer back to it, as the reader has it."""
    if before:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15, zdict=before[-WINDOW:])
    else:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


class ChunkStore(Protocol):
    """Compressed chunks shared by every process (mapapp.publishing.partstore), by digest."""

    def load(self, digests: list[bytes]) -> dict[bytes, bytes]:
        """The chunks held for these digests (those not held are left out)."""
        ...

    def save(self, chunks: dict[bytes, bytes]) -> None:
        """Keep these chunks (digest -> compressed bytes) for every process."""
        ...


def digest(*items: bytes) -> bytes:
    """A 32-byte digest of a sequence of byte strings (each length-prefixed, so no two
    sequences share one): what a compressed chunk is found by in a ChunkStore."""
    hashed = hashlib.blake2b(digest_size=32, person=b"mapapp-chunk-v1")
    for item in items:
        hashed.update(len(item).to_bytes(8, "little"))
        hashed.update(item)
    return hashed.digest()


class ChunkCache:
    """Compressed chunks by their digest (`digest`: 32 bytes, never the text itself), least
    recently used first out, at most `budget` bytes of compressed data and keys together.

    Keyed by digest, a kept chunk holds no part's text alive: parts dropped from the entries
    (mapapp.publishing.public.EntryCache.PART_BUDGET) are gone, and a map feed's parts (made
    anew for each filter) go with their build. At 100,000 rallies a calendar is about 6.4 MiB
    gzipped, a GeoJSON 3.6 MiB; a chunk not kept here is read from the shared store."""

    # Bytes a kept chunk costs besides its compressed data: its key (a 32-byte bytes object)
    # and the dict's slot.
    OVERHEAD = 150

    def __init__(self, budget: int = 32 * 2**20) -> None:
        self.budget = budget
        self.size = 0
        self.chunks: dict[bytes, bytes] = {}  # digest -> compressed
        self.lock = threading.Lock()

    def get(self, key: bytes) -> bytes | None:
        """The compressed chunk kept under `key`, now the most recently used; None if none."""
        with self.lock:
            found = self.chunks.pop(key, None)
            if found is None:
                return None
            self.chunks[key] = found
            return found

    def put(self, key: bytes, made: bytes) -> None:
        """Keep `made` under `key`, within the budget (the oldest go first)."""
        with self.lock:
            if key not in self.chunks:
                self.chunks[key] = made
                self.size += len(made) + self.OVERHEAD
            while self.size > self.budget and self.chunks:
                self.size -= len(self.chunks.pop(next(iter(self.chunks)))) + self.OVERHEAD


def gzipped(
    layout: Layout,
    parts: Sequence[bytes],
    cache: ChunkCache,
    store: ChunkStore | None = None,
    sums: Sequence[bytes] | None = None,
) -> bytes:
    """The document (head, parts joined by sep, tail) gzipped (RFC 1952), never joined plain.

    Chunks are taken from `cache`, then from `store` (shared by every process: a worker
    that has just started reads what another compressed), and only the rest compressed
    (and then saved to `store`). A chunk is named by a digest of what its bytes depend on:
    its text, the separator, and the chunk before it (its dictionary). With `sums` (each
    part's `part_sum`, kept beside the parts: `rally_parts`) the digest is made of the sums
    and no part's text is read but to compress a missing chunk and for the CRC; without, of
    the text. gzip.decompress (and every browser) reads the result as one member; its bytes
    differ from gzip.compress's of the same text.
    """
    head, sep, tail = layout.head, layout.sep, layout.tail
    cut = chunks(parts, sums)
    if sums is not None:
        named = [b"".join(sums[i] for i in span) for span in cut]
        scheme = b"sums"
    else:
        named = [digest(*(parts[i] for i in span)) for span in cut]
        scheme = b"text"
    # (digest, text, dictionary) of each piece; the texts are made only when compressed.
    pieces: list[tuple[bytes, Callable[[], bytes], Callable[[], bytes]]] = [
        (digest(b"head", head), lambda: head, bytes)
    ]
    for index, span in enumerate(cut):
        # Each chunk is compressed with the chunk before it as its dictionary: nearly the
        # ratio of one stream, and a changed rally recompresses two chunks, not one.
        # The dictionary is `sep` and the previous chunk after the first two chunks, the
        # previous chunk alone for the second (the head for the first): the digest tells
        # them apart, or a chunk kept from one document could refer back to a `sep` that is
        # not there in another.
        lead = sep if index else b""
        flag = b"1" if index > 1 else b"0"
        before = named[index - 1] if index else digest(b"head", head)
        pieces.append(
            (
                digest(b"chunk", scheme, lead, sep, named[index], before, flag),
                lambda span=span, lead=lead: lead + sep.join(parts[i] for i in span),
                lambda index=index: (
                    (sep if index > 1 else b"") + sep.join(parts[i] for i in cut[index - 1])
                    if index
                    else head
                ),
            )
        )
    pieces.append((digest(b"tail", tail), lambda: tail, bytes))
    made_here: dict[bytes, bytes] = {}
    found: dict[bytes, bytes] = {}
    for name, _text, _before in pieces:
        kept = cache.get(name)
        if kept is not None:
            found[name] = kept
    missing = [piece for piece in pieces if piece[0] not in found]
    if missing:
        names = list(dict.fromkeys(piece[0] for piece in missing))
        from_store = store.load(names) if store is not None else {}
        for name, text, before in missing:
            if name in found:
                continue  # the same text twice in one document
            made = from_store.get(name)
            if made is None:
                made = made_here[name] = deflate(text(), before())
            found[name] = made
            cache.put(name, made)
        if store is not None and made_here:
            store.save(made_here)
    crc = zlib.crc32(head)
    length = len(head) + len(tail) + max(len(parts) - 1, 0) * len(sep)
    for index, part in enumerate(parts):
        if index:
            crc = zlib.crc32(sep, crc)
        crc = zlib.crc32(part, crc)
        length += len(part)
    crc = zlib.crc32(tail, crc)
    body = [GZIP_HEADER, *(found[piece[0]] for piece in pieces), LAST_BLOCK]
    body.append(struct.pack("<II", crc, length & 0xFFFFFFFF))
    return b"".join(body)


def document(
    layout: Layout,
    parts: Sequence[bytes],
    cache: ChunkCache,
    store: ChunkStore | None = None,
    sums: Sequence[bytes] | None = None,
) -> tuple[bytes, bytes]:
    """The document plain and gzipped (`gzipped`): the plain text joined, for tests and
    callers that want both."""
    plain = layout.head + layout.sep.join(parts) + layout.tail
    return plain, gzipped(layout, parts, cache, store, sums)
