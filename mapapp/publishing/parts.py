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

    def get(self, key: tuple) -> bytes | None:
        """The compressed chunk kept under `key`, now the most recently used; None if none."""
        with self.lock:
            found = self.chunks.pop(key, None)
            if found is None:
                return None
            self.chunks[key] = found
            return found[0]

    def put(self, key: tuple, made: bytes, text_size: int) -> None:
        """Keep `made` under `key` (whose texts hold `text_size` bytes), within the budget."""
        with self.lock:
            if key not in self.chunks:
                self.chunks[key] = (made, len(made) + text_size)
                self.size += len(made) + text_size
            while self.size > self.budget and self.chunks:
                self.size -= self.chunks.pop(next(iter(self.chunks)))[1]

    def deflated(
        self, key: tuple, data: Callable[[], bytes], before: Callable[[], bytes] = bytes
    ) -> bytes:
        """The deflated `data()` (after `before()`, see `deflate`) kept under `key`, a
        tuple naming both exactly."""
        found = self.get(key)
        if found is not None:
            return found
        text = data()
        made = deflate(text, before())
        self.put(key, made, len(text))
        return made


@dataclass
class _Piece:
    """One compressed piece of a document to find or make: the text and what comes before it."""

    key: tuple
    text: Callable[[], bytes]
    before: Callable[[], bytes]
    digest: Callable[[], bytes]
    made: bytes | None = None


def _chunk_piece(
    index: int,
    sep: bytes,
    chunk: tuple[bytes, ...],
    previous: tuple[bytes, ...],
    of: Callable[[tuple[bytes, ...]], bytes],
) -> _Piece:
    """The `index`th chunk of a document, after `previous` (see `document`)."""
    lead = sep if index else b""
    flag = b"1" if index > 1 else b"0"
    return _Piece(
        (lead, sep, chunk, previous, index > 1),
        lambda: lead + sep.join(chunk),
        lambda: (sep if index > 1 else b"") + sep.join(previous),
        lambda: digest(b"chunk", lead, sep, of(chunk), of(previous), flag),
    )


def document(
    layout: Layout, parts: Sequence[bytes], cache: ChunkCache, store: ChunkStore | None = None
) -> tuple[bytes, bytes]:
    """The document (head, parts joined by sep, tail) plain and gzipped (RFC 1952).

    Chunks are taken from `cache`, then from `store` (shared by every process: a worker
    that has just started reads what another compressed), and only the rest compressed
    (and then saved to `store`). gzip.decompress (and every browser) reads the result as
    one member; its bytes differ from gzip.compress's of the same text.
    """
    head, sep, tail = layout.head, layout.sep, layout.tail
    plain = head + sep.join(parts) + tail
    pieces = [
        _Piece(("head", head), lambda: head, bytes, lambda: digest(b"head", head)),
    ]
    previous: tuple[bytes, ...] = (head,)
    # A chunk's digest, made only for a chunk missing from `cache` (and its dictionary's).
    digests: dict[int, bytes] = {}

    def of(chunk: tuple[bytes, ...]) -> bytes:
        found = digests.get(id(chunk))
        if found is None:
            found = digests[id(chunk)] = digest(*chunk)
        return found

    for index, chunk in enumerate(chunks(parts)):
        # Each chunk is compressed with the chunk before it as its dictionary: nearly the
        # ratio of one stream, and a changed rally recompresses two chunks, not one.
        # The dictionary is `sep` and the previous chunk after the first two chunks, the
        # previous chunk alone for the second: the key tells them apart, or a chunk kept
        # from one document could refer back to a `sep` that is not there in another.
        pieces.append(_chunk_piece(index, sep, chunk, previous, of))
        previous = chunk
    pieces.append(_Piece(("tail", tail), lambda: tail, bytes, lambda: digest(b"tail", tail)))
    missing = []
    for piece in pieces:
        piece.made = cache.get(piece.key)
        if piece.made is None:
            missing.append(piece)
    if missing:
        named = {piece.digest(): piece for piece in missing}
        found = store.load(list(named)) if store is not None else {}
        made = {}
        for name, piece in named.items():
            piece.made = found.get(name)
            if piece.made is None:
                piece.made = made[name] = deflate(piece.text(), piece.before())
            cache.put(piece.key, piece.made, _text_size(piece.key))
        for piece in missing:  # two pieces of one digest (the same text twice)
            if piece.made is None:
                piece.made = named[piece.digest()].made
        if store is not None and made:
            store.save(made)
    body = [GZIP_HEADER, *(piece.made for piece in pieces), LAST_BLOCK]  # type: ignore[misc]
    body.append(struct.pack("<II", zlib.crc32(plain), len(plain) & 0xFFFFFFFF))
    return plain, b"".join(body)  # type: ignore[arg-type]


def _text_size(key: tuple) -> int:
    """The bytes of text a chunk's key holds (see ChunkCache)."""
    if key[0] in ("head", "tail"):
        return len(key[1])
    return sum(len(part) for part in key[2])
