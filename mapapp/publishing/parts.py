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

import struct
import threading
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
) -> list[bytes]:
    """Each entry's part for `context`, rendered (and kept on the entry) when missing.

    `context` must name everything the part depends on besides the rally: the format, the
    language, the site's address the links use. The rally itself is the entry's.
    `load(missing, context)` may first fill the missing parts from a shared store
    (mapapp.publishing.partstore); the entries whose part was rendered here go to `save`.
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
            made.append(entry)
        parts.append(part)
    if save is not None and made:
        save(made, context)
    return parts


def chunks(parts: Sequence[bytes]) -> list[tuple[bytes, ...]]:
    """The parts cut at content-defined points (see CHUNK_PARTS)."""
    cut, start = [], 0
    for index, part in enumerate(parts):
        if zlib.adler32(part) % CHUNK_PARTS == 0 or index + 1 - start >= MAX_CHUNK_PARTS:
            cut.append(tuple(parts[start : index + 1]))
            start = index + 1
    if start < len(parts):
        cut.append(tuple(parts[start:]))
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


class ChunkCache:
    """Compressed chunks by their content, least recently used first out, at most
    `budget` bytes of compressed data and of the plain text their keys hold (the parts of
    the map's compact feed are made anew for each filter: keys do not always share them
    with the kept parts). At 10,000 rallies the GeoJSON is 3.5 MiB of text (0.4 MiB
    compressed) and a calendar 7.7 MiB: the default holds every language of each."""

    def __init__(self, budget: int = 128 * 2**20) -> None:
        self.budget = budget
        self.size = 0
        self.chunks: dict[tuple, tuple[bytes, int]] = {}  # key -> (compressed, bytes held)
        self.lock = threading.Lock()

    def deflated(
        self, key: tuple, data: Callable[[], bytes], before: Callable[[], bytes] = bytes
    ) -> bytes:
        """The deflated `data()` (after `before()`, see `deflate`) kept under `key`, a
        tuple naming both exactly."""
        with self.lock:
            found = self.chunks.pop(key, None)
            if found is not None:
                self.chunks[key] = found  # now the most recently used
                return found[0]
        text = data()
        made = deflate(text, before())
        with self.lock:
            if key not in self.chunks:
                self.chunks[key] = (made, len(made) + len(text))
                self.size += len(made) + len(text)
            while self.size > self.budget and self.chunks:
                self.size -= self.chunks.pop(next(iter(self.chunks)))[1]
        return made


def document(layout: Layout, parts: Sequence[bytes], cache: ChunkCache) -> tuple[bytes, bytes]:
    """The document (head, parts joined by sep, tail) plain and gzipped (RFC 1952).

    Only chunks not in `cache` are compressed. gzip.decompress (and every browser) reads
    the result as one member; its bytes differ from gzip.compress's of the same text.
    """
    head, sep, tail = layout.head, layout.sep, layout.tail
    plain = head + sep.join(parts) + tail
    pieces = [GZIP_HEADER, cache.deflated(("head", head), lambda: head)]
    previous: tuple[bytes, ...] = (head,)
    for index, chunk in enumerate(chunks(parts)):
        lead = sep if index else b""
        # Each chunk is compressed with the chunk before it as its dictionary: nearly the
        # ratio of one stream, and a changed rally recompresses two chunks, not one.
        # The dictionary is `sep` and the previous chunk after the first two chunks, the
        # previous chunk alone for the second: the key tells them apart, or a chunk kept
        # from one document could refer back to a `sep` that is not there in another.
        pieces.append(
            cache.deflated(
                (lead, sep, chunk, previous, index > 1),
                lambda: lead + sep.join(chunk),  # noqa: B023
                lambda: (sep if index > 1 else b"") + sep.join(previous),  # noqa: B023
            )
        )
        previous = chunk
    pieces.append(cache.deflated(("tail", tail), lambda: tail))
    pieces.append(LAST_BLOCK)
    pieces.append(struct.pack("<II", zlib.crc32(plain), len(plain) & 0xFFFFFFFF))
    return plain, b"".join(pieces)
